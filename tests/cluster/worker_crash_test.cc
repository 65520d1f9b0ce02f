// Scenario (e), worker crash mid-run, with real processes: etcd, 1 master, 2 workers.
// kill -9 the worker running a long shell run. The leader's lost-run path (runs::Lose, for an
// inflight/<id> entry whose worker's session lease has expired) must:
//  - finish the record `failed`, reason worker_lost, within the worker session TTL + slack when
//    no retries remain, and free the Forbid lock (the next instant runs);
//  - with a retry left, put the run back to `scheduled` with attempt 2, which the other worker
//    runs to success.
// HG_SCENARIO_JOBS=N (default 0) adds a load of N every-second Allow jobs, accounted at the end
// of each test: every instant ran once or has an outcome.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/scenario.h"

namespace hg::testing {
namespace {

constexpr absl::Duration kSessionTtl = absl::Seconds(2);
// Lease expiry (TTL after the last keepalive) + the leader's watch and one txn, on a loaded
// 2-core machine under sanitizers.
constexpr absl::Duration kLostSlack = absl::Seconds(3);

// Waits until execution `id` satisfies `pred`; returns the last record seen.
nlohmann::json WaitExecution(Cluster& c, const std::string& id,
                             const std::function<bool(const nlohmann::json&)>& pred,
                             absl::Duration timeout) {
  nlohmann::json last;
  WaitFor(
      [&] {
        auto e = Execution(c, id);
        if (!e.ok()) return false;
        last = *e;
        return pred(last);
      },
      timeout);
  return last;
}

// Processes still running `sleep <tag>` (a run the dead worker left behind).
int CountSleeps(const std::string& tag) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd == std::string("sleep\0", 6) + tag + std::string("\0", 1)) ++n;
  }
  return n;
}

class WorkerCrash : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = Cluster::Start({.masters = 1, .workers = 2});
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    c_ = *std::move(cluster);
    ASSERT_TRUE(c_->WaitLeader(absl::Seconds(30)).ok());
    ASSERT_TRUE(c_->WaitWorkers(2, absl::Seconds(30)).ok());
    out_ = c_->dir() + "/runs.txt";
    if (const int load = ScenarioJobs(0); load > 0) {
      load_ = CreateFleet(*c_, "load", load, c_->dir() + "/load.txt");
      load_from_ = NextSecond(load_.created) + absl::Seconds(1);
    }
  }

  void TearDown() override {
    if (load_.names.empty() || HasFatalFailure()) return;
    // At least a few instants, however quick the test was.
    if (absl::Now() < load_from_ + absl::Seconds(5))
      absl::SleepFor(load_from_ + absl::Seconds(5) - absl::Now());
    const absl::Time to = FloorSecond(absl::Now()) - absl::Seconds(1);
    FleetResult r = SettleAndAccount(*c_, load_, load_from_, to, /*allow_missed=*/false,
                                     /*allow_other_outcomes=*/true);
    int worker_lost = 0;
    for (const auto& [job, recs] : r.history) {
      for (const auto& e : recs) worker_lost += e.value("reason", "") == "worker_lost";
    }
    Figure("jobs", static_cast<double>(load_.names.size()));
    Figure("load_worker_lost_records", worker_lost);
    FleetFigures(r);
  }

  void CreateJob(const nlohmann::json& job) {
    auto r = c_->Http(-1, "POST", "/jobs/", job.dump());
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 201) << r->body;
  }

  std::unique_ptr<Cluster> c_;
  std::string out_;
  Fleet load_;  // HG_SCENARIO_JOBS background jobs (none by default)
  absl::Time load_from_;
};

TEST_F(WorkerCrash, NoRetriesLeftRecordFailsAndForbidLockIsFreed) {
  // The first run (whichever instant wins mkdir) sleeps; every later one is quick.
  const std::string marker = c_->dir() + "/first";
  const std::string sleep_tag = "27.25";
  ASSERT_NO_FATAL_FAILURE(CreateJob(ShellJob(
      {.name = "forbid-long",
       .cron = "*/2 * * * * *",
       .out_file = out_,
       .tail = absl::StrCat("if mkdir ", marker, " 2>/dev/null; then sleep ", sleep_tag, "; fi"),
       .concurrency = "Forbid",
       .max_retries = 0})));

  // Wait for the long run to start.
  std::string long_id;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& r : ReadRuns(out_)) {
          if (r.job == "forbid-long") {
            long_id = r.id;
            return true;
          }
        }
        return false;
      },
      absl::Seconds(20)))
      << "the long run never started";
  nlohmann::json rec = WaitExecution(
      *c_, long_id, [](const auto& e) { return e.value("status", "") == "running"; },
      absl::Seconds(10));
  ASSERT_EQ(rec.value("status", ""), "running") << rec.dump();
  const int victim = c_->WorkerIndex(rec.value("worker_id", ""));
  ASSERT_GE(victim, 0) << rec.dump();
  // Let at least one instant be skipped by the lock first.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));

  const absl::Time killed_at = absl::Now();
  c_->worker(victim).Kill();
  rec = WaitExecution(
      *c_, long_id, [](const auto& e) { return e.value("status", "") == "failed"; },
      kSessionTtl + kLostSlack + absl::Seconds(10));
  const absl::Duration lost_after = absl::Now() - killed_at;
  ASSERT_EQ(rec.value("status", ""), "failed") << rec.dump();
  EXPECT_EQ(rec.value("reason", ""), "worker_lost") << rec.dump();
  EXPECT_LE(lost_after, kSessionTtl + kLostSlack);
  Figure("worker_lost_detect_ms", absl::ToDoubleMilliseconds(lost_after));

  // The lock is free: an instant after the kill runs (on the surviving worker) to success.
  std::string next_id;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& r : ReadRuns(out_)) {
          if (r.job == "forbid-long" && r.id != long_id &&
              ParseTimeOrDie(r.scheduled) > killed_at) {
            next_id = r.id;
            return true;
          }
        }
        return false;
      },
      kSessionTtl + kLostSlack + absl::Seconds(6)))
      << "no instant ran after the kill: the Forbid lock was not freed";
  rec = WaitExecution(
      *c_, next_id, [](const auto& e) { return e.value("status", "") == "success"; },
      absl::Seconds(10));
  EXPECT_EQ(rec.value("status", ""), "success") << rec.dump();
  EXPECT_NE(c_->WorkerIndex(rec.value("worker_id", "")), victim) << rec.dump();

  // While the long run held the lock, other instants were skipped, never run alongside it.
  auto history = History(*c_, "forbid-long");
  ASSERT_TRUE(history.ok()) << history.status();
  int skipped = 0;
  for (const auto& e : *history) {
    if (e.value("status", "") == "skipped") ++skipped;
    if (ParseTimeOrDie(e.value("scheduled_time", "")) < killed_at) {
      EXPECT_NE(e.value("status", ""), "running") << "still running after the crash: " << e.dump();
    }
  }
  EXPECT_GE(skipped, 1) << "no instant was skipped while the lock was held";
  for (const auto& r : ReadRuns(out_)) {
    if (r.job != "forbid-long" || r.id == long_id) continue;
    EXPECT_GT(r.started, killed_at) << r.id << " ran while the long run held the Forbid lock";
  }
  // Asserted in SigkilledWorkerLeavesNoRunBehind; reported here too.
  Figure("orphaned_runs_after_worker_kill", CountSleeps(sleep_tag));
}

// DESIGN guard 3 ("no run outlives its owner") for SIGKILL of the worker: each run's process
// group is led by a supervisor holding a lifeline pipe to the worker (executor/shell_executor.cc
// SpawnSupervised); the worker's death closes it and the supervisor kills the group.
TEST_F(WorkerCrash, SigkilledWorkerLeavesNoRunBehind) {
  const std::string sleep_tag = "29.125";
  ASSERT_NO_FATAL_FAILURE(CreateJob(ShellJob(
      {.name = "orphan", .cron = "0 0 0 1 1 *", .out_file = out_, .tail = "sleep " + sleep_tag})));
  auto trig = c_->Http(-1, "POST", "/jobs/orphan/trigger");
  ASSERT_TRUE(trig.ok() && trig->status == 202) << (trig.ok() ? trig->body : "");
  const std::string id = trig->Json().value("id", "");
  nlohmann::json rec = WaitExecution(
      *c_, id, [](const auto& e) { return e.value("status", "") == "running"; }, absl::Seconds(15));
  ASSERT_EQ(rec.value("status", ""), "running") << rec.dump();
  ASSERT_TRUE(WaitFor([&] { return CountSleeps(sleep_tag) == 1; }, absl::Seconds(10)));
  c_->worker(c_->WorkerIndex(rec.value("worker_id", ""))).Kill();
  EXPECT_TRUE(WaitFor([&] { return CountSleeps(sleep_tag) == 0; }, kSessionTtl + kLostSlack))
      << "the SIGKILLed worker's run (sleep " << sleep_tag << ") is still running";
}

TEST_F(WorkerCrash, RetryRunsOnTheOtherWorker) {
  // Never fires by itself; triggered by hand. Attempt 1 sleeps, attempt 2 is quick.
  ASSERT_NO_FATAL_FAILURE(
      CreateJob(ShellJob({.name = "retry-long",
                          .cron = "0 0 0 1 1 *",
                          .out_file = out_,
                          .tail = "if [ \"$HOURGLASS_ATTEMPT\" = 1 ]; then sleep 26.75; fi",
                          .concurrency = "Forbid",
                          .max_retries = 1,
                          .backoff = "1s"})));
  auto trig = c_->Http(-1, "POST", "/jobs/retry-long/trigger");
  ASSERT_TRUE(trig.ok()) << trig.status();
  ASSERT_EQ(trig->status, 202) << trig->body;
  const std::string id = trig->Json().value("id", "");
  ASSERT_FALSE(id.empty()) << trig->body;

  nlohmann::json rec = WaitExecution(
      *c_, id, [](const auto& e) { return e.value("status", "") == "running"; }, absl::Seconds(15));
  ASSERT_EQ(rec.value("status", ""), "running") << rec.dump();
  const int victim = c_->WorkerIndex(rec.value("worker_id", ""));
  ASSERT_GE(victim, 0) << rec.dump();
  ASSERT_TRUE(WaitFor([&] { return !ReadRuns(out_).empty(); }, absl::Seconds(10)));

  const absl::Time killed_at = absl::Now();
  c_->worker(victim).Kill();
  rec = WaitExecution(
      *c_, id,
      [](const auto& e) {
        return e.value("attempt", 0) >= 2 && e.value("status", "") != "scheduled" &&
               e.value("status", "") != "running";
      },
      kSessionTtl + kLostSlack + absl::Seconds(15));
  const absl::Duration retried_after = absl::Now() - killed_at;
  EXPECT_EQ(rec.value("status", ""), "success") << rec.dump();
  EXPECT_EQ(rec.value("attempt", 0), 2) << rec.dump();
  EXPECT_EQ(rec.value("retries_attempted", 0), 1) << rec.dump();
  const int runner = c_->WorkerIndex(rec.value("worker_id", ""));
  EXPECT_GE(runner, 0) << rec.dump();
  EXPECT_NE(runner, victim) << "retried on the dead worker? " << rec.dump();
  // The record shows the lost attempt too (retry_on_worker_loss, on by default).
  const nlohmann::json earlier = rec.value("attempts", nlohmann::json::array());
  ASSERT_EQ(earlier.size(), 1u) << rec.dump();
  EXPECT_EQ(earlier[0].value("attempt", 0), 1) << rec.dump();
  EXPECT_EQ(earlier[0].value("reason", ""), "worker_lost") << rec.dump();
  EXPECT_EQ(c_->WorkerIndex(earlier[0].value("worker_id", "")), victim) << rec.dump();
  Figure("worker_lost_retry_done_ms", absl::ToDoubleMilliseconds(retried_after));

  // What really ran: attempt 1 and attempt 2 of the same execution, once each.
  std::map<int, int> attempts;
  for (const auto& r : ReadRuns(out_)) {
    if (r.id == id) ++attempts[r.attempt];
  }
  EXPECT_EQ(attempts[1], 1);
  EXPECT_EQ(attempts[2], 1);
  EXPECT_EQ(attempts.size(), 2u);
  // One record for the instant.
  auto history = History(*c_, "retry-long");
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_EQ(history->size(), 1u);
}

}  // namespace
}  // namespace hg::testing
