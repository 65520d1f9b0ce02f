// Scheduler: the leader-only loop that turns due instants into execution records
// (DESIGN.md steps 2-3 and 7; protocol in docs/design/execution.md "Fire").
//
// RunAsLeader() loads jobs and cursors, watches jobs/ for changes, and on every due instant
// commits one guarded "fire" transaction per batch of jobs:
//   If(election key create_revision == term, cursor/<j> mod_revision == as read)
//   Then(Put cursor/<j>, Put exec/... {scheduled|missed}, Put pending/<id>)
// Dispatch happens elsewhere (dispatch::Dispatcher watches pending/), only after the commit.
// A failed term compare means leadership is gone: RunAsLeader returns at once, having written
// nothing more. Pure decisions live in FirePlanner; this class only does the I/O.
//
// Threading: RunAsLeader() runs on the caller's thread (the scheduler thread); Stop() and
// JobCount() may be called from any thread. The store watch handler only queues events.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/logging.h"
#include "model/keys.h"
#include "scheduler/fire_planner.h"
#include "store/kv.h"

namespace hg::trace {
class Tracer;
}  // namespace hg::trace

namespace hg::scheduler {

struct LeaderTerm {
  int64_t term = 0;        // create revision of our election key
  std::string leader_key;  // our election key (the fencing compare's subject)
};

// Hooks for metrics (telemetry wires them); all optional.
struct SchedulerProbe {
  std::function<void(std::string_view outcome, int64_t n)> fires;  // dispatched|missed
  // After a committed fire transaction, once per job that got new execution records (so
  // HistoryRetention prunes it). Runs on the scheduler thread; must not block.
  std::function<void(const std::string& job)> recorded;
  // A span per fire (the root of the run's trace); its traceparent rides in the pending/
  // envelope. Null: no spans, empty traceparent. Not owned.
  const trace::Tracer* tracer = nullptr;
};

class Scheduler {
 public:
  struct Options {
    // Max operations in one transaction (etcd's default --max-txn-ops is 128).
    int max_txn_ops = 120;
    // How long to wait before retrying after the store was unavailable.
    absl::Duration retry_delay = absl::Milliseconds(200);
  };

  Scheduler(store::Kv& kv, Clock& clock, model::Keys keys, Options options,
            SchedulerProbe probe = {});
  ~Scheduler();

  // Blocks until Stop() (returns OK) or until leadership is lost (FailedPrecondition) or the
  // initial load fails. Call again for the next term.
  absl::Status RunAsLeader(const LeaderTerm& term);
  void Stop();

  size_t JobCount() const;

 private:
  struct JobState {
    std::string stored_json;           // jobs/<name> value, embedded in dispatch envelopes
    store::Revision cursor_mod = 0;    // mod revision of cursor/<name> (0: absent)
    std::optional<absl::Time> cursor;  // as persisted
  };
  // One transaction's worth of a job's decision.
  struct Unit {
    std::string job;
    std::vector<PlannedFire> fires;
    absl::Time cursor;
    int64_t missed_not_listed = 0;
    std::optional<absl::Time> previous_cursor;
  };

  absl::Status Load(const LeaderTerm& term, store::Revision* revision);
  void ApplyJobEvent(const store::WatchEvent& ev, absl::Time now);
  absl::Status Commit(const LeaderTerm& term, std::vector<JobDecision> decisions, absl::Time now);
  // Commits one batch; on a failed compare tells whether leadership is gone.
  absl::Status CommitBatch(const LeaderTerm& term, std::vector<Unit>& batch);
  bool StillLeader(const LeaderTerm& term);

  store::Kv& kv_;
  Clock& clock_;
  const model::Keys keys_;
  const Options options_;
  const SchedulerProbe probe_;
  log::Logger log_{"scheduler"};
  std::mt19937_64 rng_{std::random_device{}()};

  // Owned by the scheduler thread.
  FirePlanner planner_;
  std::map<std::string, JobState> jobs_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<store::WatchResponse> events_ ABSL_GUARDED_BY(mu_);
  size_t job_count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hg::scheduler
