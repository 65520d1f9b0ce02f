// Mutex: a distributed lock on a key prefix, etcd's concurrency.Mutex algorithm and keys, so
// it excludes `etcdctl lock <prefix>` both ways (docs/design/election.md).
//
// The lock is held by the oldest key (smallest create revision) under `<prefix>/`; a locker
// puts `<prefix>/<lease id hex>` under its session's lease and waits for the deletion of the
// key just older than its own. Unlike etcd (which stores ""), the key's value is the holder's
// label, e.g. the execution id of the run holding a Forbid lock, so that others can say who
// holds it; etcdctl only looks at keys and revisions, so this stays compatible.
//
// A lock is owned by a Mutex object: a second Mutex on the same session and prefix sees the
// first's key as another holder (TryLock fails, Lock returns kAlreadyExists), so one worker's
// session can guard many runs without them admitting each other. The lock is released by
// Unlock(), or by the loss of the session (its key goes with the lease); LockGuard() is the
// compare that proves ownership inside a transaction.
//
// Errors: kAborted (IsSessionLost) the session is over; kCancelled / kDeadlineExceeded from
// Lock's stop token and deadline; kAlreadyExists when TryLock finds the lock taken; the store's
// errors otherwise. A failed Lock leaves nothing behind (best effort; the lease cleans up).
//
// Thread safety: all methods may be called from any thread, but Lock/TryLock/Unlock on one
// object must not overlap. The Session must outlive the Mutex.
#pragma once

#include <stop_token>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coord/session.h"
#include "coord/wait.h"
#include "store/kv.h"

namespace hg::coord {

class Mutex {
 public:
  // `prefix` is the lock name, as given to `etcdctl lock`; keys live under prefix + "/".
  Mutex(Session& session, std::string prefix);
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Blocks until the lock is ours, `stop` is requested, `deadline` (clock time) passes, or the
  // session ends. `value` labels the holder. kFailedPrecondition if this object holds it already.
  absl::Status Lock(std::string value = "", std::stop_token stop = {},
                    absl::Time deadline = absl::InfiniteFuture());
  // Takes the lock only if nobody holds or waits for it, in one transaction. kAlreadyExists if
  // taken; then `*holder` (if given) receives the holder's key/value/create revision.
  absl::Status TryLock(std::string value = "", store::KeyValue* holder = nullptr);
  // Releases the lock if this object holds it (a guarded delete: never someone else's key).
  // OK also when the lock was already lost. On a store error it stays held (retry, or let the
  // lease expire).
  absl::Status Unlock();

  // Who holds the lock now (oldest key): kNotFound when free.
  absl::StatusOr<store::KeyValue> Holder() const;

  // True while this object holds the lock and the session is alive.
  bool IsLocked() const;
  std::string key() const;           // our key while held, else ""
  store::Revision revision() const;  // create revision of our key while held, else 0
  // `create_revision(key()) == revision()`; always false when not held.
  store::Compare LockGuard() const;

  // Building blocks to take and release the lock inside one of the caller's transactions (the
  // worker's claim: DESIGN.md "write budget"). A transaction that includes FreeGuard() and
  // AcquireOp() takes the lock if it commits; call Acquired(txn revision) then. Its failure
  // branch can include HolderOp() to learn who holds it. ReleaseOp() + Released() likewise.
  store::Compare FreeGuard() const;  // no key at all under the prefix
  store::PutRequest AcquireOp(std::string value) const;
  store::RangeRequest HolderOp() const;
  void Acquired(store::Revision txn_revision);
  store::DeleteRequest ReleaseOp() const;
  void Released();

  const std::string& prefix() const { return prefix_; }

 private:
  // Deletes our key if it still has `rev` (best effort cleanup after a failed Lock).
  void Withdraw(const std::string& key, store::Revision rev);

  Session& session_;
  const std::string prefix_;
  const std::string dir_;  // prefix_ + "/"

  internal::Ownership me_;
  absl::Mutex mu_;
  // The create revision of a key this object put but failed to withdraw: Lock adopts it.
  store::Revision leftover_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hg::coord
