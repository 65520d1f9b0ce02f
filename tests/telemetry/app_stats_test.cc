// GET /stats of a real `hourglass dev` while jobs succeed and fail: its totals equal what
// /metrics counted (both are counted in the same probe calls; /stats reads them back from the
// values the process published to its store).
#include <httplib.h>

#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/fixtures/etcd_fixture.h"
#include "tests/telemetry/app_harness.h"

namespace hg::telemetry::testing {
namespace {

using Json = nlohmann::json;
using Counts = std::map<std::string, double>;

// The sum of every sample of `metric` whose labels contain every one of `labels`
// (`status="success"`).
double Sum(const std::string& text, const std::string& metric,
           const std::vector<std::string>& labels = {}) {
  double sum = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(metric + "{") && !line.starts_with(metric + " ")) continue;
    bool all = true;
    for (const std::string& l : labels) all = all && line.find(l) != std::string::npos;
    if (!all) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// What /stats should say, computed from /metrics alone (docs/design/api.md "GET /stats").
std::map<std::string, double> FromMetrics(const std::string& m) {
  const std::string ex = "hourglass_executions_total";
  const std::string lost = "hourglass_runs_lost_total";
  return {
      {"succeeded", Sum(m, ex, {R"(status="success")"})},
      {"failed", Sum(m, ex, {R"(status="failed")"}) +
                     Sum(m, "hourglass_fires_total", {R"(outcome="no_worker")"}) +
                     Sum(m, lost, {R"(outcome="failed")"})},
      {"timeout", Sum(m, ex, {R"(status="timeout")"})},
      {"killed", Sum(m, ex, {R"(status="killed")"}) + Sum(m, lost, {R"(outcome="killed")"})},
      {"skipped", Sum(m, ex, {R"(status="skipped")"})},
      {"missed", Sum(m, "hourglass_fires_total", {R"(outcome="missed")"})},
      {"lost", Sum(m, lost)},
      {"lag_count", Sum(m, "hourglass_schedule_lag_seconds_count")},
  };
}

std::map<std::string, double> FromStats(const Json& s) {
  std::map<std::string, double> out;
  for (const char* k : {"succeeded", "failed", "timeout", "killed", "skipped", "missed", "lost"}) {
    out[k] = s["totals"][k].get<double>();
  }
  out["lag_count"] = 0;  // not in the body; compared through the metrics only
  return out;
}

std::map<std::string, double> Minus(std::map<std::string, double> a,
                                    const std::map<std::string, double>& b) {
  for (auto& [k, v] : a) v -= b.at(k);
  return a;
}

class AppStatsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("hg-tel-stats"); }
  void TearDown() override {
    dev_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Text(const std::string& path) {
    auto r = HttpGet(http_, path);
    return r && r->status == 200 ? r->body : "";
  }
  Json Stats() {
    const std::string body = Text("/stats?window=15m");
    return body.empty() ? Json() : Json::parse(body);
  }

  // Creates a succeeding and a failing every-second job, waits until `counts` (what /metrics
  // says, less a baseline) has `n` of each, then pauses both.
  void RunOkAndBad(const std::function<Counts()>& counts, int n) {
    ASSERT_EQ(PostJob(http_, R"({"name":"ok","cron_expr":"* * * * * *","executor_type":"shell",)"
                             R"("executor":{"command":"true"}})"),
              201);
    ASSERT_EQ(PostJob(http_, R"({"name":"bad","cron_expr":"* * * * * *","executor_type":"shell",)"
                             R"("executor":{"command":"exit 3"}})"),
              201);
    ASSERT_TRUE(Eventually([&] {
      Counts c = counts();
      return c["succeeded"] >= n && c["failed"] >= n;
    }));
    httplib::Client client("127.0.0.1", http_);
    for (const char* job : {"ok", "bad"}) {
      auto r = client.Post(std::string("/jobs/") + job + "/pause", "", "application/json");
      ASSERT_TRUE(r && r->status == 200) << job;
    }
  }
  // True once the last runs ended and the next publish happened: /stats (less `stats0`) says
  // what `counts` says. `body` and `stats` get the last /stats read.
  bool StatsSettleOn(const std::function<Counts()>& counts, const Counts& stats0, Json* body,
                     Counts* stats) {
    return Eventually(
        [&] {
          const Counts before = counts();
          *body = Stats();
          Counts m = counts();
          if (body->is_null() || before != m) return false;
          *stats = Minus(FromStats(*body), stats0);
          m.erase("lag_count");
          stats->erase("lag_count");
          return m == *stats;
        },
        absl::Seconds(30));
  }

  std::string dir_;
  int http_ = 0;
  std::unique_ptr<ChildProcess> dev_;
};

TEST_F(AppStatsTest, DevStatsTotalsEqualTheMetricsDeltas) {
  http_ = FreePort();
  auto dev =
      ChildProcess::Start({HourglassBinary(), "dev", "--http", "127.0.0.1:" + std::to_string(http_),
                           "--data", dir_ + "/data", "--log-format", "json", "--capacity", "7"},
                          dir_ + "/dev.log");
  ASSERT_TRUE(dev.ok()) << dev.status();
  dev_ = *std::move(dev);
  ASSERT_TRUE(Eventually([&] { return !Stats().is_null(); })) << dev_->LogTail();
  const auto metrics0 = FromMetrics(Text("/metrics"));
  const auto stats0 = FromStats(Stats());

  auto counts = [&] { return Minus(FromMetrics(Text("/metrics")), metrics0); };
  RunOkAndBad(counts, 3);
  ASSERT_FALSE(HasFatalFailure()) << dev_->LogTail();
  Counts s;
  Json body;
  const bool equal = StatsSettleOn(counts, stats0, &body, &s);
  EXPECT_TRUE(equal) << "stats " << body.dump() << "\nmetrics " << Text("/metrics");
  EXPECT_GE(s["succeeded"], 3);
  EXPECT_GE(s["failed"], 3);
  EXPECT_EQ(body["complete"], true) << body.dump();
  EXPECT_EQ(body["totals"]["runs"].get<double>(),
            body["totals"]["succeeded"].get<double>() + body["totals"]["failed"].get<double>() +
                body["totals"]["timeout"].get<double>() + body["totals"]["killed"].get<double>() +
                body["totals"]["skipped"].get<double>() + body["totals"]["missed"].get<double>());
  ASSERT_FALSE(body["failing_jobs"].empty()) << body.dump();
  EXPECT_EQ(body["failing_jobs"][0]["name"], "bad");
  EXPECT_EQ(body["failing_jobs"][0]["failures"].get<double>(),
            Sum(Text("/metrics"), "hourglass_executions_total",
                {R"(job_name="bad")", R"(status="failed")"}));
  // Lag: every started run observed in both.
  EXPECT_FALSE(body["lag_ms"]["p50"].is_null());
  EXPECT_EQ(body["workers"]["count"], 1);
  EXPECT_EQ(body["workers"]["capacity"], 7);
  EXPECT_EQ(body["per_minute"].size(), 15u);
}

// A master and a worker on etcd: each publishes its own counts (the worker's runs, the leader's
// missed instants and no-worker failures); /stats merges both and equals the sum of both
// /metrics.
TEST_F(AppStatsTest, MasterAndWorkerOnEtcdStatsEqualBothMetrics) {
  auto etcd = hg::testing::EtcdCluster::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  const std::string endpoints = (*etcd)->ClientUrls();
  http_ = FreePort();
  const int grpc = FreePort();
  const int metrics = FreePort();
  auto master = ChildProcess::Start({HourglassBinary(), "master", "--etcd", endpoints, "--http",
                                     "127.0.0.1:" + std::to_string(http_), "--election-ttl", "2s",
                                     "--log-format", "json", "--id", "m1"},
                                    dir_ + "/master.log");
  ASSERT_TRUE(master.ok()) << master.status();
  auto worker = ChildProcess::Start({HourglassBinary(),
                                     "worker",
                                     "--etcd",
                                     endpoints,
                                     "--grpc",
                                     "127.0.0.1:" + std::to_string(grpc),
                                     "--metrics",
                                     "127.0.0.1:" + std::to_string(metrics),
                                     "--session-ttl",
                                     "2s",
                                     "--log-format",
                                     "json",
                                     "--data",
                                     dir_ + "/worker-data",
                                     "--allow-root",
                                     "true",
                                     "--id",
                                     "w1",
                                     "--capacity",
                                     "5"},
                                    dir_ + "/worker.log");
  ASSERT_TRUE(worker.ok()) << worker.status();
  auto both = [&] {
    auto m = HttpGet(http_, "/metrics");
    auto w = HttpGet(metrics, "/metrics");
    auto sum = FromMetrics(m ? m->body : "");
    for (auto& [k, v] : FromMetrics(w ? w->body : "")) sum[k] += v;
    return sum;
  };
  ASSERT_TRUE(Eventually([&] { return Stats()["workers"]["count"] == 1; }))
      << (*master)->LogTail() << (*worker)->LogTail();
  const Counts metrics0 = both();
  const Counts stats0 = FromStats(Stats());
  auto counts = [&] { return Minus(both(), metrics0); };
  RunOkAndBad(counts, 2);
  ASSERT_FALSE(HasFatalFailure()) << (*worker)->LogTail();
  Counts s;
  Json body;
  EXPECT_TRUE(StatsSettleOn(counts, stats0, &body, &s)) << "stats " << body.dump();
  EXPECT_GE(s["succeeded"], 2);
  EXPECT_EQ(body["complete"], true) << body.dump();
  EXPECT_EQ(body["workers"], Json::parse(R"({"count":1,"in_flight":0,"capacity":5})"));
  EXPECT_EQ((*master)->Stop(), 0) << (*master)->LogTail();
  EXPECT_EQ((*worker)->Stop(), 0) << (*worker)->LogTail();
}

}  // namespace
}  // namespace hg::telemetry::testing
