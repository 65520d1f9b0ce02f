// /metrics of real processes — `hourglass dev`, and an etcd-backed `hourglass master` plus
// `hourglass worker` — while a job runs: the numbers move, and promtool accepts every output.
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fixtures/etcd_fixture.h"
#include "tests/telemetry/app_harness.h"
#include "tests/telemetry/promtool.h"

namespace hg::telemetry::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kSuccess[] = R"(hourglass_executions_total{job_name="tick",status="success"})";

std::string Metrics(int port) {
  auto r = HttpGet(port, "/metrics");
  return r && r->status == 200 ? r->body : "";
}

void ExpectPromtoolAccepts(const std::string& text, const std::string& what) {
  if (!HavePromtool()) GTEST_SKIP() << "promtool (Debian package prometheus) missing";
  PromtoolResult r = RunPromtool("check metrics", text);
  EXPECT_EQ(r.exit_code, 0) << what << ": " << r.output << "\n---\n" << text;
}

class AppMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("hg-tel-app"); }
  void TearDown() override {
    procs_.clear();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ChildProcess* Spawn(const std::vector<std::string>& argv, const std::string& log) {
    auto p = ChildProcess::Start(argv, dir_ + "/" + log);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return nullptr;
    procs_.push_back(*std::move(p));
    return procs_.back().get();
  }

  std::string dir_;
  std::vector<std::unique_ptr<ChildProcess>> procs_;
};

TEST_F(AppMetricsTest, DevServesMetricsPromtoolAccepts) {
  const int http = FreePort();
  ChildProcess* dev =
      Spawn({HourglassBinary(), "dev", "--http", "127.0.0.1:" + std::to_string(http), "--data",
             dir_ + "/data", "--log-format", "json"},
            "dev.log");
  ASSERT_NE(dev, nullptr);
  ASSERT_TRUE(Eventually([&] { return HttpGet(http, "/healthz").has_value(); })) << dev->LogTail();
  ASSERT_EQ(PostJob(http, EverySecondJob("tick")), 201);
  ASSERT_TRUE(Eventually([&] { return Sample(Metrics(http), kSuccess).value_or(0) >= 2; }))
      << dev->LogTail() << Metrics(http);
  const std::string text = Metrics(http);
  EXPECT_EQ(Sample(text, "hourglass_leader"), 1);
  EXPECT_EQ(Sample(text, "hourglass_workers"), 1);
  EXPECT_GE(Sample(text, R"(hourglass_fires_total{outcome="dispatched"})").value_or(0), 2);
  EXPECT_GE(Sample(text, "hourglass_schedule_lag_seconds_count").value_or(0), 2);
  EXPECT_GE(Sample(text, R"(hourglass_store_request_duration_seconds_count{op="txn"})").value_or(0),
            2);
  EXPECT_EQ(Sample(text, R"(hourglass_api_requests_total{code="201",method="POST",route="/jobs"})"),
            1);
  EXPECT_THAT(text, HasSubstr("# TYPE hourglass_api_request_duration_seconds histogram"));
  ExpectPromtoolAccepts(text, "hourglass dev");
}

TEST_F(AppMetricsTest, MasterAndWorkerOnEtcdServeMetricsPromtoolAccepts) {
  auto etcd = hg::testing::EtcdCluster::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  const std::string endpoints = (*etcd)->ClientUrls();
  const int http = FreePort();
  const int grpc = FreePort();
  const int metrics = FreePort();
  ChildProcess* master = Spawn({HourglassBinary(), "master", "--etcd", endpoints, "--http",
                                "127.0.0.1:" + std::to_string(http), "--election-ttl", "2s",
                                "--log-format", "json", "--metrics-job-label", "false"},
                               "master.log");
  ChildProcess* worker =
      Spawn({HourglassBinary(), "worker", "--etcd", endpoints, "--grpc",
             "127.0.0.1:" + std::to_string(grpc), "--metrics",
             "127.0.0.1:" + std::to_string(metrics), "--session-ttl", "2s", "--log-format", "json",
             "--data", dir_ + "/worker-data", "--allow-root", "true"},
            "worker.log");
  ASSERT_NE(master, nullptr);
  ASSERT_NE(worker, nullptr);
  ASSERT_TRUE(Eventually([&] { return Sample(Metrics(http), "hourglass_workers") == 1; }))
      << master->LogTail() << worker->LogTail();
  ASSERT_EQ(PostJob(http, EverySecondJob("tick")), 201);
  ASSERT_TRUE(Eventually([&] { return Sample(Metrics(metrics), kSuccess).value_or(0) >= 2; }))
      << worker->LogTail() << Metrics(metrics);

  const std::string master_text = Metrics(http);
  EXPECT_EQ(Sample(master_text, "hourglass_leader"), 1);
  EXPECT_EQ(Sample(master_text, "hourglass_leader_changes_total"), 1);
  EXPECT_GT(Sample(master_text, "hourglass_term").value_or(0), 0);
  EXPECT_GE(Sample(master_text, R"(hourglass_fires_total{outcome="dispatched"})").value_or(0), 2);
  ExpectPromtoolAccepts(master_text, "hourglass master");

  const std::string worker_text = Metrics(metrics);
  EXPECT_GE(Sample(worker_text, "hourglass_schedule_lag_seconds_count").value_or(0), 2);
  // The worker serves no master metrics.
  EXPECT_FALSE(Sample(worker_text, "hourglass_leader").has_value());
  // The worker was not told --metrics-job-label false: the master's setting is its own.
  EXPECT_THAT(worker_text,
              HasSubstr(R"(hourglass_execution_duration_seconds_count{job_name="tick"})"));
  ExpectPromtoolAccepts(worker_text, "hourglass worker");

  // Clean shutdown of both.
  EXPECT_EQ(master->Stop(), 0) << master->LogTail();
  EXPECT_EQ(worker->Stop(), 0) << worker->LogTail();
}

}  // namespace
}  // namespace hg::telemetry::testing
