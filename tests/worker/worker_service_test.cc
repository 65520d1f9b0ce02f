// WorkerService against SqliteKv with a FakeClock and the real ShellExecutor: claim, runs only
// what the store says, capacity, Forbid, Replace, retries, kill, results while the store is down,
// late results, drain, session loss.
#include "worker/worker_service.h"

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "runs/transitions.h"
#include "tests/worker/forbid_race.h"
#include "tests/worker/worker_test_util.h"

namespace hg::worker::testing {
namespace {

using ::hourglass::v1::RunResponse;
using model::ConcurrencyPolicy;
using model::ExecutionStatus;
using ::testing::HasSubstr;

class WorkerServiceTest : public WorkerFixture {};

TEST_F(WorkerServiceTest, ClaimsOnceAndRecordsTheResult) {
  WorkerService& w1 = StartWorker("w1");
  WorkerService& w2 = StartWorker("w2");
  const std::string out = Path("runs");
  const std::string gate = Path("gate");
  model::Job job = ShellJob("once", absl::StrCat("echo run >> ", out, "; while [ ! -e ", gate,
                                                 " ]; do sleep 0.01; done; echo done"));
  model::ExecutionId id = Schedule(job);

  auto first = RunOne(w1, Request(job, id));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->outcome(), RunResponse::STARTED);
  // Claimed: inflight/ exists, pending/ is gone. A quick run goes from `scheduled` straight to
  // its final record; one still going after running_mark_delay shows as `running`.
  EXPECT_TRUE(Exists(keys_.Inflight(id)));
  EXPECT_FALSE(Exists(keys_.Pending(id)));
  EXPECT_EQ(Record(id).status, ExecutionStatus::kScheduled);
  ASSERT_TRUE(WaitFor([&] { return Record(id).status == ExecutionStatus::kRunning; },
                      absl::Seconds(20), [&] { clock_.Advance(absl::Milliseconds(100)); }));
  model::Execution running = Record(id);
  EXPECT_EQ(running.worker_id, "w1");
  EXPECT_EQ(running.trace_id, "0af7651916cd43dd8448eb211c80319c");

  // Re-sent to the same worker and to another one: acknowledged, not run again.
  auto again = RunOne(w1, Request(job, id));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome(), RunResponse::ALREADY_CLAIMED);
  auto elsewhere = RunOne(w2, Request(job, id));
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_EQ(elsewhere->outcome(), RunResponse::ALREADY_CLAIMED);
  EXPECT_THAT(elsewhere->message(), HasSubstr("w1"));

  std::ofstream(gate).put('x');
  model::Execution done = WaitFinal(id);
  EXPECT_EQ(done.status, ExecutionStatus::kSuccess);
  EXPECT_EQ(done.exit_code, 0);
  EXPECT_THAT(done.output, HasSubstr("done"));
  EXPECT_EQ(done.attempt, 1);
  EXPECT_EQ(done.retries_attempted, 0);
  EXPECT_TRUE(done.end_time.has_value());
  EXPECT_FALSE(Exists(keys_.Inflight(id)));

  auto after = RunOne(w2, Request(job, id));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->outcome(), RunResponse::FINISHED);
  ASSERT_TRUE(WaitFor([&] { return w1.Health().in_flight() == 0; }));
  EXPECT_EQ(ReadLines(out).size(), 1u);
}

TEST_F(WorkerServiceTest, RunsOnlyWhatTheStoreSays) {
  WorkerService& w = StartWorker();
  const std::string out = Path("ran");
  model::Job job = ShellJob("stored", absl::StrCat("echo stored >> ", out));
  model::ExecutionId a = Schedule(job);
  // The request carries ids only: whatever its sender thinks the job is, the worker runs the
  // definition in the store.
  EXPECT_EQ(RunOne(w, Request(ShellJob("stored", "echo forged >> /tmp/x"), a))->outcome(),
            RunResponse::STARTED);
  EXPECT_EQ(WaitFinal(a).status, ExecutionStatus::kSuccess);
  EXPECT_EQ(ReadLines(out), std::vector<std::string>{"stored"});
  // A finished execution is never run again, whoever asks.
  EXPECT_EQ(RunOne(w, Request(job, a))->outcome(), RunResponse::FINISHED);
  // An id the store does not know, or a `scheduled` record without a pending entry, runs nothing.
  EXPECT_EQ(
      RunOne(w, Request(job, model::ExecutionId::New(job.name, clock_.Now(), rng_)))->outcome(),
      RunResponse::NOT_QUEUED);
  model::ExecutionId b = Schedule(job);
  ASSERT_TRUE(sqlite_->Delete(store::DeleteRequest::Key(keys_.Pending(b))).ok());
  EXPECT_EQ(RunOne(w, Request(job, b))->outcome(), RunResponse::NOT_QUEUED);
  EXPECT_EQ(Record(b).status, ExecutionStatus::kScheduled);
  EXPECT_EQ(ReadLines(out).size(), 1u);

  auto bad_id = Request(job, b);
  bad_id.mutable_items(0)->set_execution_id("nope");
  EXPECT_EQ(w.Run(bad_id).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(WorkerServiceTest, AKillRequestedBeforeTheClaimEndsTheRunUnstarted) {
  WorkerService& w = StartWorker();
  const std::string out = Path("never");
  model::Job job = ShellJob("prekill", absl::StrCat("echo ran >> ", out));
  model::ExecutionId id = Schedule(job);
  ASSERT_TRUE(sqlite_->Put({.key = keys_.Kill(id), .value = "operator asked"}).ok());
  EXPECT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::KILLED);
  model::Execution rec = Record(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(rec.error, "killed: operator asked (before it started)");
  EXPECT_FALSE(Exists(keys_.Pending(id)));
  EXPECT_FALSE(Exists(keys_.Kill(id)));
  EXPECT_TRUE(ReadLines(out).empty());
}

TEST_F(WorkerServiceTest, AJobDeletedBeforeTheClaimEndsTheRunUnstarted) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("gone", "true");
  model::ExecutionId id = Schedule(job);
  ASSERT_TRUE(sqlite_->Delete(store::DeleteRequest::Key(keys_.Job(job.name))).ok());
  EXPECT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::KILLED);
  model::Execution rec = Record(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(rec.reason, model::EndReason::kJobDeleted);
  EXPECT_FALSE(Exists(keys_.Pending(id)));
}

TEST_F(WorkerServiceTest, RunsAtMostCapacityAndDeclinesBeyondTwiceIt) {
  WorkerOptions o = Options("small");
  o.capacity = 1;
  WorkerService& w = StartWorker(o);
  const std::string out = Path("started");
  model::Job job =
      ShellJob("busy", absl::StrCat("echo $HOURGLASS_EXECUTION_ID >> ", out, "; sleep 30"));
  model::ExecutionId a = Schedule(job);
  model::ExecutionId b = Schedule(job);
  model::ExecutionId c = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, a))->outcome(), RunResponse::STARTED);
  // Claimed while a runs (claims overlap runs), started only when a's slot frees.
  ASSERT_EQ(RunOne(w, Request(job, b))->outcome(), RunResponse::STARTED);
  auto full = RunOne(w, Request(job, c));
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Record(c).status, ExecutionStatus::kScheduled);  // untouched: another worker may
  EXPECT_TRUE(Exists(keys_.Pending(c)));
  EXPECT_EQ(w.Health().in_flight(), 2);
  EXPECT_EQ(w.Health().capacity(), 1);
  ASSERT_TRUE(WaitFor([&] { return ReadLines(out).size() == 1; }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(ReadLines(out), std::vector<std::string>{a.str()});  // b waits for the slot
  EXPECT_TRUE(w.Kill(a.str(), "test over"));
  EXPECT_EQ(WaitFinal(a).status, ExecutionStatus::kKilled);
  ASSERT_TRUE(WaitFor([&] { return ReadLines(out).size() == 2; }));
  EXPECT_EQ(ReadLines(out)[1], b.str());
  EXPECT_EQ(RunOne(w, Request(job, c))->outcome(), RunResponse::STARTED);
  w.Kill(b.str(), "test over");
  w.Kill(c.str(), "test over");
  WaitFinal(b);
  WaitFinal(c);
}

TEST_F(WorkerServiceTest, ForbidSkipsWhileTheLockIsHeld) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("forbid", "sleep 30", ConcurrencyPolicy::kForbid);
  model::ExecutionId a = Schedule(job);
  model::ExecutionId b = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, a))->outcome(), RunResponse::STARTED);

  // The lock key is etcd-mutex shaped: locks/<job>/<lease hex>, value = holder execution id.
  auto locks = sqlite_->Range(store::RangeRequest::Prefix(keys_.LockPrefix(job.name)));
  ASSERT_TRUE(locks.ok());
  ASSERT_EQ(locks->kvs.size(), 1u);
  EXPECT_EQ(locks->kvs[0].value, a.str());
  EXPECT_EQ(locks->kvs[0].key,
            absl::StrCat(keys_.LockPrefix(job.name), absl::Hex(locks->kvs[0].lease)));

  auto second = RunOne(w, Request(job, b));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->outcome(), RunResponse::SKIPPED);
  EXPECT_THAT(second->message(), HasSubstr(a.str()));
  model::Execution skipped = Record(b);
  EXPECT_EQ(skipped.status, ExecutionStatus::kSkipped);
  EXPECT_THAT(skipped.error, HasSubstr(a.str()));
  EXPECT_FALSE(Exists(keys_.Pending(b)));
  EXPECT_EQ(w.Health().in_flight(), 1);

  w.Kill(a.str(), "done");
  WaitFinal(a);
  locks = sqlite_->Range(store::RangeRequest::Prefix(keys_.LockPrefix(job.name)));
  ASSERT_TRUE(locks.ok());
  EXPECT_TRUE(locks->kvs.empty());  // released with the final record
}

TEST_F(WorkerServiceTest, ForbidNeverOverlapsAcrossTwoWorkers) {
  WorkerService& w1 = StartWorker("w1");
  WorkerService& w2 = StartWorker("w2");
  const std::string out = Path("intervals");
  model::Job job = ShellJob("race", RaceCommand(out), ConcurrencyPolicy::kForbid);
  RunForbidRace(
      w1, w2, out,
      {.schedule = [&] { return Schedule(job); },
       .request = [&](const model::ExecutionId& id) { return Request(job, id); },
       .wait_final =
           [&](const model::ExecutionId& id) { return model::IsFinal(WaitFinal(id).status); }});
}

TEST_F(WorkerServiceTest, ReplaceKillsTheOlderLocalRunFirst) {
  WorkerService& w = StartWorker();
  const std::string out = Path("replace");
  model::Job old_job = ShellJob("rep", "sleep 30", ConcurrencyPolicy::kReplace);
  model::Job new_job =
      ShellJob("rep", absl::StrCat("echo new >> ", out), ConcurrencyPolicy::kReplace);
  model::ExecutionId a = Schedule(old_job);
  ASSERT_EQ(RunOne(w, Request(old_job, a))->outcome(), RunResponse::STARTED);
  model::ExecutionId b = Schedule(new_job);
  ASSERT_EQ(RunOne(w, Request(new_job, b))->outcome(), RunResponse::STARTED);

  model::Execution old_rec = WaitFinal(a);
  EXPECT_EQ(old_rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(old_rec.error, absl::StrCat("killed: replaced by execution ", b.str()));
  EXPECT_EQ(WaitFinal(b).status, ExecutionStatus::kSuccess);
  EXPECT_EQ(ReadLines(out).size(), 1u);
}

TEST_F(WorkerServiceTest, ReplaceDecidesByScheduledTimeNotByClaimOrder) {
  // Before: "newer" meant claimed later, so a late-dispatched earlier instant (a catch-up)
  // killed the run of a later instant.
  WorkerService& w = StartWorker();
  const std::string out = Path("order");
  model::Job job =
      ShellJob("order", absl::StrCat("echo $HOURGLASS_EXECUTION_ID >> ", out, "; sleep 30"),
               ConcurrencyPolicy::kReplace);
  model::ExecutionId later = Schedule(job, clock_.Now());
  model::ExecutionId earlier = Schedule(job, clock_.Now() - absl::Seconds(1));
  ASSERT_EQ(RunOne(w, Request(job, later))->outcome(), RunResponse::STARTED);
  ASSERT_TRUE(WaitFor([&] { return ReadLines(out).size() == 1; }));
  ASSERT_EQ(RunOne(w, Request(job, earlier))->outcome(), RunResponse::STARTED);
  model::Execution rec = WaitFinal(earlier);
  EXPECT_EQ(rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(rec.error, absl::StrCat("killed: replaced by execution ", later.str()));
  EXPECT_EQ(ReadLines(out), std::vector<std::string>{later.str()});  // earlier never ran
  EXPECT_FALSE(IsFinal(later));
  w.Kill(later.str(), "test over");
  WaitFinal(later);
}

TEST_F(WorkerServiceTest, ReplaceKillsARunOnAnotherWorkerThroughTheStore) {
  WorkerService& w1 = StartWorker("w1");
  WorkerService& w2 = StartWorker("w2");
  const std::string out = Path("replace2");
  model::Job old_job = ShellJob("rep2", "sleep 30", ConcurrencyPolicy::kReplace);
  model::Job new_job =
      ShellJob("rep2", absl::StrCat("echo new >> ", out), ConcurrencyPolicy::kReplace);
  model::ExecutionId a = Schedule(old_job);
  ASSERT_EQ(RunOne(w1, Request(old_job, a))->outcome(), RunResponse::STARTED);
  model::ExecutionId b = Schedule(new_job);
  ASSERT_EQ(RunOne(w2, Request(new_job, b))->outcome(), RunResponse::STARTED);

  // w2 polls inflight/ on the Clock: move it while waiting. The new run may only start once the
  // old one is recorded final (its Finish deletes inflight/<a> in the same transaction).
  bool old_final_first = true;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (ReadLines(out).empty()) return false;
        old_final_first = IsFinal(a);
        return true;
      },
      absl::Seconds(20), [&] { clock_.Advance(absl::Milliseconds(50)); }));
  EXPECT_TRUE(old_final_first);
  model::Execution old_rec = Record(a);
  EXPECT_EQ(old_rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(old_rec.error, absl::StrCat("killed: replaced by execution ", b.str()));
  EXPECT_EQ(WaitFinal(b).status, ExecutionStatus::kSuccess);
  EXPECT_TRUE(WaitFor([&] { return !Exists(keys_.Kill(a)); }));  // consumed by w1
}

TEST_F(WorkerServiceTest, ARunClaimedAheadOfItsInstantStartsAtTheInstant) {
  WorkerService& w = StartWorker();
  const std::string out = Path("at");
  model::Job job = ShellJob("ahead", absl::StrCat("echo ran >> ", out));
  const absl::Time instant = clock_.Now() + absl::Milliseconds(500);
  model::ExecutionId id = Schedule(job, instant);
  model::ExecutionId killed = Schedule(job, instant);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  ASSERT_EQ(RunOne(w, Request(job, killed))->outcome(), RunResponse::STARTED);
  EXPECT_TRUE(Exists(keys_.Inflight(id)));  // claimed now, ...
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE(ReadLines(out).empty());  // ... not started before its instant
  // A kill while it waits ends it at once, unstarted.
  EXPECT_TRUE(w.Kill(killed.str(), "not wanted"));
  EXPECT_EQ(WaitFinal(killed).status, ExecutionStatus::kKilled);
  EXPECT_TRUE(ReadLines(out).empty());
  clock_.Advance(absl::Milliseconds(500));
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kSuccess);
  EXPECT_EQ(rec.start_time, instant);  // started at the instant, not at the claim
  EXPECT_EQ(ReadLines(out).size(), 1u);
}

TEST_F(WorkerServiceTest, RetriesWithFixedBackoffAndRecordsAttempts) {
  WorkerService& w = StartWorker();
  const std::string out = Path("tries");
  model::Job job = ShellJob("retry", absl::StrCat("echo try >> ", out, "; exit 3"));
  job.retry_policy.max_retries = 2;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Seconds(10));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);

  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_TRUE(WaitFor([&] { return w.NextRetry(id.str()).has_value(); })) << attempt;
    EXPECT_EQ(*w.NextRetry(id.str()), clock_.Now() + absl::Seconds(10));
    EXPECT_EQ(ReadLines(out).size(), static_cast<size_t>(attempt));
    model::Execution rec = Record(id);
    EXPECT_EQ(rec.status, ExecutionStatus::kRunning);
    EXPECT_EQ(rec.attempt, attempt);
    EXPECT_EQ(rec.retries_attempted, attempt - 1);
    clock_.Advance(absl::Seconds(9));
    absl::SleepFor(absl::Milliseconds(100));
    EXPECT_EQ(ReadLines(out).size(), static_cast<size_t>(attempt)) << "retried too early";
    clock_.Advance(absl::Seconds(1));
    ASSERT_TRUE(WaitFor([&] { return ReadLines(out).size() == static_cast<size_t>(attempt + 1); }));
  }
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.exit_code, 3);
  EXPECT_EQ(rec.attempt, 3);
  EXPECT_EQ(rec.retries_attempted, 2);
  EXPECT_EQ(ReadLines(out).size(), 3u);
}

TEST_F(WorkerServiceTest, TheNextAttemptStartsOnlyOnceItIsRecorded) {
  // Before: a failed attempt-update write was ignored and the next attempt ran anyway, so a
  // leader finding the worker lost could retry under the same attempt number (and attempts
  // could exceed max_retries + 1).
  WorkerService& w = StartWorker();
  const std::string out = Path("tries");
  model::Job job = ShellJob("recorded", absl::StrCat("echo try >> ", out, "; exit 1"));
  job.retry_policy.max_retries = 1;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Seconds(10));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  ASSERT_TRUE(WaitFor([&] { return w.NextRetry(id.str()).has_value(); }));
  kv_->SetDown(true);
  clock_.Advance(absl::Seconds(10));  // the retry is due, but its record cannot be written
  absl::SleepFor(absl::Milliseconds(300));
  clock_.Advance(absl::Seconds(1));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ReadLines(out).size(), 1u) << "attempt 2 started before it was recorded";
  kv_->SetDown(false);
  ASSERT_TRUE(WaitFor([&] { return ReadLines(out).size() == 2; }, absl::Seconds(20),
                      [&] { clock_.Advance(absl::Milliseconds(100)); }));
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.attempt, 2);
  ASSERT_EQ(rec.attempts.size(), 1u);
  EXPECT_EQ(rec.attempts[0].attempt, 1);
  EXPECT_EQ(rec.attempts[0].status, ExecutionStatus::kFailed);
  EXPECT_EQ(ReadLines(out).size(), 2u);
}

TEST_F(WorkerServiceTest, ExponentialBackoffDoublesUpToTheCap) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("expo", "exit 1");
  job.retry_policy.max_retries = 4;
  job.retry_policy.kind = model::BackoffKind::kExponential;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Seconds(1));
  job.retry_policy.max_backoff = model::GoDuration::Of(absl::Seconds(3));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  for (absl::Duration expected :
       {absl::Seconds(1), absl::Seconds(2), absl::Seconds(3), absl::Seconds(3)}) {
    ASSERT_TRUE(WaitFor([&] { return w.NextRetry(id.str()).has_value(); }));
    const absl::Time at = *w.NextRetry(id.str());
    EXPECT_EQ(at - clock_.Now(), expected);
    clock_.Advance(expected);
    // The wait ended: no retry pending, or already the next one (a later instant).
    ASSERT_TRUE(WaitFor([&] { return w.NextRetry(id.str()) != at; }));
  }
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.attempt, 5);
  EXPECT_EQ(rec.retries_attempted, 4);
}

TEST_F(WorkerServiceTest, JitteredBackoffStaysWithinTheDelay) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("jitter", "exit 1");
  job.retry_policy.max_retries = 1;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Seconds(100));
  job.retry_policy.jitter = true;
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  ASSERT_TRUE(WaitFor([&] { return w.NextRetry(id.str()).has_value(); }));
  const absl::Duration delay = *w.NextRetry(id.str()) - clock_.Now();
  EXPECT_GE(delay, absl::ZeroDuration());
  EXPECT_LE(delay, absl::Seconds(100));
  clock_.Advance(absl::Seconds(100));
  EXPECT_EQ(WaitFinal(id).attempt, 2);
}

TEST_F(WorkerServiceTest, ForbidGivesUpARetryThatWouldReachTheNextInstant) {
  WorkerService& w = StartWorker();
  // Every minute; scheduled at 00:00:00 (the fake clock's start), so the next instant is 00:01.
  model::Job job = ShellJob("giveup", "exit 2", ConcurrencyPolicy::kForbid);
  job.retry_policy.max_retries = 5;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Seconds(30));
  model::ExecutionId id = Schedule(job, clock_.Now());
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  ASSERT_TRUE(WaitFor([&] { return w.NextRetry(id.str()).has_value(); }));
  clock_.Advance(absl::Seconds(30));  // retry 1 starts at 00:00:30, before 00:01
  // Retry 2 would start at 00:01:00 = the next instant: given up instead.
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.attempt, 2);
  EXPECT_EQ(rec.retries_attempted, 1);
  EXPECT_THAT(rec.error, HasSubstr("next scheduled run (2026-01-01T00:01:00Z)"));
  EXPECT_THAT(rec.error, HasSubstr("Forbid"));
}

TEST_F(WorkerServiceTest, KillKeyKillsTheRunAndIsConsumed) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("killme", "sleep 30");
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  ASSERT_TRUE(sqlite_->Put({.key = keys_.Kill(id), .value = "operator asked"}).ok());
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(rec.error, "killed: operator asked");
  EXPECT_TRUE(WaitFor([&] { return !Exists(keys_.Kill(id)); }));
}

TEST_F(WorkerServiceTest, KillDuringBackoffEndsTheRun) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("killwait", "exit 1");
  job.retry_policy.max_retries = 3;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Hours(1));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  ASSERT_TRUE(WaitFor([&] { return w.NextRetry(id.str()).has_value(); }));
  hourglass::v1::KillRequest kill;
  kill.set_execution_id(id.str());
  kill.set_reason("no more");
  EXPECT_TRUE(w.Kill(kill).found());
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(rec.error, "killed: no more");
  EXPECT_FALSE(w.Kill("nope@1767225600000-00000000", "x"));
}

TEST_F(WorkerServiceTest, FinishWhileTheStoreIsDownIsSpooledThenFlushed) {
  WorkerOptions o = Options("w1");
  o.spool_path = Path("spool.jsonl");
  WorkerService& w = StartWorker(o);
  const std::string gate = Path("gate");
  // The job waits for the test to take the store down before it ends.
  model::Job job =
      ShellJob("spooled", absl::StrCat("while [ ! -e ", gate, " ]; do sleep 0.01; done; echo out"));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  kv_->SetDown(true);
  std::ofstream(gate).put('x');
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 1; }));
  EXPECT_FALSE(IsFinal(id));
  struct stat st {};
  ASSERT_EQ(::stat(o.spool_path.c_str(), &st), 0);
  EXPECT_GT(st.st_size, 0);  // on disk before anything else happens

  clock_.Advance(absl::Seconds(1));  // a retry while still down fails
  ASSERT_TRUE(WaitFor([&] { return kv_->failed_calls() >= 2; }));
  EXPECT_EQ(w.PendingResults(), 1u);
  kv_->SetDown(false);
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 0; }, absl::Seconds(20),
                      [&] { clock_.Advance(absl::Milliseconds(100)); }));
  model::Execution rec = Record(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kSuccess);
  EXPECT_THAT(rec.output, HasSubstr("out"));
  EXPECT_FALSE(Exists(keys_.Inflight(id)));
  ASSERT_EQ(::stat(o.spool_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);  // truncated once nothing is outstanding
}

TEST_F(WorkerServiceTest, ARestartedWorkerFlushesItsSpool) {
  WorkerOptions o = Options("w1");
  o.spool_path = Path("spool.jsonl");
  auto first =
      std::make_unique<WorkerService>(*kv_, clock_, keys_, Executors{.shell = shell_.get()}, o);
  ASSERT_TRUE(first->Start().ok());
  first->AttachSession(NewLease(), nullptr);
  const std::string gate = Path("gate");
  model::Job job =
      ShellJob("restart", absl::StrCat("while [ ! -e ", gate, " ]; do sleep 0.01; done"));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(*first, Request(job, id))->outcome(), RunResponse::STARTED);
  kv_->SetDown(true);
  std::ofstream(gate).put('x');
  ASSERT_TRUE(WaitFor([&] { return first->PendingResults() == 1; }));
  first->Stop();  // the last flush fails too: the result stays in the spool
  first.reset();
  EXPECT_FALSE(IsFinal(id));

  kv_->SetDown(false);
  WorkerService& second = StartWorker(o);
  ASSERT_TRUE(WaitFor([&] { return second.PendingResults() == 0 && IsFinal(id); }));
  EXPECT_EQ(Record(id).status, ExecutionStatus::kSuccess);
  EXPECT_FALSE(Exists(keys_.Inflight(id)));
}

TEST_F(WorkerServiceTest, AClaimWhoseAnswerIsLostIsGivenBackAndRunsLater) {
  // Before: settled as `failed` "not started" — an instant lost although nothing had run and
  // its starting deadline was far away (found by the etcd scenario at 200 jobs/s).
  WorkerService& w = StartWorker();
  const std::string out = Path("ran");
  model::Job job = ShellJob("lost", absl::StrCat("echo ran >> ", out), ConcurrencyPolicy::kForbid);
  model::ExecutionId id = Schedule(job);
  kv_->LoseNextTxnAnswers(1);  // the claim commits, its answer is lost
  auto r = RunOne(w, Request(job, id));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  // The claim committed: given back (at once here, the store answers again), queued again.
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 0 && Exists(keys_.Pending(id)); },
                      absl::Seconds(20), [&] { clock_.Advance(absl::Milliseconds(100)); }));
  EXPECT_EQ(Record(id).status, ExecutionStatus::kScheduled);
  EXPECT_FALSE(Exists(keys_.Inflight(id)));
  auto locks = sqlite_->Range(store::RangeRequest::Prefix(keys_.LockPrefix(job.name)));
  ASSERT_TRUE(locks.ok());
  EXPECT_TRUE(locks->kvs.empty());  // the Forbid lock went with the claim
  EXPECT_TRUE(ReadLines(out).empty());
  // The leader's next try runs it.
  EXPECT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  EXPECT_EQ(WaitFinal(id).status, ExecutionStatus::kSuccess);
  EXPECT_EQ(ReadLines(out).size(), 1u);
}

TEST_F(WorkerServiceTest, AFailedClaimThenARunOfTheSameIdKeepsItsKeys) {
  WorkerService& w = StartWorker();
  const std::string gate = Path("gate");
  model::Job job =
      ShellJob("again", absl::StrCat("while [ ! -e ", gate, " ]; do sleep 0.01; done"));
  model::ExecutionId id = Schedule(job);
  kv_->FailNextTxns(1);  // the claim never reaches the store; its fate looks unknown
  EXPECT_EQ(RunOne(w, Request(job, id)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Record(id).status, ExecutionStatus::kScheduled);
  EXPECT_EQ(w.PendingResults(), 0u);  // settled: the claim did not commit, nothing is due
  // Re-dispatched to the same worker: claimed and running, with the same lease and values.
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  // Settling the first claim must not touch the live run's record or keys.
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 0; }, absl::Seconds(20),
                      [&] { clock_.Advance(absl::Milliseconds(100)); }));
  EXPECT_FALSE(IsFinal(id));
  EXPECT_TRUE(Exists(keys_.Inflight(id)));
  std::ofstream(gate).put('x');
  EXPECT_EQ(WaitFinal(id).status, ExecutionStatus::kSuccess);
}

// What runs::Lose writes when the leader finds this worker's lease expired: the inflight entry
// deleted and the record decided (retried: `scheduled` again with the next attempt; or failed).
model::Execution LeaderDecidesLost(store::Kv& kv, const model::Keys& keys,
                                   const model::ExecutionId& id, const model::Job& job,
                                   absl::Time now) {
  auto inflight = store::Get(kv, keys.Inflight(id));
  auto record = store::Get(kv, keys.Exec(id));
  EXPECT_TRUE(inflight.ok() && inflight->has_value() && record.ok() && record->has_value());
  auto entry = runs::DecodeInflight((*inflight)->value);
  EXPECT_TRUE(entry.ok());
  auto job_kv = store::Get(kv, keys.Job(job.name));
  runs::Loss loss = runs::Lose(keys, id, **inflight, *entry, *record, &job, (*job_kv)->mod_revision,
                               std::nullopt, now);
  auto resp = kv.Txn(loss.txn);
  EXPECT_TRUE(resp.ok() && resp->succeeded);
  return loss.record;
}

TEST_F(WorkerServiceTest, ALateResultIsRecordedOnItsOwnAttemptAfterTheLeaderMovedOn) {
  WorkerService& w = StartWorker();
  const std::string gate = Path("gate");
  model::Job job = ShellJob(
      "late", absl::StrCat("while [ ! -e ", gate, " ]; do sleep 0.01; done; echo really ran"),
      ConcurrencyPolicy::kForbid);
  job.retry_on_worker_loss = false;
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  // The leader found the worker lost (its lease looked expired) and ended the record.
  model::Execution lost = LeaderDecidesLost(*sqlite_, keys_, id, job, clock_.Now());
  ASSERT_EQ(lost.reason, model::EndReason::kWorkerLost);
  std::ofstream(gate).put('x');
  ASSERT_TRUE(WaitFor([&] { return w.Health().in_flight() == 0; }));
  // The run really happened: its real result replaces the leader's guess.
  model::Execution rec = Record(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kSuccess);
  EXPECT_THAT(rec.output, HasSubstr("really ran"));
  EXPECT_EQ(rec.reason, model::EndReason::kNone);
  EXPECT_FALSE(Exists(keys_.Inflight(id)));
  auto locks = sqlite_->Range(store::RangeRequest::Prefix(keys_.LockPrefix(job.name)));
  ASSERT_TRUE(locks.ok());
  EXPECT_TRUE(locks->kvs.empty());
  EXPECT_EQ(w.PendingResults(), 0u);
}

TEST_F(WorkerServiceTest, ALateResultOfARetriedAttemptIsKeptBesideTheRetry) {
  WorkerService& w1 = StartWorker("w1");
  WorkerService& w2 = StartWorker("w2");
  const std::string gate = Path("gate");
  model::Job job = ShellJob(
      "late2",
      absl::StrCat("while [ ! -e ", gate, " ]; do sleep 0.01; done; echo $HOURGLASS_ATTEMPT"));
  job.retry_policy.max_retries = 1;
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w1, Request(job, id))->outcome(), RunResponse::STARTED);
  // Lost on w1: retried as attempt 2, which w2 claims and runs.
  model::Execution retried = LeaderDecidesLost(*sqlite_, keys_, id, job, clock_.Now());
  ASSERT_EQ(retried.status, ExecutionStatus::kScheduled);
  ASSERT_EQ(retried.attempt, 2);
  ASSERT_EQ(RunOne(w2, Request(job, id))->outcome(), RunResponse::STARTED);
  std::ofstream(gate).put('x');  // both end
  ASSERT_TRUE(
      WaitFor([&] { return w1.Health().in_flight() == 0 && w2.Health().in_flight() == 0; }));
  ASSERT_TRUE(WaitFor([&] {
    model::Execution r = Record(id);
    return model::IsFinal(r.status) && r.attempts.size() == 1 &&
           r.attempts[0].status == ExecutionStatus::kSuccess;
  })) << model::SerializeExecution(Record(id));
  model::Execution rec = Record(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kSuccess);  // attempt 2, on w2
  EXPECT_EQ(rec.attempt, 2);
  EXPECT_EQ(rec.worker_id, "w2");
  ASSERT_EQ(rec.attempts.size(), 1u);  // attempt 1 on w1 really ran too: recorded as it ended
  EXPECT_EQ(rec.attempts[0].attempt, 1);
  EXPECT_EQ(rec.attempts[0].worker_id, "w1");
  EXPECT_EQ(rec.attempts[0].status, ExecutionStatus::kSuccess);
  EXPECT_FALSE(Exists(keys_.Inflight(id)));
}

TEST_F(WorkerServiceTest, StopDrainsThenKills) {
  WorkerOptions o = Options("w1");
  o.shutdown_grace = absl::Seconds(30);
  auto w =
      std::make_unique<WorkerService>(*kv_, clock_, keys_, Executors{.shell = shell_.get()}, o);
  ASSERT_TRUE(w->Start().ok());
  w->AttachSession(NewLease(), nullptr);
  const std::string gate = Path("gate");
  model::Job quick =
      ShellJob("quick", absl::StrCat("while [ ! -e ", gate, " ]; do sleep 0.01; done"));
  model::Job slow = ShellJob("slow", "sleep 60");
  model::ExecutionId a = Schedule(quick);
  model::ExecutionId b = Schedule(slow);
  ASSERT_EQ(RunOne(*w, Request(quick, a))->outcome(), RunResponse::STARTED);
  ASSERT_EQ(RunOne(*w, Request(slow, b))->outcome(), RunResponse::STARTED);

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    w->Stop();
    stopped = true;
  });
  ASSERT_TRUE(WaitFor([&] { return w->Health().draining(); }));
  model::ExecutionId c = Schedule(quick);
  EXPECT_EQ(RunOne(*w, Request(quick, c)).status().code(), absl::StatusCode::kUnavailable);
  std::ofstream(gate).put('x');  // the quick one finishes within the grace
  EXPECT_EQ(WaitFinal(a).status, ExecutionStatus::kSuccess);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(stopped);  // still waiting for the slow one
  EXPECT_FALSE(IsFinal(b));
  clock_.Advance(absl::Seconds(30));  // grace over: killed
  stopper.join();
  model::Execution rec = Record(b);
  EXPECT_EQ(rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(rec.error, "killed: worker shutting down");
  EXPECT_EQ(Record(c).status, ExecutionStatus::kScheduled);
}

TEST_F(WorkerServiceTest, SessionLossKillsEveryRunAndRecordsIt) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("lease", "sleep 60");
  model::ExecutionId a = Schedule(job);
  model::ExecutionId b = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, a))->outcome(), RunResponse::STARTED);
  ASSERT_EQ(RunOne(w, Request(job, b))->outcome(), RunResponse::STARTED);
  kv_->SetDown(true);  // typically the store is unreachable when the session is lost
  w.SessionLost("keepalive overdue");
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 2; }));
  model::ExecutionId c = Schedule(job);
  EXPECT_EQ(RunOne(w, Request(job, c)).status().code(), absl::StatusCode::kUnavailable);
  kv_->SetDown(false);
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 0; }, absl::Seconds(20),
                      [&] { clock_.Advance(absl::Milliseconds(100)); }));
  for (const auto& id : {a, b}) {
    model::Execution rec = Record(id);
    EXPECT_EQ(rec.status, ExecutionStatus::kKilled) << id.str();
    EXPECT_EQ(rec.error, "killed: session lost");
  }
  // A new session: runs are taken again.
  w.AttachSession(NewLease(), [] { return true; });
  auto again = RunOne(w, Request(job, c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome(), RunResponse::STARTED);
  w.Kill(c.str(), "done");
  WaitFinal(c);
}

TEST_F(WorkerServiceTest, SessionLossKillsAtOnceEvenAJobThatTrapsSigterm) {
  // Before: SIGTERM, then `kill_grace` before SIGKILL; the lease margin (TTL/5) is shorter, so a
  // job ignoring SIGTERM outlived the lease and the leader re-ran it elsewhere meanwhile.
  WorkerOptions o = Options("w1");
  o.kill_grace = absl::Seconds(30);
  WorkerService& w = StartWorker(o);
  const std::string pid_file = Path("pid");
  model::Job job = ShellJob("stubborn", absl::StrCat("trap '' TERM; echo $$ > ", pid_file,
                                                     "; while true; do sleep 0.05; done"));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  ASSERT_TRUE(WaitFor([&] { return ReadLines(pid_file).size() == 1; }));
  const pid_t pid = std::stoi(ReadLines(pid_file)[0]);
  const absl::Time t0 = absl::Now();
  w.SessionLost("keepalive overdue");
  model::Execution rec = WaitFinal(id);
  EXPECT_LT(absl::Now() - t0, absl::Seconds(2));  // not the 30 s grace
  EXPECT_EQ(rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(rec.reason, model::EndReason::kSessionLost);
  EXPECT_NE(::kill(pid, 0), 0);  // the process is gone
}

TEST_F(WorkerServiceTest, ASessionThatCannotBeProvenAliveRefusesRuns) {
  WorkerService& w = StartWorker();
  std::atomic<bool> alive{false};
  w.AttachSession(NewLease(), [&] { return alive.load(); });
  model::Job job = ShellJob("unproven", "true");
  model::ExecutionId id = Schedule(job);
  EXPECT_EQ(RunOne(w, Request(job, id)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Record(id).status, ExecutionStatus::kScheduled);
  alive = true;
  EXPECT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  WaitFinal(id);
}

TEST_F(WorkerServiceTest, DisabledExecutorFailsTheRunWithTheReason) {
  WorkerService& w = StartWorker();
  model::Job job;
  job.name = *model::JobName::Parse("web");
  job.cron_expr = "* * * * *";
  job.executor_type = model::ExecutorType::kHttp;
  job.executor.url = "http://127.0.0.1:1/";
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.error, "http executor disabled on worker w1");
}

}  // namespace
}  // namespace hg::worker::testing
