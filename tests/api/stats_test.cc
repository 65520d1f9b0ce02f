// GET /stats through a real ApiServer on port 0 over SqliteKv: window validation, and the merge
// of the per-node, per-minute values the processes publish (stepped by a FakeClock).
#include "api/stats.h"

#include <httplib.h>

#include "api/node_routes.h"
#include "api/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runs/entries.h"
#include "tests/api/api_test_util.h"

namespace hg::api {
namespace {

using model::Json;
using model::RunOutcome;

class StatsTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    clock_.Set(MinuteAt(100) + absl::Seconds(30));
    RegisterStatsRoutes(server_, stats_);
    ASSERT_TRUE(server_.Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_.port());
  }
  void TearDown() override { server_.Stop(); }

  // Minute `i` after the fake clock's start.
  static absl::Time MinuteAt(int i) {
    return model::MinuteStart(FakeClock().Now()) + absl::Minutes(i);
  }
  void Publish(const model::NodeMinute& v) {
    ASSERT_TRUE(kv_->Put({.key = service_.keys().Stats(v.minute, v.node),
                          .value = model::SerializeNodeMinute(v)})
                    .ok());
  }
  Json Get(const std::string& path, int expect_status = 200) {
    auto r = client_->Get(path.c_str());
    EXPECT_TRUE(r);
    if (!r) return Json();
    EXPECT_EQ(r->status, expect_status) << r->body;
    auto json = model::ParseJson(r->body);
    EXPECT_TRUE(json.ok()) << r->body;
    return json.ok() ? *json : Json();
  }

  StatsService stats_{*kv_, clock_, service_.keys(), service_};
  ApiServer server_{service_, ApiServer::Options{}};
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(StatsTest, WindowIsValidated) {
  for (const char* bad : {"abc", "30s", "25h", "-5m", "0"}) {
    Json body = Get(std::string("/stats?window=") + bad, 400);
    ASSERT_TRUE(body["fields"].is_array()) << bad << ": " << body;
    EXPECT_EQ(body["fields"][0]["field"], "window") << bad;
    EXPECT_EQ(body["code"], "invalid_argument");
  }
  EXPECT_EQ(Get("/stats")["window_seconds"], 900);
  Json hour = Get("/stats?window=1h");
  EXPECT_EQ(hour["window_seconds"], 3600);
  EXPECT_EQ(hour["per_minute"].size(), 60u);
  EXPECT_EQ(Get("/stats?window=90s")["window_seconds"], 120);  // whole minutes
  EXPECT_EQ(Get("/stats?window=24h")["per_minute"].size(), 1440u);
}

TEST_F(StatsTest, EmptyStoreAnswersZerosAndNullLag) {
  Json s = Get("/stats?window=5m");
  EXPECT_EQ(s["complete"], true);
  ASSERT_EQ(s["per_minute"].size(), 5u);
  EXPECT_EQ(s["per_minute"][4]["minute"], model::FormatRfc3339(MinuteAt(100)));
  EXPECT_EQ(s["per_minute"][0]["minute"], model::FormatRfc3339(MinuteAt(96)));
  for (const char* k : {"succeeded", "failed", "timeout", "killed", "skipped", "missed", "lost"}) {
    EXPECT_EQ(s["per_minute"][0][k], 0) << k;
    EXPECT_EQ(s["totals"][k], 0) << k;
  }
  EXPECT_EQ(s["totals"]["runs"], 0);
  EXPECT_TRUE(s["lag_ms"]["p50"].is_null());
  EXPECT_TRUE(s["lag_ms"]["max"].is_null());
  EXPECT_EQ(s["failing_jobs"], Json::array());
  EXPECT_EQ(s["workers"], Json::parse(R"({"count":0,"in_flight":0,"capacity":0})"));
  EXPECT_EQ(s["generated_at"], model::FormatRfc3339(clock_.Now()));
}

TEST_F(StatsTest, MergesEveryNodesValuesOfTheWindow) {
  model::NodeMinute m{.node = "master", .minute = MinuteAt(99), .final = true};
  m.stats.Count(RunOutcome::kMissed, "late", MinuteAt(99) + absl::Seconds(3), 2);
  m.stats.Count(RunOutcome::kFailed, "nowhere", MinuteAt(99) + absl::Seconds(4));
  Publish(m);
  model::NodeMinute w{.node = "w1", .minute = MinuteAt(99), .final = true};
  w.stats.Count(RunOutcome::kSucceeded, "ok", MinuteAt(99), 5);
  w.stats.Count(RunOutcome::kFailed, "bad", MinuteAt(99) + absl::Seconds(7), 3);
  for (int i = 0; i < 10; ++i) w.stats.Lag(absl::Milliseconds(40));
  Publish(w);
  model::NodeMinute w_now{.node = "w1", .minute = MinuteAt(100)};
  w_now.stats.Count(RunOutcome::kTimeout, "bad", MinuteAt(100) + absl::Seconds(20));
  Publish(w_now);
  model::NodeMinute old{.node = "w1", .minute = MinuteAt(80), .final = true};  // outside
  old.stats.Count(RunOutcome::kSucceeded, "ok", MinuteAt(80), 100);
  Publish(old);
  ASSERT_TRUE(kv_->Put({.key = service_.keys().Worker("w1"),
                        .value = R"({"id":"w1","address":"h:1","capacity":4})"})
                  .ok());
  auto id = *model::ExecutionId::Parse("ok@1767225600000-1a2b3c4d");
  ASSERT_TRUE(kv_->Put({.key = service_.keys().Inflight(id),
                        .value = runs::EncodeInflight({.worker_id = "w1", .lease = 7})})
                  .ok());

  Json s = Get("/stats?window=2m");
  ASSERT_EQ(s["per_minute"].size(), 2u);
  EXPECT_EQ(s["per_minute"][0]["succeeded"], 5);
  EXPECT_EQ(s["per_minute"][0]["failed"], 4);
  EXPECT_EQ(s["per_minute"][0]["missed"], 2);
  EXPECT_EQ(s["per_minute"][1]["timeout"], 1);
  EXPECT_EQ(s["totals"]["succeeded"], 5);
  EXPECT_EQ(s["totals"]["runs"], 12);
  EXPECT_GT(s["lag_ms"]["p50"].get<double>(), 20.0);
  EXPECT_LE(s["lag_ms"]["p99"].get<double>(), 40.0);
  EXPECT_EQ(s["lag_ms"]["max"], 40.0);
  ASSERT_EQ(s["failing_jobs"].size(), 2u);
  EXPECT_EQ(s["failing_jobs"][0],
            Json::parse(R"({"name":"bad","failures":4,"last_failure_at":")" +
                        model::FormatRfc3339(MinuteAt(100) + absl::Seconds(20)) + R"("})"));
  EXPECT_EQ(s["failing_jobs"][1]["name"], "nowhere");
  EXPECT_EQ(s["missed_jobs"][0]["name"], "late");
  EXPECT_EQ(s["missed_jobs"][0]["missed"], 2);
  EXPECT_EQ(s["workers"], Json::parse(R"({"count":1,"in_flight":1,"capacity":4})"));
  // The master published no value for the current minute yet 30 s into it: still complete.
  EXPECT_EQ(s["complete"], true);
}

TEST_F(StatsTest, AnUnreadableOrMissingNodeValueMakesItIncomplete) {
  Publish({.node = "w1", .minute = MinuteAt(96), .final = true});
  Publish({.node = "w1", .minute = MinuteAt(98), .final = true});  // 97 missing
  Publish({.node = "w1", .minute = MinuteAt(99), .final = true});
  Json s = Get("/stats?window=5m");
  EXPECT_EQ(s["complete"], false);
  EXPECT_EQ(s["incomplete_nodes"], Json::parse(R"(["w1"])"));
  ASSERT_TRUE(kv_->Put({.key = service_.keys().Stats(MinuteAt(97), "w1"), .value = "{"}).ok());
  Publish({.node = "w1", .minute = MinuteAt(97), .final = true});
  EXPECT_EQ(Get("/stats?window=5m")["complete"], true);
  ASSERT_TRUE(kv_->Put({.key = service_.keys().Stats(MinuteAt(99), "w2"), .value = "{"}).ok());
  EXPECT_EQ(Get("/stats?window=5m")["complete"], false);
}

}  // namespace
}  // namespace hg::api
