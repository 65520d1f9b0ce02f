// HistoryRetention: the leader's janitor for execution history. It keeps each job's records
// (exec/<job>/...) at most at the job's `history_limit` (docs/design/storage.md "Retention"),
// continuously, so the store never grows without bound.
//
// Which jobs: the scheduler reports every job it wrote records for (MarkDirty); those are pruned
// at the next sweep (every `sweep_interval`). A full sweep over all jobs runs when a term starts
// and every `full_sweep_interval`, which also catches records written outside the scheduler
// (manual triggers through the API). Deleted jobs are not swept: they gain no new records, and
// their history was already kept within its limit while they existed.
//
// What goes: the oldest records beyond the limit, but only final ones (success, failed, timeout,
// killed, missed, skipped). A record still `scheduled` or `running` is never deleted — it is
// somebody's live state — so a job may briefly keep more than its limit. Consecutive final
// records go as one range delete, guarded by "every key of the range older than the read" (a
// record that changed or appeared since is left for the next round); each job's deletes are one
// change, and the jobs of a sweep share transactions (runs::GroupCommit): pruning a thousand
// jobs costs a handful of raft proposals, not one per job.
//
// Not term-fenced on purpose: a stale leader could only delete final records beyond the limit,
// exactly what the real leader deletes too.
//
// Threading: RunAsLeader() blocks on the caller's thread until Stop(); MarkDirty() and Stop()
// may be called from any thread. PruneJob() is for the loop and for tests.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/logging.h"
#include "model/ids.h"
#include "model/keys.h"
#include "runs/group_commit.h"
#include "store/kv.h"

namespace hg::scheduler {

class HistoryRetention {
 public:
  struct Options {
    absl::Duration sweep_interval = absl::Seconds(10);
    absl::Duration full_sweep_interval = absl::Minutes(10);
    // Max operations in one transaction (etcd's default --max-txn-ops is 128).
    int max_txn_ops = 128;
  };
  // Hook for metrics; optional. Called with the number of records deleted by one prune.
  using PrunedProbe = std::function<void(int64_t records)>;

  HistoryRetention(store::Kv& kv, Clock& clock, model::Keys keys, Options options,
                   PrunedProbe probe = {});

  // Sweeps until Stop(). Store errors are logged and retried at the next sweep; never fatal.
  void RunAsLeader();
  void Stop();

  void MarkDirty(std::string job);

  // Sweeps finished so far; a test that sees n knows the loop's next wait deadline is set.
  int64_t sweeps() const;

  // Indexes the final records written before the status index existed (model/keys.h), then
  // marks the store (Keys::StatusIndexReady): until then status-filtered history pages scan.
  // Done by the first leader that finds no mark, before its first sweep, so no prune runs
  // meanwhile; each entry is guarded by its record's revision. Returns how many it wrote.
  absl::StatusOr<int64_t> BackfillStatusIndex();

  // Deletes `job`'s oldest final records beyond `limit`; returns how many were deleted.
  absl::StatusOr<int64_t> PruneJob(const model::JobName& job, int limit);

 private:
  struct Target;
  // Prunes every job in `names` (all jobs when `all`), reading each limit from its definition.
  void Sweep(std::set<std::string> names, bool all);
  // Brings every target within its limit (rounds of reads and group-committed range deletes);
  // fills in what each deleted.
  absl::Status Prune(std::vector<Target>& targets);

  store::Kv& kv_;
  Clock& clock_;
  const model::Keys keys_;
  const Options options_;
  const PrunedProbe probe_;
  log::Logger log_{"retention"};
  runs::GroupCommit commits_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool indexed_ = false;  // the status index is complete (RunAsLeader's thread only)
  int64_t sweeps_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> dirty_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hg::scheduler
