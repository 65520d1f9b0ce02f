// Dispatcher: the leader-only half of "one run, end to end" after the fire (DESIGN.md step 4,
// docs/design/execution.md "Dispatch" and "Lost").
//
// While leader it keeps three in-memory copies, each a list + watch that re-lists whenever its
// watch ends (compaction, cancellation: coord::PrefixWatch), so dispatch never silently stops:
//  - workers/ (the registry: address, labels, capacity, session lease),
//  - pending/ (executions waiting for a worker: its own fires, manual triggers, retries),
//  - inflight/ (claimed executions: each worker's load, and which lease each run depends on).
// Sender threads take queued pending entries in batches, pick for each a live worker matching
// the job's selector with room (least loaded first), and send each worker one Run call with the
// batch's execution ids (ids only: the worker reads everything else from the store and claims
// each one). When no worker can take an entry it ends `failed` (reason no_worker) — except while
// no worker at all is registered (right after a takeover or an etcd outage) or every matching
// worker refuses for a passing reason (at capacity, session being renewed, slow): then the entry
// waits and is tried again until its instant's starting_deadline.
// Lost runs: when a worker's session lease is gone from the registry (and the store confirms it
// expired), each inflight entry under that lease is decided by runs::Lose (retry, fail, killed).
// Every write goes through one runs::GroupCommit guarded by the term, so a deposed leader writes
// nothing; a failed guard ends the term (typed, never by message text).
//
// Threading: RunAsLeader() blocks on the caller's thread and runs `dispatch_threads` senders;
// watch handlers only update state and wake them. Stop() may be called from any thread.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/logging.h"
#include "coord/leader_term.h"
#include "coord/prefix_watch.h"
#include "dispatch/worker_client.h"
#include "model/keys.h"
#include "model/worker_entry.h"
#include "runs/entries.h"
#include "runs/group_commit.h"
#include "store/kv.h"

namespace hg::trace {
class Tracer;
}  // namespace hg::trace

namespace hg::dispatch {

using WorkerInfo = model::WorkerEntry;

struct DispatcherProbe {
  std::function<void(std::string_view reason)> dispatch_error;  // no_worker|unavailable|...
  // A run of `job` recorded failed because no worker could take it (once per run, after its
  // record was written).
  std::function<void(const std::string& job)> no_worker;
  // A claimed run of `job` whose worker was lost, after the leader recorded what became of it:
  // `outcome` retried|failed|killed (runs::ToString(LossDecision)).
  std::function<void(const std::string& job, std::string_view outcome)> run_lost;
  std::function<void(size_t live)> workers;
  // A span per dispatch, child of the pending entry's traceparent; the worker receives the
  // span's context. Null: no spans. Not owned.
  const trace::Tracer* tracer = nullptr;
};

class Dispatcher {
 public:
  struct Options {
    int dispatch_threads = 4;
    int max_batch = 64;  // execution ids per Run call
    absl::Duration rpc_deadline = absl::Seconds(5);
    // When every matching worker refused for a passing reason (UNAVAILABLE, RESOURCE_EXHAUSTED,
    // DEADLINE_EXCEEDED), the entry is tried again after this (or as soon as a worker frees a
    // slot), until its starting deadline.
    absl::Duration busy_retry = absl::Milliseconds(500);
    // When every matching worker declined because it was at capacity: tried again after this
    // (or as soon as a run finishes).
    absl::Duration capacity_retry = absl::Milliseconds(20);
    // How often a lease that left the registry but has not expired yet is looked at again.
    absl::Duration lease_recheck = absl::Seconds(1);
  };

  Dispatcher(store::Kv& kv, Clock& clock, model::Keys keys, WorkerClient& client, Options options,
             DispatcherProbe probe = {});
  ~Dispatcher();

  // Returns OK after Stop(), FailedPrecondition when the term guard failed (leadership lost),
  // or the store's error when the initial lists fail.
  absl::Status RunAsLeader(const coord::LeaderTerm& term);
  void Stop();

  std::vector<WorkerInfo> Workers() const;

 private:
  struct Queued {
    model::ExecutionId id;
    runs::PendingEntry pending;
    store::Revision pending_revision = 0;  // mod revision of its pending entry (claim hint)
    absl::Time not_before;                 // parked until (InfinitePast = ready)
  };
  struct JobInfo {
    store::Revision revision = 0;
    std::map<std::string, std::string> selector;
    absl::Duration starting_deadline = absl::Seconds(60);
    bool forbid = false;
    bool exists = true;
  };
  struct Inflight {
    std::string worker_id;
    store::LeaseId lease = 0;
    absl::Time scheduled;  // a run claimed ahead of its instant waits on its worker until then
  };

  void SenderLoop(const coord::LeaderTerm& term, runs::GroupCommit& commits);
  // Dispatches one batch of queued entries.
  void DispatchBatch(runs::GroupCommit& commits, std::vector<Queued> batch);
  // Ends entries no worker can take (`failed`, no_worker), or parks them.
  void NoWorker(runs::GroupCommit& commits, const std::vector<Queued>& entries,
                const std::string& why);
  // Decides every inflight entry under an expired lease.
  void HandleLostLease(runs::GroupCommit& commits, store::LeaseId lease);
  // Job selector / deadline for a batch (cached per job revision; misses read in one txn).
  absl::StatusOr<std::vector<JobInfo>> JobsOf(const std::vector<Queued>& batch);

  void OnWorkers(const coord::PrefixWatch::State& state);
  void OnPending(const std::vector<coord::PrefixWatch::Change>& changes);
  void OnInflight(const std::vector<coord::PrefixWatch::Change>& changes);
  // Inflight entries whose lease no live registry entry holds become suspects.
  void FindSuspectsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Back to the front of the queue: up to `n` blocked entries a slot of `worker` may take (all
  // blocked entries of every selector when `worker` is null).
  void UnblockLocked(const WorkerInfo* worker, int n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndTerm();  // the guard failed: stop everything

  store::Kv& kv_;
  Clock& clock_;
  const model::Keys keys_;
  WorkerClient& client_;
  const Options options_;
  const DispatcherProbe probe_;
  log::Logger log_{"dispatch"};

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool term_lost_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, WorkerInfo> workers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<store::LeaseId> live_leases_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> load_ ABSL_GUARDED_BY(mu_);  // worker id -> inflight
  absl::flat_hash_map<std::string, Inflight> inflight_ ABSL_GUARDED_BY(mu_);  // by execution id
  // Started by a worker for us, its inflight entry not yet seen in the watch (by execution id),
  // and their count per worker: part of the worker's load until the watch shows them.
  // An entry whose run ended before its answer came back is never seen: forgotten after a while.
  struct Unseen {
    std::string worker_id;
    absl::Time since;
    absl::Time scheduled;
  };
  absl::flat_hash_map<std::string, Unseen> unseen_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> unseen_load_ ABSL_GUARDED_BY(mu_);
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  // Entries every matching worker's window was full for, by selector: each waits, in order, for
  // a slot of a worker its selector matches (a finishing run there releases one), so a busy
  // pool never holds up the entries of another.
  struct Blocked {
    std::map<std::string, std::string> selector;
    bool any_worker = false;  // a deleted job's entries: any worker records them
    std::deque<Queued> entries;
  };
  std::map<std::string, Blocked> blocked_ ABSL_GUARDED_BY(mu_);  // by selector key
  absl::Time next_blocked_check_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> in_rpc_ ABSL_GUARDED_BY(mu_);  // worker -> items in a call
  absl::flat_hash_set<std::string> queued_ ABSL_GUARDED_BY(mu_);       // ids queued or being sent
  std::vector<Queued> parked_ ABSL_GUARDED_BY(mu_);
  std::map<store::LeaseId, absl::Time> suspects_ ABSL_GUARDED_BY(mu_);   // lease -> next check
  absl::flat_hash_map<std::string, JobInfo> jobs_ ABSL_GUARDED_BY(mu_);  // by job name
  int64_t wake_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hg::dispatch
