#include "telemetry/otlp_exporter.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/telemetry/otlp_receiver.h"

namespace hg::telemetry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(OtlpConfigTest, OffWithoutEndpoint) {
  auto c = OtlpConfigFromEnv("", "hourglass-master", Env({}));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->enabled());
  EXPECT_EQ(c->service_name, "hourglass-master");
}

TEST(OtlpConfigTest, StandardVariables) {
  auto c = OtlpConfigFromEnv("", "hourglass-master",
                             Env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"},
                                  {"OTEL_SERVICE_NAME", "cron-prod"},
                                  {"OTEL_RESOURCE_ATTRIBUTES",
                                   "deployment.environment=prod, service.name=ignored,"
                                   "team=a%20b"},
                                  {"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer x"},
                                  {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->traces_url, "http://collector:4318/v1/traces");
  EXPECT_EQ(c->service_name, "cron-prod");
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(c->resource_attributes,
              ElementsAre(P{"deployment.environment", "prod"}, P{"team", "a b"}));
  EXPECT_THAT(c->headers, ElementsAre(P{"authorization", "Bearer x"}));
  EXPECT_TRUE(c->warnings.empty());
}

TEST(OtlpConfigTest, FlagWinsTracesEndpointIsUsedAsIs) {
  auto c = OtlpConfigFromEnv("http://flag:4318", "s",
                             Env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->traces_url, "http://flag:4318/v1/traces");
  c = OtlpConfigFromEnv("", "s",
                        Env({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/custom"},
                             {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->traces_url, "http://t:1/custom");
  // service.name from the resource attributes when OTEL_SERVICE_NAME is unset.
  c = OtlpConfigFromEnv("http://x:1", "s", Env({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=r"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->service_name, "r");
}

TEST(OtlpConfigTest, DisabledProtocolWarningAndBadUrl) {
  auto c = OtlpConfigFromEnv("http://x:1", "s", Env({{"OTEL_SDK_DISABLED", "true"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->enabled());
  c = OtlpConfigFromEnv("http://x:1", "s", Env({{"OTEL_TRACES_EXPORTER", "none"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->enabled());
  c = OtlpConfigFromEnv("http://x:1", "s", Env({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->enabled());
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_THAT(c->warnings[0], HasSubstr("grpc"));
  EXPECT_FALSE(OtlpConfigFromEnv("collector:4318", "s", Env({})).ok());
}

trace::SpanData MakeSpan(const std::string& name, bool with_parent) {
  trace::SpanContext ctx = trace::NewRoot();
  trace::SpanData s;
  s.trace_id = ctx.trace_id;
  s.span_id = ctx.span_id;
  if (with_parent) s.parent_span_id = trace::NewSpanId();
  s.name = name;
  s.kind = trace::SpanKind::kServer;
  s.start = absl::FromUnixNanos(1'700'000'000'123'456'789);
  s.end = s.start + absl::Milliseconds(5);
  s.attributes = {{"s", std::string("v")}, {"i", int64_t{7}}, {"d", 0.5}, {"b", true}};
  s.status = trace::SpanStatus::kError;
  s.status_message = "bad";
  return s;
}

TEST(OtlpJsonTest, FollowsTheOtlpJsonMapping) {
  OtlpConfig config;
  config.service_name = "svc";
  config.resource_attributes = {{"host.name", "h"}};
  trace::SpanData s = MakeSpan("op", true);
  s.tracestate = "a=b";
  const nlohmann::json j = EncodeOtlpJson({s}, config);
  const auto& rs = j["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(rs["resource"]["attributes"][0]["value"]["stringValue"], "svc");
  EXPECT_EQ(rs["resource"]["attributes"][1]["key"], "host.name");
  const auto& span = rs["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(span["traceId"], trace::ToHex(s.trace_id.data(), 16));
  EXPECT_EQ(span["spanId"], trace::ToHex(s.span_id.data(), 8));
  EXPECT_EQ(span["parentSpanId"], trace::ToHex(s.parent_span_id->data(), 8));
  EXPECT_EQ(span["traceState"], "a=b");
  EXPECT_EQ(span["kind"], 2);
  EXPECT_EQ(span["startTimeUnixNano"], "1700000000123456789");
  EXPECT_EQ(span["endTimeUnixNano"], "1700000000128456789");
  EXPECT_EQ(span["attributes"][0]["value"]["stringValue"], "v");
  EXPECT_EQ(span["attributes"][1]["value"]["intValue"], "7");
  EXPECT_EQ(span["attributes"][2]["value"]["doubleValue"], 0.5);
  EXPECT_EQ(span["attributes"][3]["value"]["boolValue"], true);
  EXPECT_EQ(span["status"]["code"], 2);
  EXPECT_EQ(span["status"]["message"], "bad");
  // A root span has no parentSpanId at all.
  const nlohmann::json root = EncodeOtlpJson({MakeSpan("r", false)}, config);
  EXPECT_FALSE(root["resourceSpans"][0]["scopeSpans"][0]["spans"][0].contains("parentSpanId"));
}

OtlpConfig ConfigFor(const testing::OtlpReceiver& receiver) {
  auto c = OtlpConfigFromEnv(receiver.endpoint(), "hourglass-test", Env({}));
  EXPECT_TRUE(c.ok());
  c->flush_interval = absl::Hours(1);  // only Flush() or a full batch sends
  return *c;
}

TEST(OtlpExporterTest, SendsBatchesToTheCollector) {
  testing::OtlpReceiver receiver;
  OtlpConfig config = ConfigFor(receiver);
  config.max_batch = 2;
  int64_t exported_hook = 0;
  OtlpExporter exporter(config, RealClock::Get(),
                        {.exported = [&](int64_t n) { exported_hook += n; }});
  for (int i = 0; i < 5; ++i) exporter.Submit(MakeSpan("s" + std::to_string(i), false));
  ASSERT_TRUE(exporter.Flush(absl::Seconds(10)));
  auto spans = receiver.spans();
  ASSERT_EQ(spans.size(), 5u);
  EXPECT_EQ(spans[0].service, "hourglass-test");
  EXPECT_EQ(spans[0].span["name"], "s0");
  EXPECT_GE(receiver.requests(), 3);  // batches of at most 2
  EXPECT_EQ(receiver.content_types()[0], "application/json");
  EXPECT_EQ(exporter.counters().exported, 5);
  exporter.Stop();
  EXPECT_EQ(exported_hook, 5);
}

TEST(OtlpExporterTest, StopSendsWhatIsQueued) {
  testing::OtlpReceiver receiver;
  {
    OtlpExporter exporter(ConfigFor(receiver), RealClock::Get());
    exporter.Submit(MakeSpan("last", false));
  }
  ASSERT_EQ(receiver.spans().size(), 1u);
  EXPECT_EQ(receiver.spans()[0].span["name"], "last");
}

TEST(OtlpExporterTest, FullQueueDropsAndCountsNeverBlocks) {
  testing::OtlpReceiver receiver;
  OtlpConfig config = ConfigFor(receiver);
  config.max_queue = 3;
  config.max_batch = 100;  // nothing is sent before Flush()
  int64_t dropped_hook = 0;
  OtlpExporter exporter(config, RealClock::Get(),
                        {.dropped = [&](int64_t n) { dropped_hook += n; }});
  for (int i = 0; i < 10; ++i) exporter.Submit(MakeSpan("s", false));
  EXPECT_EQ(exporter.counters().dropped, 7);
  EXPECT_EQ(dropped_hook, 7);
  ASSERT_TRUE(exporter.Flush(absl::Seconds(10)));
  EXPECT_EQ(receiver.spans().size(), 3u);
}

TEST(OtlpExporterTest, CollectorErrorsAndAbsenceAreCountedNotRetried) {
  testing::OtlpReceiver receiver;
  receiver.set_fail(true);
  OtlpExporter exporter(ConfigFor(receiver), RealClock::Get());
  exporter.Submit(MakeSpan("a", false));
  ASSERT_TRUE(exporter.Flush(absl::Seconds(10)));
  EXPECT_EQ(exporter.counters().failed, 1);
  EXPECT_EQ(exporter.counters().exported, 0);

  // Nobody listening: a refused connection fails fast, Submit stays instant.
  OtlpConfig down = ConfigFor(receiver);
  down.traces_url = "http://127.0.0.1:1/v1/traces";
  OtlpExporter exporter2(down, RealClock::Get());
  const absl::Time before = absl::Now();
  for (int i = 0; i < 100; ++i) exporter2.Submit(MakeSpan("x", false));
  EXPECT_LT(absl::Now() - before, absl::Seconds(1));
  ASSERT_TRUE(exporter2.Flush(absl::Seconds(10)));
  EXPECT_EQ(exporter2.counters().failed, 100);
}

}  // namespace
}  // namespace hg::telemetry
