// WorkerService against SqliteKv with a FakeClock and the real ShellExecutor: claim, fencing,
// capacity, Forbid, Replace, retries, kill, results while the store is down, drain, session loss.
#include "worker/worker_service.h"

#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "tests/worker/forbid_race.h"
#include "tests/worker/worker_test_util.h"

namespace hg::worker::testing {
namespace {

using ::hourglass::v1::RunResponse;
using ::testing::HasSubstr;
using model::ConcurrencyPolicy;
using model::ExecutionStatus;

class WorkerServiceTest : public WorkerFixture {};

TEST_F(WorkerServiceTest, ClaimsOnceAndRecordsTheResult) {
  WorkerService& w1 = StartWorker("w1");
  WorkerService& w2 = StartWorker("w2");
  const std::string out = Path("runs");
  model::Job job = ShellJob("once", absl::StrCat("echo run >> ", out, "; sleep 0.3; echo done"));
  model::ExecutionId id = Schedule(job);

  auto first = w1.Run(Request(job, id));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->outcome(), RunResponse::STARTED);
  // While it runs: running/, inflight/ exist, pending/ is gone, the record names the worker.
  model::Execution running = Record(id);
  EXPECT_EQ(running.status, ExecutionStatus::kRunning);
  EXPECT_EQ(running.worker_id, "w1");
  EXPECT_EQ(running.trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_TRUE(Exists(keys_.Running(id)));
  EXPECT_TRUE(Exists(keys_.Inflight(id)));
  EXPECT_FALSE(Exists(keys_.Pending(id)));

  // Re-sent to the same worker and to another one: acknowledged, not run again.
  auto again = w1.Run(Request(job, id));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome(), RunResponse::ALREADY_CLAIMED);
  auto elsewhere = w2.Run(Request(job, id));
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_EQ(elsewhere->outcome(), RunResponse::ALREADY_CLAIMED);
  EXPECT_THAT(elsewhere->message(), HasSubstr("w1"));

  model::Execution done = WaitFinal(id);
  EXPECT_EQ(done.status, ExecutionStatus::kSuccess);
  EXPECT_EQ(done.exit_code, 0);
  EXPECT_THAT(done.output, HasSubstr("done"));
  EXPECT_EQ(done.attempt, 1);
  EXPECT_EQ(done.retries_attempted, 0);
  EXPECT_TRUE(done.end_time.has_value());
  EXPECT_FALSE(Exists(keys_.Running(id)));
  EXPECT_FALSE(Exists(keys_.Inflight(id)));

  auto after = w2.Run(Request(job, id));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->outcome(), RunResponse::FINISHED);
  ASSERT_TRUE(WaitFor([&] { return w1.Health().in_flight() == 0; }));
  EXPECT_EQ(ReadLines(out).size(), 1u);
}

TEST_F(WorkerServiceTest, RejectsStaleTermsAndBadRequests) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("fenced", "true");
  model::ExecutionId a = Schedule(job);
  ASSERT_TRUE(w.Run(Request(job, a, /*term=*/5)).ok());
  model::ExecutionId b = Schedule(job);
  auto stale = w.Run(Request(job, b, /*term=*/4));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stale.status().message(), "stale leader term 4 (highest seen 5)");
  EXPECT_EQ(Record(b).status, ExecutionStatus::kScheduled);
  EXPECT_EQ(w.Health().highest_term(), 5);

  auto bad_id = Request(job, b, 5);
  bad_id.set_execution_id("nope");
  EXPECT_EQ(w.Run(bad_id).status().code(), absl::StatusCode::kInvalidArgument);
  auto bad_job = Request(job, b, 5);
  bad_job.set_job_json("{\"name\": 3");
  auto st = w.Run(bad_job).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("job_json"));
  auto other_job = Request(ShellJob("other", "true"), b, 5);
  st = w.Run(other_job).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("does not match"));
  EXPECT_EQ(w.Run(Request(job, model::ExecutionId::New(job.name, clock_.Now(), rng_), 5))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  WaitFinal(a);
}

TEST_F(WorkerServiceTest, RefusesRunsBeyondCapacity) {
  WorkerOptions o = Options("small");
  o.capacity = 1;
  WorkerService& w = StartWorker(o);
  model::Job job = ShellJob("busy", "sleep 30");
  model::ExecutionId a = Schedule(job);
  model::ExecutionId b = Schedule(job);
  ASSERT_EQ(w.Run(Request(job, a))->outcome(), RunResponse::STARTED);
  auto full = w.Run(Request(job, b));
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Record(b).status, ExecutionStatus::kScheduled);  // untouched: another worker may
  EXPECT_EQ(w.Health().in_flight(), 1);
  EXPECT_EQ(w.Health().capacity(), 1);
  EXPECT_TRUE(w.Kill(a.str(), "test over"));
  EXPECT_EQ(WaitFinal(a).status, ExecutionStatus::kKilled);
  ASSERT_TRUE(WaitFor([&] { return w.Health().in_flight() == 0; }));
  EXPECT_EQ(w.Run(Request(job, b))->outcome(), RunResponse::STARTED);
  w.Kill(b.str(), "test over");
  WaitFinal(b);
}

TEST_F(WorkerServiceTest, ForbidSkipsWhileTheLockIsHeld) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("forbid", "sleep 30", ConcurrencyPolicy::kForbid);
  model::ExecutionId a = Schedule(job);
  model::ExecutionId b = Schedule(job);
  ASSERT_EQ(w.Run(Request(job, a))->outcome(), RunResponse::STARTED);

  // The lock key is etcd-mutex shaped: locks/<job>/<lease hex>, value = holder execution id.
  auto locks = sqlite_->Range(store::RangeRequest::Prefix(keys_.LockPrefix(job.name)));
  ASSERT_TRUE(locks.ok());
  ASSERT_EQ(locks->kvs.size(), 1u);
  EXPECT_EQ(locks->kvs[0].value, a.str());
  EXPECT_EQ(locks->kvs[0].key,
            absl::StrCat(keys_.LockPrefix(job.name), absl::Hex(locks->kvs[0].lease)));

  auto second = w.Run(Request(job, b));
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
  RunForbidRace(w1, w2, out,
                {.schedule = [&] { return Schedule(job); },
                 .request = [&](const model::ExecutionId& id) { return Request(job, id); },
                 .wait_final =
                     [&](const model::ExecutionId& id) {
                       return model::IsFinal(WaitFinal(id).status);
                     }});
}

TEST_F(WorkerServiceTest, ReplaceKillsTheOlderLocalRunFirst) {
  WorkerService& w = StartWorker();
  const std::string out = Path("replace");
  model::Job old_job = ShellJob("rep", "sleep 30", ConcurrencyPolicy::kReplace);
  model::Job new_job = ShellJob("rep", absl::StrCat("echo new >> ", out), ConcurrencyPolicy::kReplace);
  model::ExecutionId a = Schedule(old_job);
  ASSERT_EQ(w.Run(Request(old_job, a))->outcome(), RunResponse::STARTED);
  model::ExecutionId b = Schedule(new_job);
  ASSERT_EQ(w.Run(Request(new_job, b))->outcome(), RunResponse::STARTED);

  model::Execution old_rec = WaitFinal(a);
  EXPECT_EQ(old_rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(old_rec.error, absl::StrCat("killed: replaced by execution ", b.str()));
  EXPECT_EQ(WaitFinal(b).status, ExecutionStatus::kSuccess);
  EXPECT_EQ(ReadLines(out).size(), 1u);
}

TEST_F(WorkerServiceTest, ReplaceKillsARunOnAnotherWorkerThroughTheStore) {
  WorkerService& w1 = StartWorker("w1");
  WorkerService& w2 = StartWorker("w2");
  const std::string out = Path("replace2");
  model::Job old_job = ShellJob("rep2", "sleep 30", ConcurrencyPolicy::kReplace);
  model::Job new_job =
      ShellJob("rep2", absl::StrCat("echo new >> ", out), ConcurrencyPolicy::kReplace);
  model::ExecutionId a = Schedule(old_job);
  ASSERT_EQ(w1.Run(Request(old_job, a))->outcome(), RunResponse::STARTED);
  model::ExecutionId b = Schedule(new_job);
  ASSERT_EQ(w2.Run(Request(new_job, b))->outcome(), RunResponse::STARTED);

  // w2 polls running/ on the Clock: move it while waiting. The new run may only start once the
  // old one is recorded final (its Finish deletes running/<a> in the same transaction).
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

TEST_F(WorkerServiceTest, RetriesWithFixedBackoffAndRecordsAttempts) {
  WorkerService& w = StartWorker();
  const std::string out = Path("tries");
  model::Job job = ShellJob("retry", absl::StrCat("echo try >> ", out, "; exit 3"));
  job.retry_policy.max_retries = 2;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Seconds(10));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);

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

TEST_F(WorkerServiceTest, ExponentialBackoffDoublesUpToTheCap) {
  WorkerService& w = StartWorker();
  model::Job job = ShellJob("expo", "exit 1");
  job.retry_policy.max_retries = 4;
  job.retry_policy.kind = model::BackoffKind::kExponential;
  job.retry_policy.backoff = model::GoDuration::Of(absl::Seconds(1));
  job.retry_policy.max_backoff = model::GoDuration::Of(absl::Seconds(3));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
  for (absl::Duration expected : {absl::Seconds(1), absl::Seconds(2), absl::Seconds(3),
                                  absl::Seconds(3)}) {
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
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
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
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
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
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
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
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
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
  model::Job job = ShellJob("spooled", absl::StrCat("while [ ! -e ", gate,
                                                    " ]; do sleep 0.01; done; echo out"));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
  kv_->SetDown(true);
  std::ofstream(gate).put('x');
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 1; }));
  EXPECT_EQ(Record(id).status, ExecutionStatus::kRunning);
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
  EXPECT_FALSE(Exists(keys_.Running(id)));
  EXPECT_FALSE(Exists(keys_.Inflight(id)));
  ASSERT_EQ(::stat(o.spool_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);  // truncated once nothing is outstanding
}

TEST_F(WorkerServiceTest, ARestartedWorkerFlushesItsSpool) {
  WorkerOptions o = Options("w1");
  o.spool_path = Path("spool.jsonl");
  auto first = std::make_unique<WorkerService>(*kv_, clock_, keys_,
                                               Executors{.shell = shell_.get()}, o);
  ASSERT_TRUE(first->Start().ok());
  first->AttachSession(NewLease(), nullptr);
  const std::string gate = Path("gate");
  model::Job job = ShellJob("restart", absl::StrCat("while [ ! -e ", gate,
                                                    " ]; do sleep 0.01; done"));
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(first->Run(Request(job, id))->outcome(), RunResponse::STARTED);
  kv_->SetDown(true);
  std::ofstream(gate).put('x');
  ASSERT_TRUE(WaitFor([&] { return first->PendingResults() == 1; }));
  first->Stop();  // the last flush fails too: the result stays in the spool
  first.reset();
  EXPECT_EQ(Record(id).status, ExecutionStatus::kRunning);

  kv_->SetDown(false);
  WorkerService& second = StartWorker(o);
  ASSERT_TRUE(WaitFor([&] { return second.PendingResults() == 0 && IsFinal(id); }));
  EXPECT_EQ(Record(id).status, ExecutionStatus::kSuccess);
  EXPECT_FALSE(Exists(keys_.Inflight(id)));
}

TEST_F(WorkerServiceTest, AClaimWhoseAnswerIsLostIsSettledNotLeftRunning) {
  WorkerService& w = StartWorker();
  const std::string out = Path("never");
  model::Job job = ShellJob("lost", absl::StrCat("echo ran >> ", out));
  model::ExecutionId id = Schedule(job);
  kv_->LoseNextTxnAnswers(1);  // the claim commits, its answer is lost
  auto r = w.Run(Request(job, id));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Record(id).status, ExecutionStatus::kRunning);  // committed
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 0 && IsFinal(id); }, absl::Seconds(20),
                      [&] { clock_.Advance(absl::Milliseconds(100)); }));
  model::Execution rec = Record(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kFailed);
  EXPECT_THAT(rec.error, HasSubstr("not started"));
  EXPECT_FALSE(Exists(keys_.Running(id)));
  EXPECT_FALSE(Exists(keys_.Inflight(id)));
  EXPECT_TRUE(ReadLines(out).empty());
}

TEST_F(WorkerServiceTest, AFailedClaimThenARunOfTheSameIdKeepsItsKeys) {
  WorkerService& w = StartWorker();
  const std::string gate = Path("gate");
  model::Job job = ShellJob("again", absl::StrCat("while [ ! -e ", gate,
                                                  " ]; do sleep 0.01; done"));
  model::ExecutionId id = Schedule(job);
  kv_->FailNextTxns(1);  // the claim never reaches the store; its fate looks unknown
  EXPECT_EQ(w.Run(Request(job, id)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Record(id).status, ExecutionStatus::kScheduled);
  EXPECT_EQ(w.PendingResults(), 1u);
  // Re-dispatched to the same worker: claimed and running, with the same lease and values.
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
  // Settling the first claim must not touch the live run's record or keys.
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 0; }, absl::Seconds(20),
                      [&] { clock_.Advance(absl::Milliseconds(100)); }));
  EXPECT_EQ(Record(id).status, ExecutionStatus::kRunning);
  EXPECT_TRUE(Exists(keys_.Running(id)));
  EXPECT_TRUE(Exists(keys_.Inflight(id)));
  std::ofstream(gate).put('x');
  EXPECT_EQ(WaitFinal(id).status, ExecutionStatus::kSuccess);
}

TEST_F(WorkerServiceTest, FinishAfterTheLeaderTookOverOnlyReleasesKeys) {
  WorkerService& w = StartWorker();
  const std::string gate = Path("gate");
  model::Job job = ShellJob("taken", absl::StrCat("while [ ! -e ", gate,
                                                  " ]; do sleep 0.01; done"),
                            ConcurrencyPolicy::kForbid);
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
  // The leader decided the worker was lost and finalised the record meanwhile.
  model::Execution lost = Record(id);
  lost.status = ExecutionStatus::kFailed;
  lost.error = "worker lost";
  ASSERT_TRUE(sqlite_->Put({.key = keys_.Exec(id), .value = model::SerializeExecution(lost)}).ok());
  std::ofstream(gate).put('x');
  ASSERT_TRUE(WaitFor([&] { return w.Health().in_flight() == 0; }));
  model::Execution rec = Record(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.error, "worker lost");
  EXPECT_FALSE(Exists(keys_.Running(id)));
  EXPECT_FALSE(Exists(keys_.Inflight(id)));
  auto locks = sqlite_->Range(store::RangeRequest::Prefix(keys_.LockPrefix(job.name)));
  ASSERT_TRUE(locks.ok());
  EXPECT_TRUE(locks->kvs.empty());
  EXPECT_EQ(w.PendingResults(), 0u);
}

TEST_F(WorkerServiceTest, StopDrainsThenKills) {
  WorkerOptions o = Options("w1");
  o.shutdown_grace = absl::Seconds(30);
  auto w = std::make_unique<WorkerService>(*kv_, clock_, keys_,
                                           Executors{.shell = shell_.get()}, o);
  ASSERT_TRUE(w->Start().ok());
  w->AttachSession(NewLease(), nullptr);
  const std::string gate = Path("gate");
  model::Job quick = ShellJob("quick", absl::StrCat("while [ ! -e ", gate,
                                                    " ]; do sleep 0.01; done"));
  model::Job slow = ShellJob("slow", "sleep 60");
  model::ExecutionId a = Schedule(quick);
  model::ExecutionId b = Schedule(slow);
  ASSERT_EQ(w->Run(Request(quick, a))->outcome(), RunResponse::STARTED);
  ASSERT_EQ(w->Run(Request(slow, b))->outcome(), RunResponse::STARTED);

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    w->Stop();
    stopped = true;
  });
  ASSERT_TRUE(WaitFor([&] { return w->Health().draining(); }));
  model::ExecutionId c = Schedule(quick);
  EXPECT_EQ(w->Run(Request(quick, c)).status().code(), absl::StatusCode::kUnavailable);
  std::ofstream(gate).put('x');  // the quick one finishes within the grace
  EXPECT_EQ(WaitFinal(a).status, ExecutionStatus::kSuccess);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(stopped);  // still waiting for the slow one
  EXPECT_EQ(Record(b).status, ExecutionStatus::kRunning);
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
  ASSERT_EQ(w.Run(Request(job, a))->outcome(), RunResponse::STARTED);
  ASSERT_EQ(w.Run(Request(job, b))->outcome(), RunResponse::STARTED);
  kv_->SetDown(true);  // typically the store is unreachable when the session is lost
  w.SessionLost("keepalive overdue");
  ASSERT_TRUE(WaitFor([&] { return w.PendingResults() == 2; }));
  model::ExecutionId c = Schedule(job);
  EXPECT_EQ(w.Run(Request(job, c)).status().code(), absl::StatusCode::kUnavailable);
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
  auto again = w.Run(Request(job, c));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome(), RunResponse::STARTED);
  w.Kill(c.str(), "done");
  WaitFinal(c);
}

TEST_F(WorkerServiceTest, ASessionThatCannotBeProvenAliveRefusesRuns) {
  WorkerService& w = StartWorker();
  std::atomic<bool> alive{false};
  w.AttachSession(NewLease(), [&] { return alive.load(); });
  model::Job job = ShellJob("unproven", "true");
  model::ExecutionId id = Schedule(job);
  EXPECT_EQ(w.Run(Request(job, id)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Record(id).status, ExecutionStatus::kScheduled);
  alive = true;
  EXPECT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
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
  ASSERT_EQ(w.Run(Request(job, id))->outcome(), RunResponse::STARTED);
  model::Execution rec = WaitFinal(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kFailed);
  EXPECT_EQ(rec.error, "http executor disabled on worker w1");
}

}  // namespace
}  // namespace hg::worker::testing
