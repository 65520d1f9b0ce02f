#include "telemetry/instrumented_kv.h"

#include <utility>

namespace hg::telemetry {
namespace {

bool IsOk(const absl::Status& s) { return s.ok(); }
template <typename T>
bool IsOk(const absl::StatusOr<T>& s) {
  return s.ok();
}

}  // namespace

template <typename F>
auto InstrumentedKv::Timed(const char* op, F&& call) {
  const SteadyTime start = clock_.SteadyNow();
  auto result = call();
  const absl::Duration elapsed = absl::FromChrono(clock_.SteadyNow() - start);
  probe_.Request(op, elapsed, IsOk(result));
  return result;
}

absl::StatusOr<store::RangeResponse> InstrumentedKv::Range(const store::RangeRequest& req) {
  return Timed("range", [&] { return inner_.Range(req); });
}

absl::StatusOr<store::PutResponse> InstrumentedKv::Put(const store::PutRequest& req) {
  return Timed("put", [&] { return inner_.Put(req); });
}

absl::StatusOr<store::DeleteResponse> InstrumentedKv::Delete(const store::DeleteRequest& req) {
  return Timed("delete", [&] { return inner_.Delete(req); });
}

absl::StatusOr<store::TxnResponse> InstrumentedKv::Txn(const store::TxnRequest& req) {
  return Timed("txn", [&] { return inner_.Txn(req); });
}

absl::StatusOr<store::LeaseGrantResponse> InstrumentedKv::LeaseGrant(int64_t ttl_seconds) {
  return Timed("lease_grant", [&] { return inner_.LeaseGrant(ttl_seconds); });
}

absl::StatusOr<int64_t> InstrumentedKv::LeaseKeepAliveOnce(store::LeaseId id) {
  return Timed("lease_keepalive", [&] { return inner_.LeaseKeepAliveOnce(id); });
}

absl::Status InstrumentedKv::LeaseRevoke(store::LeaseId id) {
  return Timed("lease_revoke", [&] { return inner_.LeaseRevoke(id); });
}

absl::StatusOr<store::LeaseTimeToLiveResponse> InstrumentedKv::LeaseTimeToLive(store::LeaseId id,
                                                                               bool keys) {
  return Timed("lease_ttl", [&] { return inner_.LeaseTimeToLive(id, keys); });
}

absl::StatusOr<std::unique_ptr<store::Watch>> InstrumentedKv::StartWatch(
    const store::WatchRequest& req, store::WatchHandler handler) {
  return Timed("watch", [&] { return inner_.StartWatch(req, std::move(handler)); });
}

absl::Status InstrumentedKv::Compact(store::Revision revision) {
  return Timed("compact", [&] { return inner_.Compact(revision); });
}

absl::StatusOr<store::StoreStatus> InstrumentedKv::Status() {
  return Timed("status", [&] { return inner_.Status(); });
}

}  // namespace hg::telemetry
