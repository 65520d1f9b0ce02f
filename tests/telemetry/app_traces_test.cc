// Traces through a real `hourglass dev`: a manual trigger with a W3C traceparent yields API ->
// dispatch -> execution -> attempt spans in one trace with correct parent links, received by an
// OTLP/HTTP JSON receiver in the test; the job sees the same trace in TRACEPARENT; the record
// stores the trace id. With the collector down, scheduling goes on.
#include <httplib.h>

#include <filesystem>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/telemetry/app_harness.h"
#include "tests/telemetry/otlp_receiver.h"

namespace hg::telemetry::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kTrace[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kClientSpan[] = "00f067aa0ba902b7";

class AppTracesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("hg-tel-traces"); }
  void TearDown() override {
    dev_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void StartDev(const std::string& otlp_endpoint) {
    http_ = FreePort();
    auto dev = ChildProcess::Start(
        {HourglassBinary(), "dev", "--http", "127.0.0.1:" + std::to_string(http_), "--data",
         dir_ + "/data", "--log-format", "json", "--otlp-endpoint", otlp_endpoint},
        dir_ + "/dev.log", {{"OTEL_SERVICE_NAME", "hg-trace-test"}});
    ASSERT_TRUE(dev.ok()) << dev.status();
    dev_ = *std::move(dev);
    ASSERT_TRUE(Eventually([&] { return HttpGet(http_, "/healthz").has_value(); }))
        << dev_->LogTail();
  }

  std::string dir_;
  int http_ = 0;
  std::unique_ptr<ChildProcess> dev_;
};

TEST_F(AppTracesTest, TriggerToJobIsOneTrace) {
  OtlpReceiver receiver;
  StartDev(receiver.endpoint());
  // Never fires by itself (1 January, midnight): only the manual trigger runs it.
  ASSERT_EQ(PostJob(http_, R"({"name":"traced","cron_expr":"0 0 1 1 *","executor_type":"shell",)"
                           R"("executor":{"command":"echo tp=$TRACEPARENT"}})"),
            201);
  httplib::Client client("127.0.0.1", http_);
  const std::string traceparent = std::string("00-") + kTrace + "-" + kClientSpan + "-01";
  auto trigger = client.Post("/jobs/traced/trigger", httplib::Headers{{"traceparent", traceparent}},
                             "", "application/json");
  ASSERT_TRUE(trigger);
  ASSERT_EQ(trigger->status, 202) << trigger->body;
  const nlohmann::json created = nlohmann::json::parse(trigger->body);
  EXPECT_EQ(created.value("trace_id", ""), kTrace);
  const std::string id = created["id"];

  nlohmann::json record;
  ASSERT_TRUE(Eventually([&] {
    auto r = HttpGet(http_, "/executions/" + id);
    if (!r || r->status != 200) return false;
    record = nlohmann::json::parse(r->body);
    return record.value("status", "") == "success";
  })) << record.dump()
      << dev_->LogTail();
  EXPECT_EQ(record.value("trace_id", ""), kTrace);

  // Spans arrive within the exporter's one-second batch interval.
  std::map<std::string, nlohmann::json> by_name;
  ASSERT_TRUE(Eventually([&] {
    by_name.clear();
    for (const ReceivedSpan& s : receiver.spans()) {
      if (s.span.value("traceId", "") == kTrace) by_name[s.span["name"]] = s.span;
    }
    return by_name.size() >= 4;
  })) << dev_->LogTail();
  for (const ReceivedSpan& s : receiver.spans()) EXPECT_EQ(s.service, "hg-trace-test");
  ASSERT_TRUE(by_name.contains("POST /jobs/{name}/trigger"));
  ASSERT_TRUE(by_name.contains("dispatch"));
  ASSERT_TRUE(by_name.contains("execution"));
  ASSERT_TRUE(by_name.contains("attempt"));
  const nlohmann::json& api = by_name["POST /jobs/{name}/trigger"];
  const nlohmann::json& dispatch = by_name["dispatch"];
  const nlohmann::json& execution = by_name["execution"];
  const nlohmann::json& attempt = by_name["attempt"];
  EXPECT_EQ(api["parentSpanId"], kClientSpan);
  EXPECT_EQ(api["kind"], 2);  // SERVER
  EXPECT_EQ(dispatch["parentSpanId"], api["spanId"]);
  EXPECT_EQ(execution["parentSpanId"], dispatch["spanId"]);
  EXPECT_EQ(attempt["parentSpanId"], execution["spanId"]);
  // The job ran under the attempt's context.
  EXPECT_THAT(record.value("output", ""), HasSubstr(std::string("tp=00-") + kTrace + "-" +
                                                    attempt["spanId"].get<std::string>()))
      << record.dump();
}

TEST_F(AppTracesTest, CronFiresStartTracesAndACollectorOutageChangesNothing) {
  // Nobody listens there: every export fails, runs go on.
  StartDev("http://127.0.0.1:" + std::to_string(FreePort()));
  ASSERT_EQ(PostJob(http_, EverySecondJob("tick")), 201);
  std::string text;
  ASSERT_TRUE(Eventually([&] {
    auto r = HttpGet(http_, "/metrics");
    text = r ? r->body : "";
    return Sample(text, R"(hourglass_executions_total{job_name="tick",status="success"})")
                   .value_or(0) >= 3 &&
           Sample(text, R"(hourglass_trace_spans_total{result="failed"})").value_or(0) > 0;
  })) << text
      << dev_->LogTail();
  // Each run got a trace id from its fire.
  auto history = HttpGet(http_, "/jobs/tick/history?page_size=1");
  ASSERT_TRUE(history.has_value());
  const nlohmann::json runs = nlohmann::json::parse(history->body);
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(runs[0].value("trace_id", "").size(), 32u) << history->body;
}

}  // namespace
}  // namespace hg::telemetry::testing
