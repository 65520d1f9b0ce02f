// Scheduler: the leader-only loop that turns due instants into execution records
// (DESIGN.md steps 2-3 and 7; protocol in docs/design/execution.md "Fire").
//
// RunAsLeader() loads jobs and cursors, watches jobs/ for changes, and at every due instant
// writes each job's fires with runs::FireJob — one change per job, guarded by the job's
// definition and cursor as known here — group-committed (runs::GroupCommit) under the term
// guard, so the fires of one instant share a few transactions. Dispatch happens elsewhere
// (dispatch::Dispatcher watches pending/), only after the commit. A failed term guard means
// leadership is gone: RunAsLeader returns at once, having written nothing more. A job whose
// own guard failed (edited, deleted, its cursor rewritten by an edit) is decided again from
// what the store holds. Pure decisions live in FirePlanner; this class only does the I/O.
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
#include "coord/leader_term.h"
#include "model/keys.h"
#include "runs/group_commit.h"
#include "scheduler/fire_planner.h"
#include "store/kv.h"

namespace hg::trace {
class Tracer;
}  // namespace hg::trace

namespace hg::scheduler {

using LeaderTerm = coord::LeaderTerm;

// Hooks for metrics (telemetry wires them); all optional.
struct SchedulerProbe {
  std::function<void(std::string_view outcome, int64_t n)> fires;  // dispatched
  // `n` instants of `job` recorded missed (listed or counted), once its fire transaction
  // committed.
  std::function<void(const std::string& job, int64_t n)> missed;
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
    // Max records of one job in one change (a long catch-up is written in several).
    int max_fires_per_change = 40;
    // How long to wait before retrying after the store was unavailable.
    absl::Duration retry_delay = absl::Milliseconds(200);
    // Instants are fired this long before they are due (record, pending entry, dispatch and
    // claim done ahead); the worker starts each run at its instant. 0 = at the instant.
    absl::Duration fire_ahead = absl::ZeroDuration();
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
    store::Revision job_revision = 0;  // mod revision of jobs/<name> as known here
    store::Revision cursor_mod = 0;    // mod revision of cursor/<name> (0: absent)
    std::optional<absl::Time> cursor;  // as persisted
  };
  // One change's worth of a job's decision.
  struct Unit {
    std::string job;
    std::vector<PlannedFire> fires;
    absl::Time cursor;
    int64_t missed_not_listed = 0;
  };

  absl::Status Load(const LeaderTerm& term, store::Revision* revision);
  void ApplyJobEvent(const store::WatchEvent& ev, absl::Time now);
  // Writes the decisions. FailedPrecondition: leadership lost. Another error: the store did not
  // take some of them (those are rolled back in the planner and decided again).
  absl::Status Commit(runs::GroupCommit& commits, const LeaderTerm& term,
                      std::vector<JobDecision> decisions);
  // Sets a job's known definition revision and cursor from what the store returned.
  void Refresh(const std::string& job, const std::optional<store::KeyValue>& job_kv,
               const std::optional<store::KeyValue>& cursor_kv);

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
