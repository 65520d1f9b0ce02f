#include "worker/claimer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace hg::worker {
namespace {

// Errors after which a sent write may or may not have been applied.
bool FateUnknown(const absl::Status& st) {
  return absl::IsDeadlineExceeded(st) || absl::IsUnavailable(st) || absl::IsUnknown(st) ||
         absl::IsCancelled(st);
}

}  // namespace

Claimer::Claimer(store::Kv& kv, const Clock& clock, const model::Keys& keys,
                 runs::GroupCommit& commits, std::string worker_id)
    : kv_(kv), clock_(clock), keys_(keys), commits_(commits), worker_id_(std::move(worker_id)) {}

absl::StatusOr<std::vector<runs::ClaimView>> Claimer::Read(
    const std::vector<model::ExecutionId>& ids) {
  // etcd's default --max-txn-ops (128) bounds the reads of one transaction.
  constexpr size_t kPerTxn = 128 / runs::kClaimReads;
  std::vector<runs::ClaimView> views;
  views.reserve(ids.size());
  for (size_t begin = 0; begin < ids.size(); begin += kPerTxn) {
    const size_t end = std::min(ids.size(), begin + kPerTxn);
    store::TxnRequest read;
    for (size_t i = begin; i < end; ++i) {
      for (store::TxnOp& op : runs::ClaimReads(keys_, ids[i]))
        read.success.push_back(std::move(op));
    }
    absl::StatusOr<store::TxnResponse> resp = kv_.Txn(read);
    if (!resp.ok()) return resp.status();
    if (resp->responses.size() != (end - begin) * runs::kClaimReads) {
      return absl::InternalError("store answered a read with the wrong number of responses");
    }
    for (size_t i = begin; i < end; ++i) {
      views.push_back(
          runs::ParseClaimReads(ids[i], &resp->responses[(i - begin) * runs::kClaimReads]));
    }
  }
  return views;
}

void Claimer::Started(const Request& request, const runs::GroupCommit::Result& committed,
                      Result& r) {
  r.outcome = Outcome::kStarted;
  r.revision = committed.revision;
  r.message = absl::StrCat("execution ", request.id.str(), " started on worker ", worker_id_);
  runs::ClaimedState state = runs::ReadClaimed(committed.responses);
  absl::StatusOr<runs::PendingEntry> pending =
      state.pending ? runs::DecodePending(state.pending->value)
                    : absl::InternalError("no pending entry read back");
  absl::StatusOr<model::Execution> record = state.record
                                                ? model::ParseExecution(state.record->value)
                                                : absl::InternalError("no record read back");
  absl::StatusOr<model::Job> job =
      state.job ? model::ParseStoredJob(state.job->value) : absl::InternalError("no job read back");
  if (!pending.ok() || !record.ok() || !job.ok()) {
    // Claimed, but not runnable as stored: the run ends `failed` saying why.
    const absl::Status& bad =
        !pending.ok() ? pending.status() : (!record.ok() ? record.status() : job.status());
    r.problem = absl::StrCat("not started: unreadable ",
                             !pending.ok() ? "pending entry" : (!record.ok() ? "record" : "job"),
                             ": ", bad.message());
    model::Execution fallback;
    fallback.id = request.id;
    fallback.scheduled_time = request.id.scheduled();
    r.running =
        runs::Running(record.ok() ? *record : fallback, {.attempt = r.claimed.inflight.attempt},
                      worker_id_, clock_.Now(), request.trace_id);
    r.record_revision = state.record ? state.record->mod_revision : 0;
    if (job.ok()) r.job = *std::move(job);
    return;
  }
  if (pending->attempt != r.claimed.inflight.attempt) {
    log_.Error("claim hint named the wrong attempt; the pending entry's wins",
               {{"execution_id", request.id.str()},
                {"hinted", r.claimed.inflight.attempt},
                {"stored", pending->attempt}});
  }
  r.running = runs::Running(*record, *pending, worker_id_, clock_.Now(), request.trace_id);
  r.record_revision = state.record->mod_revision;
  r.job = *std::move(job);
}

std::vector<Claimer::Result> Claimer::ClaimAll(const std::vector<Request>& requests,
                                               store::LeaseId lease) {
  std::vector<Result> results(requests.size());
  enum class Kind { kClaim, kSkip, kKill };
  // Commits `changes` and settles their results; the ones whose compare failed are returned.
  auto commit = [&](std::vector<store::TxnRequest> changes,
                    const std::vector<std::pair<size_t, Kind>>& change_of) {
    std::vector<runs::GroupCommit::Result> committed = commits_.CommitAll(std::move(changes));
    std::vector<size_t> again;
    for (size_t j = 0; j < committed.size(); ++j) {
      const auto [i, kind] = change_of[j];
      Result& r = results[i];
      const runs::GroupCommit::Result& c = committed[j];
      if (!c.status.ok()) {
        r.status = c.status;
        r.claim_fate_unknown = kind == Kind::kClaim && FateUnknown(c.status);
        r.message = absl::StrCat("store unreachable: ", c.status.message());
        continue;
      }
      if (!c.succeeded) {
        again.push_back(i);  // changed since the hint or the read: decide from what is there
        continue;
      }
      switch (kind) {
        case Kind::kClaim:
          Started(requests[i], c, r);
          break;
        case Kind::kSkip:
          r.outcome = Outcome::kSkipped;
          break;
        case Kind::kKill:
          r.outcome = Outcome::kKilled;
          break;
      }
    }
    std::sort(again.begin(), again.end());
    return again;
  };

  // The fast path: claims with the leader's hint, no read first.
  std::vector<size_t> todo;
  {
    std::vector<store::TxnRequest> changes;
    std::vector<std::pair<size_t, Kind>> change_of;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (!requests[i].hint) {
        todo.push_back(i);
        continue;
      }
      results[i].claimed = runs::Claim(keys_, requests[i].id, *requests[i].hint, worker_id_, lease);
      changes.push_back(results[i].claimed.txn);
      change_of.emplace_back(i, Kind::kClaim);
    }
    std::vector<size_t> again = commit(std::move(changes), change_of);
    todo.insert(todo.end(), again.begin(), again.end());
    std::sort(todo.begin(), todo.end());
  }

  // Read, decide, claim or end; again while things change under us.
  for (int round = 0; round < 5 && !todo.empty(); ++round) {
    std::vector<model::ExecutionId> ids;
    for (size_t i : todo) ids.push_back(requests[i].id);
    absl::StatusOr<std::vector<runs::ClaimView>> views = Read(ids);
    if (!views.ok()) {
      for (size_t i : todo) {
        results[i].status = views.status();
        results[i].message = absl::StrCat("store unreachable: ", views.status().message());
      }
      return results;
    }
    const absl::Time now = clock_.Now();
    std::vector<store::TxnRequest> changes;
    std::vector<std::pair<size_t, Kind>> change_of;
    for (size_t k = 0; k < todo.size(); ++k) {
      const size_t i = todo[k];
      const runs::ClaimView& view = (*views)[k];
      runs::ClaimPlan plan = runs::DecideClaim(view);
      Result& r = results[i];
      const std::string& id = requests[i].id.str();
      switch (plan.decision) {
        case runs::ClaimDecision::kClaim: {
          r.claimed =
              runs::Claim(keys_, requests[i].id, runs::HintOf(view, plan), worker_id_, lease);
          changes.push_back(r.claimed.txn);
          change_of.emplace_back(i, Kind::kClaim);
          break;
        }
        case runs::ClaimDecision::kSkip: {
          r.message = absl::StrCat("Forbid: job ", requests[i].id.job().str(),
                                   " is still running as execution ", plan.holder);
          runs::Ended ended =
              runs::EndBeforeStart(keys_, *view.record, plan.record, *view.pending,
                                   model::ExecutionStatus::kSkipped, model::EndReason::kNone,
                                   absl::StrCat("skipped: Forbid policy and execution ",
                                                plan.holder, " of this job is still running"),
                                   now, worker_id_);
          changes.push_back(std::move(ended.txn));
          change_of.emplace_back(i, Kind::kSkip);
          break;
        }
        case runs::ClaimDecision::kKill:
        case runs::ClaimDecision::kJobGone: {
          const bool gone = plan.decision == runs::ClaimDecision::kJobGone;
          r.message = gone ? "its job was deleted before it started"
                           : absl::StrCat("killed before it started: ", plan.kill_reason);
          runs::Ended ended = runs::EndBeforeStart(
              keys_, *view.record, plan.record, *view.pending, model::ExecutionStatus::kKilled,
              gone ? model::EndReason::kJobDeleted : model::EndReason::kNone,
              gone ? std::string("killed: its job was deleted before it started")
                   : absl::StrCat("killed: ", plan.kill_reason, " (before it started)"),
              now, worker_id_, /*delete_kill_request=*/!gone);
          changes.push_back(std::move(ended.txn));
          change_of.emplace_back(i, Kind::kKill);
          break;
        }
        case runs::ClaimDecision::kAlreadyClaimed:
          r.outcome = Outcome::kAlreadyClaimed;
          r.message = absl::StrCat("execution ", id, " already claimed",
                                   plan.holder.empty() ? "" : " by worker ", plan.holder);
          break;
        case runs::ClaimDecision::kFinished:
          r.outcome = Outcome::kFinished;
          r.message =
              absl::StrCat("execution ", id, " already ", Av(model::ToString(plan.record.status)));
          break;
        case runs::ClaimDecision::kNotQueued:
          r.outcome = Outcome::kNotQueued;
          r.message = absl::StrCat("execution ", id, " is not queued");
          break;
        case runs::ClaimDecision::kUnreadable:
          r.status = absl::InternalError(absl::StrCat("execution ", id, ": ", plan.problem));
          r.message = std::string(r.status.message());
          log_.Error("cannot claim: unreadable state",
                     {{"execution_id", id}, {"problem", plan.problem}});
          break;
      }
    }
    todo = commit(std::move(changes), change_of);
  }
  for (size_t i : todo) {
    results[i].status = absl::AbortedError(
        absl::StrCat("execution ", requests[i].id.str(), " kept changing while claiming it"));
    results[i].message = std::string(results[i].status.message());
  }
  return results;
}

}  // namespace hg::worker
