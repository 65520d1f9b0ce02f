// Every syntax element of docs/design/cron.md, checked through Next() in UTC.
#include "cron/schedule.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cron/test_util.h"

namespace hg::cron {
namespace {

using ::hg::cron::testing::At;
using ::hg::cron::testing::Fires;
using ::hg::cron::testing::Zone;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kJan1[] = "2026-01-01T00:00:00+00:00";  // a Thursday

TEST(ScheduleTest, SixFieldsWithSecondsStep) {
  EXPECT_THAT(Fires("*/10 * * * * *", "UTC", kJan1, 3),
              ElementsAre("2026-01-01T00:00:10+00:00", "2026-01-01T00:00:20+00:00",
                          "2026-01-01T00:00:30+00:00"));
}

TEST(ScheduleTest, FiveFieldsMeanSecondZero) {
  EXPECT_THAT(Fires("* * * * *", "UTC", "2026-01-01T00:00:30+00:00", 2),
              ElementsAre("2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00"));
  EXPECT_THAT(Fires("30 9 * * MON-FRI", "UTC", "2026-01-02T10:00:00+00:00", 3),
              ElementsAre("2026-01-05T09:30:00+00:00", "2026-01-06T09:30:00+00:00",
                          "2026-01-07T09:30:00+00:00"));
}

TEST(ScheduleTest, StrictlyAfter) {
  auto s = Schedule::Parse("0 0 12 * * *");
  ASSERT_TRUE(s.ok());
  const absl::Time noon = At("2026-01-01T12:00:00+00:00");
  EXPECT_EQ(*s->Next(noon), At("2026-01-02T12:00:00+00:00"));
  EXPECT_EQ(*s->Next(noon - absl::Nanoseconds(1)), noon);
  EXPECT_EQ(*s->Next(noon - absl::Milliseconds(500)), noon);
  EXPECT_EQ(*s->Next(noon + absl::Milliseconds(500)), At("2026-01-02T12:00:00+00:00"));
}

TEST(ScheduleTest, WildcardsAndQuestionMark) {
  EXPECT_THAT(Fires("0 0 12 15 * ?", "UTC", kJan1, 2),
              ElementsAre("2026-01-15T12:00:00+00:00", "2026-02-15T12:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 12 ? * 1", "UTC", kJan1, 2),
              ElementsAre("2026-01-05T12:00:00+00:00", "2026-01-12T12:00:00+00:00"));
}

TEST(ScheduleTest, ListsRangesAndSteps) {
  EXPECT_THAT(Fires("0 0,15,45 * * * *", "UTC", kJan1, 4),
              ElementsAre("2026-01-01T00:15:00+00:00", "2026-01-01T00:45:00+00:00",
                          "2026-01-01T01:00:00+00:00", "2026-01-01T01:15:00+00:00"));
  EXPECT_THAT(Fires("0 0 9-11 * * *", "UTC", kJan1, 4),
              ElementsAre("2026-01-01T09:00:00+00:00", "2026-01-01T10:00:00+00:00",
                          "2026-01-01T11:00:00+00:00", "2026-01-02T09:00:00+00:00"));
  EXPECT_THAT(Fires("0 10-30/10 * * * *", "UTC", kJan1, 4),
              ElementsAre("2026-01-01T00:10:00+00:00", "2026-01-01T00:20:00+00:00",
                          "2026-01-01T00:30:00+00:00", "2026-01-01T01:10:00+00:00"));
  EXPECT_THAT(Fires("0 50/5 * * * *", "UTC", kJan1, 3),  // a/n runs from a to the maximum
              ElementsAre("2026-01-01T00:50:00+00:00", "2026-01-01T00:55:00+00:00",
                          "2026-01-01T01:50:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 */10 * *", "UTC", kJan1, 4),  // days 1, 11, 21, 31
              ElementsAre("2026-01-11T00:00:00+00:00", "2026-01-21T00:00:00+00:00",
                          "2026-01-31T00:00:00+00:00", "2026-02-01T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 1 1-12/5 *", "UTC", kJan1, 3),
              ElementsAre("2026-06-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00",
                          "2027-01-01T00:00:00+00:00"));
}

TEST(ScheduleTest, MonthAndWeekdayNamesAreCaseInsensitive) {
  EXPECT_THAT(Fires("0 0 0 1 jan,Jul *", "UTC", kJan1, 2),
              ElementsAre("2026-07-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 * * sat-SUN", "UTC", kJan1, 3),
              ElementsAre("2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
                          "2026-01-10T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 1 FEB-apr *", "UTC", kJan1, 3),
              ElementsAre("2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00",
                          "2026-04-01T00:00:00+00:00"));
}

TEST(ScheduleTest, WeekdaySevenIsSunday) {
  const auto sunday = Fires("0 0 0 * * 0", "UTC", kJan1, 3);
  EXPECT_EQ(Fires("0 0 0 * * 7", "UTC", kJan1, 3), sunday);
  EXPECT_EQ(Fires("0 0 0 * * SUN", "UTC", kJan1, 3), sunday);
  EXPECT_THAT(sunday, ElementsAre("2026-01-04T00:00:00+00:00", "2026-01-11T00:00:00+00:00",
                                  "2026-01-18T00:00:00+00:00"));
  // "a/n" runs to Saturday (robfig/cron), not to 7: Wednesday, Friday, never Sunday.
  EXPECT_THAT(Fires("0 0 0 * * 3/2", "UTC", kJan1, 3),
              ElementsAre("2026-01-02T00:00:00+00:00", "2026-01-07T00:00:00+00:00",
                          "2026-01-09T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 * * 5-7", "UTC", kJan1, 4),  // Friday, Saturday, Sunday
              ElementsAre("2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00",
                          "2026-01-04T00:00:00+00:00", "2026-01-09T00:00:00+00:00"));
}

TEST(ScheduleTest, LastDayOfMonth) {
  EXPECT_THAT(Fires("0 0 0 L * ?", "UTC", kJan1, 3),
              ElementsAre("2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00",
                          "2026-03-31T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 L 2 *", "UTC", "2027-06-01T00:00:00+00:00", 2),
              ElementsAre("2028-02-29T00:00:00+00:00", "2029-02-28T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 L-3 * *", "UTC", kJan1, 2),
              ElementsAre("2026-01-28T00:00:00+00:00", "2026-02-25T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 1,L * *", "UTC", kJan1, 3),
              ElementsAre("2026-01-31T00:00:00+00:00", "2026-02-01T00:00:00+00:00",
                          "2026-02-28T00:00:00+00:00"));
}

TEST(ScheduleTest, NearestWeekday) {
  // 2026-02-15 and 2026-03-15 are Sundays (-> Monday), 2026-08-15 is a Saturday (-> Friday).
  EXPECT_THAT(Fires("0 0 0 15W * *", "UTC", "2026-02-01T00:00:00+00:00", 2),
              ElementsAre("2026-02-16T00:00:00+00:00", "2026-03-16T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 15W 8 *", "UTC", kJan1, 1), ElementsAre("2026-08-14T00:00:00+00:00"));
  // 2026-08-01 is a Saturday: 1W does not cross into July, it moves to Monday the 3rd.
  EXPECT_THAT(Fires("0 0 0 1W 8 *", "UTC", kJan1, 1), ElementsAre("2026-08-03T00:00:00+00:00"));
  // 2026-05-31 is a Sunday: 31W does not cross into June, it moves to Friday the 29th.
  EXPECT_THAT(Fires("0 0 0 31W 5 *", "UTC", kJan1, 1), ElementsAre("2026-05-29T00:00:00+00:00"));
  // LW: the last weekday. 2026-01-31 is a Saturday, 2026-05-31 a Sunday.
  EXPECT_THAT(Fires("0 0 0 LW * *", "UTC", kJan1, 1), ElementsAre("2026-01-30T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 LW 5 *", "UTC", kJan1, 1), ElementsAre("2026-05-29T00:00:00+00:00"));
  // 31W in a 30-day month names no day in that month.
  EXPECT_THAT(Fires("0 0 0 31W 4,5 *", "UTC", kJan1, 1), ElementsAre("2026-05-29T00:00:00+00:00"));
}

TEST(ScheduleTest, NthAndLastWeekday) {
  EXPECT_THAT(Fires("0 0 9 * * MON#2", "UTC", kJan1, 2),
              ElementsAre("2026-01-12T09:00:00+00:00", "2026-02-09T09:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 9 * * 1#1", "UTC", kJan1, 2),
              ElementsAre("2026-01-05T09:00:00+00:00", "2026-02-02T09:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 * * 5L", "UTC", kJan1, 2),
              ElementsAre("2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00"));
  EXPECT_EQ(Fires("0 0 0 * * FRIL", "UTC", kJan1, 3), Fires("0 0 0 * * 5L", "UTC", kJan1, 3));
  EXPECT_EQ(Fires("0 0 0 * * FRI#L", "UTC", kJan1, 3), Fires("0 0 0 * * 5L", "UTC", kJan1, 3));
  // A fifth Thursday exists only in some months: 2026-01-29, 2026-04-30.
  EXPECT_THAT(Fires("0 0 0 * * THU#5", "UTC", kJan1, 2),
              ElementsAre("2026-01-29T00:00:00+00:00", "2026-04-30T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 * * 7#1,MON#1", "UTC", kJan1, 2),  // 7 is Sunday here too
              ElementsAre("2026-01-04T00:00:00+00:00", "2026-01-05T00:00:00+00:00"));
}

TEST(ScheduleTest, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // The 13th (a Tuesday in January 2026) OR any Friday.
  EXPECT_THAT(Fires("0 0 0 13 * FRI", "UTC", kJan1, 4),
              ElementsAre("2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00",
                          "2026-01-13T00:00:00+00:00", "2026-01-16T00:00:00+00:00"));
  // A step is a restriction too ("*/10" is not "*"): days 1, 11, 21, 31 OR Fridays.
  EXPECT_THAT(Fires("0 0 0 */10 * FRI", "UTC", kJan1, 3),
              ElementsAre("2026-01-02T00:00:00+00:00", "2026-01-09T00:00:00+00:00",
                          "2026-01-11T00:00:00+00:00"));
  // Only one restricted: that one decides.
  EXPECT_THAT(Fires("0 0 0 13 * *", "UTC", kJan1, 1), ElementsAre("2026-01-13T00:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 0 ? * FRI", "UTC", kJan1, 1), ElementsAre("2026-01-02T00:00:00+00:00"));
  // Quartz extensions join the OR as well: the last day OR Mondays.
  EXPECT_THAT(Fires("0 0 0 L 1 MON", "UTC", "2026-01-20T00:00:00+00:00", 2),
              ElementsAre("2026-01-26T00:00:00+00:00", "2026-01-31T00:00:00+00:00"));
}

TEST(ScheduleTest, Descriptors) {
  EXPECT_THAT(Fires("@yearly", "UTC", kJan1, 1), ElementsAre("2027-01-01T00:00:00+00:00"));
  EXPECT_EQ(Fires("@annually", "UTC", kJan1, 2), Fires("@yearly", "UTC", kJan1, 2));
  EXPECT_THAT(Fires("@monthly", "UTC", kJan1, 1), ElementsAre("2026-02-01T00:00:00+00:00"));
  EXPECT_THAT(Fires("@weekly", "UTC", kJan1, 1), ElementsAre("2026-01-04T00:00:00+00:00"));
  EXPECT_THAT(Fires("@daily", "UTC", kJan1, 1), ElementsAre("2026-01-02T00:00:00+00:00"));
  EXPECT_EQ(Fires("@midnight", "UTC", kJan1, 2), Fires("@daily", "UTC", kJan1, 2));
  EXPECT_THAT(Fires("@hourly", "UTC", kJan1, 2),
              ElementsAre("2026-01-01T01:00:00+00:00", "2026-01-01T02:00:00+00:00"));
  EXPECT_THAT(Fires("@DAILY", "UTC", kJan1, 1), ElementsAre("2026-01-02T00:00:00+00:00"));
}

TEST(ScheduleTest, EveryIsAnchoredAtTheUnixEpoch) {
  // 2026-01-01T00:00:00Z is 1767225600 s, an exact multiple of 5400 s: strictly after it.
  EXPECT_THAT(Fires("@every 1h30m", "UTC", kJan1, 2),
              ElementsAre("2026-01-01T01:30:00+00:00", "2026-01-01T03:00:00+00:00"));
  EXPECT_THAT(Fires("@every 90s", "UTC", "2026-01-01T00:00:01+00:00", 2),
              ElementsAre("2026-01-01T00:01:30+00:00", "2026-01-01T00:03:00+00:00"));
  // 7 s: 1767225600 = 7 * 252460800, so multiples of 7 s since the epoch land on :07, :14...
  EXPECT_THAT(Fires("@every 7s", "UTC", kJan1, 2),
              ElementsAre("2026-01-01T00:00:07+00:00", "2026-01-01T00:00:14+00:00"));
  // Same instants whatever the zone (absolute time), and before 1970 too.
  EXPECT_THAT(Fires("@every 1h", "America/New_York", "2026-03-08T01:30:00-05:00", 2),
              ElementsAre("2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"));
  EXPECT_THAT(Fires("@every 1h", "UTC", "1969-12-31T22:30:00+00:00", 1),
              ElementsAre("1969-12-31T23:00:00+00:00"));
}

TEST(ScheduleTest, TimeZonePrefix) {
  auto s = Schedule::Parse("CRON_TZ=America/New_York 0 0 9 * * *");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->zone_name(), "America/New_York");
  EXPECT_EQ(s->expression(), "CRON_TZ=America/New_York 0 0 9 * * *");
  EXPECT_EQ(*s->Next(At(kJan1)), At("2026-01-01T09:00:00-05:00"));
  // The prefix overrides the zone argument.
  auto t = Schedule::Parse("TZ=Asia/Shanghai 0 9 * * *", Zone("Europe/London"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->zone_name(), "Asia/Shanghai");
  EXPECT_EQ(*t->Next(At(kJan1)), At("2026-01-01T09:00:00+08:00"));
  auto u = Schedule::Parse("0 9 * * *", Zone("Europe/London"));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->zone_name(), "Europe/London");
}

TEST(ScheduleTest, ImpossibleDatesNeverLoop) {
  // February 29th only: from 2096-03-01 the next is 2104 (2100 is no leap year), beyond the
  // 5-year horizon.
  auto s = Schedule::Parse("0 0 0 29 2 *");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s->Next(At("2027-01-01T00:00:00+00:00")), At("2028-02-29T00:00:00+00:00"));
  EXPECT_FALSE(s->Next(At("2096-03-01T00:00:00+00:00")).has_value());
  // A fifth Monday in February only exists in leap years whose February starts on a Monday.
  auto t = Schedule::Parse("0 0 0 ? 2 MON#5");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->Next(At(kJan1)).has_value()) << "2044 is beyond the 5-year horizon";
  EXPECT_EQ(*t->Next(At("2040-01-01T00:00:00+00:00")), At("2044-02-29T00:00:00+00:00"));
  EXPECT_FALSE(t->Next(At("2044-03-01T00:00:00+00:00")).has_value());
  // Instants out of the supported years give nullopt, not a crash.
  EXPECT_FALSE(s->Next(absl::InfiniteFuture()).has_value());
  EXPECT_FALSE(s->Next(absl::InfinitePast()).has_value());
}

TEST(ScheduleTest, ExplainNamesEveryField) {
  auto s = Schedule::Parse("CRON_TZ=America/New_York 0 30 9 L-2,15W * MON-FRI,SAT#2");
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string text = s->Explain();
  EXPECT_THAT(text, HasSubstr("second: 0 = at second 0\n"));
  EXPECT_THAT(text, HasSubstr("minute: 30 = at minute 30\n"));
  EXPECT_THAT(text, HasSubstr("hour: 9 = at hour 9\n"));
  EXPECT_THAT(text, HasSubstr("day of month: L-2,15W = 2 day(s) before the last day of the "
                              "month, the weekday nearest the 15th\n"));
  EXPECT_THAT(text, HasSubstr("month: * = every month\n"));
  EXPECT_THAT(text, HasSubstr("day of week: MON-FRI,SAT#2 = Monday through Friday, the 2nd "
                              "Saturday of the month\n"));
  EXPECT_THAT(text, HasSubstr("OR"));
  EXPECT_THAT(text, HasSubstr("time zone: America/New_York\n"));
  EXPECT_THAT(text, HasSubstr("hour is restricted"));

  auto five = Schedule::Parse("*/15 * * JAN *");
  ASSERT_TRUE(five.ok());
  EXPECT_THAT(five->Explain(), HasSubstr("second: 0 (implicit) = at second 0\n"));
  EXPECT_THAT(five->Explain(), HasSubstr("minute: */15 = at minute 0, 15, 30, 45\n"));
  EXPECT_THAT(five->Explain(), HasSubstr("month: JAN = January\n"));
  EXPECT_THAT(five->Explain(), HasSubstr("hour is *"));

  auto daily = Schedule::Parse("@daily");
  ASSERT_TRUE(daily.ok());
  EXPECT_THAT(daily->Explain(), HasSubstr("descriptor: @daily = 0 0 0 * * *\n"));
  auto every = Schedule::Parse("@every 1h30m");
  ASSERT_TRUE(every.ok());
  EXPECT_THAT(every->Explain(), HasSubstr("every 5400 seconds"));
  EXPECT_THAT(every->Explain(), HasSubstr("@every 1h30m0s"));
}

TEST(ScheduleTest, CopiesAreIndependentAndEqual) {
  auto s = Schedule::Parse("0 0 9 * * MON#1", Zone("Europe/London"));
  ASSERT_TRUE(s.ok());
  const Schedule copy = *s;
  EXPECT_EQ(copy.Next(At(kJan1)), s->Next(At(kJan1)));
  EXPECT_EQ(copy.zone_name(), "Europe/London");
}

}  // namespace
}  // namespace hg::cron
