// Scheduler I/O against a real SqliteKv, driven by a FakeClock: fire transactions, batching,
// the term guard and catch-up as persisted state (docs/design/execution.md "Fire").
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "model/execution.h"
#include "model/job.h"
#include "model/json.h"
#include "runs/transitions.h"
#include "store/local/sqlite_kv.h"
#include "tests/fixtures/forwarding_kv.h"
#include "tests/fixtures/temp_sqlite_kv.h"

namespace hg::scheduler {
namespace {

constexpr int64_t kBase = 1'767'225'600;  // 2026-01-01T00:00:00Z

// Faults between the scheduler and the store: Range calls that fail (a transient read error),
// and jobs/ watch deliveries held back (a watch that lags behind a write).
class SchedulerFaultKv final : public testing::ForwardingKv {
 public:
  explicit SchedulerFaultKv(store::Kv& inner) : ForwardingKv(inner) {}
  void FailNextRanges(int n) { fail_ranges_ = n; }
  void HoldWatches(bool hold) {
    std::vector<std::pair<store::WatchHandler*, store::WatchResponse>> release;
    {
      absl::MutexLock lock(&mu_);
      hold_ = hold;
      if (!hold) release.swap(held_);
    }
    for (auto& [handler, resp] : release) (*handler)(resp);
  }
  absl::StatusOr<store::RangeResponse> Range(const store::RangeRequest& r) override {
    if (fail_ranges_.load() > 0 && fail_ranges_.fetch_sub(1) > 0) {
      return absl::UnavailableError("faulty: range dropped");
    }
    return inner().Range(r);
  }
  absl::StatusOr<std::unique_ptr<store::Watch>> StartWatch(const store::WatchRequest& r,
                                                           store::WatchHandler h) override {
    auto handler = std::make_shared<store::WatchHandler>(std::move(h));
    handlers_.push_back(handler);
    return inner().StartWatch(r, [this, handler](const store::WatchResponse& resp) {
      {
        absl::MutexLock lock(&mu_);
        if (hold_) {
          held_.emplace_back(handler.get(), resp);
          return;
        }
      }
      (*handler)(resp);
    });
  }

 private:
  std::atomic<int> fail_ranges_{0};
  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<store::WatchHandler*, store::WatchResponse>> held_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<store::WatchHandler>> handlers_;  // outlive the watches
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<testing::TempSqliteKv>(clock_, "sched");
    ASSERT_TRUE(store_->ok());
    kv_ = &store_->kv();
    faults_ = std::make_unique<SchedulerFaultKv>(*kv_);
  }
  void TearDown() override { StopScheduler(); }

  // A leader key of our own: its create revision is the term.
  LeaderTerm BecomeLeader(const std::string& key = "/hourglass/election/1") {
    auto put = kv_->Put({.key = key, .value = "{}"});
    EXPECT_TRUE(put.ok());
    return LeaderTerm{.term = put->revision, .leader_key = key};
  }

  void PutJob(const std::string& name, const std::string& cron, const std::string& extra = "") {
    std::string body = R"({"name":")" + name + R"(","cron_expr":")" + cron +
                       R"(","executor_type":"shell","executor":{"command":"true"})" + extra + "}";
    auto job = model::ParseJobRequest(body);
    ASSERT_TRUE(job.ok()) << job.status();
    ASSERT_TRUE(kv_->Put({.key = keys_.Job(job->name), .value = model::SerializeJob(*job)}).ok());
  }

  void StartScheduler(const LeaderTerm& term, SchedulerProbe probe = {},
                      Scheduler::Options options = {}) {
    scheduler_ = std::make_unique<Scheduler>(*faults_, clock_, keys_, options, std::move(probe));
    thread_ = std::thread([this, term] { result_ = scheduler_->RunAsLeader(term); });
    // Loaded before the test moves the clock: a job loaded after an Advance would start after
    // the new now, and the instant the test waits for would never come.
    const auto stored = static_cast<size_t>(Count(keys_.JobsPrefix()));
    ASSERT_TRUE(WaitFor([&] { return scheduler_->JobCount() == stored; }));
  }
  void StopScheduler() {
    if (scheduler_) scheduler_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  // The API's create: the definition with its cursor at the creation instant.
  void CreateJob(const std::string& name, const std::string& cron) {
    PutJob(name, cron);
    ASSERT_TRUE(kv_->Put(runs::PutCursor(keys_, *model::JobName::Parse(name), clock_.Now())).ok());
  }

  template <typename F>
  bool WaitFor(F cond) {
    for (int i = 0; i < 20000; ++i) {  // bounded: 20 s of 1 ms polls
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return cond();
  }

  std::vector<model::Execution> History(const std::string& job) {
    auto name = model::JobName::Parse(job);
    auto r = kv_->Range(store::RangeRequest::Prefix(keys_.ExecPrefix(*name)));
    std::vector<model::Execution> out;
    for (const auto& kv : r->kvs) out.push_back(*model::ParseExecution(kv.value));
    return out;
  }
  int64_t Count(const std::string& prefix) {
    auto r = kv_->Range(store::RangeRequest::Prefix(prefix));
    return static_cast<int64_t>(r->kvs.size());
  }

  FakeClock clock_{absl::FromUnixSeconds(kBase)};
  model::Keys keys_;
  std::unique_ptr<testing::TempSqliteKv> store_;
  store::SqliteKv* kv_ = nullptr;
  std::unique_ptr<SchedulerFaultKv> faults_;  // what the scheduler sees
  std::unique_ptr<Scheduler> scheduler_;
  std::thread thread_;
  absl::Status result_;
};

TEST_F(SchedulerTest, FiresEachInstantOnceWithRecordPendingAndCursor) {
  PutJob("a", "*/10 * * * * *");
  PutJob("b", "*/10 * * * * *");
  StartScheduler(BecomeLeader());
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(WaitFor([&] { return History("a").size() == 1 && History("b").size() == 1; }));
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(WaitFor([&] { return History("a").size() == 2; }));
  auto h = History("a");
  EXPECT_EQ(h[0].scheduled_time, absl::FromUnixSeconds(kBase + 10));
  EXPECT_EQ(h[1].scheduled_time, absl::FromUnixSeconds(kBase + 20));
  EXPECT_EQ(h[0].status, model::ExecutionStatus::kScheduled);
  EXPECT_EQ(Count(keys_.PendingPrefix()), 4);
  auto cursor = store::Get(*kv_, keys_.CursorPrefix() + "a");
  ASSERT_TRUE(cursor.ok() && cursor->has_value());
  EXPECT_EQ(*model::ParseRfc3339((*cursor)->value), absl::FromUnixSeconds(kBase + 20));
  // Both jobs of one instant went in one transaction: same mod revision.
  auto ca = store::Get(*kv_, keys_.CursorPrefix() + "a");
  auto cb = store::Get(*kv_, keys_.CursorPrefix() + "b");
  EXPECT_EQ((*ca)->mod_revision, (*cb)->mod_revision);
}

TEST_F(SchedulerTest, ReportsEachJobThatGotRecordsForRetention) {
  PutJob("a", "*/10 * * * * *");
  PutJob("b", "0 0 * * * *");
  absl::Mutex mu;
  std::vector<std::string> recorded;
  StartScheduler(BecomeLeader(), {.recorded = [&](const std::string& job) {
                   absl::MutexLock lock(&mu);
                   recorded.push_back(job);
                 }});
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(WaitFor([&] { return History("a").size() == 1; }));
  StopScheduler();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(recorded, std::vector<std::string>{"a"});  // b did not fire
}

TEST_F(SchedulerTest, DeposedLeaderWritesNothing) {
  PutJob("a", "* * * * * *");
  LeaderTerm term = BecomeLeader();
  StartScheduler(term);
  // Another master wins: our key is gone, a newer one exists.
  ASSERT_TRUE(kv_->Delete(store::DeleteRequest::Key(term.leader_key)).ok());
  BecomeLeader("/hourglass/election/2");
  clock_.Advance(absl::Seconds(1));
  thread_.join();
  EXPECT_TRUE(absl::IsFailedPrecondition(result_)) << result_;
  EXPECT_EQ(History("a").size(), 0u);
  EXPECT_EQ(Count(keys_.CursorPrefix()), 0);
}

TEST_F(SchedulerTest, NewLeaderCatchesUpFromTheCursor) {
  PutJob("a", "0 * * * * *", R"(,"starting_deadline":"90s","concurrency_policy":"Forbid")");
  // The previous leader fired up to kBase; we take over 5 minutes later.
  ASSERT_TRUE(kv_->Put({.key = keys_.CursorPrefix() + "a",
                        .value = model::FormatRfc3339(absl::FromUnixSeconds(kBase))})
                  .ok());
  clock_.Advance(absl::Seconds(330));
  absl::Mutex mu;
  std::vector<std::pair<std::string, int64_t>> missed;  // what /metrics and /stats count
  StartScheduler(BecomeLeader(), {.missed = [&](const std::string& job, int64_t n) {
                   absl::MutexLock lock(&mu);
                   missed.emplace_back(job, n);
                 }});
  ASSERT_TRUE(WaitFor([&] { return History("a").size() == 5; }));
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return !missed.empty();
  }));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(missed, (std::vector<std::pair<std::string, int64_t>>{{"a", 4}}));
  }
  auto h = History("a");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(h[i].status, model::ExecutionStatus::kMissed) << i;
  EXPECT_EQ(h[4].status, model::ExecutionStatus::kScheduled);
  EXPECT_EQ(h[4].trigger, model::Trigger::kCatchup);
  EXPECT_EQ(h[4].scheduled_time, absl::FromUnixSeconds(kBase + 300));
  EXPECT_EQ(Count(keys_.PendingPrefix()), 1);
}

TEST_F(SchedulerTest, JobCreatedWhileLeadingStartsAfterNowAndDeleteStops) {
  StartScheduler(BecomeLeader());
  clock_.Advance(absl::Seconds(100));
  PutJob("late", "* * * * * *");
  ASSERT_TRUE(WaitFor([&] { return scheduler_->JobCount() == 1; }));
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return History("late").size() == 1; }));
  EXPECT_EQ(History("late")[0].scheduled_time, absl::FromUnixSeconds(kBase + 101));
  auto name = model::JobName::Parse("late");
  ASSERT_TRUE(kv_->Delete(store::DeleteRequest::Key(keys_.Job(*name))).ok());
  ASSERT_TRUE(WaitFor([&] { return scheduler_->JobCount() == 0; }));
  clock_.Advance(absl::Seconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(History("late").size(), 1u);
}

TEST_F(SchedulerTest, ALeaderElectedRightAfterACreateAccountsForEveryInstantSince) {
  // Before: a job that had never fired had no cursor, so a leader taking over started after
  // its own "now" and the instants due during the failover got no record at all.
  CreateJob("new", "* * * * * *");
  clock_.Advance(absl::Seconds(3));  // the failover: no leader for 3 s
  StartScheduler(BecomeLeader());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return History("new").size() == 4; }));
  auto h = History("new");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(h[i].scheduled_time, absl::FromUnixSeconds(kBase + 1 + i)) << i;
  }
  EXPECT_EQ(h[0].trigger, model::Trigger::kCatchup);
}

TEST_F(SchedulerTest, AnEditTheSchedulerHasNotSeenIsNeverFiredWithTheOldDefinition) {
  // Before: the fire was guarded by the cursor only, so a job edited (here: paused) just before
  // its instant still fired with the definition the scheduler had in memory.
  PutJob("a", "* * * * * *");
  StartScheduler(BecomeLeader());
  faults_->HoldWatches(true);  // the edit's watch event lags
  PutJob("a", "* * * * * *", R"(,"paused":true)");
  clock_.Advance(absl::Seconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  clock_.Advance(absl::Seconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Count(keys_.PendingPrefix()), 0);  // nothing dispatched for a paused job
  faults_->HoldWatches(false);
}

TEST_F(SchedulerTest, TransientReadErrorsAreRetriedWithinTheTerm) {
  // Before: one failed read while loading ended the leader's term (up to one TTL leaderless).
  CreateJob("a", "* * * * * *");
  faults_->FailNextRanges(3);
  scheduler_ = std::make_unique<Scheduler>(*faults_, clock_, keys_, Scheduler::Options{});
  std::atomic<bool> ended{false};
  thread_ = std::thread([&] {
    result_ = scheduler_->RunAsLeader(BecomeLeader());
    ended = true;
  });
  // The retries back off on the clock; every instant since the create is accounted for.
  ASSERT_TRUE(WaitFor([&] {
    clock_.Advance(absl::Milliseconds(50));
    return History("a").size() >= 2;
  }));
  EXPECT_FALSE(ended);  // still leading
}

TEST_F(SchedulerTest, FiresAheadOfTheInstantWhenAsked) {
  PutJob("a", "*/10 * * * * *");
  StartScheduler(BecomeLeader(), {}, {.fire_ahead = absl::Milliseconds(500)});
  clock_.Advance(absl::Milliseconds(9400));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(History("a").size(), 0u);
  clock_.Advance(absl::Milliseconds(100));  // 0.5 s before kBase + 10
  ASSERT_TRUE(WaitFor([&] { return History("a").size() == 1; }));
  EXPECT_EQ(History("a")[0].scheduled_time, absl::FromUnixSeconds(kBase + 10));
  EXPECT_EQ(History("a")[0].trigger, model::Trigger::kSchedule);
  clock_.Advance(absl::Milliseconds(500));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(History("a").size(), 1u);  // not again at the instant
}

TEST_F(SchedulerTest, LargeBatchIsSplitUnderTheTxnOpLimit) {
  for (int i = 0; i < 150; ++i) PutJob("j" + std::to_string(i), "* * * * * *");
  StartScheduler(BecomeLeader());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return Count(keys_.PendingPrefix()) == 150; }));
  EXPECT_EQ(Count(keys_.CursorPrefix()), 150);
}

}  // namespace
}  // namespace hg::scheduler
