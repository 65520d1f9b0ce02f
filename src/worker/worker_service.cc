#include "worker/worker_service.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/random/uniform_real_distribution.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/strings.h"
#include "cron/schedule.h"
#include "model/json.h"
#include "model/run_log.h"
#include "telemetry/tracer.h"

namespace hg::worker {

using hourglass::v1::HealthResponse;
using hourglass::v1::KillRequest;
using hourglass::v1::KillResponse;
using hourglass::v1::RunRequest;
using hourglass::v1::RunResponse;
using model::ExecutionStatus;

// One execution held by this worker, from Run() until its thread ends.
// Fields above the line are written before the run thread starts (by Run()), then only by the
// run thread. Fields below it are guarded by WorkerService::mu_.
struct WorkerService::RunState {
  model::ExecutionId id;
  model::Job job;
  std::string traceparent;   // the execution span's context
  model::Redactor redactor;  // the job's secret values
  trace::Span span;          // the execution span, ended by Finish() or with the state
  store::LeaseId lease = 0;
  model::Execution record;                 // the record as we last wrote it
  store::Revision record_rev = 0;          // its mod revision
  runs::InflightEntry inflight;            // inflight/<id> as we last wrote it
  store::Revision inflight_rev = 0;        // its mod revision
  store::Revision claim_rev = 0;           // the claim's revision (inflight create revision)
  std::string lock_key;                    // Forbid only
  std::optional<absl::Time> next_instant;  // Forbid: retries must start before it
  // ---- guarded by WorkerService::mu_ ----
  bool admitted = false;        // counts against the admission limit (2 x capacity): until its last
                                // attempt ends
  bool executing = false;       // holds one of `capacity` execution slots
  bool waiting_start = false;   // claimed ahead of its instant, in `starts_` until then
  bool marked_running = false;  // the record says `running` (MarkRunning or an attempt update)
  std::string problem;          // claimed but not runnable as stored: ends `failed` saying this
  bool kill_requested = false;
  std::string kill_reason;
  model::EndReason kill_end_reason = model::EndReason::kNone;
  std::optional<absl::Time> next_retry;         // while waiting out a retry backoff
  std::shared_ptr<executor::RunHandle> handle;  // current attempt
  std::optional<executor::ExecResult> result;   // current attempt's result
};

namespace {

ExecutionStatus ToRecordStatus(executor::ExecStatus s) {
  switch (s) {
    case executor::ExecStatus::kSuccess:
      return ExecutionStatus::kSuccess;
    case executor::ExecStatus::kFailed:
      return ExecutionStatus::kFailed;
    case executor::ExecStatus::kTimeout:
      return ExecutionStatus::kTimeout;
    case executor::ExecStatus::kKilled:
      return ExecutionStatus::kKilled;
  }
  return ExecutionStatus::kFailed;
}

// The 32-hex trace id of a W3C traceparent ("00-<trace>-<span>-<flags>"), or "".
std::string TraceIdOf(const std::string& traceparent) {
  std::vector<std::string> parts = absl::StrSplit(traceparent, '-');
  if (parts.size() < 4 || parts[1].size() != 32) return "";
  return parts[1];
}

RunResponse::Outcome ToProto(Claimer::Outcome outcome) {
  switch (outcome) {
    case Claimer::Outcome::kStarted:
      return RunResponse::STARTED;
    case Claimer::Outcome::kAlreadyClaimed:
      return RunResponse::ALREADY_CLAIMED;
    case Claimer::Outcome::kSkipped:
      return RunResponse::SKIPPED;
    case Claimer::Outcome::kFinished:
      return RunResponse::FINISHED;
    case Claimer::Outcome::kKilled:
      return RunResponse::KILLED;
    case Claimer::Outcome::kNotQueued:
      return RunResponse::NOT_QUEUED;
    case Claimer::Outcome::kRefused:
      return RunResponse::DECLINED;
  }
  return RunResponse::DECLINED;
}

void Refuse(RunResponse::Item* item, const absl::Status& status) {
  item->set_outcome(RunResponse::DECLINED);
  item->set_code(static_cast<int32_t>(status.code()));
  item->set_message(std::string(status.message()));
}

}  // namespace

WorkerService::WorkerService(store::Kv& kv, const Clock& clock, const model::Keys& keys,
                             Executors executors, WorkerOptions options)
    : kv_(kv),
      clock_(clock),
      keys_(keys),
      executors_(executors),
      options_(std::move(options)),
      commits_(kv, runs::GroupCommit::Options{}),
      claimer_(kv, clock, keys, commits_, options_.worker_id),
      results_(kv, clock, keys, commits_,
               ResultWriter::Options{.spool_path = options_.spool_path,
                                     .retry_initial = options_.finish_retry_initial,
                                     .retry_max = options_.finish_retry_max}),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()) {}

WorkerService::~WorkerService() { Stop(); }

absl::Status WorkerService::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopped_) return absl::FailedPreconditionError("worker started twice");
  }
  HG_RETURN_IF_ERROR(results_.Start());
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  if (absl::Status st = StartKillWatch(); !st.ok()) {
    log_.Warn("kill watch not started; retrying", {{"error", std::string(st.message())}});
    absl::MutexLock lock(&mu_);
    watch_failed_ = true;
  }
  background_ = std::thread([this] { BackgroundLoop(); });
  return absl::OkStatus();
}

void WorkerService::AttachSession(store::LeaseId lease, std::function<bool()> alive) {
  absl::MutexLock lock(&mu_);
  lease_ = lease;
  alive_ = std::move(alive);
  session_lost_ = false;
}

void WorkerService::SessionLost(const std::string& reason) {
  Signals signal;
  {
    absl::MutexLock lock(&mu_);
    session_lost_ = true;
    for (auto& [id, run] : runs_) {
      KillLocked(run, "session lost", executor::KillMode::kImmediate, signal);
      run->kill_end_reason = model::EndReason::kSessionLost;
    }
  }
  log_.Warn("session lost: killing every run", {{"reason", reason}, {"runs", signal.size()}});
  Signal(signal);
}

// ---------------------------------------------------------------------------------------------
// Run: validate, reserve slots, claim, start.

absl::StatusOr<RunResponse> WorkerService::Run(const RunRequest& request) {
  std::vector<model::ExecutionId> ids;
  ids.reserve(static_cast<size_t>(request.items_size()));
  for (const RunRequest::Item& item : request.items()) {
    auto id = model::ExecutionId::Parse(item.execution_id());
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("execution_id \"", Av(item.execution_id()), "\": ", id.status().message()));
    }
    ids.push_back(*std::move(id));
  }
  RunResponse response;
  for (const auto& item : request.items())
    response.add_items()->set_execution_id(item.execution_id());

  std::function<bool()> alive;
  store::LeaseId lease = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || draining_) {
      return absl::UnavailableError(
          absl::StrCat("worker ", options_.worker_id, " is not taking runs (draining)"));
    }
    if (session_lost_ || lease_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("worker ", options_.worker_id, " has no live session"));
    }
    alive = alive_;
    lease = lease_;
  }
  // Asked outside mu_: the session's own locks are never taken under ours.
  if (alive && !alive()) {
    return absl::UnavailableError(
        absl::StrCat("worker ", options_.worker_id, " cannot prove its session is alive"));
  }

  // Reserve a slot per item: it holds capacity, dedupes concurrent calls for the same id, and a
  // kill/ or SessionLost() arriving meanwhile reaches it.
  std::vector<RunPtr> reserved(ids.size());
  std::vector<Claimer::Request> claims;
  std::vector<size_t> claim_item;
  size_t running = 0;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < ids.size(); ++i) {
      RunResponse::Item* item = response.mutable_items(static_cast<int>(i));
      if (runs_.contains(ids[i].str())) {
        item->set_outcome(RunResponse::ALREADY_CLAIMED);
        item->set_message(absl::StrCat("execution ", ids[i].str(), " is already running on worker ",
                                       options_.worker_id));
        continue;
      }
      // Claims are admitted up to twice the capacity, so the next runs' claims overlap the
      // current runs; at most `capacity` of them execute at once (AcquireSlot). A run claimed
      // ahead of its instant (the leader fires ahead) takes no admission until it is due.
      const bool ahead = ids[i].scheduled() > clock_.Now();
      if (!ahead && admitted_ >= 2 * options_.capacity) {
        Refuse(item, absl::ResourceExhaustedError(absl::StrCat("worker ", options_.worker_id,
                                                               " is at capacity (",
                                                               options_.capacity, " runs)")));
        continue;
      }
      auto run = std::make_shared<RunState>();
      run->id = ids[i];
      run->lease = lease;
      if (!ahead) {
        run->admitted = true;
        ++admitted_;
      }
      runs_[ids[i].str()] = run;
      reserved[i] = run;
    }
    running = runs_.size();
  }
  ReportRunning(running);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (reserved[i] == nullptr) continue;
    RunState& run = *reserved[i];
    run.span = trace::StartSpan(options_.probe.tracer, "execution", trace::SpanKind::kServer,
                                request.items(static_cast<int>(i)).traceparent());
    run.span.SetAttribute("hourglass.job", ids[i].job().str());
    run.span.SetAttribute("hourglass.execution_id", ids[i].str());
    run.span.SetAttribute("hourglass.worker", options_.worker_id);
    run.traceparent = run.span.traceparent();
    const RunRequest::Item& asked = request.items(static_cast<int>(i));
    std::optional<runs::ClaimHint> hint;
    if (asked.pending_revision() > 0 && asked.job_revision() > 0) {
      hint = runs::ClaimHint{.pending_revision = asked.pending_revision(),
                             .job_revision = asked.job_revision(),
                             .attempt = std::max(1, asked.attempt()),
                             .forbid = asked.forbid()};
    }
    claims.push_back({.id = ids[i], .trace_id = TraceIdOf(run.traceparent), .hint = hint});
    claim_item.push_back(i);
  }

  std::vector<Claimer::Result> claimed = claimer_.ClaimAll(claims, lease);
  for (size_t k = 0; k < claimed.size(); ++k) {
    const size_t i = claim_item[k];
    RunPtr run = reserved[i];
    Claimer::Result& c = claimed[k];
    RunResponse::Item* item = response.mutable_items(static_cast<int>(i));
    if (c.outcome != Claimer::Outcome::kStarted) {
      if (c.outcome == Claimer::Outcome::kRefused) {
        Refuse(item, c.status);
        if (c.claim_fate_unknown) SettleUnknownClaim(run->id, c, lease);
      } else {
        item->set_outcome(ToProto(c.outcome));
        item->set_message(c.message);
      }
      if (c.outcome == Claimer::Outcome::kSkipped) {
        RunLog(*run).Info("skipped (Forbid)", {{"reason", c.message}});
        if (options_.probe.execution_finished) {
          options_.probe.execution_finished(run->id.job().str(), "skipped", absl::ZeroDuration());
        }
      }
      run->span.SetAttribute("hourglass.outcome", RunResponse::Outcome_Name(item->outcome()));
      run->span.End();
      Release(run);
      continue;
    }
    run->job = std::move(c.job);
    run->redactor = model::Redactor::ForJob(run->job, options_.secret_headers);
    run->record = std::move(c.running);
    run->record_rev = c.record_revision;
    run->problem = std::move(c.problem);
    run->inflight = c.claimed.inflight;
    run->inflight_rev = c.revision;
    run->claim_rev = c.revision;
    run->lock_key = c.claimed.lock_key;
    if (!run->lock_key.empty()) {
      auto schedule = cron::Schedule::Parse(run->job.cron_expr, run->job.Zone());
      if (schedule.ok()) run->next_instant = schedule->Next(run->record.scheduled_time);
    }
    RunLog(*run).Debug("claimed", {{"attempt", run->record.attempt}});
    item->set_outcome(RunResponse::STARTED);
    item->set_message(c.message);
    absl::MutexLock lock(&mu_);
    if (run->id.scheduled() > clock_.Now() && !run->kill_requested) {
      // Claimed ahead of its instant: it starts then (BackgroundLoop), holding no thread.
      run->waiting_start = true;
      starts_.emplace(run->id.scheduled(), run);
      ++wake_background_;
    } else {
      threads_.Post([this, run] { RunThread(run); });
    }
  }
  return response;
}

bool WorkerService::AcquireSlot(const RunPtr& run) {
  absl::MutexLock lock(&mu_);
  clock_.WaitUntil(mu_, absl::InfiniteFuture(), [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return run->kill_requested || executing_ < options_.capacity;
  });
  if (run->kill_requested) return false;
  run->executing = true;
  ++executing_;
  // It starts now (it may have waited for the slot): the record says so.
  run->record.start_time = clock_.Now();
  return true;
}

void WorkerService::Release(const RunPtr& run) {
  size_t running = 0;
  {
    absl::MutexLock lock(&mu_);
    FreeSlotLocked(*run);
    auto it = runs_.find(run->id.str());
    if (it != runs_.end() && it->second == run) runs_.erase(it);
    ++finished_generation_;
    running = runs_.size();
  }
  ReportRunning(running);
}

void WorkerService::SettleUnknownClaim(const model::ExecutionId& id, const Claimer::Result& claim,
                                       store::LeaseId lease) {
  // If the claim committed, the execution is claimed here but nothing started: the result path
  // gives the claim back (runs::ReleaseClaim) if the inflight entry turns out to be ours, so the
  // leader dispatches it again; otherwise nothing ran and nothing is due.
  model::Execution never;
  never.id = id;
  never.scheduled_time = id.scheduled();
  never.attempt = claim.claimed.inflight.attempt;
  never.worker_id = options_.worker_id;
  never.status = ExecutionStatus::kFailed;
  never.end_time = clock_.Now();
  never.error = absl::StrCat("not started: the store became unreachable while worker ",
                             options_.worker_id, " claimed it");
  FinishEntry entry;
  entry.id = never.id.str();
  entry.record = model::SerializeExecution(never);
  entry.record_revision = 0;  // unknown: settled by what the store shows
  entry.inflight_revision = 0;
  entry.lease = lease;
  entry.lock_key = claim.claimed.lock_key;
  entry.worker_id = options_.worker_id;
  entry.attempt = never.attempt;
  entry.claim_unknown = true;
  (void)results_.Write(std::move(entry));
}

// ---------------------------------------------------------------------------------------------
// The run thread: Replace wait, attempts with retries, Finish.

void WorkerService::RunThread(const RunPtr& run) {
  const model::Job& job = run->job;
  std::optional<runs::AttemptResult> final;
  if (!run->problem.empty()) {
    final = Synthetic(ExecutionStatus::kFailed, run->problem);
  } else if (!AcquireSlot(run)) {
    absl::MutexLock lock(&mu_);
    final = Synthetic(ExecutionStatus::kKilled, absl::StrCat("killed: ", run->kill_reason));
  } else if (job.concurrency_policy == model::ConcurrencyPolicy::kReplace) {
    final = WaitForReplaced(run);
  }
  while (!final) {
    runs::AttemptResult result = RunAttempt(run);
    const bool retryable =
        result.status == ExecutionStatus::kFailed || result.status == ExecutionStatus::kTimeout;
    const int retry = run->record.attempt;  // the retry this would be (1-based)
    if (!retryable || retry > job.retry_policy.max_retries) {
      final = std::move(result);
      break;
    }
    absl::Duration delay = job.retry_policy.DelayBefore(retry);
    if (job.retry_policy.jitter) {
      absl::MutexLock lock(&mu_);
      // Full jitter: uniform in [0, delay].
      delay = delay * absl::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    }
    const absl::Time start_at = clock_.Now() + delay;
    if (run->next_instant && start_at >= *run->next_instant) {
      result.error =
          absl::StrCat(result.error.empty() ? "failed" : result.error, "; retry ", retry, " of ",
                       job.retry_policy.max_retries,
                       " given up: it would start at or after the job's next "
                       "scheduled run (",
                       model::FormatRfc3339(*run->next_instant), ") under the Forbid policy");
      final = std::move(result);
      break;
    }
    RunLog(*run).Info("retrying", {{"retry", retry},
                                   {"delay_ms", absl::ToInt64Milliseconds(delay)},
                                   {"error", result.error}});
    bool marked = false;
    {
      absl::MutexLock lock(&mu_);
      marked = run->marked_running;
      run->marked_running = true;
    }
    if (!marked) MarkRunning(run);  // a run waiting to retry shows as running
    {
      absl::MutexLock lock(&mu_);
      run->next_retry = start_at;
      clock_.WaitUntil(mu_, start_at,
                       [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return run->kill_requested; });
      run->next_retry.reset();
      if (run->kill_requested) {
        final = Synthetic(ExecutionStatus::kKilled, absl::StrCat("killed: ", run->kill_reason));
        break;
      }
    }
    std::string why;
    if (!RecordNextAttempt(run, result, &why)) {
      result.error = absl::StrCat(result.error.empty() ? "failed" : result.error, "; retry ", retry,
                                  " not started: ", why);
      final = std::move(result);
    }
  }
  {
    // The executions are over: the slot goes to the next run while the result is written.
    absl::MutexLock lock(&mu_);
    FreeSlotLocked(*run);
  }
  Finish(run, *final);

  size_t running = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(run->id.str());
    if (it != runs_.end() && it->second == run) runs_.erase(it);
    ++finished_generation_;
    running = runs_.size();
  }
  // Still safe here: Stop() joins the run threads before the service goes away.
  ReportRunning(running);
}

std::optional<runs::AttemptResult> WorkerService::WaitForReplaced(const RunPtr& run) {
  const std::string prefix = keys_.InflightJobPrefix(run->id.job());
  const std::string mine = keys_.Inflight(run->id);
  const absl::Time deadline = clock_.Now() + options_.replace_wait;
  absl::flat_hash_set<std::string> signalled;
  std::vector<std::string> older;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (run->kill_requested) {
        return Synthetic(ExecutionStatus::kKilled, absl::StrCat("killed: ", run->kill_reason));
      }
    }
    absl::StatusOr<store::RangeResponse> resp = kv_.Range(store::RangeRequest::Prefix(prefix));
    if (resp.ok()) {
      older.clear();
      std::string newer;
      std::vector<store::KeyValue> older_kvs;
      for (const store::KeyValue& kv : resp->kvs) {
        if (kv.key == mine) continue;
        auto other = keys_.IdFromKey(kv.key, keys_.InflightPrefix());
        if (!other) continue;
        // The scheduled time decides; the claim order breaks ties (two runs of one instant).
        const bool earlier =
            other->scheduled() < run->id.scheduled() ||
            (other->scheduled() == run->id.scheduled() && kv.create_revision < run->claim_rev);
        if (earlier) {
          older.push_back(other->str());
          older_kvs.push_back(kv);
        } else if (newer.empty()) {
          newer = other->str();
        }
      }
      if (!newer.empty()) {
        // A later execution of the job runs: it replaces this one.
        return Synthetic(ExecutionStatus::kKilled,
                         absl::StrCat("killed: replaced by execution ", newer));
      }
      if (older.empty()) return std::nullopt;
      const std::string reason = absl::StrCat("replaced by execution ", run->id.str());
      for (size_t i = 0; i < older.size(); ++i) {
        const std::string& other = older[i];
        if (signalled.contains(other)) continue;
        if (Kill(other, reason)) {
          signalled.insert(other);
          continue;
        }
        auto other_id = model::ExecutionId::Parse(other);
        if (!other_id.ok()) continue;
        // Under our session lease: the request goes away with us.
        runs::GroupCommit::Result put =
            commits_.Commit(runs::RequestKill(keys_, *other_id, older_kvs[i], reason, run->lease));
        if (put.answered()) signalled.insert(other);
      }
      RunLog(*run).Info("Replace: waiting for older runs to end",
                        {{"older", absl::StrJoin(older, ",")}});
    }
    if (clock_.Now() >= deadline) {
      return Synthetic(
          ExecutionStatus::kFailed,
          absl::StrCat("not started: Replace policy and execution(s) ",
                       older.empty() ? std::string("?") : absl::StrJoin(older, ", "),
                       " still running after ", absl::FormatDuration(options_.replace_wait)));
    }
    absl::MutexLock lock(&mu_);
    const int64_t generation = finished_generation_;
    clock_.WaitUntil(mu_, std::min(deadline, clock_.Now() + options_.replace_poll),
                     [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                       return run->kill_requested || finished_generation_ != generation;
                     });
  }
}

runs::AttemptResult WorkerService::RunAttempt(const RunPtr& run) {
  const model::Job& job = run->job;
  executor::Executor* ex =
      job.executor_type == model::ExecutorType::kShell ? executors_.shell : executors_.http;
  if (ex == nullptr) {
    return Synthetic(ExecutionStatus::kFailed,
                     absl::StrCat(Av(model::ToString(job.executor_type)),
                                  " executor disabled on worker ", options_.worker_id));
  }
  // The attempt's span: the job continues this context (TRACEPARENT / traceparent header).
  trace::Span attempt = trace::StartSpan(options_.probe.tracer, "attempt",
                                         trace::SpanKind::kInternal, run->traceparent);
  attempt.SetAttribute("hourglass.attempt", int64_t{run->record.attempt});
  executor::ExecRequest request = MakeRequest(*run);
  request.traceparent = attempt.traceparent();
  {
    absl::MutexLock lock(&mu_);
    if (run->kill_requested) {
      return Synthetic(ExecutionStatus::kKilled, absl::StrCat("killed: ", run->kill_reason));
    }
    run->result.reset();
  }
  std::shared_ptr<executor::RunHandle> handle =
      ex->Start(request, [this, run](executor::ExecResult r) {
        absl::MutexLock lock(&mu_);
        run->result = std::move(r);
      });
  if (run->record.attempt == 1 && options_.probe.execution_started) {
    // Process started (or the request sent): the schedule lag of this execution.
    options_.probe.execution_started(clock_.Now() - run->record.scheduled_time);
  }
  std::string late_kill;
  executor::KillMode late_mode = executor::KillMode::kGraceful;
  {
    absl::MutexLock lock(&mu_);
    run->handle = handle;
    if (run->kill_requested) {  // arrived during Start()
      late_kill = run->kill_reason;
      if (run->kill_end_reason == model::EndReason::kSessionLost) {
        late_mode = executor::KillMode::kImmediate;
      }
    }
  }
  if (!late_kill.empty()) handle->Kill(late_kill, late_mode);
  // A run still going after running_mark_delay shows as `running` (a quick one goes straight
  // from `scheduled` to its final record: one write less per run).
  const absl::Time mark_at = clock_.Now() + options_.running_mark_delay;
  absl::MutexLock lock(&mu_);
  while (!run->result.has_value()) {
    const absl::Time until = run->marked_running ? absl::InfiniteFuture() : mark_at;
    clock_.WaitUntil(mu_, until,
                     [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return run->result.has_value(); });
    if (!run->result.has_value() && !run->marked_running) {
      run->marked_running = true;
      mu_.Unlock();
      MarkRunning(run);
      mu_.Lock();
    }
  }
  executor::ExecResult result = *std::move(run->result);
  run->result.reset();
  run->handle.reset();
  // Before anything else sees them (span, logs, record): the job may print its secrets, an
  // HTTP server may echo a header, an error may quote the URL.
  runs::AttemptResult out;
  out.status = ToRecordStatus(result.status);
  out.started = result.started;
  out.ended = result.ended;
  out.exit_code = result.exit_code;
  out.http_status = result.http_status;
  out.output = run->redactor.Redact(result.output);
  out.error = run->redactor.Redact(result.error);
  if (result.cause == executor::ExecCause::kRefused) out.reason = model::EndReason::kRefused;
  if (result.cause == executor::ExecCause::kResourceLimit) {
    out.reason = model::EndReason::kResourceLimit;
  }
  if (out.status != ExecutionStatus::kSuccess) {
    attempt.SetError(out.error.empty() ? "attempt failed" : out.error);
  }
  if (out.exit_code) attempt.SetAttribute("process.exit_code", int64_t{*out.exit_code});
  if (out.http_status) {
    attempt.SetAttribute("http.response.status_code", int64_t{*out.http_status});
  }
  return out;
}

void WorkerService::MarkRunning(const RunPtr& run) {
  runs::GroupCommit::Result r =
      commits_.Commit(runs::MarkRunning(keys_, run->record, run->record_rev, run->inflight_rev));
  // Only for display: a failed write changes nothing (the finish settles whatever happened).
  if (r.answered() && r.succeeded) run->record_rev = r.revision;
}

bool WorkerService::RecordNextAttempt(const RunPtr& run, const runs::AttemptResult& previous,
                                      std::string* why) {
  absl::Duration backoff = options_.finish_retry_initial;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (run->kill_requested) {
        *why = absl::StrCat("killed: ", run->kill_reason);
        return false;
      }
    }
    runs::NextAttempt next = runs::StartNextAttempt(keys_, run->record, run->record_rev,
                                                    run->inflight, run->inflight_rev, previous);
    runs::GroupCommit::Result r = commits_.Commit(next.txn);
    if (r.answered() && r.succeeded) {
      run->record = std::move(next.record);
      run->inflight = next.inflight;
      run->record_rev = run->inflight_rev = r.revision;
      absl::MutexLock lock(&mu_);
      run->marked_running = true;
      return true;
    }
    if (r.answered()) {
      // Compare failed: see whether the execution is still ours.
      runs::FinishConflict now = runs::ReadFinishConflict(r.responses);
      std::optional<runs::InflightEntry> inflight;
      if (now.inflight) {
        if (auto e = runs::DecodeInflight(now.inflight->value); e.ok()) inflight = *e;
      }
      if (!inflight || !now.record || inflight->worker_id != options_.worker_id ||
          inflight->lease != run->lease) {
        RunLog(*run).Warn("execution taken over (its worker was presumed lost); not retrying");
        *why = "the execution was taken over by the leader";
        return false;
      }
      auto current = model::ParseExecution(now.record->value);
      if (!current.ok()) {
        *why = "the execution record is unreadable";
        return false;
      }
      if (inflight->attempt == next.inflight.attempt) {
        // Our own write whose answer was lost: it committed.
        run->record = *std::move(current);
        run->inflight = *inflight;
        run->record_rev = now.record->mod_revision;
        run->inflight_rev = now.inflight->mod_revision;
        return true;
      }
      // Still ours, changed by someone else (a late result merged into the record): again on
      // top of what is there.
      run->record.attempts = std::move(current->attempts);
      run->record_rev = now.record->mod_revision;
      run->inflight_rev = now.inflight->mod_revision;
      continue;
    }
    // Store unreachable: the attempt must not start before it is recorded (else a lost worker's
    // retry could reuse its number). Retry until it is, or until a kill / session loss.
    RunLog(*run).Warn("attempt update not written; retrying",
                      {{"error", std::string(r.status.message())}});
    absl::MutexLock lock(&mu_);
    clock_.WaitUntil(mu_, clock_.Now() + backoff,
                     [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return run->kill_requested; });
    backoff = std::min(backoff * 2, options_.finish_retry_max);
  }
}

void WorkerService::Finish(const RunPtr& run, const runs::AttemptResult& result) {
  model::Execution rec = runs::FinalRecord(run->record, result, clock_.Now());
  {
    absl::MutexLock lock(&mu_);
    if (rec.status == ExecutionStatus::kKilled) rec.reason = run->kill_end_reason;
  }
  // Every path to the record goes through here (synthetic results too).
  rec.output = run->redactor.Redact(rec.output);
  rec.error = run->redactor.Redact(rec.error);
  run->span.SetAttribute("hourglass.status", std::string(model::ToString(rec.status)));
  run->span.SetAttribute("hourglass.attempts", int64_t{rec.attempt});
  if (rec.status != ExecutionStatus::kSuccess) {
    run->span.SetError(rec.error.empty() ? std::string(model::ToString(rec.status)) : rec.error);
  }
  run->span.End();
  if (options_.probe.execution_finished) {
    options_.probe.execution_finished(
        run->job.name.str(), model::ToString(rec.status),
        rec.start_time ? *rec.end_time - *rec.start_time : absl::ZeroDuration());
  }
  FinishEntry entry;
  entry.id = run->id.str();
  entry.record = model::SerializeExecution(rec);
  entry.record_revision = run->record_rev;
  entry.inflight_revision = run->inflight_rev;
  entry.lease = run->lease;
  entry.lock_key = run->lock_key;
  entry.worker_id = options_.worker_id;
  entry.attempt = rec.attempt;
  absl::Status st = results_.Write(std::move(entry));
  const log::ContextLogger run_log = RunLog(*run);
  run_log.Info("finished", {{"status", std::string(model::ToString(rec.status))},
                            {"attempt", rec.attempt},
                            {"written", st.ok()}});
  if (!st.ok()) {
    run_log.Warn("final record not written; spooled and retried",
                 {{"error", std::string(st.message())}});
  }
}

size_t WorkerService::PendingResults() const { return results_.Pending(); }

std::optional<absl::Time> WorkerService::NextRetry(const std::string& execution_id) const {
  absl::MutexLock lock(&mu_);
  auto it = runs_.find(execution_id);
  if (it == runs_.end()) return std::nullopt;
  return it->second->next_retry;
}

// ---------------------------------------------------------------------------------------------
// Background: the kill watch's restarts, thread reaping.

void WorkerService::BackgroundLoop() {
  int64_t seen_wake = -1;
  while (true) {
    bool restart_watch = false;
    {
      absl::MutexLock lock(&mu_);
      absl::Time deadline = absl::InfiniteFuture();
      if (watch_failed_) deadline = clock_.Now() + absl::Seconds(1);
      if (!starts_.empty()) deadline = std::min(deadline, starts_.begin()->first);
      clock_.WaitUntil(mu_, deadline, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || wake_background_ != seen_wake;
      });
      if (stopping_) return;
      seen_wake = wake_background_;
      restart_watch = watch_failed_ && clock_.Now() >= deadline;
      // Runs claimed ahead whose instant has come start now.
      const absl::Time now = clock_.Now();
      while (!starts_.empty() && starts_.begin()->first <= now) {
        StartWaitingLocked(starts_.begin()->second);
      }
    }
    if (restart_watch) {
      kill_watch_.reset();
      absl::Status st = StartKillWatch();
      absl::MutexLock lock(&mu_);
      watch_failed_ = !st.ok();
    }
  }
}

absl::Status WorkerService::StartKillWatch() {
  // Range first: kill requests written while no watch was running are not missed.
  const std::string prefix = keys_.KillPrefix();
  HG_ASSIGN_OR_RETURN(store::RangeResponse existing,
                      kv_.Range(store::RangeRequest::Prefix(prefix)));
  store::WatchResponse initial;
  initial.revision = existing.revision;
  for (const store::KeyValue& kv : existing.kvs) {
    initial.events.push_back({.type = store::EventType::kPut, .kv = kv});
  }
  OnKillEvents(initial);
  HG_ASSIGN_OR_RETURN(kill_watch_,
                      kv_.StartWatch(store::WatchRequest::Prefix(prefix, existing.revision + 1),
                                     [this](const store::WatchResponse& r) { OnKillEvents(r); }));
  return absl::OkStatus();
}

void WorkerService::OnKillEvents(const store::WatchResponse& response) {
  Signals signal;
  {
    absl::MutexLock lock(&mu_);
    if (!response.status.ok()) {
      watch_failed_ = true;
      ++wake_background_;
      return;
    }
    for (const store::WatchEvent& ev : response.events) {
      if (ev.type != store::EventType::kPut) continue;
      auto id = keys_.KillFromKey(ev.kv.key);
      if (!id) continue;
      auto it = runs_.find(id->str());
      if (it == runs_.end()) continue;  // not ours
      // The key is consumed by the run's Finish (runs::Finish), atomically with its record.
      KillLocked(it->second, ev.kv.value.empty() ? "kill requested" : ev.kv.value,
                 executor::KillMode::kGraceful, signal);
    }
  }
  if (!signal.empty()) log_.Info("kill requested through the store", {{"runs", signal.size()}});
  Signal(signal);
}

// ---------------------------------------------------------------------------------------------
// Log lines about one run.

log::ContextLogger WorkerService::RunLog(const RunState& run) const {
  // Only fields fixed before the run thread starts: any thread may log about a run.
  const model::Redactor* redactor = &run.redactor;  // the run outlives the logger
  return model::RunLogger(log_, run.id, options_.worker_id, run.traceparent, "",
                          [redactor](std::string_view s) { return redactor->Redact(s); });
}

// ---------------------------------------------------------------------------------------------
// Kill, Stop, Health.

void WorkerService::KillLocked(const RunPtr& run, const std::string& reason,
                               executor::KillMode mode, Signals& signal) {
  if (!run->kill_requested) {
    run->kill_requested = true;
    run->kill_reason = reason;
  }
  if (run->handle) signal.push_back({run->handle, run->kill_reason, mode});
  // Waiting for its instant: it ends now (its thread sees the kill and records it).
  if (run->waiting_start) StartWaitingLocked(run);
}

void WorkerService::StartWaitingLocked(RunPtr run) {  // by value: `run` may live in starts_
  if (!run->waiting_start) return;
  run->waiting_start = false;
  for (auto it = starts_.find(run->id.scheduled()); it != starts_.end(); ++it) {
    if (it->second == run) {
      starts_.erase(it);
      break;
    }
  }
  threads_.Post([this, run] { RunThread(run); });
}

void WorkerService::FreeSlotLocked(RunState& run) {
  if (run.admitted) {
    run.admitted = false;
    --admitted_;
  }
  if (run.executing) {
    run.executing = false;
    --executing_;
  }
}

void WorkerService::ReportRunning(size_t running) const {
  if (options_.probe.running) options_.probe.running(running);
}

void WorkerService::Signal(const Signals& signal) {
  // Outside mu_: an executor may take its own locks in Kill().
  for (const KillSignal& s : signal) s.handle->Kill(s.reason, s.mode);
}

bool WorkerService::Kill(const std::string& execution_id, const std::string& reason) {
  Signals signal;
  RunPtr run;
  {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(execution_id);
    if (it == runs_.end()) return false;
    run = it->second;
    KillLocked(run, reason.empty() ? "kill requested" : reason, executor::KillMode::kGraceful,
               signal);
  }
  RunLog(*run).Info("kill", {{"reason", reason}});
  Signal(signal);
  return true;
}

KillResponse WorkerService::Kill(const KillRequest& request) {
  KillResponse response;
  response.set_found(Kill(request.execution_id(), request.reason()));
  return response;
}

void WorkerService::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  Signals signal;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    if (!started_) {
      stopped_ = true;
      return;
    }
    draining_ = true;
    log_.Info("draining", {{"runs", runs_.size()}});
    const absl::Time deadline = clock_.Now() + options_.shutdown_grace;
    clock_.WaitUntil(mu_, deadline, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return runs_.empty(); });
    for (auto& [id, run] : runs_) {
      KillLocked(run, "worker shutting down", executor::KillMode::kGraceful, signal);
    }
  }
  Signal(signal);
  {
    absl::MutexLock lock(&mu_);
    clock_.WaitUntil(mu_, absl::InfiniteFuture(),
                     [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return runs_.empty(); });
    stopping_ = true;
  }
  background_.join();
  kill_watch_.reset();
  threads_.Stop();
  results_.Stop();
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

HealthResponse WorkerService::Health() const {
  HealthResponse h;
  absl::MutexLock lock(&mu_);
  h.set_worker_id(options_.worker_id);
  h.set_capacity(options_.capacity);
  h.set_in_flight(static_cast<int32_t>(runs_.size()));
  h.set_draining(draining_);
  return h;
}

// ---------------------------------------------------------------------------------------------
// Helpers.

executor::ExecRequest WorkerService::MakeRequest(const RunState& run) const {
  const model::Job& job = run.job;
  executor::ExecRequest req;
  req.execution_id = run.id.str();
  req.job_name = job.name.str();
  req.scheduled_time = run.record.scheduled_time;
  req.attempt = run.record.attempt;
  req.traceparent = run.traceparent;
  req.timeout = job.timeout ? job.timeout->value : absl::ZeroDuration();
  req.kill_grace = options_.kill_grace;
  req.output_cap = options_.output_cap;
  if (job.executor_type == model::ExecutorType::kShell) {
    executor::ShellSpec shell{
        .command = job.executor.command, .env = job.executor.env, .cwd = job.executor.cwd};
    if (!job.executor.run_as.empty()) shell.run_as = job.executor.run_as;
    const model::ShellLimits& l = job.executor.limits;
    shell.limits = {.cpu_seconds = l.cpu_seconds,
                    .memory_mb = l.memory_mb,
                    .open_files = l.open_files,
                    .processes = l.processes};
    req.spec = std::move(shell);
  } else {
    executor::HttpSpec http;
    http.method = job.executor.method;
    http.url = job.executor.url;
    for (const auto& [k, v] : job.executor.headers) http.headers.emplace_back(k, v);
    http.body = job.executor.body;
    for (int code : job.executor.expected_status) http.expected_status.push_back({code, code});
    req.spec = std::move(http);
  }
  return req;
}

runs::AttemptResult WorkerService::Synthetic(ExecutionStatus status, std::string error) const {
  runs::AttemptResult r;
  r.status = status;
  r.error = std::move(error);
  r.started = r.ended = clock_.Now();
  return r;
}

}  // namespace hg::worker
