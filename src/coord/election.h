// Election: leader election on a key prefix, etcd's concurrency.Election algorithm and keys, so
// it takes part in the same elections as `etcdctl elect <prefix>` (docs/design/election.md).
//
// Each candidate puts `<prefix>/<lease id hex>` = value under its session's lease; the candidate
// whose key has the smallest create revision leads; the others wait, each for the deletion of
// the key just older than its own (no thundering herd). The leader key's create revision is the
// leader's TERM: it only grows from one leader to the next, and the fencing compare
// IsLeaderGuard() (create_revision(my key) == term) holds exactly while this candidate leads.
// Put it in every transaction that must only commit while we lead (DESIGN.md guard 1).
//
// Leadership ends on Resign(), on the loss of the session (lease gone, keepalive overdue,
// Session::Stop), or if someone deletes the key; the last case is only seen through Observe()
// or a failing IsLeaderGuard() transaction.
//
// Errors: kAborted (IsSessionLost) the session is over; kCancelled / kDeadlineExceeded for
// Campaign's stop token and deadline; the store's errors otherwise (kUnavailable...: Campaign
// may be called again and resumes its place in line, as in etcd).
//
// Thread safety: all methods may be called from any thread; Campaign calls on one object must
// not overlap (kFailedPrecondition). The Session must outlive the Election.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coord/prefix_watch.h"
#include "coord/session.h"
#include "coord/wait.h"
#include "store/kv.h"

namespace hg::coord {

class Election {
 public:
  // `prefix` is the election name, as given to `etcdctl elect`; keys live under prefix + "/".
  Election(Session& session, std::string prefix);
  ~Election() = default;
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;

  // Enters the election with `value` and blocks until this session leads, `stop` is requested
  // (kCancelled), `deadline` (clock time) passes (kDeadlineExceeded) or the session ends
  // (kAborted). On cancel/deadline the candidacy is withdrawn; on store errors it is kept so a
  // new Campaign resumes. If this session is already a candidate (same lease, e.g. a resumed
  // Campaign), its key is reused and its value updated.
  absl::Status Campaign(std::string value, std::stop_token stop = {},
                        absl::Time deadline = absl::InfiniteFuture());
  // Leader only: replaces the announced value without a new election. kFailedPrecondition
  // if not leading (then the leadership is forgotten).
  absl::Status Proclaim(std::string value);
  // Gives up leadership (deletes our key if it is still the one we won with). No-op if not
  // leading. On a store error the leadership is kept so Resign can be retried.
  absl::Status Resign();

  // The current leader's key/value/create_revision/lease. kNotFound when there is none.
  absl::StatusOr<store::KeyValue> Leader() const;

  // Calls `handler` with the current leader (nullopt: none), at once and after every change of
  // leader or of its value. Threads as PrefixWatch. Stop by destroying the returned object.
  using ObserveHandler = std::function<void(const std::optional<store::KeyValue>& leader)>;
  absl::StatusOr<std::unique_ptr<PrefixWatch>> Observe(ObserveHandler handler) const;

  // True while Campaign has succeeded, no Resign since, and the session is alive.
  bool IsLeader() const;
  // Our key (`<prefix>/<lease hex>`) while campaigning or leading, else "".
  std::string key() const;
  // The create revision of our leader key: this leadership's term. 0 when not leading.
  store::Revision term() const;
  // The fencing compare: `create_revision(key()) == term()`. When not leading it compares a
  // key that cannot exist, so a transaction guarded by it fails.
  store::Compare IsLeaderGuard() const;

  const std::string& prefix() const { return prefix_; }

 private:
  Session& session_;
  const std::string prefix_;
  const std::string dir_;  // prefix_ + "/"

  internal::Ownership me_;
  absl::Mutex mu_;
  bool campaigning_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace hg::coord
