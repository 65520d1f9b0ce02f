// GroupCommit: many independent guarded changes, few store transactions (DESIGN.md "Write
// budget per run"). Store commits are the run path's ceiling — each etcd transaction is a raft
// proposal and an fsync, each SQLite transaction an fsync — so transitions that happen together
// are committed together.
//
// A change is one execution's transition: a TxnRequest whose compares guard only that change
// (built by runs/transitions.h). Changes submitted while a transaction is in flight wait, and
// the next transaction takes all of them that fit: each becomes a nested transaction of one
// outer transaction (etcd >= 3.3 nested txns), so one change's failed compare does not fail the
// others. The outer transaction carries an optional `guard` (e.g. the leader's term): when it
// does not hold, nothing is written and every change of the batch reports `guard_failed`.
//
// Limits (etcd defaults, enforced by SqliteKv too): with N changes in a transaction each
// change's branches may hold at most max_ops - N operations (etcd's nested op-count rule), and
// the request stays under max_bytes. Changes that write the same key never share a transaction
// (etcd rejects duplicate keys); a later one waits for the next.
//
// Threading: Commit()/CommitAll() may be called from any number of threads; they block until
// their changes' outcomes are known. There is no thread of its own: the first waiting caller
// commits for everyone (LevelDB's writer queue), so a lone caller pays one round trip and
// concurrent callers share one.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "store/kv.h"

namespace hg::runs {

class GroupCommit {
 public:
  struct Options {
    int max_ops = 128;                  // etcd --max-txn-ops
    int64_t max_bytes = 1 << 20;        // under etcd's --max-request-bytes (1.5 MiB)
    std::vector<store::Compare> guard;  // outer compares of every transaction
  };

  // The outcome of one change.
  struct Result {
    // The store's error for the whole transaction. For kDeadlineExceeded/kUnavailable after
    // sending, the change may or may not have been applied.
    absl::Status status;
    bool guard_failed = false;  // the outer guard did not hold: nothing was written
    bool succeeded = false;     // the change's own compares held; its success branch ran
    std::vector<store::TxnOpResponse> responses;  // of the branch that ran
    store::Revision revision = 0;                 // of the transaction
    // Written: the store answered, the guard held (the change ran one of its branches).
    bool answered() const { return status.ok() && !guard_failed; }
  };

  GroupCommit(store::Kv& kv, Options options);
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  Result Commit(store::TxnRequest change);
  // Submits all, returns their results in order. They may span several transactions.
  std::vector<Result> CommitAll(std::vector<store::TxnRequest> changes);

  // Totals since construction (benchmarks, metrics).
  int64_t transactions() const { return transactions_.load(); }
  int64_t changes() const { return changes_.load(); }

  // Operations counted against etcd's limit for one change (max of compares, success, failure,
  // recursively for nested transactions).
  static int OpCount(const store::TxnRequest& txn);
  // Approximate encoded size of a change.
  static int64_t Bytes(const store::TxnRequest& txn);

 private:
  struct Waiter;
  // Takes the changes of the next transaction off the queue.
  std::vector<Waiter*> TakeBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Execute(const std::vector<Waiter*>& batch);

  store::Kv& kv_;
  const Options options_;
  absl::Mutex mu_;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  bool committing_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> changes_{0};
};

}  // namespace hg::runs
