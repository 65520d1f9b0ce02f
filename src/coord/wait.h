// Internal helpers shared by Election and Mutex (etcd concurrency key.go): key naming, the
// "first key by create revision" query, and the interruptible wait for one's turn.
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coord/session.h"
#include "store/kv.h"

namespace hg::coord::internal {

// `<prefix>/<lease id in lower-case hex>`, exactly as etcd's fmt.Sprintf("%s%x", pfx+"/", id).
std::string LeaseKey(std::string_view prefix, store::LeaseId lease);

// Every key under `dir` (which ends with '/'), oldest create revision first: the owner is the
// first. `limit` 0 = all.
store::RangeRequest ByCreateRevision(const std::string& dir, int64_t limit);

// The first step of a Campaign or a Lock (one transaction): put our key `<prefix>/<lease hex>`
// = value under the session's lease unless this lease already has a key there; either way read
// our key and the current owner (oldest key).
struct Enqueued {
  std::string key;
  store::Revision rev = 0;  // our key's create revision
  bool created = false;     // false: the key existed (its value is `existing_value`)
  std::string existing_value;
  std::optional<store::KeyValue> owner;
};
absl::StatusOr<Enqueued> Enqueue(Session& session, const std::string& prefix,
                                 const std::string& value);

// Transactions on our own key only while it still has create revision `rev` (never on a
// successor's key of the same name). StatusOr<bool>: whether the guard held.
absl::StatusOr<bool> GuardedPut(Session& session, const std::string& key, store::Revision rev,
                                std::string value);
absl::StatusOr<bool> GuardedDelete(store::Kv& kv, const std::string& key, store::Revision rev);

// What a recipe object owns: its key in the queue, that key's create revision, and whether it
// is at the head (leads / holds the lock). Thread-safe.
class Ownership {
 public:
  explicit Ownership(std::string dir) : dir_(std::move(dir)) {}
  void Queued(std::string key, store::Revision rev);
  void Owned(std::string key, store::Revision rev);
  // Forgets the key, if it still has `rev` (0: whatever it is).
  void Forget(store::Revision rev = 0);
  bool owner() const;
  std::string key() const;         // queued or owned, "" if none
  store::Revision rev() const;     // create revision while owner, else 0
  store::Revision queued() const;  // create revision while queued or owner, else 0
  // create_revision(key) == rev while owner; otherwise a compare that can never hold.
  store::Compare Guard() const;

 private:
  const std::string dir_;
  mutable absl::Mutex mu_;
  std::string key_ ABSL_GUARDED_BY(mu_);
  store::Revision rev_ ABSL_GUARDED_BY(mu_) = 0;
  bool owner_ ABSL_GUARDED_BY(mu_) = false;
};

// One blocking call of a recipe: wakes on a watched key's deletion, a stop request, the loss of
// the session, or the deadline (clock time). Lives on the calling thread's stack.
class Waiter {
 public:
  Waiter(Session& session, std::stop_token stop, absl::Time deadline);
  ~Waiter();
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // kAborted (session lost), kCancelled (stop requested), kDeadlineExceeded, or OK.
  absl::Status Interrupted();

  // Waits until `key` is deleted by a revision after `after`. OK on deletion, else the
  // interruption or the watch's error.
  absl::Status WaitDelete(const std::string& key, store::Revision after);

  // etcd's waitDeletes: waits until no key under `dir` is older than ours (create revision
  // `my_rev`), i.e. until we own it. kAborted if our own key disappears (lease gone).
  absl::Status WaitForTurn(const std::string& dir, const std::string& my_key,
                           store::Revision my_rev);

 private:
  absl::Status InterruptedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Session& session_;
  const absl::Time deadline_;
  absl::Mutex mu_;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status session_lost_ ABSL_GUARDED_BY(mu_);
  bool deleted_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status watch_error_ ABSL_GUARDED_BY(mu_);
  Session::ListenerId listener_ = 0;
  // Last member: constructed after mu_ (its callback may run in the constructor).
  std::optional<std::stop_callback<std::function<void()>>> stop_callback_;
};

}  // namespace hg::coord::internal
