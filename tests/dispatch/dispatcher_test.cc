// Dispatcher against a real SqliteKv and a scripted WorkerClient, driven by a FakeClock: what
// happens to a pending run when workers refuse it (docs/design/execution.md "Dispatch").
#include "dispatch/dispatcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <random>
#include <thread>

#include "model/execution.h"
#include "model/job.h"
#include "model/json.h"
#include "store/local/sqlite_kv.h"
#include "tests/fixtures/temp_sqlite_kv.h"

namespace hg::dispatch {
namespace {

constexpr int64_t kBase = 1'767'225'600;  // 2026-01-01T00:00:00Z

// Answers Run with the scripted statuses in order, then with the last one forever.
class ScriptedWorkers final : public WorkerClient {
 public:
  explicit ScriptedWorkers(std::deque<absl::Status> script) : script_(std::move(script)) {}
  absl::StatusOr<hourglass::v1::RunResponse> Run(const std::string&,
                                                 const hourglass::v1::RunRequest&,
                                                 absl::Duration) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    absl::Status st = script_.front();
    if (script_.size() > 1) script_.pop_front();
    if (!st.ok()) return st;
    return hourglass::v1::RunResponse();
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

 private:
  absl::Mutex mu_;
  std::deque<absl::Status> script_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<testing::TempSqliteKv>(clock_, "dispatch");
    ASSERT_TRUE(store_->ok());
    kv_ = &store_->kv();
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
  }

  // A scheduled run of a job with `starting_deadline`, fired at the current (fake) instant.
  void Fire(const std::string& starting_deadline) {
    auto job =
        model::ParseJobRequest(R"({"name":"j","cron_expr":"0 0 * * * *","executor_type":"shell",)"
                               R"("executor":{"command":"true"},"starting_deadline":")" +
                               starting_deadline + R"("})");
    ASSERT_TRUE(job.ok()) << job.status();
    std::mt19937_64 rng(7);
    record_ =
        model::NewExecution(job->name, clock_.Now(), model::Trigger::kSchedule, term_.term, rng);
    ASSERT_TRUE(
        kv_->Put({.key = keys_.Exec(record_.id), .value = model::SerializeExecution(record_)})
            .ok());
    ASSERT_TRUE(kv_->Put({.key = keys_.Pending(record_.id),
                          .value = model::MakeDispatchEnvelope(model::SerializeJob(*job),
                                                               clock_.Now(), 1, "")})
                    .ok());
  }

  void StartDispatcher(ScriptedWorkers& workers) {
    dispatcher_ = std::make_unique<Dispatcher>(
        *kv_, clock_, keys_, workers,
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
  scheduler::LeaderTerm term_;
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
  EXPECT_EQ(Record().error, "no worker available (w1: RESOURCE_EXHAUSTED: at capacity (4 runs))");
  EXPECT_FALSE(store::Get(*kv_, keys_.Pending(record_.id))->has_value());
}

TEST_F(DispatcherTest, ALastingRefusalFailsAtOnce) {
  ScriptedWorkers workers({absl::InvalidArgumentError("job record does not parse")});
  Fire("60s");
  StartDispatcher(workers);
  ASSERT_TRUE(WaitFor([&] { return Record().status == model::ExecutionStatus::kFailed; }));
  EXPECT_EQ(workers.calls(), 1);
  EXPECT_EQ(Record().error,
            "no worker available (w1: INVALID_ARGUMENT: job record does not parse)");
}

}  // namespace
}  // namespace hg::dispatch
