#include "coord/mutex.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "coord/wait.h"

namespace hg::coord {

using store::Compare;

namespace {

absl::Status TakenError(const std::string& prefix, const store::KeyValue& holder) {
  return absl::AlreadyExistsError(
      absl::StrCat("coord: lock ", prefix, " is held by ", holder.key, " (", holder.value, ")"));
}

}  // namespace

Mutex::Mutex(Session& session, std::string prefix)
    : session_(session), prefix_(std::move(prefix)), dir_(prefix_ + "/"), me_(dir_) {}

absl::Status Mutex::Lock(std::string value, std::stop_token stop, absl::Time deadline) {
  if (me_.owner()) return absl::FailedPreconditionError("coord: lock already held by this Mutex");
  // Queue up, and learn the owner in the same round trip.
  HG_ASSIGN_OR_RETURN(internal::Enqueued mine, internal::Enqueue(session_, prefix_, value));
  if (!mine.created) {
    {
      absl::MutexLock lock(&mu_);
      if (mine.rev != leftover_) {  // another Mutex's key on our session
        return TakenError(prefix_, {.key = mine.key, .value = mine.existing_value});
      }
      leftover_ = 0;
    }
    if (mine.existing_value != value) {
      absl::StatusOr<bool> put = internal::GuardedPut(session_, mine.key, mine.rev, value);
      if (!put.ok()) {
        Withdraw(mine.key, mine.rev);
        return put.status();
      }
    }
  }
  if (mine.owner && mine.owner->create_revision != mine.rev) {
    internal::Waiter waiter(session_, std::move(stop), deadline);
    absl::Status status = waiter.WaitForTurn(dir_, mine.key, mine.rev);
    if (!status.ok()) {
      if (!IsSessionLost(status)) Withdraw(mine.key, mine.rev);
      return status;
    }
  }
  me_.Owned(mine.key, mine.rev);
  return absl::OkStatus();
}

absl::Status Mutex::TryLock(std::string value, store::KeyValue* holder) {
  if (me_.owner()) return absl::FailedPreconditionError("coord: lock already held by this Mutex");
  HG_RETURN_IF_ERROR(session_.status());
  store::TxnRequest txn;
  txn.compare.push_back(FreeGuard());
  txn.success.push_back(AcquireOp(value));
  txn.failure.push_back(HolderOp());
  HG_ASSIGN_OR_RETURN(store::TxnResponse resp, session_.kv().Txn(txn));
  if (resp.succeeded) {
    Acquired(resp.revision);
    return absl::OkStatus();
  }
  const auto& owner = std::get<store::RangeResponse>(resp.responses.at(0)).kvs;
  if (owner.empty()) return absl::UnavailableError("coord: lock changed hands, try again");
  const store::KeyValue& first = owner.front();
  const std::string my_key = internal::LeaseKey(prefix_, session_.lease());
  store::Revision leftover;
  {
    absl::MutexLock lock(&mu_);
    leftover = leftover_;
    leftover_ = 0;
  }
  if (leftover != 0 && first.key == my_key && first.create_revision == leftover) {
    me_.Owned(first.key, first.create_revision);  // our key from a failed Lock is the oldest
    return absl::OkStatus();
  }
  // Our leftover key still waits in line; take it out so it never takes the lock unseen.
  if (leftover != 0) Withdraw(my_key, leftover);
  if (holder != nullptr) *holder = first;
  return TakenError(prefix_, first);
}

absl::Status Mutex::Unlock() {
  if (!me_.owner()) return absl::OkStatus();
  const store::Revision rev = me_.rev();
  HG_RETURN_IF_ERROR(internal::GuardedDelete(session_.kv(), me_.key(), rev).status());
  me_.Forget(rev);
  return absl::OkStatus();
}

void Mutex::Withdraw(const std::string& key, store::Revision rev) {
  if (!internal::GuardedDelete(session_.kv(), key, rev).ok()) {
    absl::MutexLock lock(&mu_);
    leftover_ = rev;
  }
}

absl::StatusOr<store::KeyValue> Mutex::Holder() const {
  HG_ASSIGN_OR_RETURN(store::RangeResponse resp, session_.kv().Range(HolderOp()));
  if (resp.kvs.empty())
    return absl::NotFoundError(absl::StrCat("coord: lock ", prefix_, " is free"));
  return std::move(resp.kvs.front());
}

bool Mutex::IsLocked() const { return me_.owner() && session_.IsAlive(); }

std::string Mutex::key() const { return me_.key(); }

store::Revision Mutex::revision() const { return me_.rev(); }

store::Compare Mutex::LockGuard() const { return me_.Guard(); }

store::Compare Mutex::FreeGuard() const {
  // A range compare holds when every key in it does; with no key, create_revision reads 0.
  Compare guard = Compare::CreateRevision(dir_, Compare::Result::kEqual, 0);
  guard.range_end = store::PrefixEnd(dir_);
  return guard;
}

store::PutRequest Mutex::AcquireOp(std::string value) const {
  const store::LeaseId lease = session_.lease();
  return store::PutRequest{
      .key = internal::LeaseKey(prefix_, lease), .value = std::move(value), .lease = lease};
}

store::RangeRequest Mutex::HolderOp() const { return internal::ByCreateRevision(dir_, 1); }

void Mutex::Acquired(store::Revision txn_revision) {
  me_.Owned(internal::LeaseKey(prefix_, session_.lease()), txn_revision);
}

store::DeleteRequest Mutex::ReleaseOp() const {
  const std::string key = me_.key();
  return store::DeleteRequest::Key(key.empty() ? dir_ : key);
}

void Mutex::Released() { me_.Forget(); }

}  // namespace hg::coord
