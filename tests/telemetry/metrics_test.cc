#include "telemetry/metrics.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/telemetry/promtool.h"

namespace hg::telemetry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Every probe with some data in it: what a `hourglass dev` process exports.
std::string PopulatedText(Metrics& metrics) {
  ApiProbe api(metrics);
  FireProbe fires(metrics);
  LeaderProbe leader(metrics);
  DispatchProbe dispatch(metrics);
  WorkerProbe worker(metrics);
  StoreProbe store(metrics);
  TraceProbe traces(metrics);
  api.Request("/jobs/{name}", "GET", 200, absl::Milliseconds(3));
  api.Request("/jobs/{name}", "GET", 404, absl::Milliseconds(1));
  api.Unrouted("BREW", 404);
  fires.Fires("dispatched", 3);
  fires.Fires("missed", 2);
  leader.Leadership(true, 42);
  dispatch.Workers(2);
  dispatch.DispatchError("UNAVAILABLE");
  worker.ExecutionStarted(absl::Milliseconds(120));
  worker.ExecutionFinished("backup", "success", absl::Seconds(2));
  worker.ExecutionFinished("backup", "skipped", absl::ZeroDuration());
  worker.Running(1);
  store.Request("txn", absl::Milliseconds(4), true);
  store.Request("range", absl::Milliseconds(1), false);
  traces.Spans("dropped", 5);
  return metrics.Serialize();
}

TEST(MetricsTest, SerializesEveryMetricInTextFormat) {
  Metrics metrics({.per_job_labels = true, .version = "1.2.3"});
  const std::string text = PopulatedText(metrics);
  EXPECT_THAT(text, HasSubstr("# TYPE hourglass_api_requests_total counter"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(hourglass_api_requests_total{code="404",method="GET",route="/jobs/{name}"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(hourglass_api_requests_total{code="404",method="other",route="unmatched"} 1)"));
  EXPECT_THAT(text, HasSubstr("# TYPE hourglass_api_request_duration_seconds histogram"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(hourglass_api_request_duration_seconds_count{method="GET",route="/jobs/{name}"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_fires_total{outcome="dispatched"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_fires_total{outcome="missed"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_fires_total{outcome="no_worker"} 0)"));
  EXPECT_THAT(text, HasSubstr("hourglass_leader 1"));
  EXPECT_THAT(text, HasSubstr("hourglass_leader_changes_total 1"));
  EXPECT_THAT(text, HasSubstr("hourglass_term 42"));
  EXPECT_THAT(text, HasSubstr("hourglass_workers 2"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_dispatch_errors_total{reason="UNAVAILABLE"} 1)"));
  EXPECT_THAT(text,
              HasSubstr(R"(hourglass_executions_total{job_name="backup",status="success"} 1)"));
  EXPECT_THAT(text,
              HasSubstr(R"(hourglass_executions_total{job_name="backup",status="skipped"} 1)"));
  // Skipped runs did not run: no duration observed for them.
  EXPECT_THAT(text,
              HasSubstr(R"(hourglass_execution_duration_seconds_count{job_name="backup"} 1)"));
  EXPECT_THAT(text, HasSubstr("hourglass_schedule_lag_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_schedule_lag_seconds_bucket{le="0.25"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_schedule_lag_seconds_bucket{le="0.1"} 0)"));
  EXPECT_THAT(text, HasSubstr("hourglass_running_executions 1"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_store_request_duration_seconds_count{op="txn"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_store_errors_total{op="range"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_trace_spans_total{result="dropped"} 5)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_build_info{version="1.2.3"} 1)"));
}

TEST(MetricsTest, PerJobLabelCanBeTurnedOff) {
  Metrics metrics({.per_job_labels = false});
  WorkerProbe worker(metrics);
  worker.ExecutionFinished("a", "success", absl::Seconds(1));
  worker.ExecutionFinished("b", "success", absl::Seconds(1));
  const std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr(R"(hourglass_executions_total{job_name="_all",status="success"} 2)"));
  EXPECT_THAT(text, Not(HasSubstr(R"(job_name="a")")));
}

TEST(MetricsTest, V1JobNamesAreEscapedInTheJobLabel) {
  // v1 names may hold spaces, non-ASCII letters, quotes and backslashes (not newlines).
  Metrics metrics({.per_job_labels = true});
  WorkerProbe worker(metrics);
  worker.ExecutionFinished("备份 \"nightly\" C:\\tmp", "success", absl::Seconds(1));
  const std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr(R"(hourglass_executions_total{job_name="备份 \"nightly\" C:\\tmp",)"
                              R"(status="success"} 1)"));
  if (testing::HavePromtool()) {
    testing::PromtoolResult r = testing::RunPromtool("check metrics", text);
    EXPECT_EQ(r.exit_code, 0) << r.output << "\n---\n" << text;
  }
}

TEST(MetricsTest, LeaderGaugeFollowsLeadershipAndCountsGains) {
  Metrics metrics({});
  LeaderProbe leader(metrics);
  EXPECT_THAT(metrics.Serialize(), HasSubstr("hourglass_leader 0"));
  leader.Leadership(true, 5);
  leader.Leadership(true, 5);  // repeated report: not a change
  leader.Leadership(false, 5);
  leader.Leadership(true, 9);
  const std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr("hourglass_leader 1"));
  EXPECT_THAT(text, HasSubstr("hourglass_leader_changes_total 2"));
  EXPECT_THAT(text, HasSubstr("hourglass_term 9"));
}

TEST(MetricsTest, TwoProbesOfOneKindShareTheirFamilies) {
  Metrics metrics({});
  StoreProbe a(metrics);
  StoreProbe b(metrics);  // hourglass dev: the master's and the worker's
  a.Request("put", absl::Milliseconds(1), true);
  b.Request("put", absl::Milliseconds(1), true);
  const std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr(R"(hourglass_store_request_duration_seconds_count{op="put"} 2)"));
  EXPECT_EQ(text.find("# TYPE hourglass_store_request_duration_seconds"),
            text.rfind("# TYPE hourglass_store_request_duration_seconds"));
}

TEST(ApiProbeTest, RouteTemplates) {
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/jobs/?)"), "/jobs");
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/jobs/([^/]+)/?)"), "/jobs/{name}");
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/jobs/([^/]+)/history/?)"), "/jobs/{name}/history");
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/executions/([^/]+)/kill/?)"), "/executions/{id}/kill");
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/ui/(.*))"), "/ui/{path}");
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/ui)"), "/ui");
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/)"), "/");
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/metrics)"), "/metrics");
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/cron/preview/?)"), "/cron/preview");
  EXPECT_EQ(ApiProbe::RouteTemplate(R"(/a\.b/(\d+))"), "/a.b/{param}");
}

TEST(ApiProbeTest, MethodLabelIsBounded) {
  EXPECT_EQ(ApiProbe::MethodLabel("GET"), "GET");
  EXPECT_EQ(ApiProbe::MethodLabel("DELETE"), "DELETE");
  EXPECT_EQ(ApiProbe::MethodLabel("get"), "other");
  EXPECT_EQ(ApiProbe::MethodLabel("BREW"), "other");
}

TEST(PromtoolTest, CheckMetricsAcceptsOurExposition) {
  if (!testing::HavePromtool()) GTEST_SKIP() << "promtool (Debian package prometheus) missing";
  Metrics metrics({.version = "test"});
  const std::string text = PopulatedText(metrics);
  testing::PromtoolResult r = testing::RunPromtool("check metrics", text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n---\n" << text;
  // And promtool does reject what breaks the rules (the check can fail).
  r = testing::RunPromtool("check metrics", "# TYPE bad_counter counter\nbad_counter 1\n");
  EXPECT_NE(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace hg::telemetry
