// GET /jobs/{name}/ledger: every expected instant of a job joined with its records, through a
// real ApiServer on port 0 over SqliteKv (docs/design/api.md "Schedule ledger").
#include <httplib.h>

#include <map>
#include <string>

#include "api/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/json.h"
#include "tests/api/api_test_util.h"

namespace hg::api {
namespace {

using model::ExecutionStatus;
using model::Json;
using ::testing::HasSubstr;

class LedgerTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ApiServer>(service_, ApiServer::Options{});
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
    t0_ = clock_.Now();
    // Every minute at second 0, created at t0: its instants are t0+1m, t0+2m, ...
    ASSERT_TRUE(service_
                    .Upsert(ParseJob(R"({"name":"minutely","cron_expr":"0 * * * * *",
        "executor_type":"shell","executor":{"command":"true"}})"))
                    .ok());
  }
  void TearDown() override { server_->Stop(); }

  absl::Time At(int minutes) const { return t0_ + absl::Minutes(minutes); }

  model::Execution Put(int minute, ExecutionStatus status, const std::string& error = "",
                       model::Trigger trigger = model::Trigger::kSchedule) {
    model::Execution e = model::NewExecution(Name("minutely"), At(minute), trigger, 1, rng_);
    e.status = status;
    e.error = error;
    EXPECT_TRUE(
        kv_->Put({.key = service_.keys().Exec(e.id), .value = model::SerializeExecution(e)}).ok());
    return e;
  }
  void SetCursor(int minute) {
    ASSERT_TRUE(kv_->Put({.key = service_.keys().Cursor(Name("minutely")),
                          .value = model::FormatRfc3339(At(minute))})
                    .ok());
  }

  Json Get(const std::string& path, int want_status = 200) {
    auto r = client_->Get(path.c_str());
    EXPECT_TRUE(r);
    if (!r) return Json();
    EXPECT_EQ(r->status, want_status) << r->body;
    auto j = model::ParseJson(r->body);
    EXPECT_TRUE(j.ok()) << r->body;
    return j.ok() ? *j : Json();
  }
  // instant (minutes after t0) -> outcome
  std::map<int, std::string> Outcomes(const Json& ledger) {
    std::map<int, std::string> out;
    for (const Json& e : ledger["instants"]) {
      auto t = model::ParseRfc3339(e["instant"].get<std::string>());
      EXPECT_TRUE(t.ok());
      out[static_cast<int>((*t - t0_) / absl::Minutes(1))] = e["outcome"].get<std::string>();
    }
    return out;
  }
  std::string Window(int from, int to) {
    return absl::StrCat("/jobs/minutely/ledger?from=", model::FormatRfc3339(At(from)),
                        "&to=", model::FormatRfc3339(At(to)));
  }

  absl::Time t0_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(LedgerTest, EveryInstantHasExactlyOneOutcome) {
  clock_.Advance(absl::Minutes(10));  // now = t0+10m
  const model::Execution ok = Put(1, ExecutionStatus::kSuccess);
  Put(2, ExecutionStatus::kFailed,
      "no worker available (no live worker matches the job's selector)");
  Put(3, ExecutionStatus::kSkipped, "skipped: Forbid policy and execution x is still running");
  Put(4, ExecutionStatus::kMissed, "missed: no leader could start it within its starting_deadline");
  Put(5, ExecutionStatus::kSuccess, "", model::Trigger::kManual);  // not an instant
  Put(6, ExecutionStatus::kRunning);
  SetCursor(6);

  Json ledger = Get(Window(0, 12));
  EXPECT_EQ(ledger["job"], "minutely");
  EXPECT_EQ(ledger["cursor"], model::FormatRfc3339(At(6)));
  EXPECT_EQ(ledger["now"], model::FormatRfc3339(At(10)));
  EXPECT_EQ(Outcomes(ledger), (std::map<int, std::string>{
                                  {1, "success"},
                                  {2, "no_worker"},
                                  {3, "skipped"},
                                  {4, "missed"},
                                  {5, "no_record"},  // accounted (cursor) without a record
                                  {6, "running"},
                                  {7, "unaccounted"},  // due 3 min ago, cursor before it
                                  {8, "unaccounted"},
                                  {9, "unaccounted"},
                                  {10, "pending"},  // due now: within the grace
                                  {11, "pending"},  // not due yet
                                  {12, "pending"},
                              }));
  // Instant 0 (= created_at) is not expected: a new job never replays the past.
  EXPECT_EQ(ledger["instants"][0]["execution"]["id"], ok.id.str());
  EXPECT_TRUE(ledger["instants"][4]["execution"].is_null());
  EXPECT_EQ(ledger["counts"]["unaccounted"], 3);
  EXPECT_EQ(ledger["counts"]["pending"], 3);
}

TEST_F(LedgerTest, PrunedPausedAndCountedMisses) {
  clock_.Advance(absl::Minutes(7));
  ASSERT_TRUE(service_.Pause(Name("minutely")).ok());  // paused at t0+7m
  clock_.Advance(absl::Minutes(5));                    // now = t0+12m
  // Records 1..2 were pruned by retention; 3 and 6 are missed, and 6 counts 4 and 5.
  Put(3, ExecutionStatus::kMissed, "missed: no leader could start it within its starting_deadline");
  Put(6, ExecutionStatus::kMissed,
      "missed: no leader could start it within its starting_deadline; 2 earlier instants were "
      "missed too and are counted, not listed");
  SetCursor(12);  // the scheduler moves the cursor through a pause without records

  Json ledger = Get(Window(0, 12));
  EXPECT_EQ(ledger["oldest_record"], model::FormatRfc3339(At(3)));
  std::map<int, std::string> outcomes = Outcomes(ledger);
  EXPECT_EQ(outcomes[1], "pruned");
  EXPECT_EQ(outcomes[2], "pruned");
  EXPECT_EQ(outcomes[3], "missed");
  EXPECT_EQ(outcomes[4], "missed");
  EXPECT_EQ(outcomes[5], "missed");
  EXPECT_EQ(outcomes[6], "missed");
  EXPECT_EQ(outcomes[7], "paused");
  EXPECT_EQ(outcomes[12], "paused");
}

TEST_F(LedgerTest, DefaultsUnixMillisAndLimits) {
  clock_.Advance(absl::Hours(3));
  SetCursor(180);
  // Default: the last hour up to now.
  Json ledger = Get("/jobs/minutely/ledger");
  EXPECT_EQ(ledger["to"], model::FormatRfc3339(At(180)));
  EXPECT_EQ(ledger["from"], model::FormatRfc3339(At(120)));
  EXPECT_EQ(ledger["instants"].size(), 61u);  // both ends included
  EXPECT_EQ(ledger["counts"]["no_record"], 61);

  // Unix milliseconds work as well as RFC 3339.
  Json ms = Get(absl::StrCat("/jobs/minutely/ledger?from=", absl::ToUnixMillis(At(10)),
                             "&to=", absl::ToUnixMillis(At(12))));
  EXPECT_EQ(ms["instants"].size(), 3u);

  Json bad = Get("/jobs/minutely/ledger?from=yesterday&to=" + model::FormatRfc3339(At(1)), 400);
  EXPECT_EQ(bad["fields"][0]["field"], "from");
  Json reversed = Get(Window(20, 10), 400);
  EXPECT_EQ(reversed["fields"][0]["field"], "from");
  // More than 1000 instants: a clear 400, never a huge answer.
  Json wide = Get(absl::StrCat("/jobs/minutely/ledger?from=", model::FormatRfc3339(At(0)),
                               "&to=", model::FormatRfc3339(At(2000))),
                  400);
  EXPECT_EQ(wide["fields"][0]["field"], "to");
  EXPECT_THAT(wide["fields"][0]["message"].get<std::string>(), HasSubstr("1000"));
  Get("/jobs/absent/ledger", 404);
}

}  // namespace
}  // namespace hg::api
