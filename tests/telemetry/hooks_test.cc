// The domain modules' probe hooks, connected through telemetry/hooks.h, move the metrics they
// should: a real WorkerService running shell jobs, a real ApiServer answering HTTP requests.
#include "telemetry/hooks.h"

#include <httplib.h>

#include "api/job_service.h"
#include "api/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/worker_test_util.h"

namespace hg::telemetry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class WorkerHooksTest : public worker::testing::WorkerFixture {
 protected:
  Metrics metrics_{{}};
  WorkerProbe probe_{metrics_};
  FireProbe fires_{metrics_};
};

TEST_F(WorkerHooksTest, ExecutionsLagDurationRunningAndSkips) {
  worker::WorkerOptions options = Options("w1");
  options.probe = WorkerHooks(probe_, fires_);
  worker::WorkerService& w = StartWorker(options);

  // Scheduled 2 s ago: the lag is at least that.
  model::Job job = ShellJob("metered", "true");
  model::ExecutionId id = Schedule(job, clock_.Now() - absl::Seconds(2));
  ASSERT_EQ(worker::testing::RunOne(w, Request(job, id))->outcome(),
            hourglass::v1::RunResponse::STARTED);
  WaitFinal(id);
  ASSERT_TRUE(worker::testing::WaitFor([&] {
    return metrics_.Serialize().find("hourglass_running_executions 0") != std::string::npos;
  }));
  std::string text = metrics_.Serialize();
  EXPECT_THAT(text,
              HasSubstr(R"(hourglass_executions_total{job_name="metered",status="success"} 1)"));
  EXPECT_THAT(text,
              HasSubstr(R"(hourglass_execution_duration_seconds_count{job_name="metered"} 1)"));
  EXPECT_THAT(text, HasSubstr("hourglass_schedule_lag_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("hourglass_schedule_lag_seconds_sum 2\n"));  // FakeClock: exact
  EXPECT_THAT(text, HasSubstr(R"(hourglass_schedule_lag_seconds_bucket{le="1"} 0)"));

  // Forbid with the lock held: the second run is skipped, counted as such, never started.
  model::Job forbid = ShellJob("forbidden", "sleep 30", model::ConcurrencyPolicy::kForbid);
  model::ExecutionId a = Schedule(forbid);
  model::ExecutionId b = Schedule(forbid);
  ASSERT_EQ(worker::testing::RunOne(w, Request(forbid, a))->outcome(),
            hourglass::v1::RunResponse::STARTED);
  EXPECT_THAT(metrics_.Serialize(), HasSubstr("hourglass_running_executions 1"));
  ASSERT_EQ(worker::testing::RunOne(w, Request(forbid, b))->outcome(),
            hourglass::v1::RunResponse::SKIPPED);
  text = metrics_.Serialize();
  EXPECT_THAT(text,
              HasSubstr(R"(hourglass_executions_total{job_name="forbidden",status="skipped"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_fires_total{outcome="skipped"} 1)"));
  EXPECT_THAT(
      text, Not(HasSubstr(R"(hourglass_execution_duration_seconds_count{job_name="forbidden"})")));
  w.Kill(a.str(), "test over");
  WaitFinal(a);
  ASSERT_TRUE(worker::testing::WaitFor([&] {
    return metrics_.Serialize().find(
               R"(hourglass_executions_total{job_name="forbidden",status="killed"} 1)") !=
           std::string::npos;
  }));
}

TEST(ApiHooksTest, RequestsAreCountedByRouteTemplate) {
  FakeClock clock;
  auto kv = store::SqliteKv::Open(":memory:", clock);
  ASSERT_TRUE(kv.ok());
  api::JobService service(**kv, clock);
  Metrics metrics({});
  ApiProbe probe(metrics);
  api::ApiServer::Options options;
  options.probe = ApiHooks(probe);
  api::ApiServer server(service, options);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());

  httplib::Client client("127.0.0.1", server.port());
  auto created = client.Post("/jobs/",
                             R"({"name":"a","cron_expr":"* * * * *",)"
                             R"("executor_type":"shell","executor":{"command":"true"}})",
                             "application/json");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  ASSERT_EQ(client.Get("/jobs/a")->status, 200);
  ASSERT_EQ(client.Get("/jobs/nope")->status, 404);
  ASSERT_EQ(client.Get("/jobs/a/history?page_size=5")->status, 200);
  ASSERT_EQ(client.Get("/no/such/route")->status, 404);
  server.Stop();

  const std::string text = metrics.Serialize();
  EXPECT_THAT(
      text, HasSubstr(R"(hourglass_api_requests_total{code="201",method="POST",route="/jobs"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(hourglass_api_requests_total{code="200",method="GET",route="/jobs/{name}"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(hourglass_api_requests_total{code="404",method="GET",route="/jobs/{name}"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(hourglass_api_requests_total{code="200",method="GET",route="/jobs/{name}/history"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(hourglass_api_requests_total{code="404",method="GET",route="unmatched"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(hourglass_api_request_duration_seconds_count{method="GET",route="/jobs/{name}"} 2)"));
  // Raw names never become label values.
  EXPECT_THAT(text, Not(HasSubstr("/jobs/nope")));
  EXPECT_THAT(text, Not(HasSubstr("/no/such/route")));
}

}  // namespace
}  // namespace hg::telemetry
