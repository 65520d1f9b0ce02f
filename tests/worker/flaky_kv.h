// FlakyKv: a test-only Kv decorator that makes the store unreachable on demand (every call
// fails with kUnavailable), or commits the next Txn and then loses its answer (kUnavailable
// after the write happened: the "outcome unknown" case). Watches already started keep working
// (they resume by themselves after an outage in the real stores). Thread-safe.
#pragma once

#include <atomic>
#include <memory>

#include "store/kv.h"

namespace hg::worker::testing {

class FlakyKv final : public store::Kv {
 public:
  explicit FlakyKv(store::Kv& inner) : inner_(inner) {}

  void SetDown(bool down) { down_ = down; }
  // The next `n` successful Txns are committed but answered with kUnavailable.
  void LoseNextTxnAnswers(int n) { lose_answers_ = n; }
  // The next `n` Txns fail with kUnavailable without reaching the store.
  void FailNextTxns(int n) { fail_txns_ = n; }
  int64_t failed_calls() const { return failed_calls_; }

  absl::StatusOr<store::RangeResponse> Range(const store::RangeRequest& req) override {
    if (absl::Status st = Check(); !st.ok()) return st;
    return inner_.Range(req);
  }
  absl::StatusOr<store::PutResponse> Put(const store::PutRequest& req) override {
    if (absl::Status st = Check(); !st.ok()) return st;
    return inner_.Put(req);
  }
  absl::StatusOr<store::DeleteResponse> Delete(const store::DeleteRequest& req) override {
    if (absl::Status st = Check(); !st.ok()) return st;
    return inner_.Delete(req);
  }
  absl::StatusOr<store::TxnResponse> Txn(const store::TxnRequest& req) override {
    if (absl::Status st = Check(); !st.ok()) return st;
    if (fail_txns_.load() > 0 && fail_txns_.fetch_sub(1) > 0) {
      ++failed_calls_;
      return absl::UnavailableError("flaky: txn not sent");
    }
    absl::StatusOr<store::TxnResponse> resp = inner_.Txn(req);
    if (resp.ok() && lose_answers_.load() > 0 && lose_answers_.fetch_sub(1) > 0) {
      ++failed_calls_;
      return absl::UnavailableError("flaky: answer lost");
    }
    return resp;
  }
  absl::StatusOr<store::LeaseGrantResponse> LeaseGrant(int64_t ttl) override {
    if (absl::Status st = Check(); !st.ok()) return st;
    return inner_.LeaseGrant(ttl);
  }
  absl::StatusOr<int64_t> LeaseKeepAliveOnce(store::LeaseId id) override {
    if (absl::Status st = Check(); !st.ok()) return st;
    return inner_.LeaseKeepAliveOnce(id);
  }
  absl::Status LeaseRevoke(store::LeaseId id) override {
    if (absl::Status st = Check(); !st.ok()) return st;
    return inner_.LeaseRevoke(id);
  }
  absl::StatusOr<store::LeaseTimeToLiveResponse> LeaseTimeToLive(store::LeaseId id,
                                                                 bool keys) override {
    if (absl::Status st = Check(); !st.ok()) return st;
    return inner_.LeaseTimeToLive(id, keys);
  }
  absl::StatusOr<std::unique_ptr<store::Watch>> StartWatch(const store::WatchRequest& req,
                                                           store::WatchHandler handler) override {
    if (absl::Status st = Check(); !st.ok()) return st;
    return inner_.StartWatch(req, std::move(handler));
  }

 private:
  absl::Status Check() {
    if (!down_) return absl::OkStatus();
    ++failed_calls_;
    return absl::UnavailableError("flaky: store down");
  }

  store::Kv& inner_;
  std::atomic<bool> down_{false};
  std::atomic<int> lose_answers_{0};
  std::atomic<int> fail_txns_{0};
  std::atomic<int64_t> failed_calls_{0};
};

}  // namespace hg::worker::testing
