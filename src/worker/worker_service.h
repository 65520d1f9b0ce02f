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
// Run() answers as soon as the execution is claimed (or refused); the run itself, its retries
// and the final record happen on a thread of the service, one per run (bounded by capacity).
//
// Guarantees:
// - A start happens at most once per execution: only the Claim transaction (compare on the
//   record's mod revision) starts anything; a re-sent Run finds the record claimed.
// - Forbid: the claim and the lock (`locks/<job>/<lease-hex>`, on the session lease) are one
//   transaction guarded by "no lock key under locks/<job>/"; a held lock records `skipped`.
// - Replace: the claim happens first; then every older running execution of the job is killed
//   (locally, or through `kill/<id>` for other workers) and the run starts once they are gone.
// - Results are never lost: the Finish transaction is retried (in memory and in the spool file)
//   until the store takes it.
// - No run outlives the session: SessionLost() kills every run; they are recorded `killed`
//   ("killed: session lost") as soon as the store is writable.
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
#include "store/kv.h"
#include "worker.pb.h"
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
  int capacity = 16;      // concurrent runs; Run() beyond it is RESOURCE_EXHAUSTED
  absl::Duration kill_grace = absl::Seconds(5);       // SIGTERM -> SIGKILL (shell)
  absl::Duration shutdown_grace = absl::Seconds(30);  // Stop(): how long runs may finish
  size_t output_cap = 64 * 1024;                      // bytes of output kept per attempt
  std::string spool_path;                     // results not yet in the store; empty = memory only
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
  // starts the kill/ watch and the background thread. Errors: the spool file cannot be opened
  // (fatal configuration error). A store that is down is not an error: the watch and the
  // flush are retried in the background.
  absl::Status Start();

  // Drains: Run() answers UNAVAILABLE from now on; running executions get `shutdown_grace`
  // (Clock time) to finish, then are killed and recorded `killed` ("killed: worker shutting
  // down"). Then one last attempt to write pending results (what fails stays in the spool),
  // the watch is cancelled and every thread joined. Idempotent.
  void Stop();

  // Binds the service to a session lease: claims put running/ and lock keys under `lease`.
  // `alive` (may be empty) is asked before every claim; false refuses the run (UNAVAILABLE).
  // Call again with a new session after SessionLost().
  void AttachSession(store::LeaseId lease, std::function<bool()> alive);
  // The session can no longer be proven alive (DESIGN.md guard 3): kills every run (they end
  // `killed`, error "killed: session lost") and refuses runs until the next AttachSession().
  // Never blocks on the runs: safe to call from coord::Session's lost listener.
  void SessionLost(const std::string& reason);

  // See proto/worker.proto. Errors (gRPC codes map one to one):
  //   INVALID_ARGUMENT     bad execution id, bad job JSON, job name not the id's job
  //   FAILED_PRECONDITION  "stale leader term X (highest seen Y)"
  //   UNAVAILABLE          draining, no live session, store unreachable (nothing claimed, or
  //                        the claim's fate unknown: then it is settled in the background)
  //   RESOURCE_EXHAUSTED   at capacity
  //   NOT_FOUND            no execution record
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
  using Signals = std::vector<std::pair<std::shared_ptr<executor::RunHandle>, std::string>>;

  // Run() after validation: reads the record, applies the policy, claims, starts the thread.
  absl::StatusOr<hourglass::v1::RunResponse> ClaimAndStart(const RunPtr& run);
  // Records `skipped` (Forbid, lock held by `holder`) if the record is still at `read_mod`.
  absl::StatusOr<bool> RecordSkipped(const RunPtr& run, const model::Execution& rec,
                                     store::Revision read_mod, const std::string& holder);
  void RunThread(const RunPtr& run);
  // Replace: kills older running executions of the job and waits for them to end. Returns the
  // final result when the run must not start (killed meanwhile, replaced by a newer one, or
  // the wait timed out); nullopt = go.
  std::optional<executor::ExecResult> WaitForReplaced(const RunPtr& run);
  // One attempt; blocks until the executor reports.
  executor::ExecResult RunAttempt(const RunPtr& run);
  // Attempt-update transaction before a retry. False: the record is not ours any more.
  bool RecordAttempt(const RunPtr& run);
  void Finish(const RunPtr& run, const executor::ExecResult& result);

  // Finish transaction. OK when settled (written, or someone else owns the record now and our
  // keys are released); an error means "retry later". `serial` names the local run that made
  // the entry (0 = none alive, e.g. loaded from the spool).
  absl::Status TryFinish(FinishEntry& entry, int64_t serial);
  void ReleaseKeys(const FinishEntry& entry);
  void QueueResult(FinishEntry entry, int64_t serial);

  void BackgroundLoop();
  void FlushPending(bool final_pass);
  absl::Status StartKillWatch();
  void OnKillEvents(const store::WatchResponse& response);
  void KillLocked(const RunPtr& run, const std::string& reason, Signals& signal)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Signal(const Signals& signal);
  void ReportRunning(size_t running) const;
  void ReapThreads();

  // A logger bound to the run's identity (model/run_log.h); safe from any thread.
  log::ContextLogger RunLog(const RunState& run) const;
  // The same for a result that may have outlived its run (spool).
  log::ContextLogger EntryLog(const FinishEntry& entry) const;

  executor::ExecRequest MakeRequest(const RunState& run) const;
  executor::ExecResult SyntheticResult(executor::ExecStatus status, std::string error) const;
  FinishEntry MakeEntry(const RunState& run, const model::Execution& record) const;
  std::string InflightValue(store::LeaseId lease) const;
  std::string RunningValue() const;

  store::Kv& kv_;
  const Clock& clock_;
  const model::Keys keys_;
  const Executors executors_;
  const WorkerOptions options_;
  const log::Logger log_{"worker"};

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Stop() called: the background loop ends
  bool draining_ ABSL_GUARDED_BY(mu_) = false;  // Run() refused
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int64_t highest_term_ ABSL_GUARDED_BY(mu_) = 0;
  store::LeaseId lease_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<bool()> alive_ ABSL_GUARDED_BY(mu_);
  bool session_lost_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, RunPtr> runs_ ABSL_GUARDED_BY(mu_);
  // Bumped whenever a local run ends (wakes Replace waiters without a store poll).
  int64_t finished_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> done_threads_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);  // retry jitter
  int64_t next_serial_ ABSL_GUARDED_BY(mu_) = 1;

  // Results waiting for the store, oldest first, with their next try (Clock time).
  struct Pending {
    FinishEntry entry;
    int64_t serial = 0;
    absl::Time next_try;
    absl::Duration backoff;
  };
  std::vector<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> kill_keys_to_delete_ ABSL_GUARDED_BY(mu_);
  bool watch_failed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t wake_background_ ABSL_GUARDED_BY(mu_) = 0;

  std::unique_ptr<ResultSpool> spool_;        // set by Start(); thread-safe itself
  std::unique_ptr<store::Watch> kill_watch_;  // background thread + Start/Stop only
  std::thread background_;
  absl::Mutex stop_mu_;  // serializes Stop() callers
};

}  // namespace hg::worker
