// End to end: a real Prometheus (Debian's `prometheus`) on loopback scrapes `hourglass dev`
// while a job runs every second, and hourglass_executions_total is read back through
// Prometheus' HTTP query API.
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/telemetry/app_harness.h"

namespace hg::telemetry::testing {
namespace {

TEST(PrometheusE2eTest, ScrapesHourglassDevAndAnswersQueries) {
  if (!std::filesystem::exists("/usr/bin/prometheus")) {
    GTEST_SKIP() << "prometheus (Debian package prometheus) missing";
  }
  const std::string dir = MakeTempDir("hg-tel-prom");
  const int http = FreePort();
  const int prom = FreePort();
  {
    std::ofstream config(dir + "/prometheus.yml");
    config << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
           << "scrape_configs:\n  - job_name: hourglass\n    static_configs:\n"
           << "      - targets: ['127.0.0.1:" << http << "']\n";
  }
  auto dev =
      ChildProcess::Start({HourglassBinary(), "dev", "--http", "127.0.0.1:" + std::to_string(http),
                           "--data", dir + "/data", "--log-format", "json"},
                          dir + "/dev.log");
  ASSERT_TRUE(dev.ok()) << dev.status();
  auto prometheus = ChildProcess::Start(
      {"/usr/bin/prometheus", "--config.file=" + dir + "/prometheus.yml",
       "--storage.tsdb.path=" + dir + "/tsdb",
       "--web.listen-address=127.0.0.1:" + std::to_string(prom), "--log.level=warn"},
      dir + "/prometheus.log");
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  ASSERT_TRUE(Eventually([&] { return HttpGet(http, "/healthz").has_value(); }))
      << (*dev)->LogTail();
  ASSERT_EQ(PostJob(http, EverySecondJob("tick")), 201);

  double executions = 0;
  nlohmann::json last;
  const bool seen = Eventually(
      [&] {
        auto r =
            HttpGet(prom,
                    "/api/v1/"
                    "query?query=sum(hourglass_executions_total%7Bjob_name%3D%22tick%22%2Cstatus%"
                    "3D%22success%22%7D)");
        if (!r || r->status != 200) return false;
        last = nlohmann::json::parse(r->body, nullptr, false);
        if (!last.is_object() || last.value("status", "") != "success") return false;
        const auto& result = last["data"]["result"];
        if (!result.is_array() || result.empty()) return false;
        executions = std::stod(result[0]["value"][1].get<std::string>());
        return executions >= 2;
      },
      absl::Seconds(60));
  EXPECT_TRUE(seen) << last.dump() << "\n" << (*prometheus)->LogTail() << (*dev)->LogTail();
  EXPECT_GE(executions, 2);

  // The scrape target is healthy and the leader gauge made it too.
  auto up = HttpGet(prom, "/api/v1/query?query=hourglass_leader");
  ASSERT_TRUE(up.has_value());
  EXPECT_NE(up->body.find(R"("value":)"), std::string::npos) << up->body;

  (*prometheus)->Stop();
  (*dev)->Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace hg::telemetry::testing
