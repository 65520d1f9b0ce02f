// WorkerService: the worker side of the execution protocol (DESIGN.md "One run, end to end"
// steps 5-6, docs/design/execution.md, docs/design/worker.md).
//
//   WorkerService worker(kv, clock, keys, {.shell = shell.get(), .http = http.get()}, options);
//   HG_RETURN_IF_ERROR(worker.Start());            // flushes the spool, watches kill/
//   worker.AttachSession(session.lease(), [&] { return session.IsAlive(); });
//   session.AddLostListener([&](const absl::Status& why) {
//     worker.SessionLost(std::string(why.message()));
//   });
//   ... worker.Run(request) from the gRPC server (GrpcWorkerServer) or in-process ...
//   worker.Stop();                                  // drain, then kill what is left
//
// Run() takes execution ids only and answers once each is claimed (or refused); the run itself,
// its retries and the final record happen on a thread of the service, one per run (bounded by
// capacity). Every store write of the worker — claims, attempt updates, finishes — goes through
// one runs::GroupCommit, so writes that arrive together share a transaction.
//
// Guarantees:
// - The worker runs only what the store says: record, pending entry, job definition and kill
//   requests are read from the store (Claimer), never taken from the request.
// - A start happens at most once per execution attempt: only the claim transaction (compare on
//   record and pending entry) starts anything; a re-sent Run finds it claimed.
// - Forbid: the claim and the lock (`locks/<job>/<lease-hex>`, on the session lease) are one
//   transaction guarded by "no lock key under locks/<job>/"; a held lock records `skipped`.
// - Replace: the claim happens first; then every running execution of the job scheduled
//   earlier is killed (locally, or through `kill/<id>` for other workers) and the run starts once
//   they are gone; one scheduled later replaces this one.
// - An attempt number is never reused: the next attempt is recorded (record and inflight entry)
//   before it starts, and it does not start until the store has taken that write.
// - Results are never lost: ResultWriter retries (spool file) until the store takes them, and
//   records a late result on its own attempt when the leader has moved on.
// - No run outlives the session: SessionLost() SIGKILLs every run at once (no grace: the lease
//   may expire soon after); they are recorded `killed` (reason session_lost).
//
// Thread safety: every public method may be called from any thread. Start() and Stop() once
// each (Stop() is idempotent and called by the destructor). `kv`, `clock` and the executors
// must outlive the service; the service never stops the executors (their owner does, after
// Stop()).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/logging.h"
#include "executor/executor.h"
#include "model/execution.h"
#include "model/job.h"
#include "model/keys.h"
#include "model/secrets.h"
#include "runs/group_commit.h"
#include "store/kv.h"
#include "worker.pb.h"
#include "worker/claimer.h"
#include "worker/result_writer.h"
#include "worker/run_threads.h"
#include "worker/spool.h"

namespace hg::trace {
class Tracer;
}  // namespace hg::trace

namespace hg::worker {

// Hooks for metrics (app/ connects them to telemetry::WorkerProbe); all optional. Called on run
// threads and Run() callers, never under the service's lock.
struct WorkerProbe {
  // A run ended: status success|failed|timeout|killed (its final record, written or spooled)
  // or skipped (Forbid); `duration` from claim to result (zero for skipped).
  std::function<void(std::string_view job, std::string_view status, absl::Duration duration)>
      execution_finished;
  // The first attempt's process started `lag` after the scheduled instant.
  std::function<void(absl::Duration lag)> execution_started;
  std::function<void(size_t running)> running;  // runs held by this worker, after each change
  // Spans: one per execution (child of RunRequest.traceparent) and one per attempt (its child);
  // the job receives the attempt's context (TRACEPARENT / traceparent header). Null: the
  // request's traceparent passes through to the job unchanged. Not owned.
  const trace::Tracer* tracer = nullptr;
};

struct WorkerOptions {
  std::string worker_id;  // required; recorded as the record's worker_id
  std::string address;    // advertised gRPC address (written into running/<id>)
  // Concurrent executions (attempts and their retry waits; writing the result does not count).
  // Claims are admitted up to twice this, so they overlap the runs; beyond that Run() declines
  // RESOURCE_EXHAUSTED.
  int capacity = 16;
  // A run still executing after this shows as `running` in its record; quicker ones go from
  // `scheduled` straight to their final record.
  absl::Duration running_mark_delay = absl::Seconds(1);
  absl::Duration kill_grace = absl::Seconds(5);       // SIGTERM -> SIGKILL (shell)
  absl::Duration shutdown_grace = absl::Seconds(30);  // Stop(): how long runs may finish
  size_t output_cap = 64 * 1024;                      // bytes of output kept per attempt
  // Results not yet in the store (fsync'd; flushed on the next start). Empty = memory only: a
  // result is then lost if the worker dies while the store is unreachable.
  std::string spool_path;
  std::map<std::string, std::string> labels;  // reported by the registry (lead wires)
  // Replace: how long to wait for the replaced runs to end before giving up (`failed`), and how
  // often to look again for runs on other workers.
  absl::Duration replace_wait = absl::Seconds(60);
  absl::Duration replace_poll = absl::Milliseconds(200);
  // Retrying a Finish the store refused: first pause, doubled up to the max.
  absl::Duration finish_retry_initial = absl::Milliseconds(100);
  absl::Duration finish_retry_max = absl::Seconds(5);
  uint64_t seed = 0;  // retry jitter; 0 = random
  // Header names whose values are secret in every HTTP job (case-insensitive), on top of the
  // job's executor.secret_headers. Secret values are replaced by "[REDACTED]" in the record's
  // output and error, in span errors and in log lines about the run (model/secrets.h).
  std::vector<std::string> secret_headers = model::DefaultSecretHeaders();
  WorkerProbe probe;
};

// The executors a worker runs jobs with. Null = that executor type is disabled here (its runs
// end `failed` with the reason). Not owned.
struct Executors {
  executor::Executor* shell = nullptr;
  executor::Executor* http = nullptr;
};

class WorkerService {
 public:
  WorkerService(store::Kv& kv, const Clock& clock, const model::Keys& keys, Executors executors,
                WorkerOptions options);
  ~WorkerService();
  WorkerService(const WorkerService&) = delete;
  WorkerService& operator=(const WorkerService&) = delete;

  // Opens the spool (results a previous process could not write are queued for the store),
  // starts the kill/ watch and the background threads. Errors: the spool file cannot be opened
  // (fatal configuration error). A store that is down is not an error: the watch and the
  // flush are retried in the background.
  absl::Status Start();

  // Drains: Run() answers UNAVAILABLE from now on; running executions get `shutdown_grace`
  // (Clock time) to finish, then are killed and recorded `killed` ("killed: worker shutting
  // down"). Then one last attempt to write pending results (what fails stays in the spool),
  // the watch is cancelled and every thread joined. Idempotent.
  void Stop();

  // Binds the service to a session lease: claims put inflight entries and lock keys naming
  // `lease`. `alive` (may be empty) is asked before every claim; false refuses the run
  // (UNAVAILABLE). Call again with a new session after SessionLost().
  void AttachSession(store::LeaseId lease, std::function<bool()> alive);
  // The session can no longer be proven alive (DESIGN.md guard 3): SIGKILLs every run (they end
  // `killed`, reason session_lost) and refuses runs until the next AttachSession(). Never blocks
  // on the runs: safe to call from coord::Session's lost listener.
  void SessionLost(const std::string& reason);

  // See proto/worker.proto. Errors for the whole call (gRPC codes map one to one):
  //   INVALID_ARGUMENT  a malformed execution id
  //   UNAVAILABLE       draining, or no live session
  // Per item: STARTED, ALREADY_CLAIMED, SKIPPED, FINISHED, KILLED, NOT_QUEUED, or DECLINED with
  // a code (RESOURCE_EXHAUSTED at capacity, UNAVAILABLE store unreachable, INTERNAL unreadable
  // state, ABORTED kept changing).
  absl::StatusOr<hourglass::v1::RunResponse> Run(const hourglass::v1::RunRequest& request);

  // Kills a run of this worker (asynchronous: the run ends `killed`, error "killed: <reason>").
  // Returns whether the execution runs here.
  bool Kill(const std::string& execution_id, const std::string& reason);
  hourglass::v1::KillResponse Kill(const hourglass::v1::KillRequest& request);

  hourglass::v1::HealthResponse Health() const;

  // Results waiting to be written to the store (tests, metrics).
  size_t PendingResults() const;
  // When the next attempt of a run waiting out its retry backoff starts (Clock time); nullopt
  // when `execution_id` is not waiting for a retry here.
  std::optional<absl::Time> NextRetry(const std::string& execution_id) const;

 private:
  struct RunState;
  using RunPtr = std::shared_ptr<RunState>;
  // Kill signals collected under mu_ and sent after releasing it.
  struct KillSignal {
    std::shared_ptr<executor::RunHandle> handle;
    std::string reason;
    executor::KillMode mode;
  };
  using Signals = std::vector<KillSignal>;

  void RunThread(const RunPtr& run);
  // Replace: kills running executions of the job scheduled earlier and waits for them to end.
  // Returns the final result when the run must not start (killed meanwhile, replaced by a later
  // one, or the wait timed out); nullopt = go.
  std::optional<runs::AttemptResult> WaitForReplaced(const RunPtr& run);
  // One attempt; blocks until the executor reports.
  runs::AttemptResult RunAttempt(const RunPtr& run);
  // Records the next attempt before it starts (retried until the store takes it). False: the
  // execution is not ours any more, or a kill/session loss came first; `why` says which.
  bool RecordNextAttempt(const RunPtr& run, const runs::AttemptResult& previous, std::string* why);
  void Finish(const RunPtr& run, const runs::AttemptResult& result);
  // A claim whose answer was lost: if it committed, the run never started; record that.
  void SettleUnknownClaim(const model::ExecutionId& id, const Claimer::Result& claim,
                          store::LeaseId lease);

  void BackgroundLoop();
  absl::Status StartKillWatch();
  void OnKillEvents(const store::WatchResponse& response);
  void KillLocked(const RunPtr& run, const std::string& reason, executor::KillMode mode,
                  Signals& signal) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Signal(const Signals& signal);
  void ReportRunning(size_t running) const;
  void Release(const RunPtr& run);  // drops a run that did not start from runs_
  void FreeSlotLocked(RunState& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands a run that waited for its instant to a run thread (its instant came, or a kill).
  void StartWaitingLocked(RunPtr run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits for one of `capacity` execution slots; false when killed meanwhile.
  bool AcquireSlot(const RunPtr& run);
  // Writes the `running` record of a run that is taking a while (display only).
  void MarkRunning(const RunPtr& run);

  // A logger bound to the run's identity (model/run_log.h); safe from any thread.
  log::ContextLogger RunLog(const RunState& run) const;

  executor::ExecRequest MakeRequest(const RunState& run) const;
  runs::AttemptResult Synthetic(model::ExecutionStatus status, std::string error) const;

  store::Kv& kv_;
  const Clock& clock_;
  const model::Keys keys_;
  const Executors executors_;
  const WorkerOptions options_;
  const log::Logger log_{"worker"};
  runs::GroupCommit commits_;
  Claimer claimer_;
  ResultWriter results_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Stop() called: the background loop ends
  bool draining_ ABSL_GUARDED_BY(mu_) = false;  // Run() refused
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  store::LeaseId lease_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<bool()> alive_ ABSL_GUARDED_BY(mu_);
  bool session_lost_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, RunPtr> runs_ ABSL_GUARDED_BY(mu_);
  int admitted_ ABSL_GUARDED_BY(mu_) = 0;  // runs_ entries admitted (claiming or running)
  // Runs claimed ahead of their instant, by instant: started by BackgroundLoop when due.
  std::multimap<absl::Time, RunPtr> starts_ ABSL_GUARDED_BY(mu_);
  int executing_ ABSL_GUARDED_BY(mu_) = 0;  // of them, holding an execution slot
  // Bumped whenever a local run ends (wakes Replace waiters without a store poll).
  int64_t finished_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);  // retry jitter

  bool watch_failed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t wake_background_ ABSL_GUARDED_BY(mu_) = 0;

  RunThreads threads_;                        // the runs' threads (RunThread), reused
  std::unique_ptr<store::Watch> kill_watch_;  // background thread + Start/Stop only
  std::thread background_;
  absl::Mutex stop_mu_;  // serializes Stop() callers
};

}  // namespace hg::worker
