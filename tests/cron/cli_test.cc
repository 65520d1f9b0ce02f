// `hourglass cron next|explain`: the functions behind them, and the built binary itself.
#include "cron/cli.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cron/test_util.h"

namespace hg::cron {
namespace {

using ::hg::cron::testing::At;
using ::hg::cron::testing::Zone;
using ::testing::HasSubstr;

struct CliRun {
  int rc;
  std::string out;
  std::string err;
};

CliRun Next(NextOptions options, absl::Time now = At("2026-01-01T00:00:00+00:00")) {
  std::ostringstream out, err;
  const int rc = RunNext(options, now, out, err);
  return {rc, out.str(), err.str()};
}

TEST(CronCliTest, FormatsRfc3339WithOffset) {
  EXPECT_EQ(FormatRfc3339(At("2026-03-08T07:00:00+00:00"), Zone("America/New_York")),
            "2026-03-08T03:00:00-04:00");
  EXPECT_EQ(FormatRfc3339(At("2026-03-08T07:00:00+00:00"), absl::UTCTimeZone()),
            "2026-03-08T07:00:00+00:00");
  EXPECT_EQ(FormatRfc3339(At("2026-04-05T00:00:00+00:00"), Zone("Australia/Lord_Howe")),
            "2026-04-05T10:30:00+10:30");
}

TEST(CronCliTest, ParsesRfc3339) {
  EXPECT_EQ(*ParseRfc3339("2026-03-08T01:30:00-05:00"), At("2026-03-08T06:30:00+00:00"));
  EXPECT_EQ(*ParseRfc3339("2026-03-08T06:30:00Z"), At("2026-03-08T06:30:00+00:00"));
  EXPECT_EQ(*ParseRfc3339("2026-03-08T06:30:00.25Z"),
            At("2026-03-08T06:30:00+00:00") + absl::Milliseconds(250));
  EXPECT_FALSE(ParseRfc3339("2026-03-08 06:30").ok());
  EXPECT_FALSE(ParseRfc3339("").ok());
}

TEST(CronCliTest, NextPrintsOneLinePerFire) {
  NextOptions o;
  o.expr = "0 30 2 * * *";
  o.count = 2;
  o.from = "2026-03-07T12:00:00-05:00";
  o.tz = "America/New_York";
  const CliRun r = Next(o);
  EXPECT_EQ(r.rc, kExitOk);
  EXPECT_EQ(r.out, "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n");
  EXPECT_EQ(r.err, "");
}

TEST(CronCliTest, NextDefaultsToNowAndUtc) {
  NextOptions o;
  o.expr = "@hourly";
  const CliRun r = Next(o, At("2026-01-01T10:15:00+00:00"));
  EXPECT_EQ(r.out, "2026-01-01T11:00:00+00:00\n");
}

TEST(CronCliTest, CronTzPrefixWinsOverTz) {
  NextOptions o;
  o.expr = "CRON_TZ=Asia/Shanghai 0 9 * * *";
  o.tz = "Europe/London";
  EXPECT_EQ(Next(o).out, "2026-01-01T09:00:00+08:00\n");
}

TEST(CronCliTest, ErrorsExitWithTwo) {
  NextOptions bad_expr;
  bad_expr.expr = "0 0 24 * * *";
  CliRun r = Next(bad_expr);
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "hourglass cron next: cron: field \"hour\" (3rd): value 24 out of range 0-23\n");

  NextOptions bad_tz;
  bad_tz.expr = "* * * * *";
  bad_tz.tz = "Nowhere/City";
  r = Next(bad_tz);
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("unknown time zone \"Nowhere/City\""));

  NextOptions bad_from;
  bad_from.expr = "* * * * *";
  bad_from.from = "yesterday";
  r = Next(bad_from);
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--from: invalid RFC 3339 time \"yesterday\""));

  NextOptions bad_n;
  bad_n.expr = "* * * * *";
  bad_n.count = 0;
  EXPECT_EQ(Next(bad_n).rc, kExitUsage);
}

TEST(CronCliTest, NextStopsAtTheHorizon) {
  NextOptions o;
  o.expr = "0 0 0 29 2 *";
  o.count = 3;
  o.from = "2096-01-01T00:00:00Z";
  const CliRun r = Next(o);
  EXPECT_EQ(r.rc, kExitOk);
  EXPECT_EQ(r.out, "2096-02-29T00:00:00+00:00\n");
  EXPECT_THAT(r.err, HasSubstr("no further fire time within 5 years"));
}

TEST(CronCliTest, ExplainPrintsFields) {
  std::ostringstream out, err;
  EXPECT_EQ(RunExplain("0 30 9 * * MON-FRI", "Europe/London", out, err), kExitOk);
  EXPECT_THAT(out.str(), HasSubstr("day of week: MON-FRI = Monday through Friday\n"));
  EXPECT_THAT(out.str(), HasSubstr("time zone: Europe/London\n"));
  std::ostringstream out2, err2;
  EXPECT_EQ(RunExplain("nope", "UTC", out2, err2), kExitUsage);
  EXPECT_THAT(err2.str(), HasSubstr("hourglass cron explain: cron: expected 5 fields"));
}

}  // namespace
}  // namespace hg::cron
