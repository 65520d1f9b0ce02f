#include "runs/transitions.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "model/json.h"

namespace hg::runs {
namespace {

using model::Execution;
using model::ExecutionStatus;
using store::Compare;

Compare ModIs(const std::string& key, store::Revision rev) {
  return Compare::ModRevision(key, Compare::Result::kEqual, rev);
}
Compare Absent(const std::string& key) { return Compare::Version(key, Compare::Result::kEqual, 0); }
store::PutRequest Put(std::string key, std::string value, store::LeaseId lease = 0) {
  return store::PutRequest{.key = std::move(key), .value = std::move(value), .lease = lease};
}

std::optional<store::KeyValue> FirstOf(const store::TxnOpResponse* r) {
  if (r == nullptr) return std::nullopt;
  const auto* range = std::get_if<store::RangeResponse>(r);
  if (range == nullptr || range->kvs.empty()) return std::nullopt;
  return range->kvs.front();
}
std::optional<store::KeyValue> At(const std::vector<store::TxnOpResponse>& responses, size_t i) {
  return i < responses.size() ? FirstOf(&responses[i]) : std::nullopt;
}

// The latest attempt of `record` as an AttemptSummary.
model::AttemptSummary Summarize(const Execution& record) {
  return model::AttemptSummary{.attempt = record.attempt,
                               .worker_id = record.worker_id,
                               .status = record.status,
                               .start_time = record.start_time,
                               .end_time = record.end_time,
                               .exit_code = record.exit_code,
                               .http_status = record.http_status,
                               .error = record.error,
                               .reason = record.reason};
}

void ApplyResult(Execution& record, const AttemptResult& result, absl::Time now) {
  record.status = result.status;
  record.end_time = result.ended > absl::InfinitePast() ? result.ended : now;
  if (record.start_time && *record.end_time < *record.start_time) {
    record.end_time = record.start_time;
  }
  record.exit_code = result.exit_code;
  record.http_status = result.http_status;
  record.output = result.output;
  record.error = result.error;
  record.reason = result.reason;
  record.duration_ms.reset();
  if (record.start_time) {
    record.duration_ms = absl::ToInt64Milliseconds(*record.end_time - *record.start_time);
  }
}

}  // namespace

void PutRecordTo(std::vector<store::TxnOp>& ops, const model::Keys& keys, const Execution& record,
                 std::optional<ExecutionStatus> previous) {
  ops.emplace_back(std::in_place_type<store::PutRequest>,
                   Put(keys.Exec(record.id), model::SerializeExecution(record)));
  if (model::IsFinal(record.status)) {
    ops.emplace_back(std::in_place_type<store::PutRequest>,
                     Put(keys.StatusIndex(record.id, record.status), ""));
  }
  if (previous && model::IsFinal(*previous) && *previous != record.status) {
    ops.emplace_back(std::in_place_type<store::DeleteRequest>,
                     store::DeleteRequest::Key(keys.StatusIndex(record.id, *previous)));
  }
}

// ---------------------------------------------------------------------------------------------
// Fire and trigger.

store::TxnRequest FireJob(const model::Keys& keys, const model::JobName& job,
                          store::Revision job_revision, store::Revision cursor_revision,
                          absl::Time cursor, const std::vector<FireRecord>& records) {
  const std::string job_key = keys.Job(job);
  const std::string cursor_key = keys.Cursor(job);
  store::TxnRequest txn;
  txn.compare = {ModIs(job_key, job_revision), ModIs(cursor_key, cursor_revision)};
  txn.success.push_back(Put(cursor_key, EncodeCursor(cursor)));
  for (const FireRecord& f : records) {
    PutRecordTo(txn.success, keys, f.record);
    if (f.record.status == ExecutionStatus::kScheduled) {
      txn.success.push_back(
          Put(keys.Pending(f.record.id), EncodePending({.attempt = f.record.attempt,
                                                        .job_revision = job_revision,
                                                        .traceparent = f.traceparent})));
    }
  }
  txn.failure = {store::RangeRequest::Key(job_key), store::RangeRequest::Key(cursor_key)};
  return txn;
}

FireConflict ReadFireConflict(const std::vector<store::TxnOpResponse>& responses) {
  return FireConflict{.job = At(responses, 0), .cursor = At(responses, 1)};
}

store::TxnRequest Trigger(const model::Keys& keys, const Execution& record,
                          store::Revision job_revision, std::string_view traceparent) {
  store::TxnRequest txn;
  txn.compare = {ModIs(keys.Job(record.id.job()), job_revision)};
  PutRecordTo(txn.success, keys, record);
  txn.success.push_back(
      Put(keys.Pending(record.id), EncodePending({.attempt = record.attempt,
                                                  .job_revision = job_revision,
                                                  .traceparent = std::string(traceparent)})));
  return txn;
}

store::PutRequest PutCursor(const model::Keys& keys, const model::JobName& job, absl::Time at) {
  return Put(keys.Cursor(job), EncodeCursor(at));
}

// ---------------------------------------------------------------------------------------------
// Claim.

std::vector<store::TxnOp> ClaimReads(const model::Keys& keys, const model::ExecutionId& id) {
  store::RangeRequest holder = store::RangeRequest::Prefix(keys.LockPrefix(id.job()));
  holder.sort_order = store::SortOrder::kAscend;
  holder.sort_target = store::SortTarget::kCreateRevision;
  holder.limit = 1;
  return {store::RangeRequest::Key(keys.Exec(id)),      store::RangeRequest::Key(keys.Pending(id)),
          store::RangeRequest::Key(keys.Inflight(id)),  store::RangeRequest::Key(keys.Kill(id)),
          store::RangeRequest::Key(keys.Job(id.job())), std::move(holder)};
}

ClaimView ParseClaimReads(const model::ExecutionId& id, const store::TxnOpResponse* r) {
  return ClaimView{.id = id,
                   .record = FirstOf(&r[0]),
                   .pending = FirstOf(&r[1]),
                   .inflight = FirstOf(&r[2]),
                   .kill = FirstOf(&r[3]),
                   .job = FirstOf(&r[4]),
                   .lock_holder = FirstOf(&r[5])};
}

std::string_view ToString(ClaimDecision decision) {
  switch (decision) {
    case ClaimDecision::kClaim:
      return "claim";
    case ClaimDecision::kSkip:
      return "skip";
    case ClaimDecision::kKill:
      return "kill";
    case ClaimDecision::kJobGone:
      return "job_gone";
    case ClaimDecision::kAlreadyClaimed:
      return "already_claimed";
    case ClaimDecision::kFinished:
      return "finished";
    case ClaimDecision::kNotQueued:
      return "not_queued";
    case ClaimDecision::kUnreadable:
      return "unreadable";
  }
  return "unreadable";
}

ClaimPlan DecideClaim(const ClaimView& view) {
  ClaimPlan plan;
  if (!view.record) {
    plan.decision = ClaimDecision::kNotQueued;  // nothing the store says to run
    return plan;
  }
  auto record = model::ParseExecution(view.record->value);
  if (!record.ok()) {
    plan.problem = absl::StrCat("execution record: ", record.status().message());
    return plan;
  }
  plan.record = *std::move(record);
  if (model::IsFinal(plan.record.status)) {
    plan.decision = ClaimDecision::kFinished;
    return plan;
  }
  if (plan.record.status == ExecutionStatus::kRunning || view.inflight) {
    plan.decision = ClaimDecision::kAlreadyClaimed;
    plan.holder = plan.record.worker_id;
    if (view.inflight) {
      if (auto in = DecodeInflight(view.inflight->value); in.ok()) plan.holder = in->worker_id;
    }
    return plan;
  }
  if (!view.pending) {
    plan.decision = ClaimDecision::kNotQueued;
    return plan;
  }
  auto pending = DecodePending(view.pending->value);
  if (!pending.ok()) {
    plan.problem = absl::StrCat("pending entry: ", pending.status().message());
    return plan;
  }
  plan.pending = *std::move(pending);
  if (view.kill) {
    plan.decision = ClaimDecision::kKill;
    plan.kill_reason = view.kill->value.empty() ? "kill requested" : view.kill->value;
    return plan;
  }
  if (!view.job) {
    plan.decision = ClaimDecision::kJobGone;
    return plan;
  }
  auto job = model::ParseStoredJob(view.job->value);
  if (!job.ok()) {
    plan.problem = absl::StrCat("job: ", job.status().message());
    return plan;
  }
  plan.job = *std::move(job);
  if (plan.job.concurrency_policy == model::ConcurrencyPolicy::kForbid && view.lock_holder) {
    plan.decision = ClaimDecision::kSkip;
    plan.holder = view.lock_holder->value.empty() ? view.lock_holder->key : view.lock_holder->value;
    return plan;
  }
  plan.decision = ClaimDecision::kClaim;
  return plan;
}

ClaimHint HintOf(const ClaimView& view, const ClaimPlan& plan) {
  return ClaimHint{.pending_revision = view.pending ? view.pending->mod_revision : 0,
                   .job_revision = view.job ? view.job->mod_revision : 0,
                   .attempt = plan.pending.attempt,
                   .forbid = plan.job.concurrency_policy == model::ConcurrencyPolicy::kForbid};
}

Claimed Claim(const model::Keys& keys, const model::ExecutionId& id, const ClaimHint& hint,
              std::string_view worker_id, store::LeaseId lease) {
  Claimed out;
  out.inflight =
      InflightEntry{.worker_id = std::string(worker_id), .lease = lease, .attempt = hint.attempt};
  store::TxnRequest& txn = out.txn;
  txn.compare = {ModIs(keys.Pending(id), hint.pending_revision),
                 ModIs(keys.Job(id.job()), hint.job_revision), Absent(keys.Kill(id))};
  // Ranges first: they read the state before this branch's writes (the pending entry too).
  txn.success = {
      store::RangeRequest::Key(keys.Pending(id)), store::RangeRequest::Key(keys.Exec(id)),
      store::RangeRequest::Key(keys.Job(id.job())), store::DeleteRequest::Key(keys.Pending(id)),
      Put(keys.Inflight(id), EncodeInflight(out.inflight))};
  if (hint.forbid) {
    // No key under locks/<job>/ at all (an empty range compares as create revision 0).
    const std::string prefix = keys.LockPrefix(id.job());
    Compare none = Compare::CreateRevision(prefix, Compare::Result::kEqual, 0);
    none.range_end = store::PrefixEnd(prefix);
    txn.compare.push_back(std::move(none));
    out.lock_key = LockKey(keys, id.job(), lease);
    txn.success.push_back(Put(out.lock_key, id.str(), lease));
  }
  return out;
}

ClaimedState ReadClaimed(const std::vector<store::TxnOpResponse>& responses) {
  return ClaimedState{
      .pending = At(responses, 0), .record = At(responses, 1), .job = At(responses, 2)};
}

Execution Running(const Execution& scheduled, const PendingEntry& pending,
                  std::string_view worker_id, absl::Time started, std::string_view trace_id) {
  Execution rec = scheduled;
  rec.status = ExecutionStatus::kRunning;
  rec.worker_id = std::string(worker_id);
  rec.start_time = started;
  rec.end_time.reset();
  rec.duration_ms.reset();
  rec.error.clear();
  rec.output.clear();
  rec.exit_code.reset();
  rec.http_status.reset();
  rec.reason = model::EndReason::kNone;
  rec.attempt = pending.attempt;
  rec.retries_attempted = pending.attempt - 1;
  if (!trace_id.empty()) rec.trace_id = std::string(trace_id);
  return rec;
}

store::TxnRequest MarkRunning(const model::Keys& keys, const Execution& running,
                              store::Revision record_revision, store::Revision inflight_revision) {
  store::TxnRequest txn;
  txn.compare = {ModIs(keys.Exec(running.id), record_revision),
                 ModIs(keys.Inflight(running.id), inflight_revision)};
  PutRecordTo(txn.success, keys, running);
  return txn;
}

Ended EndBeforeStart(const model::Keys& keys, const store::KeyValue& record_kv,
                     const Execution& record, const store::KeyValue& pending_kv,
                     ExecutionStatus status, model::EndReason reason, std::string error,
                     absl::Time now, std::string_view worker_id, bool delete_kill_request) {
  Ended out;
  out.record = record;
  out.record.status = status;
  out.record.reason = reason;
  out.record.end_time = now;
  out.record.error = std::move(error);
  if (!worker_id.empty()) out.record.worker_id = std::string(worker_id);
  out.txn.compare = {ModIs(record_kv.key, record_kv.mod_revision),
                     ModIs(pending_kv.key, pending_kv.mod_revision)};
  PutRecordTo(out.txn.success, keys, out.record);
  out.txn.success.push_back(store::DeleteRequest::Key(pending_kv.key));
  if (delete_kill_request)
    out.txn.success.push_back(store::DeleteRequest::Key(keys.Kill(record.id)));
  return out;
}

store::TxnRequest ReleaseClaim(const model::Keys& keys, const store::KeyValue& inflight_kv,
                               const InflightEntry& inflight, const store::KeyValue& record_kv,
                               const model::ExecutionId& id, const std::string& lock_key) {
  store::TxnRequest txn;
  txn.compare = {ModIs(inflight_kv.key, inflight_kv.mod_revision),
                 ModIs(record_kv.key, record_kv.mod_revision)};
  txn.success = {store::DeleteRequest::Key(inflight_kv.key),
                 Put(keys.Pending(id), EncodePending({.attempt = inflight.attempt}))};
  if (!lock_key.empty()) txn.success.push_back(store::DeleteRequest::Key(lock_key));
  return txn;
}

Ended EndOrphan(const model::Keys& keys, const store::KeyValue& record_kv, const Execution& record,
                ExecutionStatus status, std::string error, absl::Time now) {
  Ended out;
  out.record = record;
  out.record.status = status;
  out.record.end_time = now;
  out.record.error = std::move(error);
  out.txn.compare = {ModIs(record_kv.key, record_kv.mod_revision), Absent(keys.Pending(record.id)),
                     Absent(keys.Inflight(record.id))};
  PutRecordTo(out.txn.success, keys, out.record);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Attempts and finish.

NextAttempt StartNextAttempt(const model::Keys& keys, const Execution& running,
                             store::Revision record_revision, const InflightEntry& inflight,
                             store::Revision inflight_revision, const AttemptResult& previous) {
  NextAttempt out;
  Execution done = running;
  ApplyResult(done, previous, previous.ended);
  out.record = running;
  out.record.attempts.push_back(Summarize(done));
  out.record.attempt = running.attempt + 1;
  out.record.retries_attempted = running.attempt;
  out.record.error =
      absl::StrCat("attempt ", running.attempt, " ", Av(model::ToString(done.status)),
                   done.error.empty() ? "" : ": ", done.error, "; retrying");
  out.inflight = inflight;
  out.inflight.attempt = out.record.attempt;
  const model::ExecutionId& id = running.id;
  out.txn.compare = {ModIs(keys.Exec(id), record_revision),
                     ModIs(keys.Inflight(id), inflight_revision)};
  PutRecordTo(out.txn.success, keys, out.record);
  out.txn.success.push_back(Put(keys.Inflight(id), EncodeInflight(out.inflight)));
  out.txn.failure = {store::RangeRequest::Key(keys.Exec(id)),
                     store::RangeRequest::Key(keys.Inflight(id))};
  return out;
}

Execution FinalRecord(const Execution& running, const AttemptResult& last, absl::Time now) {
  Execution rec = running;
  ApplyResult(rec, last, now);
  return rec;
}

store::TxnRequest Finish(const model::Keys& keys, const Execution& final_record,
                         store::Revision record_revision, store::Revision inflight_revision,
                         const std::string& lock_key) {
  const model::ExecutionId& id = final_record.id;
  store::TxnRequest txn;
  txn.compare = {ModIs(keys.Exec(id), record_revision),
                 ModIs(keys.Inflight(id), inflight_revision)};
  // A kill request is consumed with the record it ended (or outlived).
  PutRecordTo(txn.success, keys, final_record);
  txn.success.push_back(store::DeleteRequest::Key(keys.Inflight(id)));
  txn.success.push_back(store::DeleteRequest::Key(keys.Kill(id)));
  if (!lock_key.empty()) txn.success.push_back(store::DeleteRequest::Key(lock_key));
  txn.failure = {store::RangeRequest::Key(keys.Exec(id)),
                 store::RangeRequest::Key(keys.Inflight(id))};
  return txn;
}

FinishConflict ReadFinishConflict(const std::vector<store::TxnOpResponse>& responses) {
  return FinishConflict{.record = At(responses, 0), .inflight = At(responses, 1)};
}

std::optional<Execution> MergeLateResult(const Execution& current, const Execution& late) {
  if (current.attempt == late.attempt && current.reason == model::EndReason::kWorkerLost &&
      current.worker_id == late.worker_id) {
    // The leader's guess for exactly this attempt: the real outcome replaces it.
    Execution merged = late;
    merged.attempts = current.attempts;
    return merged;
  }
  if (current.attempt == late.attempt && current.worker_id == late.worker_id &&
      model::IsFinal(current.status)) {
    return std::nullopt;  // already written (our own write whose answer was lost)
  }
  for (const model::AttemptSummary& a : current.attempts) {
    if (a.attempt == late.attempt && a.worker_id == late.worker_id &&
        a.reason != model::EndReason::kWorkerLost) {
      return std::nullopt;
    }
  }
  Execution merged = current;
  model::AttemptSummary summary = Summarize(late);
  bool replaced = false;
  for (model::AttemptSummary& a : merged.attempts) {
    if (a.attempt == late.attempt && a.worker_id == late.worker_id) {
      a = summary;  // "worker lost" becomes what really happened
      replaced = true;
    }
  }
  if (!replaced) {
    merged.attempts.push_back(std::move(summary));
    std::sort(merged.attempts.begin(), merged.attempts.end(),
              [](const auto& a, const auto& b) { return a.attempt < b.attempt; });
  }
  return merged;
}

store::TxnRequest RecordLateResult(const model::Keys& keys, const Execution& merged,
                                   ExecutionStatus current_status, store::Revision record_revision,
                                   const std::optional<store::KeyValue>& own_inflight) {
  store::TxnRequest txn;
  txn.compare = {ModIs(keys.Exec(merged.id), record_revision)};
  PutRecordTo(txn.success, keys, merged, current_status);
  if (own_inflight) {
    txn.compare.push_back(ModIs(own_inflight->key, own_inflight->mod_revision));
    txn.success.push_back(store::DeleteRequest::Key(own_inflight->key));
  }
  return txn;
}

store::TxnRequest ReleaseLock(const std::string& lock_key, const model::ExecutionId& holder) {
  store::TxnRequest txn;
  txn.compare = {Compare::Value(lock_key, Compare::Result::kEqual, holder.str())};
  txn.success = {store::DeleteRequest::Key(lock_key)};
  return txn;
}

// ---------------------------------------------------------------------------------------------
// Loss.

std::string_view ToString(LossDecision decision) {
  switch (decision) {
    case LossDecision::kRetry:
      return "retried";
    case LossDecision::kFail:
      return "failed";
    case LossDecision::kKilled:
      return "killed";
    case LossDecision::kGone:
      return "released";
  }
  return "released";
}

Loss Lose(const model::Keys& keys, const model::ExecutionId& id, const store::KeyValue& inflight_kv,
          const InflightEntry& inflight, const std::optional<store::KeyValue>& record_kv,
          const model::Job* job, store::Revision job_revision,
          const std::optional<std::string>& kill_reason, absl::Time now) {
  Loss out;
  store::TxnRequest& txn = out.txn;
  txn.compare = {ModIs(inflight_kv.key, inflight_kv.mod_revision)};
  txn.success = {store::DeleteRequest::Key(inflight_kv.key)};
  std::optional<Execution> record;
  if (record_kv) {
    txn.compare.push_back(ModIs(record_kv->key, record_kv->mod_revision));
    if (auto parsed = model::ParseExecution(record_kv->value); parsed.ok()) record = *parsed;
  }
  if (!record || model::IsFinal(record->status)) {
    out.decision = LossDecision::kGone;
    if (record) out.record = *record;
    return out;
  }
  Execution& rec = *record;
  model::AttemptSummary lost = Summarize(rec);
  lost.attempt = inflight.attempt;
  lost.worker_id = inflight.worker_id;
  lost.status = ExecutionStatus::kFailed;
  lost.end_time = now;
  lost.error = "worker lost";
  lost.reason = model::EndReason::kWorkerLost;
  if (kill_reason) {
    out.decision = LossDecision::kKilled;
    rec.status = ExecutionStatus::kKilled;
    rec.end_time = now;
    rec.error = absl::StrCat("killed: ", *kill_reason, " (its worker was lost)");
    txn.success.push_back(store::DeleteRequest::Key(keys.Kill(id)));
  } else if (job != nullptr && job->retry_on_worker_loss &&
             inflight.attempt <= job->retry_policy.max_retries) {
    out.decision = LossDecision::kRetry;
    rec.attempts.push_back(lost);
    rec.status = ExecutionStatus::kScheduled;
    rec.attempt = inflight.attempt + 1;
    rec.retries_attempted = inflight.attempt;
    rec.error = absl::StrCat("attempt ", inflight.attempt, " lost with worker ", inflight.worker_id,
                             "; retrying on another worker");
    rec.worker_id.clear();
    rec.start_time.reset();
    rec.end_time.reset();
    rec.duration_ms.reset();
    txn.success.push_back(Put(
        keys.Pending(id), EncodePending({.attempt = rec.attempt, .job_revision = job_revision})));
  } else {
    out.decision = LossDecision::kFail;
    rec.status = ExecutionStatus::kFailed;
    rec.attempt = inflight.attempt;
    rec.worker_id = inflight.worker_id;
    rec.end_time = now;
    rec.error = "worker lost";
    rec.reason = model::EndReason::kWorkerLost;
  }
  PutRecordTo(txn.success, keys, rec);
  out.record = std::move(rec);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kill requests.

store::TxnRequest RequestKill(const model::Keys& keys, const model::ExecutionId& id,
                              const store::KeyValue& inflight_kv, std::string_view reason,
                              store::LeaseId lease) {
  store::TxnRequest txn;
  txn.compare = {ModIs(inflight_kv.key, inflight_kv.mod_revision)};
  txn.success = {Put(keys.Kill(id), std::string(reason), lease)};
  return txn;
}

}  // namespace hg::runs
