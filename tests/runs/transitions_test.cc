// The transitions of src/runs on a real SqliteKv: each builder's transaction does what
// docs/design/execution.md says, and its guard refuses what it must (a stale read, a second
// claim, a kill request, a held lock). Pure decisions (DecideClaim, MergeLateResult, Lose) are
// checked with hand-made inputs.
#include "runs/transitions.h"

#include <gtest/gtest.h>

#include <random>

#include "common/clock.h"
#include "store/local/sqlite_kv.h"

namespace hg::runs {
namespace {

using model::ExecutionStatus;

class TransitionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kv = store::SqliteKv::Open(":memory:", clock_);
    ASSERT_TRUE(kv.ok());
    kv_ = *std::move(kv);
    job_.name = *model::JobName::Parse("j");
    job_.cron_expr = "* * * * * *";
    job_.executor.command = "true";
    job_.retry_policy.max_retries = 1;
  }

  store::Revision PutJob() {
    auto put = kv_->Put({.key = keys_.Job(job_.name), .value = model::SerializeJob(job_)});
    EXPECT_TRUE(put.ok());
    return put->revision;
  }
  std::optional<store::KeyValue> Get(const std::string& key) { return *store::Get(*kv_, key); }
  model::Execution Record(const model::ExecutionId& id) {
    return *model::ParseExecution(Get(keys_.Exec(id))->value);
  }
  bool Commit(const store::TxnRequest& txn) {
    auto r = kv_->Txn({.success = {store::Nested(txn)}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && store::NestedResponse(r->responses[0])->succeeded;
  }
  ClaimView View(const model::ExecutionId& id) {
    store::TxnRequest read;
    read.success = ClaimReads(keys_, id);
    auto r = kv_->Txn(read);
    EXPECT_TRUE(r.ok());
    return ParseClaimReads(id, r->responses.data());
  }
  // Fires one instant of the job: a scheduled record and its pending entry.
  model::ExecutionId Fire(store::Revision job_rev) {
    model::Execution e =
        model::NewExecution(job_.name, clock_.Now(), model::Trigger::kSchedule, 1, rng_);
    auto cursor = Get(keys_.Cursor(job_.name));
    EXPECT_TRUE(Commit(FireJob(keys_, job_.name, job_rev, cursor ? cursor->mod_revision : 0,
                               clock_.Now(), {{.record = e}})));
    return e.id;
  }

  FakeClock clock_;
  model::Keys keys_;
  std::mt19937_64 rng_{3};
  std::unique_ptr<store::SqliteKv> kv_;
  model::Job job_;
};

TEST_F(TransitionsTest, FireIsGuardedByTheJobAndTheCursor) {
  const store::Revision rev = PutJob();
  model::ExecutionId id = Fire(rev);
  EXPECT_EQ(Record(id).status, ExecutionStatus::kScheduled);
  auto pending = DecodePending(Get(keys_.Pending(id))->value);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->attempt, 1);
  EXPECT_EQ(pending->job_revision, rev);
  // A fire decided before an edit (stale job revision) writes nothing.
  PutJob();
  model::Execution stale = model::NewExecution(job_.name, clock_.Now() + absl::Seconds(1),
                                               model::Trigger::kSchedule, 1, rng_);
  EXPECT_FALSE(Commit(FireJob(keys_, job_.name, rev, Get(keys_.Cursor(job_.name))->mod_revision,
                              clock_.Now() + absl::Seconds(1), {{.record = stale}})));
  EXPECT_FALSE(Get(keys_.Exec(stale.id)).has_value());
}

TEST_F(TransitionsTest, ClaimIsOnceAndReadsTheJobFromTheStore) {
  model::ExecutionId id = Fire(PutJob());
  ClaimView view = View(id);
  ClaimPlan plan = DecideClaim(view);
  ASSERT_EQ(plan.decision, ClaimDecision::kClaim);
  Claimed claimed = Claim(keys_, id, HintOf(view, plan), "w1", 77);
  auto r = kv_->Txn({.success = {store::Nested(claimed.txn)}});
  ASSERT_TRUE(r.ok());
  const store::TxnResponse* nested = store::NestedResponse(r->responses[0]);
  ASSERT_TRUE(nested->succeeded);
  ClaimedState state = ReadClaimed(nested->responses);
  ASSERT_TRUE(state.pending && state.record && state.job);
  EXPECT_EQ(model::ParseStoredJob(state.job->value)->name, job_.name);
  EXPECT_FALSE(Get(keys_.Pending(id)).has_value());
  auto inflight = DecodeInflight(Get(keys_.Inflight(id))->value);
  EXPECT_EQ(inflight->worker_id, "w1");
  EXPECT_EQ(inflight->lease, 77);
  // The same hint again (a re-sent Run, another worker): refused; the snapshot says claimed.
  EXPECT_FALSE(Commit(Claim(keys_, id, HintOf(view, plan), "w2", 78).txn));
  EXPECT_EQ(DecideClaim(View(id)).decision, ClaimDecision::kAlreadyClaimed);
  EXPECT_EQ(DecideClaim(View(id)).holder, "w1");
}

TEST_F(TransitionsTest, AWrongHintNeverClaims) {
  model::ExecutionId id = Fire(PutJob());
  ClaimView view = View(id);
  ClaimHint hint = HintOf(view, DecideClaim(view));
  ClaimHint wrong_job = hint;
  wrong_job.job_revision += 1;
  EXPECT_FALSE(Commit(Claim(keys_, id, wrong_job, "w1", 1).txn));
  ClaimHint wrong_pending = hint;
  wrong_pending.pending_revision -= 1;
  EXPECT_FALSE(Commit(Claim(keys_, id, wrong_pending, "w1", 1).txn));
  EXPECT_TRUE(Get(keys_.Pending(id)).has_value());
}

TEST_F(TransitionsTest, AKillRequestOrAHeldLockStopsTheClaim) {
  job_.concurrency_policy = model::ConcurrencyPolicy::kForbid;
  model::ExecutionId id = Fire(PutJob());
  ASSERT_TRUE(kv_->Put({.key = keys_.LockPrefix(job_.name) + "abc", .value = "other@1"}).ok());
  ClaimView view = View(id);
  ClaimPlan plan = DecideClaim(view);
  EXPECT_EQ(plan.decision, ClaimDecision::kSkip);
  EXPECT_EQ(plan.holder, "other@1");
  ClaimHint hint = HintOf(view, plan);
  EXPECT_TRUE(hint.forbid);
  EXPECT_FALSE(Commit(Claim(keys_, id, hint, "w1", 1).txn));  // the lock compare holds it off
  ASSERT_TRUE(kv_->Delete(store::DeleteRequest::Prefix(keys_.LockPrefix(job_.name))).ok());
  ASSERT_TRUE(kv_->Put({.key = keys_.Kill(id), .value = "stop"}).ok());
  EXPECT_EQ(DecideClaim(View(id)).decision, ClaimDecision::kKill);
  EXPECT_FALSE(Commit(Claim(keys_, id, HintOf(View(id), DecideClaim(View(id))), "w1", 1).txn));
}

TEST_F(TransitionsTest, AReleasedClaimIsQueuedAgain) {
  model::ExecutionId id = Fire(PutJob());
  ClaimView view = View(id);
  ASSERT_TRUE(Commit(Claim(keys_, id, HintOf(view, DecideClaim(view)), "w1", 9).txn));
  auto inflight = Get(keys_.Inflight(id));
  ASSERT_TRUE(inflight.has_value());
  EXPECT_TRUE(Commit(ReleaseClaim(keys_, *inflight, *DecodeInflight(inflight->value),
                                  *Get(keys_.Exec(id)), id, "")));
  EXPECT_FALSE(Get(keys_.Inflight(id)).has_value());
  EXPECT_EQ(DecodePending(Get(keys_.Pending(id))->value)->attempt, 1);
  EXPECT_EQ(DecideClaim(View(id)).decision, ClaimDecision::kClaim);
  // A stale release (the entry moved on) writes nothing.
  EXPECT_FALSE(Commit(ReleaseClaim(keys_, *inflight, *DecodeInflight(inflight->value),
                                   *Get(keys_.Exec(id)), id, "")));
}

TEST_F(TransitionsTest, FinishFromAStaleRevisionIsRefused) {
  model::ExecutionId id = Fire(PutJob());
  ClaimView view = View(id);
  auto r = kv_->Txn(
      {.success = {store::Nested(Claim(keys_, id, HintOf(view, DecideClaim(view)), "w1", 1).txn)}});
  ASSERT_TRUE(r.ok());
  const store::Revision claim_rev = r->revision;
  const store::Revision record_rev = view.record->mod_revision;
  model::Execution running = Running(Record(id), {.attempt = 1}, "w1", clock_.Now(), "");
  model::Execution done = FinalRecord(
      running,
      {.status = ExecutionStatus::kSuccess, .started = clock_.Now(), .ended = clock_.Now()},
      clock_.Now());
  EXPECT_FALSE(Commit(Finish(keys_, done, record_rev, claim_rev - 1, "")));
  EXPECT_TRUE(Commit(Finish(keys_, done, record_rev, claim_rev, "")));
  EXPECT_EQ(Record(id).status, ExecutionStatus::kSuccess);
  EXPECT_FALSE(Get(keys_.Inflight(id)).has_value());
}

// Before the status index: a status-filtered history page scanned the whole history for a
// rare status. Every record write keeps one entry per final record, under its current status.
TEST_F(TransitionsTest, AFinalRecordHasOneStatusIndexEntryUnderItsCurrentStatus) {
  model::ExecutionId id = Fire(PutJob());
  EXPECT_FALSE(Get(keys_.StatusIndex(id, ExecutionStatus::kScheduled)).has_value());
  ClaimView view = View(id);
  auto r = kv_->Txn(
      {.success = {store::Nested(Claim(keys_, id, HintOf(view, DecideClaim(view)), "w1", 1).txn)}});
  ASSERT_TRUE(r.ok());
  model::Execution running = Running(Record(id), {.attempt = 1}, "w1", clock_.Now(), "");
  model::Execution failed = FinalRecord(
      running, {.status = ExecutionStatus::kFailed, .started = clock_.Now(), .ended = clock_.Now()},
      clock_.Now());
  ASSERT_TRUE(Commit(Finish(keys_, failed, view.record->mod_revision, r->revision, "")));
  EXPECT_TRUE(Get(keys_.StatusIndex(id, ExecutionStatus::kFailed)).has_value());

  // A late result turns the record into a success: the entry moves with it.
  model::Execution merged = failed;
  merged.status = ExecutionStatus::kSuccess;
  ASSERT_TRUE(Commit(RecordLateResult(keys_, merged, ExecutionStatus::kFailed,
                                      Get(keys_.Exec(id))->mod_revision, std::nullopt)));
  EXPECT_FALSE(Get(keys_.StatusIndex(id, ExecutionStatus::kFailed)).has_value());
  EXPECT_TRUE(Get(keys_.StatusIndex(id, ExecutionStatus::kSuccess)).has_value());
}

TEST_F(TransitionsTest, LoseRetriesFailsOrKillsAsTheJobSays) {
  const store::Revision job_rev = PutJob();
  auto lose = [&](const model::Job* job, std::optional<std::string> kill) {
    model::ExecutionId id = Fire(job_rev);
    ClaimView view = View(id);
    EXPECT_TRUE(Commit(Claim(keys_, id, HintOf(view, DecideClaim(view)), "w1", 5).txn));
    Loss loss =
        Lose(keys_, id, *Get(keys_.Inflight(id)), *DecodeInflight(Get(keys_.Inflight(id))->value),
             Get(keys_.Exec(id)), job, job_rev, kill, clock_.Now());
    EXPECT_TRUE(Commit(loss.txn));
    EXPECT_FALSE(Get(keys_.Inflight(id)).has_value());
    return std::make_pair(loss.decision, Record(id));
  };
  auto [retry, retried] = lose(&job_, std::nullopt);
  EXPECT_EQ(retry, LossDecision::kRetry);
  EXPECT_EQ(retried.status, ExecutionStatus::kScheduled);
  EXPECT_EQ(retried.attempt, 2);
  ASSERT_EQ(retried.attempts.size(), 1u);
  EXPECT_EQ(retried.attempts[0].reason, model::EndReason::kWorkerLost);

  model::Job no_retry = job_;
  no_retry.retry_on_worker_loss = false;
  auto [fail, failed] = lose(&no_retry, std::nullopt);
  EXPECT_EQ(fail, LossDecision::kFail);
  EXPECT_EQ(failed.reason, model::EndReason::kWorkerLost);

  auto [kill, killed] = lose(&job_, std::string("asked"));
  EXPECT_EQ(kill, LossDecision::kKilled);
  EXPECT_EQ(killed.status, ExecutionStatus::kKilled);

  auto [gone, deleted] = lose(nullptr, std::nullopt);  // the job was deleted
  EXPECT_EQ(gone, LossDecision::kFail);
  (void)deleted;
}

TEST(MergeLateResultTest, TheRecordShowsEveryAttemptThatRan) {
  std::mt19937_64 rng(1);
  model::Execution current = model::NewExecution(*model::JobName::Parse("j"), absl::UnixEpoch(),
                                                 model::Trigger::kSchedule, 1, rng);
  current.status = ExecutionStatus::kFailed;
  current.reason = model::EndReason::kWorkerLost;
  current.worker_id = "w1";
  model::Execution late = current;
  late.status = ExecutionStatus::kSuccess;
  late.reason = model::EndReason::kNone;
  late.output = "done";
  // The leader's worker_lost guess for this very attempt: replaced by what really happened.
  std::optional<model::Execution> merged = MergeLateResult(current, late);
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->status, ExecutionStatus::kSuccess);
  EXPECT_EQ(merged->output, "done");
  // Retried elsewhere meanwhile: attempt 1's result joins `attempts`; the retry stays on top.
  model::Execution retried = current;
  retried.status = ExecutionStatus::kRunning;
  retried.reason = model::EndReason::kNone;
  retried.attempt = 2;
  retried.worker_id = "w2";
  retried.attempts = {{.attempt = 1,
                       .worker_id = "w1",
                       .status = ExecutionStatus::kFailed,
                       .error = "worker lost",
                       .reason = model::EndReason::kWorkerLost}};
  merged = MergeLateResult(retried, late);
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(merged->attempt, 2);
  EXPECT_EQ(merged->status, ExecutionStatus::kRunning);
  ASSERT_EQ(merged->attempts.size(), 1u);
  EXPECT_EQ(merged->attempts[0].status, ExecutionStatus::kSuccess);
  // Already shown: nothing to write.
  EXPECT_FALSE(MergeLateResult(*merged, late).has_value());
}

}  // namespace
}  // namespace hg::runs
