#include "worker/result_writer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model/execution.h"
#include "model/run_log.h"
#include "runs/entries.h"
#include "runs/transitions.h"

namespace hg::worker {
namespace {

// The inflight entry is this run's: same worker, same session lease, same attempt.
bool Ours(const std::optional<store::KeyValue>& inflight, const FinishEntry& entry) {
  if (!inflight) return false;
  auto e = runs::DecodeInflight(inflight->value);
  return e.ok() && e->worker_id == entry.worker_id && e->lease == entry.lease &&
         e->attempt == entry.attempt;
}

// The store's earlier attempts win over this run's copy (a late result of an earlier attempt
// may have been merged meanwhile) when this run's final record is written over it.
void KeepAttempts(model::Execution& final, const model::Execution& current) {
  for (const model::AttemptSummary& a : current.attempts) {
    if (a.attempt == final.attempt) continue;
    auto same = std::find_if(final.attempts.begin(), final.attempts.end(), [&](const auto& b) {
      return b.attempt == a.attempt && b.worker_id == a.worker_id;
    });
    if (same != final.attempts.end()) {
      *same = a;
    } else {
      final.attempts.push_back(a);
    }
  }
  std::sort(final.attempts.begin(), final.attempts.end(),
            [](const auto& a, const auto& b) { return a.attempt < b.attempt; });
}

}  // namespace

ResultWriter::ResultWriter(store::Kv& kv, const Clock& clock, const model::Keys& keys,
                           runs::GroupCommit& commits, Options options)
    : kv_(kv), clock_(clock), keys_(keys), commits_(commits), options_(std::move(options)) {}

ResultWriter::~ResultWriter() { Stop(); }

absl::Status ResultWriter::Start() {
  auto spool = ResultSpool::Open(options_.spool_path);
  if (!spool.ok()) return spool.status();
  spool_ = *std::move(spool);
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    for (const FinishEntry& e : spool_->loaded()) {
      queue_.push_back({e, now, options_.retry_initial});
    }
  }
  if (!spool_->loaded().empty()) {
    log_.Info("flushing spooled results", {{"count", spool_->loaded().size()}});
  }
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void ResultWriter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  FlushDue(/*all=*/true);
  absl::MutexLock lock(&mu_);
  if (!queue_.empty()) {
    log_.Warn("results left in the spool for the next start", {{"count", queue_.size()}});
  }
}

size_t ResultWriter::Pending() const {
  absl::MutexLock lock(&mu_);
  return queue_.size() + settling_;
}

absl::Status ResultWriter::Write(FinishEntry entry) {
  absl::Status st = Settle(entry);
  if (!st.ok()) Queue(std::move(entry));
  return st;
}

void ResultWriter::Queue(FinishEntry entry) {
  if (spool_ != nullptr) {
    if (absl::Status st = spool_->Append(entry); !st.ok()) {
      log_.Error("spool write failed; result kept in memory only",
                 {{"execution_id", entry.id}, {"error", std::string(st.message())}});
    }
  }
  absl::MutexLock lock(&mu_);
  queue_.push_back(
      {std::move(entry), clock_.Now() + options_.retry_initial, options_.retry_initial});
  ++wake_;
}

absl::Status ResultWriter::Settle(FinishEntry& entry) {
  auto final_or = model::ParseExecution(entry.record);
  if (!final_or.ok()) {
    log_.Error("unreadable result dropped",
               {{"execution_id", entry.id}, {"error", std::string(final_or.status().message())}});
    return absl::OkStatus();
  }
  model::Execution final = *std::move(final_or);
  const log::ContextLogger run_log =
      model::RunLogger(log_, final.id, entry.worker_id, "", final.trace_id);
  for (int tries = 0; tries < 5; ++tries) {
    std::optional<store::KeyValue> record_kv, inflight_kv;
    if (entry.record_revision != 0) {
      runs::GroupCommit::Result r = commits_.Commit(runs::Finish(
          keys_, final, entry.record_revision, entry.inflight_revision, entry.lock_key));
      if (!r.answered())
        return r.status.ok() ? absl::AbortedError("finish not answered") : r.status;
      if (r.succeeded) return absl::OkStatus();
      runs::FinishConflict c = runs::ReadFinishConflict(r.responses);
      record_kv = std::move(c.record);
      inflight_kv = std::move(c.inflight);
    } else {
      // Revisions unknown (a claim whose answer was lost): look.
      store::TxnRequest read;
      read.success = {store::RangeRequest::Key(keys_.Exec(final.id)),
                      store::RangeRequest::Key(keys_.Inflight(final.id))};
      auto resp = kv_.Txn(read);
      if (!resp.ok()) return resp.status();
      runs::FinishConflict c = runs::ReadFinishConflict(resp->responses);
      record_kv = std::move(c.record);
      inflight_kv = std::move(c.inflight);
    }
    std::optional<model::Execution> current;
    if (record_kv) {
      if (auto parsed = model::ParseExecution(record_kv->value); parsed.ok()) current = *parsed;
    }
    if (Ours(inflight_kv, entry) && current) {
      if (entry.claim_unknown) {
        // The claim did commit, but nothing was started: give it back for another dispatch
        // (it may still start within its starting deadline) instead of failing an instant
        // that never ran.
        auto inflight = runs::DecodeInflight(inflight_kv->value);
        runs::GroupCommit::Result r = commits_.Commit(runs::ReleaseClaim(
            keys_, *inflight_kv, *inflight, *record_kv, final.id, entry.lock_key));
        if (!r.answered())
          return r.status.ok() ? absl::AbortedError("release not answered") : r.status;
        if (r.succeeded) {
          run_log.Warn("released a claim whose answer was lost; it will be dispatched again");
          return absl::OkStatus();
        }
        continue;  // changed meanwhile: look again
      }
      // Still this run's: our own earlier write whose answer was lost, or a late result of an
      // earlier attempt merged into the record meanwhile. Write again over what is there.
      KeepAttempts(final, *current);
      entry.record = model::SerializeExecution(final);
      entry.record_revision = record_kv->mod_revision;
      entry.inflight_revision = inflight_kv->mod_revision;
      continue;
    }
    if (entry.claim_unknown) return absl::OkStatus();  // the claim did not commit: nothing ran
    // Not ours any more: the leader moved on. The run's Forbid lock (under our lease, which the
    // leader believes expired) is released if it is still held in this run's name.
    if (!entry.lock_key.empty()) {
      runs::GroupCommit::Result r = commits_.Commit(runs::ReleaseLock(entry.lock_key, final.id));
      if (!r.answered())
        return r.status.ok() ? absl::AbortedError("lock release not answered") : r.status;
      entry.lock_key.clear();
    }
    if (!current) {
      run_log.Warn("result not recorded: the execution record is gone");
      return absl::OkStatus();
    }
    std::optional<model::Execution> merged = runs::MergeLateResult(*current, final);
    if (!merged) return absl::OkStatus();  // the record already shows this attempt
    runs::GroupCommit::Result r = commits_.Commit(runs::RecordLateResult(
        keys_, *merged, current->status, record_kv->mod_revision, std::nullopt));
    if (!r.answered())
      return r.status.ok() ? absl::AbortedError("late result not answered") : r.status;
    if (r.succeeded) {
      run_log.Warn("late result recorded on its own attempt",
                   {{"attempt", final.attempt},
                    {"status", std::string(model::ToString(final.status))},
                    {"record_status", std::string(model::ToString(merged->status))}});
      return absl::OkStatus();
    }
    entry.record_revision = 0;  // changed again meanwhile: look again
  }
  return absl::AbortedError(absl::StrCat("execution ", entry.id, " keeps changing"));
}

void ResultWriter::FlushDue(bool all) {
  std::vector<Queued> due;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (all || it->next_try <= now) {
        due.push_back(std::move(*it));
        it = queue_.erase(it);
        ++settling_;
      } else {
        ++it;
      }
    }
  }
  for (Queued& q : due) {
    absl::Status st = Settle(q.entry);
    if (st.ok()) {
      {
        absl::MutexLock lock(&mu_);
        --settling_;
      }
      log_.Info("spooled result written", {{"execution_id", q.entry.id}});
      if (spool_ != nullptr) {
        if (absl::Status ds = spool_->MarkDone(q.entry.id); !ds.ok()) {
          log_.Warn("spool update failed", {{"error", std::string(ds.message())}});
        }
      }
      continue;
    }
    absl::MutexLock lock(&mu_);
    --settling_;
    q.next_try = clock_.Now() + q.backoff;
    q.backoff = std::min(q.backoff * 2, options_.retry_max);
    queue_.push_back(std::move(q));
  }
}

void ResultWriter::Loop() {
  int64_t seen = -1;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      absl::Time deadline = absl::InfiniteFuture();
      for (const Queued& q : queue_) deadline = std::min(deadline, q.next_try);
      clock_.WaitUntil(mu_, deadline,
                       [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || wake_ != seen; });
      if (stopping_) return;
      seen = wake_;
    }
    FlushDue(/*all=*/false);
  }
}

}  // namespace hg::worker
