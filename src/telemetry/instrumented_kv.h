// InstrumentedKv: a Kv decorator that times every call into StoreProbe
// (hourglass_store_request_duration_seconds{op}, hourglass_store_errors_total{op}) and forwards
// it unchanged. Watches are timed only for their start (op "watch"); deliveries are not calls.
//
//   telemetry::StoreProbe probe(metrics);
//   telemetry::InstrumentedKv kv(etcd_kv, probe, RealClock::Get());
//   ... hand `kv` to everything that used `etcd_kv` ...
//
// Thread-safe as the wrapped Kv is. `inner`, `probe` and `clock` must outlive the decorator.
#pragma once

#include <memory>

#include "common/clock.h"
#include "store/kv.h"
#include "telemetry/metrics.h"

namespace hg::telemetry {

class InstrumentedKv final : public store::Kv {
 public:
  InstrumentedKv(store::Kv& inner, StoreProbe& probe, const Clock& clock)
      : inner_(inner), probe_(probe), clock_(clock) {}

  absl::StatusOr<store::RangeResponse> Range(const store::RangeRequest& req) override;
  absl::StatusOr<store::PutResponse> Put(const store::PutRequest& req) override;
  absl::StatusOr<store::DeleteResponse> Delete(const store::DeleteRequest& req) override;
  absl::StatusOr<store::TxnResponse> Txn(const store::TxnRequest& req) override;
  absl::StatusOr<store::LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds) override;
  absl::StatusOr<int64_t> LeaseKeepAliveOnce(store::LeaseId id) override;
  absl::Status LeaseRevoke(store::LeaseId id) override;
  absl::StatusOr<store::LeaseTimeToLiveResponse> LeaseTimeToLive(store::LeaseId id,
                                                                 bool keys) override;
  absl::StatusOr<std::unique_ptr<store::Watch>> StartWatch(const store::WatchRequest& req,
                                                           store::WatchHandler handler) override;
  absl::Status Compact(store::Revision revision) override;
  absl::StatusOr<store::StoreStatus> Status() override;

 private:
  template <typename F>
  auto Timed(const char* op, F&& call);

  store::Kv& inner_;
  StoreProbe& probe_;
  const Clock& clock_;
};

}  // namespace hg::telemetry
