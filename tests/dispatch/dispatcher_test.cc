// Dispatcher against a real SqliteKv and a scripted WorkerClient, driven by a FakeClock: what
// happens to a pending run when workers refuse it, and to a claimed run whose worker's lease is
// gone (docs/design/execution.md "Dispatch", "Lost").
#include "dispatch/dispatcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "model/execution.h"
#include "model/job.h"
#include "model/json.h"
#include "runs/transitions.h"
#include "store/local/sqlite_kv.h"
#include "tests/fixtures/temp_sqlite_kv.h"
#include "tests/fixtures/watch_breaking_kv.h"

namespace hg::dispatch {
namespace {

constexpr int64_t kBase = 1'767'225'600;  // 2026-01-01T00:00:00Z

// Answers Run with the scripted statuses in order, then with the last one forever.
class ScriptedWorkers final : public WorkerClient {
 public:
  explicit ScriptedWorkers(std::deque<absl::Status> script) : script_(std::move(script)) {}
  // A scripted OK answers every item STARTED; a refusal of a passing kind answers each item
  // DECLINED with its code (as a worker at capacity does), other errors fail the whole call.
  absl::StatusOr<hourglass::v1::RunResponse> Run(const std::string& address,
                                                 const hourglass::v1::RunRequest& req,
                                                 absl::Duration) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    items_ += req.items_size();
    items_to_[address] += req.items_size();
    absl::Status st = script_.front();
    if (script_.size() > 1) script_.pop_front();
    hourglass::v1::RunResponse resp;
    if (!st.ok() && !absl::IsResourceExhausted(st)) return st;
    for (const auto& item : req.items()) {
      auto* answer = resp.add_items();
      answer->set_execution_id(item.execution_id());
      if (st.ok()) {
        answer->set_outcome(hourglass::v1::RunResponse::STARTED);
      } else {
        answer->set_outcome(hourglass::v1::RunResponse::DECLINED);
        answer->set_code(static_cast<int32_t>(st.code()));
        answer->set_message(std::string(st.message()));
      }
    }
    return resp;
  }
  absl::StatusOr<hourglass::v1::KillResponse> Kill(const std::string&,
                                                   const hourglass::v1::KillRequest&,
                                                   absl::Duration) override {
    return hourglass::v1::KillResponse();
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  int items() {
    absl::MutexLock lock(&mu_);
    return items_;
  }
  int items_to(const std::string& address) {
    absl::MutexLock lock(&mu_);
    return items_to_[address];
  }

 private:
  absl::Mutex mu_;
  std::deque<absl::Status> script_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int items_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> items_to_ ABSL_GUARDED_BY(mu_);
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<testing::TempSqliteKv>(clock_, "dispatch");
    ASSERT_TRUE(store_->ok());
    kv_ = &store_->kv();
    breaking_ = std::make_unique<testing::WatchBreakingKv>(*kv_);
    auto put = kv_->Put({.key = "/hourglass/election/1", .value = "{}"});
    ASSERT_TRUE(put.ok());
    term_ = {.term = put->revision, .leader_key = "/hourglass/election/1"};
    ASSERT_TRUE(
        kv_->Put({.key = keys_.Worker("w1"),
                  .value = R"({"id":"w1","address":"127.0.0.1:1","labels":{},"capacity":4})"})
            .ok());
  }
  void TearDown() override {
    if (dispatcher_) dispatcher_->Stop();
    if (thread_.joinable()) thread_.join();
    dispatcher_.reset();
    breaking_.reset();
  }

  // A scheduled run of a job with `starting_deadline`, fired at the current (fake) instant.
  // `ahead`: the instant lies this far after the (fake) now, as when the leader fires ahead.
  void Fire(const std::string& starting_deadline, const std::string& extra = "",
            absl::Duration ahead = absl::ZeroDuration(), const std::string& name = "j") {
    auto job = model::ParseJobRequest(R"({"name":")" + name +
                                      R"(","cron_expr":"0 0 * * * *","executor_type":"shell",)"
                                      R"("executor":{"command":"true"},"starting_deadline":")" +
                                      starting_deadline + R"(")" + extra + "}");
    ASSERT_TRUE(job.ok()) << job.status();
    job_ = *job;
    auto put = kv_->Put({.key = keys_.Job(job->name), .value = model::SerializeJob(*job)});
    ASSERT_TRUE(put.ok());
    record_ = model::NewExecution(job->name, clock_.Now() + ahead, model::Trigger::kSchedule,
                                  term_.term, rng_);
    auto cursor = store::Get(*kv_, keys_.Cursor(job->name));
    ASSERT_TRUE(cursor.ok());
    auto fired = kv_->Txn(runs::FireJob(keys_, job->name, put->revision,
                                        cursor->has_value() ? (*cursor)->mod_revision : 0,
                                        clock_.Now(), {{.record = record_}}));
    ASSERT_TRUE(fired.ok() && fired->succeeded);
  }

  // What a worker's claim writes, under `lease`.
  void ClaimOn(const std::string& worker, store::LeaseId lease) {
    auto record_kv = store::Get(*kv_, keys_.Exec(record_.id));
    auto pending_kv = store::Get(*kv_, keys_.Pending(record_.id));
    auto job_kv = store::Get(*kv_, keys_.Job(record_.id.job()));
    runs::ClaimView view{
        .id = record_.id, .record = *record_kv, .pending = *pending_kv, .job = *job_kv};
    runs::ClaimPlan plan = runs::DecideClaim(view);
    ASSERT_EQ(plan.decision, runs::ClaimDecision::kClaim);
    auto claimed =
        kv_->Txn(runs::Claim(keys_, record_.id, runs::HintOf(view, plan), worker, lease).txn);
    ASSERT_TRUE(claimed.ok() && claimed->succeeded);
  }

  void StartDispatcher(ScriptedWorkers& workers) {
    dispatcher_ = std::make_unique<Dispatcher>(
        *breaking_, clock_, keys_, workers,
        Dispatcher::Options{.dispatch_threads = 1, .busy_retry = absl::Milliseconds(500)});
    thread_ = std::thread([this] { (void)dispatcher_->RunAsLeader(term_); });
  }

  model::Execution Record() {
    auto kv = store::Get(*kv_, keys_.Exec(record_.id));
    EXPECT_TRUE(kv.ok() && kv->has_value());
    return *model::ParseExecution((*kv)->value);
  }

  template <typename F>
  bool WaitFor(F cond) {
    for (int i = 0; i < 20000; ++i) {  // bounded: 20 s of 1 ms polls
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return cond();
  }

  FakeClock clock_{absl::FromUnixSeconds(kBase)};
  model::Keys keys_;
  std::unique_ptr<testing::TempSqliteKv> store_;
  store::SqliteKv* kv_ = nullptr;
  std::unique_ptr<testing::WatchBreakingKv> breaking_;  // what the dispatcher sees
  coord::LeaderTerm term_;
  model::Job job_;
  std::mt19937_64 rng_{7};
  model::Execution record_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::thread thread_;
};

TEST_F(DispatcherTest, APassingRefusalIsRetriedNotFailed) {
  // Right after an etcd outage a registered worker may still be renewing its session.
  ScriptedWorkers workers(
      {absl::UnavailableError("worker w1 has no live session"), absl::OkStatus()});
  Fire("60s");
  StartDispatcher(workers);
  ASSERT_TRUE(WaitFor([&] { return workers.calls() == 1; }));
  EXPECT_EQ(Record().status, model::ExecutionStatus::kScheduled);
  clock_.Advance(absl::Milliseconds(499));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a chance to misbehave
  EXPECT_EQ(workers.calls(), 1) << "retried before busy_retry";
  clock_.Advance(absl::Milliseconds(1));
  ASSERT_TRUE(WaitFor([&] { return workers.calls() == 2; }));
  EXPECT_EQ(Record().status, model::ExecutionStatus::kScheduled);  // the worker claims it next
}

TEST_F(DispatcherTest, RefusedUntilTheStartingDeadlineThenNoWorkerAvailable) {
  ScriptedWorkers workers({absl::ResourceExhaustedError("at capacity (4 runs)")});
  Fire("2s");
  StartDispatcher(workers);
  ASSERT_TRUE(WaitFor([&] { return workers.calls() == 1; }));
  for (int i = 2; i <= 4; ++i) {
    clock_.Advance(absl::Milliseconds(500));
    ASSERT_TRUE(WaitFor([&] { return workers.calls() == i; })) << i;
    EXPECT_EQ(Record().status, model::ExecutionStatus::kScheduled) << i;
  }
  clock_.Advance(absl::Milliseconds(500));  // now = instant + 2 s: the deadline
  ASSERT_TRUE(WaitFor([&] { return Record().status == model::ExecutionStatus::kFailed; }));
  EXPECT_EQ(workers.calls(), 5);
  EXPECT_EQ(Record().error, "no worker available (w1: at capacity (4 runs))");
  EXPECT_EQ(Record().reason, model::EndReason::kNoWorker);
  EXPECT_FALSE(store::Get(*kv_, keys_.Pending(record_.id))->has_value());
}

TEST_F(DispatcherTest, ALastingRefusalFailsAtOnce) {
  ScriptedWorkers workers({absl::InvalidArgumentError("malformed execution id")});
  Fire("60s");
  StartDispatcher(workers);
  ASSERT_TRUE(WaitFor([&] { return Record().status == model::ExecutionStatus::kFailed; }));
  EXPECT_EQ(workers.calls(), 1);
  EXPECT_EQ(Record().error, "no worker available (w1: INVALID_ARGUMENT: malformed execution id)");
}

TEST_F(DispatcherTest, AForbidRunFiredAheadIsSentOnlyAtItsInstant) {
  // Its claim takes the job's lock: sent early it would find the previous run still holding it.
  ScriptedWorkers workers({absl::OkStatus()});
  Fire("60s", R"(,"concurrency_policy":"Forbid")", absl::Milliseconds(500));
  StartDispatcher(workers);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(workers.calls(), 0);
  clock_.Advance(absl::Milliseconds(500));
  ASSERT_TRUE(WaitFor([&] { return workers.calls() == 1; }));
}

TEST_F(DispatcherTest, AnAllowRunFiredAheadIsSentAtOnce) {
  ScriptedWorkers workers({absl::OkStatus()});
  Fire("60s", "", absl::Milliseconds(500));
  StartDispatcher(workers);
  ASSERT_TRUE(WaitFor([&] { return workers.calls() == 1; }));  // the worker waits, not us
}

TEST_F(DispatcherTest, RunsFiredAheadAreSpreadOverTheWorkers) {
  // Runs not yet due take no slot, but they still count for balance: an instant fired ahead
  // does not all land on one worker.
  ASSERT_TRUE(kv_->Put({.key = keys_.Worker("w2"),
                        .value = R"({"id":"w2","address":"127.0.0.1:2","labels":{},"capacity":4})"})
                  .ok());
  ScriptedWorkers workers({absl::OkStatus()});
  for (int i = 0; i < 8; ++i) {
    Fire("60s", "", absl::Milliseconds(500));
  }
  StartDispatcher(workers);
  ASSERT_TRUE(WaitFor([&] { return workers.items() == 8; }));
  EXPECT_EQ(workers.items_to("127.0.0.1:1"), 4);
  EXPECT_EQ(workers.items_to("127.0.0.1:2"), 4);
}

TEST_F(DispatcherTest, ABusyPoolNeverHoldsUpAnother) {
  // Two pools of one worker each (capacity 1: a window of 4). Pool a gets more than its window;
  // pool b's entries, queued behind them, are still sent at once.
  ASSERT_TRUE(kv_->Put({.key = keys_.Worker("w1"),
                        .value = R"({"id":"w1","address":"127.0.0.1:1","labels":{"pool":"a"},)"
                                 R"("capacity":1})"})
                  .ok());
  ASSERT_TRUE(kv_->Put({.key = keys_.Worker("w2"),
                        .value = R"({"id":"w2","address":"127.0.0.1:2","labels":{"pool":"b"},)"
                                 R"("capacity":1})"})
                  .ok());
  ScriptedWorkers workers({absl::OkStatus()});
  for (int i = 0; i < 8; ++i) Fire("60s", R"(,"selector":{"pool":"a"})", {}, "a");
  StartDispatcher(workers);
  ASSERT_TRUE(WaitFor([&] { return workers.items_to("127.0.0.1:1") == 4; }));
  for (int i = 0; i < 2; ++i) Fire("60s", R"(,"selector":{"pool":"b"})", {}, "b");
  ASSERT_TRUE(WaitFor([&] { return workers.items_to("127.0.0.1:2") == 2; }));
  EXPECT_EQ(workers.items_to("127.0.0.1:1"), 4);  // a's window stays full: the rest wait
}

TEST_F(DispatcherTest, DispatchSurvivesItsWatchesEnding) {
  // Before: a watch that ended with an error (compaction, cancellation) was ignored and
  // dispatch silently stopped for the rest of the term.
  ScriptedWorkers workers({absl::OkStatus()});
  StartDispatcher(workers);
  Fire("60s");
  ASSERT_TRUE(WaitFor([&] { return workers.calls() == 1; }));
  ASSERT_TRUE(
      WaitFor([&] { return breaking_->BreakWatches() >= 3; }));  // workers, inflight, pending
  clock_.Advance(absl::Seconds(1));  // the re-list backs off on the clock
  Fire("60s");                       // written after the watches ended: found by the re-list
  ASSERT_TRUE(WaitFor([&] {
    clock_.Advance(absl::Milliseconds(100));
    return workers.calls() == 2;
  }));
}

TEST_F(DispatcherTest, ARunWhoseWorkerLeaseExpiredIsRetriedWithTheNextAttempt) {
  ScriptedWorkers workers({absl::OkStatus()});
  Fire("60s");
  job_.retry_policy.max_retries = 1;
  ASSERT_TRUE(kv_->Put({.key = keys_.Job(job_.name), .value = model::SerializeJob(job_)}).ok());
  auto lease = kv_->LeaseGrant(10);
  ASSERT_TRUE(lease.ok());
  ClaimOn("gone-worker", lease->id);
  ASSERT_TRUE(kv_->LeaseRevoke(lease->id).ok());  // its worker died: the lease is gone
  StartDispatcher(workers);
  // Taken over as lost: back to `scheduled` with attempt 2, queued again, sent to w1.
  ASSERT_TRUE(WaitFor([&] { return workers.calls() == 1; }));
  model::Execution rec = Record();
  EXPECT_EQ(rec.status, model::ExecutionStatus::kScheduled);
  EXPECT_EQ(rec.attempt, 2);
  ASSERT_EQ(rec.attempts.size(), 1u);
  EXPECT_EQ(rec.attempts[0].worker_id, "gone-worker");
  EXPECT_EQ(rec.attempts[0].reason, model::EndReason::kWorkerLost);
  EXPECT_FALSE(store::Get(*kv_, keys_.Inflight(record_.id))->has_value());
  auto pending = runs::DecodePending((*store::Get(*kv_, keys_.Pending(record_.id)))->value);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->attempt, 2);
}

TEST_F(DispatcherTest, ALostRunOfAJobThatDoesNotRetryOnLossFails) {
  ScriptedWorkers workers({absl::OkStatus()});
  Fire("60s");
  job_.retry_on_worker_loss = false;
  job_.retry_policy.max_retries = 3;
  ASSERT_TRUE(kv_->Put({.key = keys_.Job(job_.name), .value = model::SerializeJob(job_)}).ok());
  auto lease = kv_->LeaseGrant(10);
  ASSERT_TRUE(lease.ok());
  ClaimOn("gone-worker", lease->id);
  ASSERT_TRUE(kv_->LeaseRevoke(lease->id).ok());
  StartDispatcher(workers);
  ASSERT_TRUE(WaitFor([&] { return Record().status == model::ExecutionStatus::kFailed; }));
  EXPECT_EQ(Record().reason, model::EndReason::kWorkerLost);
  EXPECT_EQ(workers.calls(), 0);
}

TEST_F(DispatcherTest, AKillRequestedBeforeTheLossEndsTheRunKilledNotRetried) {
  ScriptedWorkers workers({absl::OkStatus()});
  Fire("60s");
  auto lease = kv_->LeaseGrant(10);
  ASSERT_TRUE(lease.ok());
  ClaimOn("gone-worker", lease->id);
  ASSERT_TRUE(kv_->Put({.key = keys_.Kill(record_.id), .value = "operator asked"}).ok());
  ASSERT_TRUE(kv_->LeaseRevoke(lease->id).ok());
  StartDispatcher(workers);
  ASSERT_TRUE(WaitFor([&] { return Record().status == model::ExecutionStatus::kKilled; }));
  EXPECT_EQ(Record().error, "killed: operator asked (its worker was lost)");
  EXPECT_FALSE(store::Get(*kv_, keys_.Kill(record_.id))->has_value());
  EXPECT_EQ(workers.calls(), 0);
}

TEST_F(DispatcherTest, ALiveLeaseIsNotALoss) {
  ScriptedWorkers workers({absl::OkStatus()});
  Fire("60s");
  auto lease = kv_->LeaseGrant(3600);
  ASSERT_TRUE(lease.ok());
  ClaimOn("deregistered", lease->id);  // no registry entry, but its lease lives
  StartDispatcher(workers);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  clock_.Advance(absl::Seconds(5));  // rechecked: still alive
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Record().status, model::ExecutionStatus::kScheduled);  // claimed, not lost
  EXPECT_TRUE(store::Get(*kv_, keys_.Inflight(record_.id))->has_value());
}

}  // namespace
}  // namespace hg::dispatch
