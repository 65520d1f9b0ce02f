#include "coord/wait.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"

namespace hg::coord::internal {

std::string LeaseKey(std::string_view prefix, store::LeaseId lease) {
  // Go's %x prints a negative int64 as '-' and the magnitude.
  const bool negative = lease < 0;
  const uint64_t magnitude =
      negative ? uint64_t{0} - static_cast<uint64_t>(lease) : static_cast<uint64_t>(lease);
  return absl::StrCat(Av(prefix), "/", negative ? "-" : "", absl::Hex(magnitude));
}

store::RangeRequest ByCreateRevision(const std::string& dir, int64_t limit) {
  store::RangeRequest req = store::RangeRequest::Prefix(dir);
  req.limit = limit;
  req.sort_order = store::SortOrder::kAscend;
  req.sort_target = store::SortTarget::kCreateRevision;
  return req;
}

absl::StatusOr<Enqueued> Enqueue(Session& session, const std::string& prefix,
                                 const std::string& value) {
  HG_RETURN_IF_ERROR(session.status());
  const store::LeaseId lease = session.lease();
  Enqueued out{.key = LeaseKey(prefix, lease)};
  const store::RangeRequest owner = ByCreateRevision(prefix + "/", 1);
  store::TxnRequest txn;
  txn.compare.push_back(store::Compare::CreateRevision(out.key, store::Compare::Result::kEqual, 0));
  txn.success.push_back(store::PutRequest{.key = out.key, .value = value, .lease = lease});
  txn.success.push_back(owner);
  txn.failure.push_back(store::RangeRequest::Key(out.key));
  txn.failure.push_back(owner);
  HG_ASSIGN_OR_RETURN(store::TxnResponse resp, session.kv().Txn(txn));
  if (resp.responses.size() != 2) return absl::InternalError("coord: short txn response");
  out.created = resp.succeeded;
  out.rev = resp.revision;
  if (!resp.succeeded) {
    const auto& mine = std::get<store::RangeResponse>(resp.responses[0]).kvs;
    if (mine.empty()) return absl::InternalError("coord: our key vanished inside a txn");
    out.rev = mine.front().create_revision;
    out.existing_value = mine.front().value;
  }
  const auto& first = std::get<store::RangeResponse>(resp.responses[1]).kvs;
  if (!first.empty()) out.owner = first.front();
  return out;
}

absl::StatusOr<bool> GuardedPut(Session& session, const std::string& key, store::Revision rev,
                                std::string value) {
  store::TxnRequest txn;
  txn.compare.push_back(store::Compare::CreateRevision(key, store::Compare::Result::kEqual, rev));
  txn.success.push_back(
      store::PutRequest{.key = key, .value = std::move(value), .lease = session.lease()});
  HG_ASSIGN_OR_RETURN(store::TxnResponse resp, session.kv().Txn(txn));
  return resp.succeeded;
}

absl::StatusOr<bool> GuardedDelete(store::Kv& kv, const std::string& key, store::Revision rev) {
  store::TxnRequest txn;
  txn.compare.push_back(store::Compare::CreateRevision(key, store::Compare::Result::kEqual, rev));
  txn.success.push_back(store::DeleteRequest::Key(key));
  HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv.Txn(txn));
  return resp.succeeded;
}

void Ownership::Queued(std::string key, store::Revision rev) {
  absl::MutexLock lock(&mu_);
  key_ = std::move(key);
  rev_ = rev;
  owner_ = false;
}

void Ownership::Owned(std::string key, store::Revision rev) {
  absl::MutexLock lock(&mu_);
  key_ = std::move(key);
  rev_ = rev;
  owner_ = true;
}

void Ownership::Forget(store::Revision rev) {
  absl::MutexLock lock(&mu_);
  if (rev != 0 && rev != rev_) return;
  key_.clear();
  rev_ = 0;
  owner_ = false;
}

bool Ownership::owner() const {
  absl::MutexLock lock(&mu_);
  return owner_;
}

std::string Ownership::key() const {
  absl::MutexLock lock(&mu_);
  return key_;
}

store::Revision Ownership::rev() const {
  absl::MutexLock lock(&mu_);
  return owner_ ? rev_ : 0;
}

store::Revision Ownership::queued() const {
  absl::MutexLock lock(&mu_);
  return rev_;
}

store::Compare Ownership::Guard() const {
  absl::MutexLock lock(&mu_);
  // A missing key's create_revision reads 0, never -1: this guard cannot hold.
  if (!owner_) return store::Compare::CreateRevision(dir_, store::Compare::Result::kEqual, -1);
  return store::Compare::CreateRevision(key_, store::Compare::Result::kEqual, rev_);
}

Waiter::Waiter(Session& session, std::stop_token stop, absl::Time deadline)
    : session_(session), deadline_(deadline) {
  listener_ = session_.AddLostListener([this](const absl::Status& why) {
    absl::MutexLock lock(&mu_);
    session_lost_ = why;
  });
  stop_callback_.emplace(std::move(stop), [this] {
    absl::MutexLock lock(&mu_);
    stop_requested_ = true;
  });
}

Waiter::~Waiter() {
  stop_callback_.reset();
  session_.RemoveLostListener(listener_);
}

absl::Status Waiter::InterruptedLocked() {
  if (!session_lost_.ok()) return session_lost_;
  if (stop_requested_) return absl::CancelledError("coord: cancelled");
  if (session_.clock().Now() >= deadline_) return absl::DeadlineExceededError("coord: deadline");
  return absl::OkStatus();
}

absl::Status Waiter::Interrupted() {
  absl::MutexLock lock(&mu_);
  return InterruptedLocked();
}

absl::Status Waiter::WaitDelete(const std::string& key, store::Revision after) {
  {
    absl::MutexLock lock(&mu_);
    deleted_ = false;
    watch_error_ = absl::OkStatus();
  }
  store::WatchRequest req{.key = key, .start_revision = after + 1};
  absl::StatusOr<std::unique_ptr<store::Watch>> watch =
      session_.kv().StartWatch(req, [this](const store::WatchResponse& resp) {
        absl::MutexLock lock(&mu_);
        for (const store::WatchEvent& ev : resp.events) {
          if (ev.type == store::EventType::kDelete) deleted_ = true;
        }
        if (!resp.status.ok()) watch_error_ = resp.status;
      });
  if (!watch.ok()) return watch.status();
  absl::Status result;
  {
    absl::MutexLock lock(&mu_);
    session_.clock().WaitUntil(mu_, deadline_, [this] {
      mu_.AssertHeld();
      return deleted_ || !watch_error_.ok() || stop_requested_ || !session_lost_.ok();
    });
    result = InterruptedLocked();
    if (deleted_) {
      // Our own key may be gone with the same lease; WaitForTurn's next look tells.
      if (result.code() == absl::StatusCode::kDeadlineExceeded) result = absl::OkStatus();
    } else if (result.ok()) {
      result = watch_error_;
    }
  }
  (*watch)->Cancel();  // outside mu_: the handler takes it
  return result;
}

absl::Status Waiter::WaitForTurn(const std::string& dir, const std::string& my_key,
                                 store::Revision my_rev) {
  store::RangeRequest req = ByCreateRevision(dir, 0);
  req.keys_only = true;
  while (true) {
    HG_RETURN_IF_ERROR(Interrupted());
    absl::StatusOr<store::RangeResponse> resp = session_.kv().Range(req);
    if (!resp.ok()) return resp.status();
    const store::KeyValue* before = nullptr;  // newest key older than ours
    bool mine = false;
    for (const store::KeyValue& kv : resp->kvs) {
      if (kv.key == my_key) mine = kv.create_revision == my_rev;
      if (kv.create_revision < my_rev) before = &kv;
    }
    if (!mine) return SessionLostError(absl::StrCat("key ", my_key, " is gone"));
    if (before == nullptr) return absl::OkStatus();
    absl::Status waited = WaitDelete(before->key, resp->revision);
    // The watch met a compaction (e.g. resumed after a reconnect from a revision the leader's
    // compactor has since dropped): look again from the current revision.
    if (store::IsCompacted(waited)) continue;
    HG_RETURN_IF_ERROR(waited);
  }
}

}  // namespace hg::coord::internal
