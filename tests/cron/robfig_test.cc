// Differential table against the documented semantics of robfig/cron v3 with its seconds parser
// (cron.New(cron.WithSeconds())), the library of the v1 system Hourglass replaces. Each row is an
// expression and a reference instant with the next fire times robfig's documentation implies
// (fields, "N/step" = "N-max/step", day of week 0-6, "?", names, descriptors, CRON_TZ/TZ,
// day-of-month OR day-of-week when both are restricted). The intended differences are asserted
// separately, each one a decision in docs/design/cron.md "Differences from robfig/cron".
#include <string>
#include <vector>

#include "cron/schedule.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cron/test_util.h"

namespace hg::cron {
namespace {

using ::hg::cron::testing::At;
using ::hg::cron::testing::Fires;
using ::testing::HasSubstr;

constexpr char kJan1[] = "2026-01-01T00:00:00+00:00";  // a Thursday; 1767225600 s since epoch

struct Row {
  std::string expr;
  std::string zone;
  std::string from;
  std::vector<std::string> next;
};

void PrintTo(const Row& r, std::ostream* os) { *os << '"' << r.expr << "\" from " << r.from; }

class RobfigTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(RobfigTableTest, NextFiresAsRobfigDocuments) {
  const Row& r = GetParam();
  EXPECT_EQ(Fires(r.expr, r.zone, r.from, static_cast<int>(r.next.size())), r.next) << r.expr;
}

INSTANTIATE_TEST_SUITE_P(
    Robfig, RobfigTableTest,
    ::testing::Values(
        // Day-of-week steps stay within 0-6: "MON/2" is Mon, Wed, Fri and never Sunday.
        Row{"0 0 0 * * MON/2",
            "UTC",
            kJan1,
            {"2026-01-02T00:00:00+00:00", "2026-01-05T00:00:00+00:00", "2026-01-07T00:00:00+00:00",
             "2026-01-09T00:00:00+00:00"}},
        Row{"0 0 0 * * mon/2",
            "UTC",
            kJan1,
            {"2026-01-02T00:00:00+00:00", "2026-01-05T00:00:00+00:00", "2026-01-07T00:00:00+00:00",
             "2026-01-09T00:00:00+00:00"}},
        Row{"0 0 0 * * 1/2",
            "UTC",
            kJan1,
            {"2026-01-02T00:00:00+00:00", "2026-01-05T00:00:00+00:00", "2026-01-07T00:00:00+00:00",
             "2026-01-09T00:00:00+00:00"}},
        Row{"0 0 0 * * SUN/3",
            "UTC",
            kJan1,  // 0, 3, 6
            {"2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00", "2026-01-07T00:00:00+00:00",
             "2026-01-10T00:00:00+00:00"}},
        Row{"0 0 0 * * 5/1",
            "UTC",
            kJan1,  // Friday, Saturday; not Sunday
            {"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00",
             "2026-01-09T00:00:00+00:00"}},
        Row{"0 0 0 * * */2",
            "UTC",
            kJan1,  // 0, 2, 4, 6
            {"2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00", "2026-01-06T00:00:00+00:00",
             "2026-01-08T00:00:00+00:00"}},
        Row{"0 0 12 * * 1-5/2",
            "UTC",
            kJan1,
            {"2026-01-02T12:00:00+00:00", "2026-01-05T12:00:00+00:00",
             "2026-01-07T12:00:00+00:00"}},
        // Seconds field, steps, "N/step" runs to the field's maximum.
        Row{"*/10 * * * * *",
            "UTC",
            kJan1,
            {"2026-01-01T00:00:10+00:00", "2026-01-01T00:00:20+00:00",
             "2026-01-01T00:00:30+00:00"}},
        Row{"5/20 * * * * *",
            "UTC",
            kJan1,
            {"2026-01-01T00:00:05+00:00", "2026-01-01T00:00:25+00:00", "2026-01-01T00:00:45+00:00",
             "2026-01-01T00:01:05+00:00"}},
        Row{"0 15 10 * * *",
            "UTC",
            kJan1,
            {"2026-01-01T10:15:00+00:00", "2026-01-02T10:15:00+00:00"}},
        Row{"0 30 9 * * MON-FRI",
            "UTC",
            kJan1,
            {"2026-01-01T09:30:00+00:00", "2026-01-02T09:30:00+00:00",
             "2026-01-05T09:30:00+00:00"}},
        // Both day fields restricted: either matches. "?" is "*".
        Row{"0 0 0 13 * FRI",
            "UTC",
            kJan1,
            {"2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00", "2026-01-13T00:00:00+00:00",
             "2026-01-16T00:00:00+00:00"}},
        Row{"0 0 0 13 * ?",
            "UTC",
            kJan1,
            {"2026-01-13T00:00:00+00:00", "2026-02-13T00:00:00+00:00"}},
        Row{"0 0 0 ? * WED",
            "UTC",
            kJan1,
            {"2026-01-07T00:00:00+00:00", "2026-01-14T00:00:00+00:00"}},
        // Month names in any case; days a month lacks are skipped, not moved.
        Row{"0 0 12 1 jan,Jul *",
            "UTC",
            kJan1,
            {"2026-01-01T12:00:00+00:00", "2026-07-01T12:00:00+00:00",
             "2027-01-01T12:00:00+00:00"}},
        Row{"0 0 0 31 * *",
            "UTC",
            kJan1,
            {"2026-01-31T00:00:00+00:00", "2026-03-31T00:00:00+00:00",
             "2026-05-31T00:00:00+00:00"}},
        Row{"0 0 0 29 2 *",
            "UTC",
            kJan1,
            {"2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"}},
        // Descriptors.
        Row{"@yearly", "UTC", kJan1, {"2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"}},
        Row{"@annually", "UTC", kJan1, {"2027-01-01T00:00:00+00:00"}},
        Row{"@monthly", "UTC", kJan1, {"2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"}},
        Row{"@weekly", "UTC", kJan1, {"2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00"}},
        Row{"@daily", "UTC", kJan1, {"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"}},
        Row{"@midnight", "UTC", kJan1, {"2026-01-02T00:00:00+00:00"}},
        Row{"@hourly", "UTC", kJan1, {"2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"}},
        // @every from an instant on the interval's grid: robfig's "added at" anchor and our epoch
        // anchor agree (off the grid they differ: AnchorDifference below).
        Row{"@every 90s", "UTC", kJan1, {"2026-01-01T00:01:30+00:00", "2026-01-01T00:03:00+00:00"}},
        Row{"@every 1h30m",
            "UTC",
            kJan1,
            {"2026-01-01T01:30:00+00:00", "2026-01-01T03:00:00+00:00"}},
        // Time zone prefixes.
        Row{"CRON_TZ=Asia/Tokyo 0 0 9 * * *",
            "UTC",
            kJan1,
            {"2026-01-02T09:00:00+09:00", "2026-01-03T09:00:00+09:00"}},
        Row{"TZ=America/New_York 0 0 9 * * *",
            "UTC",
            kJan1,
            {"2026-01-01T09:00:00-05:00", "2026-01-02T09:00:00-05:00"}}));

// What robfig refuses, we refuse too.
TEST(RobfigRefusalsTest, SameRefusals) {
  for (const char* expr : {"60 * * * * *", "* 60 * * * *", "* * 24 * * *", "* * * 0 * *",
                           "* * * 32 * *", "* * * * 13 *", "* * * * * 8", "*/0 * * * * *",
                           "0 0 0 * * 5-1", "0 0 0 * * MONDAY", "@reboot", "@every 1x"}) {
    EXPECT_FALSE(Schedule::Parse(expr).ok()) << expr;
  }
}

// Intended differences (docs/design/cron.md "Differences from robfig/cron"), asserted as built.
TEST(RobfigDifferencesTest, ExtensionsRobfigRefuses) {
  // 7 is Sunday; a range may end in Sunday; five fields mean second 0; Quartz L/W/#.
  EXPECT_EQ(Fires("0 0 0 * * 7", "UTC", kJan1, 1), Fires("0 0 0 * * SUN", "UTC", kJan1, 1));
  EXPECT_EQ(Fires("0 0 0 * * FRI-SUN", "UTC", kJan1, 3),
            (std::vector<std::string>{"2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00",
                                      "2026-01-04T00:00:00+00:00"}));
  EXPECT_EQ(Fires("0 9 * * *", "UTC", kJan1, 1), Fires("0 0 9 * * *", "UTC", kJan1, 1));
  EXPECT_EQ(Fires("0 0 0 L * *", "UTC", kJan1, 1),
            std::vector<std::string>{"2026-01-31T00:00:00+00:00"});
}

TEST(RobfigDifferencesTest, SubSecondEveryIsRefusedWithRobfigsEquivalent) {
  auto s = Schedule::Parse("@every 500ms");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("write @every 1s"));
  s = Schedule::Parse("@every 2500ms");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("write @every 2s"));
}

TEST(RobfigDifferencesTest, AnchorDifference) {
  // robfig fires "@every 90s" 90 s after the job was added (12:00:07 -> 12:01:37); we fire on
  // multiples of 90 s since the epoch, the same on every master and after every restart.
  auto s = Schedule::Parse("@every 90s");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s->Next(At("2026-01-01T12:00:07+00:00")), At("2026-01-01T12:01:30+00:00"));
}

TEST(RobfigDifferencesTest, SpringForwardGapFiresOnceInsteadOfNever) {
  // robfig documents that a job scheduled in a leap-ahead gap does not run; we run it once at
  // the gap's end (dst_test.cc has the full rule).
  EXPECT_EQ(Fires("0 30 2 * * *", "America/New_York", "2026-03-08T00:00:00-05:00", 1),
            std::vector<std::string>{"2026-03-08T03:00:00-04:00"});
}

}  // namespace
}  // namespace hg::cron
