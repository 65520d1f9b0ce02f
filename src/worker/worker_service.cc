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
#include "nlohmann/json.hpp"
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
  int64_t serial = 0;  // distinguishes two local runs of the same id over time
  model::ExecutionId id;
  model::Job job;
  std::string traceparent;   // the execution span's context
  model::Redactor redactor;  // the job's secret values
  trace::Span span;          // the execution span, ended by Finish() or with the state
  store::LeaseId lease = 0;
  model::Execution record;          // the record as we last wrote it
  store::Revision mod = 0;          // its mod revision
  store::Revision running_rev = 0;  // create revision of our running/<id> key (Replace order)
  std::string lock_key;             // Forbid only
  std::optional<absl::Time> next_instant;  // Forbid: retries must start before it
  // ---- guarded by WorkerService::mu_ ----
  bool kill_requested = false;
  std::string kill_reason;
  std::optional<absl::Time> next_retry;         // while waiting out a retry backoff
  std::shared_ptr<executor::RunHandle> handle;  // current attempt
  std::optional<executor::ExecResult> result;   // current attempt's result
  std::thread thread;
};

namespace {

RunResponse Outcome(RunResponse::Outcome outcome, std::string message) {
  RunResponse r;
  r.set_outcome(outcome);
  r.set_message(std::move(message));
  return r;
}

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

// The response for a record that is no longer `scheduled`.
RunResponse Acknowledge(const model::Execution& rec) {
  if (rec.status == ExecutionStatus::kRunning) {
    return Outcome(
        RunResponse::ALREADY_CLAIMED,
        absl::StrCat("execution ", rec.id.str(), " already claimed by worker ", rec.worker_id));
  }
  return Outcome(RunResponse::FINISHED, absl::StrCat("execution ", rec.id.str(), " already ",
                                                     Av(model::ToString(rec.status))));
}

const store::RangeResponse* RangeAt(const store::TxnResponse& resp, size_t i) {
  if (i >= resp.responses.size()) return nullptr;
  return std::get_if<store::RangeResponse>(&resp.responses[i]);
}

// `locks/<job>/<lease in lowercase hex>`: the key etcd's concurrency.Mutex would use for this
// lease (fmt "%s%x"), so `etcdctl lock` and Hourglass agree on who holds a job's lock.
std::string LockKey(const model::Keys& keys, const model::JobName& job, store::LeaseId lease) {
  return absl::StrCat(keys.LockPrefix(job), absl::Hex(static_cast<uint64_t>(lease)));
}

// The record in `kv`; NotFound when there is none, Internal when it does not decode.
absl::StatusOr<model::Execution> DecodeRecord(const model::ExecutionId& id,
                                              const std::string& exec_key,
                                              const store::KeyValue* kv) {
  if (kv == nullptr) {
    return absl::NotFoundError(absl::StrCat("execution ", id.str(), " has no record"));
  }
  auto rec = model::ParseExecution(kv->value);
  if (!rec.ok()) {
    return absl::InternalError(
        absl::StrCat("execution record ", exec_key, " unreadable: ", rec.status().message()));
  }
  return rec;
}

const store::KeyValue* FirstKv(const store::RangeResponse* r) {
  return (r == nullptr || r->kvs.empty()) ? nullptr : &r->kvs.front();
}

}  // namespace

WorkerService::WorkerService(store::Kv& kv, const Clock& clock, const model::Keys& keys,
                             Executors executors, WorkerOptions options)
    : kv_(kv),
      clock_(clock),
      keys_(keys),
      executors_(executors),
      options_(std::move(options)),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()) {}

WorkerService::~WorkerService() { Stop(); }

absl::Status WorkerService::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopped_) return absl::FailedPreconditionError("worker started twice");
  }
  HG_ASSIGN_OR_RETURN(spool_, ResultSpool::Open(options_.spool_path));
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    for (const FinishEntry& e : spool_->loaded()) {
      // serial 0: no local run will ever have it, so adoption is decided by the store alone.
      pending_.push_back({e, 0, now, options_.finish_retry_initial});
    }
    started_ = true;
  }
  if (!spool_->loaded().empty()) {
    log_.Info("flushing spooled results", {{"count", spool_->loaded().size()}});
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
    for (auto& [id, run] : runs_) KillLocked(run, "session lost", signal);
  }
  log_.Warn("session lost: killing every run", {{"reason", reason}, {"runs", signal.size()}});
  Signal(signal);
}

// ---------------------------------------------------------------------------------------------
// Run: validate, fence, reserve a slot, claim.

absl::StatusOr<RunResponse> WorkerService::Run(const RunRequest& request) {
  auto id = model::ExecutionId::Parse(request.execution_id());
  if (!id.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("execution_id: ", id.status().message()));
  }
  auto job = model::ParseStoredJob(request.job_json());
  if (!job.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("job_json: ", job.status().message()));
  }
  if (job->name != id->job()) {
    return absl::InvalidArgumentError(absl::StrCat("job_json: job \"", job->name.str(),
                                                   "\" does not match execution ", id->str()));
  }

  auto run = std::make_shared<RunState>();
  run->id = *id;
  run->job = *std::move(job);
  run->redactor = model::Redactor::ForJob(run->job, options_.secret_headers);
  run->span = trace::StartSpan(options_.probe.tracer, "execution", trace::SpanKind::kServer,
                               request.traceparent(), request.tracestate());
  run->span.SetAttribute("hourglass.job", run->job.name.str());
  run->span.SetAttribute("hourglass.execution_id", id->str());
  run->span.SetAttribute("hourglass.worker", options_.worker_id);
  run->traceparent = run->span.traceparent();

  std::function<bool()> alive;
  {
    absl::MutexLock lock(&mu_);
    if (request.term() < highest_term_) {
      return absl::FailedPreconditionError(absl::StrCat("stale leader term ", request.term(),
                                                        " (highest seen ", highest_term_, ")"));
    }
    highest_term_ = request.term();
    if (!started_ || draining_) {
      return absl::UnavailableError(
          absl::StrCat("worker ", options_.worker_id, " is not taking runs (draining)"));
    }
    if (session_lost_ || lease_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("worker ", options_.worker_id, " has no live session"));
    }
    alive = alive_;
  }
  // Asked outside mu_: the session's own locks are never taken under ours.
  if (alive && !alive()) {
    return absl::UnavailableError(
        absl::StrCat("worker ", options_.worker_id, " cannot prove its session is alive"));
  }
  size_t running = 0;
  {
    absl::MutexLock lock(&mu_);
    if (runs_.contains(id->str())) {
      return Outcome(RunResponse::ALREADY_CLAIMED,
                     absl::StrCat("execution ", id->str(), " is already running on worker ",
                                  options_.worker_id));
    }
    if (static_cast<int>(runs_.size()) >= options_.capacity) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "worker ", options_.worker_id, " is at capacity (", options_.capacity, " runs)"));
    }
    run->serial = next_serial_++;
    run->lease = lease_;
    // Registered before the claim: it holds a capacity slot, dedupes a concurrent Run of the
    // same id, and a kill/ or SessionLost() arriving meanwhile reaches it.
    runs_[id->str()] = run;
    running = runs_.size();
  }
  ReportRunning(running);

  absl::StatusOr<RunResponse> result = ClaimAndStart(run);
  if (!result.ok() || result->outcome() != RunResponse::STARTED) {
    {
      absl::MutexLock lock(&mu_);
      auto it = runs_.find(id->str());
      if (it != runs_.end() && it->second == run) runs_.erase(it);
      ++finished_generation_;
      running = runs_.size();
    }
    ReportRunning(running);
  }
  if (result.ok() && result->outcome() == RunResponse::SKIPPED &&
      options_.probe.execution_finished) {
    options_.probe.execution_finished(run->job.name.str(), "skipped", absl::ZeroDuration());
  }
  if (!result.ok() || result->outcome() != RunResponse::STARTED) {
    run->span.SetAttribute("hourglass.outcome",
                           result.ok()
                               ? RunResponse::Outcome_Name(result->outcome())
                               : std::string(absl::StatusCodeToString(result.status().code())));
    run->span.End();
  }
  return result;
}

absl::StatusOr<RunResponse> WorkerService::ClaimAndStart(const RunPtr& run) {
  const model::Job& job = run->job;
  const std::string exec_key = keys_.Exec(run->id);
  const bool forbid = job.concurrency_policy == model::ConcurrencyPolicy::kForbid;
  const std::string lock_prefix = keys_.LockPrefix(job.name);
  if (forbid) run->lock_key = LockKey(keys_, job.name, run->lease);

  // The record changes under us only if someone else acts on it; a few re-reads settle that.
  for (int tries = 0; tries < 5; ++tries) {
    HG_ASSIGN_OR_RETURN(std::optional<store::KeyValue> kv, store::Get(kv_, exec_key));
    HG_ASSIGN_OR_RETURN(model::Execution rec_value,
                        DecodeRecord(run->id, exec_key, kv ? &*kv : nullptr));
    const model::Execution* rec = &rec_value;
    if (rec->status != ExecutionStatus::kScheduled) return Acknowledge(*rec);

    model::Execution claimed = *rec;
    claimed.status = ExecutionStatus::kRunning;
    claimed.worker_id = options_.worker_id;
    claimed.start_time = clock_.Now();
    claimed.end_time.reset();
    claimed.error.clear();
    if (std::string trace = TraceIdOf(run->traceparent); !trace.empty()) {
      claimed.trace_id = trace;
    }

    store::TxnRequest txn;
    txn.compare.push_back(
        store::Compare::ModRevision(exec_key, store::Compare::Result::kEqual, kv->mod_revision));
    if (forbid) {
      // No key under locks/<job>/ at all (etcd compares an empty range as a zero revision).
      store::Compare none =
          store::Compare::CreateRevision(lock_prefix, store::Compare::Result::kEqual, 0);
      none.range_end = store::PrefixEnd(lock_prefix);
      txn.compare.push_back(std::move(none));
    }
    txn.success.push_back(
        store::PutRequest{.key = exec_key, .value = model::SerializeExecution(claimed)});
    txn.success.push_back(store::DeleteRequest::Key(keys_.Pending(run->id)));
    txn.success.push_back(
        store::PutRequest{.key = keys_.Inflight(run->id), .value = InflightValue(run->lease)});
    txn.success.push_back(store::PutRequest{
        .key = keys_.Running(run->id), .value = RunningValue(), .lease = run->lease});
    if (forbid) {
      txn.success.push_back(
          store::PutRequest{.key = run->lock_key, .value = run->id.str(), .lease = run->lease});
    }
    txn.failure.push_back(store::RangeRequest::Key(exec_key));
    if (forbid) {
      store::RangeRequest oldest = store::RangeRequest::Prefix(lock_prefix);
      oldest.sort_order = store::SortOrder::kAscend;
      oldest.sort_target = store::SortTarget::kCreateRevision;
      oldest.limit = 1;
      txn.failure.push_back(std::move(oldest));
    }

    absl::StatusOr<store::TxnResponse> resp = kv_.Txn(txn);
    if (!resp.ok()) {
      if (resp.status().code() == absl::StatusCode::kFailedPrecondition) {
        // The lease is gone: this worker cannot hold runs any more.
        return absl::UnavailableError(absl::StrCat(
            "worker ", options_.worker_id, " session lease is gone: ", resp.status().message()));
      }
      // The claim may or may not have committed. Settle it in the background: if it did, the
      // record is ours and gets a final `failed` (never started) instead of hanging `running`.
      run->record = claimed;
      run->mod = 0;
      model::Execution never = claimed;
      never.status = ExecutionStatus::kFailed;
      never.end_time = clock_.Now();
      never.error = absl::StrCat("not started: the store became unreachable while worker ",
                                 options_.worker_id, " claimed it");
      QueueResult(MakeEntry(*run, never), /*serial=*/0);
      return absl::UnavailableError(absl::StrCat("store unreachable while claiming execution ",
                                                 run->id.str(), ": ", resp.status().message()));
    }

    if (resp->succeeded) {
      run->record = std::move(claimed);
      run->mod = resp->revision;
      run->running_rev = resp->revision;
      if (forbid) {
        auto schedule = cron::Schedule::Parse(job.cron_expr, job.Zone());
        if (schedule.ok()) run->next_instant = schedule->Next(run->record.scheduled_time);
      }
      RunLog(*run).Info("claimed", {{"attempt", run->record.attempt}});
      absl::MutexLock lock(&mu_);
      // Assigned under mu_: the thread's last act (moving itself to done_threads_) takes mu_.
      run->thread = std::thread([this, run] { RunThread(run); });
      return Outcome(RunResponse::STARTED, absl::StrCat("execution ", run->id.str(),
                                                        " started on worker ", options_.worker_id));
    }

    // The compare failed: see why.
    const store::KeyValue* now_kv = FirstKv(RangeAt(*resp, 0));
    HG_ASSIGN_OR_RETURN(model::Execution now_value, DecodeRecord(run->id, exec_key, now_kv));
    const model::Execution* now_rec = &now_value;
    if (now_rec->status != ExecutionStatus::kScheduled) return Acknowledge(*now_rec);
    if (now_kv->mod_revision != kv->mod_revision) continue;  // rewritten meanwhile: read again
    const store::KeyValue* holder_kv = forbid ? FirstKv(RangeAt(*resp, 1)) : nullptr;
    if (holder_kv == nullptr) continue;  // the lock went away meanwhile: try again
    const std::string holder = holder_kv->value.empty() ? holder_kv->key : holder_kv->value;
    HG_ASSIGN_OR_RETURN(bool written, RecordSkipped(run, *now_rec, now_kv->mod_revision, holder));
    if (!written) continue;
    RunLog(*run).Info("skipped (Forbid)", {{"holder", holder}});
    return Outcome(RunResponse::SKIPPED, absl::StrCat("Forbid: job ", job.name.str(),
                                                      " is still running as execution ", holder));
  }
  return absl::UnavailableError(
      absl::StrCat("execution ", run->id.str(), " kept changing while claiming it"));
}

absl::StatusOr<bool> WorkerService::RecordSkipped(const RunPtr& run, const model::Execution& rec,
                                                  store::Revision read_mod,
                                                  const std::string& holder) {
  model::Execution skipped = rec;
  skipped.status = ExecutionStatus::kSkipped;
  skipped.worker_id = options_.worker_id;
  skipped.end_time = clock_.Now();
  skipped.error = absl::StrCat("skipped: Forbid policy and execution ", holder,
                               " of this job is still running");
  if (std::string trace = TraceIdOf(run->traceparent); !trace.empty()) skipped.trace_id = trace;
  const std::string exec_key = keys_.Exec(run->id);
  store::TxnRequest txn;
  txn.compare.push_back(
      store::Compare::ModRevision(exec_key, store::Compare::Result::kEqual, read_mod));
  txn.success.push_back(
      store::PutRequest{.key = exec_key, .value = model::SerializeExecution(skipped)});
  txn.success.push_back(store::DeleteRequest::Key(keys_.Pending(run->id)));
  HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv_.Txn(txn));
  return resp.succeeded;
}

// ---------------------------------------------------------------------------------------------
// The run thread: Replace wait, attempts with retries, Finish.

void WorkerService::RunThread(const RunPtr& run) {
  const model::Job& job = run->job;
  std::optional<executor::ExecResult> final;
  if (job.concurrency_policy == model::ConcurrencyPolicy::kReplace) {
    final = WaitForReplaced(run);
  }
  while (!final) {
    executor::ExecResult result = RunAttempt(run);
    const bool retryable = result.status == executor::ExecStatus::kFailed ||
                           result.status == executor::ExecStatus::kTimeout;
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
    {
      absl::MutexLock lock(&mu_);
      run->next_retry = start_at;
      clock_.WaitUntil(mu_, start_at, [&] { return run->kill_requested; });
      run->next_retry.reset();
      if (run->kill_requested) {
        executor::ExecResult killed = SyntheticResult(executor::ExecStatus::kKilled,
                                                      absl::StrCat("killed: ", run->kill_reason));
        final = std::move(killed);
        break;
      }
    }
    run->record.attempt = retry + 1;
    run->record.retries_attempted = retry;
    if (!RecordAttempt(run)) {
      final = SyntheticResult(executor::ExecStatus::kFailed,
                              "the execution record was changed by someone else; retry not "
                              "started");
    }
  }
  Finish(run, *final);

  size_t running = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(run->id.str());
    if (it != runs_.end() && it->second == run) runs_.erase(it);
    ++finished_generation_;
    running = runs_.size();
    done_threads_.push_back(std::move(run->thread));
  }
  // Still safe after the hand-over: Stop() joins this thread before the service goes away.
  ReportRunning(running);
}

std::optional<executor::ExecResult> WorkerService::WaitForReplaced(const RunPtr& run) {
  const std::string prefix = keys_.RunningJobPrefix(run->job.name);
  const std::string mine = keys_.Running(run->id);
  const std::string running_root = keys_.RunningPrefix();
  const absl::Time deadline = clock_.Now() + options_.replace_wait;
  absl::flat_hash_set<std::string> signalled;
  std::vector<std::string> older;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (run->kill_requested) {
        return SyntheticResult(executor::ExecStatus::kKilled,
                               absl::StrCat("killed: ", run->kill_reason));
      }
    }
    absl::StatusOr<store::RangeResponse> resp = kv_.Range(store::RangeRequest::Prefix(prefix));
    if (resp.ok()) {
      older.clear();
      std::string newer;
      for (const store::KeyValue& kv : resp->kvs) {
        if (kv.key == mine) continue;
        std::string other = kv.key.substr(running_root.size());
        if (kv.create_revision < run->running_rev) {
          older.push_back(std::move(other));
        } else if (newer.empty()) {
          newer = std::move(other);
        }
      }
      if (!newer.empty()) {
        // A later execution of the job was claimed meanwhile: it replaces this one.
        return SyntheticResult(executor::ExecStatus::kKilled,
                               absl::StrCat("killed: replaced by execution ", newer));
      }
      if (older.empty()) return std::nullopt;
      const std::string reason = absl::StrCat("replaced by execution ", run->id.str());
      for (const std::string& other : older) {
        if (signalled.contains(other)) continue;
        if (Kill(other, reason)) {
          signalled.insert(other);
          continue;
        }
        auto other_id = model::ExecutionId::Parse(other);
        if (!other_id.ok()) continue;
        absl::StatusOr<store::PutResponse> put =
            kv_.Put({.key = keys_.Kill(*other_id), .value = reason});
        if (put.ok()) signalled.insert(other);
      }
      RunLog(*run).Info("Replace: waiting for older runs to end",
                        {{"older", absl::StrJoin(older, ",")}});
    }
    if (clock_.Now() >= deadline) {
      return SyntheticResult(
          executor::ExecStatus::kFailed,
          absl::StrCat("not started: Replace policy and execution(s) ",
                       older.empty() ? std::string("?") : absl::StrJoin(older, ", "),
                       " still running after ", absl::FormatDuration(options_.replace_wait)));
    }
    absl::MutexLock lock(&mu_);
    const int64_t generation = finished_generation_;
    clock_.WaitUntil(mu_, std::min(deadline, clock_.Now() + options_.replace_poll),
                     [&] { return run->kill_requested || finished_generation_ != generation; });
  }
}

executor::ExecResult WorkerService::RunAttempt(const RunPtr& run) {
  const model::Job& job = run->job;
  executor::Executor* ex =
      job.executor_type == model::ExecutorType::kShell ? executors_.shell : executors_.http;
  if (ex == nullptr) {
    return SyntheticResult(executor::ExecStatus::kFailed,
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
      return SyntheticResult(executor::ExecStatus::kKilled,
                             absl::StrCat("killed: ", run->kill_reason));
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
  {
    absl::MutexLock lock(&mu_);
    run->handle = handle;
    if (run->kill_requested) late_kill = run->kill_reason;  // arrived during Start()
  }
  if (!late_kill.empty()) handle->Kill(late_kill);
  absl::MutexLock lock(&mu_);
  clock_.WaitUntil(mu_, absl::InfiniteFuture(), [&] { return run->result.has_value(); });
  executor::ExecResult result = *std::move(run->result);
  run->result.reset();
  run->handle.reset();
  // Before anything else sees them (span, logs, record): the job may print its secrets, an
  // HTTP server may echo a header, an error may quote the URL.
  result.output = run->redactor.Redact(result.output);
  result.error = run->redactor.Redact(result.error);
  if (result.status != executor::ExecStatus::kSuccess) {
    attempt.SetError(result.error.empty() ? "attempt failed" : result.error);
  }
  if (result.exit_code) attempt.SetAttribute("process.exit_code", int64_t{*result.exit_code});
  if (result.http_status) {
    attempt.SetAttribute("http.response.status_code", int64_t{*result.http_status});
  }
  return result;
}

bool WorkerService::RecordAttempt(const RunPtr& run) {
  const std::string exec_key = keys_.Exec(run->id);
  const std::string running_key = keys_.Running(run->id);
  // The record between attempts: still running, the last attempt's outcome kept visible.
  store::TxnRequest txn;
  txn.compare.push_back(
      store::Compare::ModRevision(exec_key, store::Compare::Result::kEqual, run->mod));
  txn.success.push_back(
      store::PutRequest{.key = exec_key, .value = model::SerializeExecution(run->record)});
  txn.failure.push_back(store::RangeRequest::Key(exec_key));
  txn.failure.push_back(store::RangeRequest::Key(running_key));
  absl::StatusOr<store::TxnResponse> resp = kv_.Txn(txn);
  if (!resp.ok()) {
    // Not fatal: the Finish writes the whole record anyway. A lost answer shows up there as a
    // changed mod revision on a record that is still visibly ours (adopted).
    RunLog(*run).Warn("attempt update not written",
                      {{"error", std::string(resp.status().message())}});
    return true;
  }
  if (resp->succeeded) {
    run->mod = resp->revision;
    return true;
  }
  const store::KeyValue* exec = FirstKv(RangeAt(*resp, 0));
  const store::KeyValue* running = FirstKv(RangeAt(*resp, 1));
  if (exec != nullptr && running != nullptr && running->lease == run->lease) {
    auto rec = model::ParseExecution(exec->value);
    if (rec.ok() && rec->status == ExecutionStatus::kRunning &&
        rec->worker_id == options_.worker_id && rec->attempt <= run->record.attempt) {
      run->mod = exec->mod_revision;  // our own earlier write whose answer was lost
      return RecordAttempt(run);
    }
  }
  RunLog(*run).Warn("execution record taken over; not retrying");
  return false;
}

void WorkerService::Finish(const RunPtr& run, const executor::ExecResult& result) {
  model::Execution rec = run->record;
  rec.status = ToRecordStatus(result.status);
  rec.end_time = result.ended > absl::InfinitePast() ? result.ended : clock_.Now();
  if (rec.start_time && *rec.end_time < *rec.start_time) rec.end_time = rec.start_time;
  rec.exit_code = result.exit_code;
  rec.http_status = result.http_status;
  // Every path to the record goes through here (synthetic results too).
  rec.output = run->redactor.Redact(result.output);
  rec.error = run->redactor.Redact(result.error);
  if (rec.start_time) {
    rec.duration_ms = absl::ToInt64Milliseconds(*rec.end_time - *rec.start_time);
  }
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
  FinishEntry entry = MakeEntry(*run, rec);
  absl::Status st = TryFinish(entry, run->serial);
  const log::ContextLogger run_log = RunLog(*run);
  run_log.Info("finished", {{"status", std::string(model::ToString(rec.status))},
                            {"attempt", rec.attempt},
                            {"written", st.ok()}});
  if (!st.ok()) {
    run_log.Warn("final record not written; spooled and retried",
                 {{"error", std::string(st.message())}});
    QueueResult(std::move(entry), run->serial);
  }
}

// ---------------------------------------------------------------------------------------------
// Finish transaction, spool, background flushing.

absl::Status WorkerService::TryFinish(FinishEntry& entry, int64_t serial) {
  for (int tries = 0; tries < 3; ++tries) {
    store::TxnRequest txn;
    txn.compare.push_back(store::Compare::ModRevision(
        entry.exec_key, store::Compare::Result::kEqual, entry.mod_revision));
    txn.success.push_back(store::PutRequest{.key = entry.exec_key, .value = entry.record});
    txn.success.push_back(store::DeleteRequest::Key(entry.inflight_key));
    txn.success.push_back(store::DeleteRequest::Key(entry.running_key));
    if (!entry.lock_key.empty()) txn.success.push_back(store::DeleteRequest::Key(entry.lock_key));
    txn.failure.push_back(store::RangeRequest::Key(entry.exec_key));
    txn.failure.push_back(store::RangeRequest::Key(entry.running_key));
    HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv_.Txn(txn));
    if (resp.succeeded) return absl::OkStatus();

    // Adopt the record when it is still visibly ours: `running`, our worker id, our lease on
    // running/<id>, no later attempt — our own earlier write whose answer was lost (or a claim
    // whose answer was lost). Never when another local run of the same id owns it now.
    const store::KeyValue* exec = FirstKv(RangeAt(resp, 0));
    const store::KeyValue* running = FirstKv(RangeAt(resp, 1));
    bool adopt = false;
    if (exec != nullptr && running != nullptr && running->lease == entry.lease) {
      auto rec = model::ParseExecution(exec->value);
      adopt = rec.ok() && rec->status == ExecutionStatus::kRunning &&
              rec->worker_id == entry.worker_id && rec->attempt <= entry.attempt;
    }
    {
      absl::MutexLock lock(&mu_);
      auto it = runs_.find(entry.id);
      if (it != runs_.end() && it->second->serial != serial) {
        // A later local run of the same id (re-dispatched here) owns the record and the keys,
        // which carry the same lease and values as ours: touch nothing.
        EntryLog(entry).Warn("stale result dropped: the execution runs here again");
        return absl::OkStatus();
      }
    }
    if (!adopt) {
      // The leader (worker lost) or another worker owns the record now: release what is ours.
      EntryLog(entry).Warn("final record not ours any more; releasing keys");
      ReleaseKeys(entry);
      return absl::OkStatus();
    }
    entry.mod_revision = exec->mod_revision;
  }
  return absl::AbortedError(absl::StrCat("execution ", entry.id, " keeps changing"));
}

void WorkerService::ReleaseKeys(const FinishEntry& entry) {
  // Each delete only if the key is still ours; a re-claim by another worker overwrote them.
  std::vector<store::TxnRequest> txns;
  txns.push_back({.compare = {store::Compare::Value(
                      entry.inflight_key, store::Compare::Result::kEqual, entry.inflight_value)},
                  .success = {store::DeleteRequest::Key(entry.inflight_key)}});
  txns.push_back({.compare = {store::Compare::Lease(entry.running_key,
                                                    store::Compare::Result::kEqual, entry.lease)},
                  .success = {store::DeleteRequest::Key(entry.running_key)}});
  if (!entry.lock_key.empty()) {
    txns.push_back({.compare = {store::Compare::Value(
                        entry.lock_key, store::Compare::Result::kEqual, entry.lock_value)},
                    .success = {store::DeleteRequest::Key(entry.lock_key)}});
  }
  for (const store::TxnRequest& txn : txns) {
    absl::StatusOr<store::TxnResponse> resp = kv_.Txn(txn);
    if (!resp.ok()) {
      EntryLog(entry).Warn("key release failed", {{"error", std::string(resp.status().message())}});
    }
  }
}

void WorkerService::QueueResult(FinishEntry entry, int64_t serial) {
  if (spool_ != nullptr) {
    if (absl::Status st = spool_->Append(entry); !st.ok()) {
      EntryLog(entry).Error("spool write failed; result kept in memory only",
                            {{"error", std::string(st.message())}});
    }
  }
  absl::MutexLock lock(&mu_);
  pending_.push_back({std::move(entry), serial, clock_.Now() + options_.finish_retry_initial,
                      options_.finish_retry_initial});
  ++wake_background_;
}

size_t WorkerService::PendingResults() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

std::optional<absl::Time> WorkerService::NextRetry(const std::string& execution_id) const {
  absl::MutexLock lock(&mu_);
  auto it = runs_.find(execution_id);
  if (it == runs_.end()) return std::nullopt;
  return it->second->next_retry;
}

void WorkerService::FlushPending(bool final_pass) {
  std::vector<Pending> due;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    for (const Pending& p : pending_) {
      if (final_pass || p.next_try <= now) due.push_back(p);
    }
  }
  for (Pending& p : due) {
    absl::Status st = TryFinish(p.entry, p.serial);
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& q) {
      return q.entry.id == p.entry.id && q.serial == p.serial;
    });
    if (it == pending_.end()) continue;
    if (st.ok()) {
      EntryLog(p.entry).Info("spooled result written");
      pending_.erase(it);
      if (spool_ != nullptr) {
        if (absl::Status ds = spool_->MarkDone(p.entry.id); !ds.ok()) {
          log_.Warn("spool update failed", {{"error", std::string(ds.message())}});
        }
      }
    } else {
      it->entry.mod_revision = p.entry.mod_revision;
      it->next_try = clock_.Now() + it->backoff;
      it->backoff = std::min(it->backoff * 2, options_.finish_retry_max);
    }
  }
}

void WorkerService::BackgroundLoop() {
  int64_t seen_wake = -1;
  while (true) {
    std::vector<std::string> kill_keys;
    bool restart_watch = false;
    {
      absl::MutexLock lock(&mu_);
      absl::Time deadline = absl::InfiniteFuture();
      for (const Pending& p : pending_) deadline = std::min(deadline, p.next_try);
      if (watch_failed_) deadline = std::min(deadline, clock_.Now() + absl::Seconds(1));
      clock_.WaitUntil(mu_, deadline, [&] {
        return stopping_ || wake_background_ != seen_wake || !done_threads_.empty() ||
               !kill_keys_to_delete_.empty();
      });
      if (stopping_) return;
      seen_wake = wake_background_;
      kill_keys.swap(kill_keys_to_delete_);
      restart_watch = watch_failed_ && clock_.Now() >= deadline;
    }
    ReapThreads();
    for (const std::string& key : kill_keys) {
      absl::StatusOr<store::DeleteResponse> del = kv_.Delete(store::DeleteRequest::Key(key));
      if (!del.ok()) {
        log_.Warn("kill key not deleted",
                  {{"key", key}, {"error", std::string(del.status().message())}});
      }
    }
    if (restart_watch) {
      kill_watch_.reset();
      absl::Status st = StartKillWatch();
      absl::MutexLock lock(&mu_);
      watch_failed_ = !st.ok();
    }
    FlushPending(/*final_pass=*/false);
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
      KillLocked(it->second, ev.kv.value.empty() ? "kill requested" : ev.kv.value, signal);
      // Deleted by the background thread: no store call from the watch's thread.
      kill_keys_to_delete_.push_back(ev.kv.key);
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

log::ContextLogger WorkerService::EntryLog(const FinishEntry& entry) const {
  // A result outlives its run (spool): its identity comes from the entry and its record.
  model::ExecutionId id;
  std::string trace_id;
  if (auto parsed = model::ExecutionId::Parse(entry.id); parsed.ok()) id = *parsed;
  if (auto rec = model::ParseExecution(entry.record); rec.ok()) trace_id = rec->trace_id;
  return model::RunLogger(log_, id, entry.worker_id, "", trace_id);
}

// ---------------------------------------------------------------------------------------------
// Kill, Stop, Health.

void WorkerService::KillLocked(const RunPtr& run, const std::string& reason, Signals& signal) {
  if (!run->kill_requested) {
    run->kill_requested = true;
    run->kill_reason = reason;
  }
  if (run->handle) signal.emplace_back(run->handle, run->kill_reason);
}

void WorkerService::ReportRunning(size_t running) const {
  if (options_.probe.running) options_.probe.running(running);
}

void WorkerService::Signal(const Signals& signal) {
  // Outside mu_: an executor may take its own locks in Kill().
  for (const auto& [handle, reason] : signal) handle->Kill(reason);
}

bool WorkerService::Kill(const std::string& execution_id, const std::string& reason) {
  Signals signal;
  RunPtr run;
  {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(execution_id);
    if (it == runs_.end()) return false;
    run = it->second;
    KillLocked(run, reason.empty() ? "kill requested" : reason, signal);
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

void WorkerService::ReapThreads() {
  std::vector<std::thread> done;
  {
    absl::MutexLock lock(&mu_);
    done.swap(done_threads_);
  }
  for (std::thread& t : done) {
    if (t.joinable()) t.join();
  }
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
    clock_.WaitUntil(mu_, deadline, [&] { return runs_.empty(); });
    for (auto& [id, run] : runs_) KillLocked(run, "worker shutting down", signal);
  }
  Signal(signal);
  {
    absl::MutexLock lock(&mu_);
    clock_.WaitUntil(mu_, absl::InfiniteFuture(), [&] { return runs_.empty(); });
    stopping_ = true;
  }
  background_.join();
  kill_watch_.reset();
  ReapThreads();
  FlushPending(/*final_pass=*/true);
  absl::MutexLock lock(&mu_);
  if (!pending_.empty()) {
    log_.Warn("results left in the spool for the next start", {{"count", pending_.size()}});
  }
  stopped_ = true;
}

HealthResponse WorkerService::Health() const {
  HealthResponse h;
  absl::MutexLock lock(&mu_);
  h.set_worker_id(options_.worker_id);
  h.set_capacity(options_.capacity);
  h.set_in_flight(static_cast<int32_t>(runs_.size()));
  h.set_highest_term(highest_term_);
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
    req.spec = executor::ShellSpec{
        .command = job.executor.command, .env = job.executor.env, .cwd = job.executor.cwd};
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

executor::ExecResult WorkerService::SyntheticResult(executor::ExecStatus status,
                                                    std::string error) const {
  executor::ExecResult r;
  r.status = status;
  r.error = std::move(error);
  r.started = r.ended = clock_.Now();
  return r;
}

FinishEntry WorkerService::MakeEntry(const RunState& run, const model::Execution& record) const {
  FinishEntry e;
  e.id = run.id.str();
  e.exec_key = keys_.Exec(run.id);
  e.mod_revision = run.mod;
  e.lease = run.lease;
  e.inflight_key = keys_.Inflight(run.id);
  e.inflight_value = InflightValue(run.lease);
  e.running_key = keys_.Running(run.id);
  e.lock_key = run.lock_key;
  e.lock_value = run.lock_key.empty() ? "" : run.id.str();
  e.record = model::SerializeExecution(record);
  e.worker_id = options_.worker_id;
  e.attempt = record.attempt;
  return e;
}

std::string WorkerService::InflightValue(store::LeaseId lease) const {
  return model::DumpJson(model::Json{{"worker_id", options_.worker_id}, {"lease", lease}});
}

std::string WorkerService::RunningValue() const {
  return model::DumpJson(
      model::Json{{"worker_id", options_.worker_id}, {"address", options_.address}});
}

}  // namespace hg::worker
