// The DST rules of docs/design/cron.md, one hand-checked case per rule and zone.
//   hour restricted: wall-clock times; a skipped time fires once at the gap's end, a repeated
//                    time fires on its first pass only; several skipped times collapse into one.
//   hour "*":        absolute time; every instant whose wall time matches, repeats included.
// Transitions used (from the system tzdb):
//   America/New_York    2026-03-08 02:00 -> 03:00 (-05 -> -04); 2026-11-01 02:00 -> 01:00
//   Europe/London       2026-03-29 01:00 -> 02:00 (+00 -> +01); 2026-10-25 02:00 -> 01:00
//   Australia/Lord_Howe 2026-04-05 02:00 -> 01:30 (+11 -> +10:30); 2026-10-04 02:00 -> 02:30
//   Asia/Shanghai       1991-04-14 02:00 -> 03:00 (+08 -> +09); 1991-09-15 02:00 -> 01:00
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

constexpr char kNy[] = "America/New_York";
constexpr char kLondon[] = "Europe/London";
constexpr char kLordHowe[] = "Australia/Lord_Howe";
constexpr char kShanghai[] = "Asia/Shanghai";

TEST(DstTest, UtcHasNoTransitions) {
  EXPECT_THAT(Fires("0 30 2 * * *", "UTC", "2026-03-07T12:00:00+00:00", 3),
              ElementsAre("2026-03-08T02:30:00+00:00", "2026-03-09T02:30:00+00:00",
                          "2026-03-10T02:30:00+00:00"));
  EXPECT_THAT(Fires("0 30 * * * *", "UTC", "2026-11-01T00:00:00+00:00", 3),
              ElementsAre("2026-11-01T00:30:00+00:00", "2026-11-01T01:30:00+00:00",
                          "2026-11-01T02:30:00+00:00"));
}

// --- Spring forward: a skipped wall time fires once, at the first instant after the gap.

TEST(DstTest, NewYorkSpringForward) {
  EXPECT_THAT(Fires("0 30 2 * * *", kNy, "2026-03-07T12:00:00-05:00", 3),
              ElementsAre("2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00",
                          "2026-03-10T02:30:00-04:00"));
  // Several skipped times collapse into ONE fire at the gap's end.
  EXPECT_THAT(Fires("0 */15 2 * * *", kNy, "2026-03-07T12:00:00-05:00", 3),
              ElementsAre("2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00",
                          "2026-03-09T02:15:00-04:00"));
  EXPECT_THAT(Fires("* * 2 * * *", kNy, "2026-03-08T01:59:58-05:00", 3),
              ElementsAre("2026-03-08T03:00:00-04:00",
                          "2026-03-09T02:00:00-04:00", "2026-03-09T02:00:01-04:00"));
  // A skipped 02:00 and a real 03:00 meet at the same instant: one fire.
  EXPECT_THAT(Fires("0 0 2,3 * * *", kNy, "2026-03-07T12:00:00-05:00", 3),
              ElementsAre("2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00",
                          "2026-03-09T03:00:00-04:00"));
  // Restricted hour with other hours around the gap.
  EXPECT_THAT(Fires("0 30 1-3 * * *", kNy, "2026-03-08T00:00:00-05:00", 3),
              ElementsAre("2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00",
                          "2026-03-08T03:30:00-04:00"));
  // Hour "*": absolute time; the skipped 02:30 simply does not exist.
  EXPECT_THAT(Fires("0 30 * * * *", kNy, "2026-03-08T00:00:00-05:00", 4),
              ElementsAre("2026-03-08T00:30:00-05:00", "2026-03-08T01:30:00-05:00",
                          "2026-03-08T03:30:00-04:00", "2026-03-08T04:30:00-04:00"));
}

TEST(DstTest, NewYorkGapFireIsStrictlyAfter) {
  auto s = Schedule::Parse("0 30 2 * * *", Zone(kNy));
  ASSERT_TRUE(s.ok());
  const absl::Time gap_end = At("2026-03-08T03:00:00-04:00");
  EXPECT_EQ(*s->Next(gap_end - absl::Seconds(1)), gap_end);
  EXPECT_EQ(*s->Next(gap_end - absl::Milliseconds(1)), gap_end);
  EXPECT_EQ(*s->Next(gap_end), At("2026-03-09T02:30:00-04:00"));
}

// --- Fall back: a repeated wall time fires on its first pass only (hour restricted).

TEST(DstTest, NewYorkFallBack) {
  EXPECT_THAT(Fires("0 30 1 * * *", kNy, "2026-10-31T12:00:00-04:00", 2),
              ElementsAre("2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"));
  EXPECT_THAT(Fires("0 */30 1-2 * * *", kNy, "2026-10-31T12:00:00-04:00", 5),
              ElementsAre("2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
                          "2026-11-01T02:00:00-05:00", "2026-11-01T02:30:00-05:00",
                          "2026-11-02T01:00:00-05:00"));
  // Hour "*": both passes of the repeated hour fire.
  EXPECT_THAT(Fires("0 30 * * * *", kNy, "2026-11-01T00:00:00-04:00", 4),
              ElementsAre("2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-04:00",
                          "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00"));
}

TEST(DstTest, NewYorkStartInsideTheRepeatedHour) {
  // From the second pass: the repeated 01:30 already fired on the first pass.
  EXPECT_THAT(Fires("0 30 1 * * *", kNy, "2026-11-01T01:10:00-05:00", 1),
              ElementsAre("2026-11-02T01:30:00-05:00"));
  EXPECT_THAT(Fires("0 50 1,2 * * *", kNy, "2026-11-01T01:10:00-05:00", 1),
              ElementsAre("2026-11-01T02:50:00-05:00"));
  // From late in the first pass: 01:15 does not fire again on the second pass.
  EXPECT_THAT(Fires("0 15 1 * * *", kNy, "2026-11-01T01:50:00-04:00", 1),
              ElementsAre("2026-11-02T01:15:00-05:00"));
  // Exactly at the transition instant (01:00 EST, the start of the second pass).
  EXPECT_THAT(Fires("0 0 1 * * *", kNy, "2026-11-01T00:59:59-04:00", 2),
              ElementsAre("2026-11-01T01:00:00-04:00", "2026-11-02T01:00:00-05:00"));
  EXPECT_THAT(Fires("0 0 1 * * *", kNy, "2026-11-01T01:00:00-05:00", 1),
              ElementsAre("2026-11-02T01:00:00-05:00"));
  // Hour "*" from the first pass: the second pass comes next.
  EXPECT_THAT(Fires("0 15 * * * *", kNy, "2026-11-01T01:50:00-04:00", 2),
              ElementsAre("2026-11-01T01:15:00-05:00", "2026-11-01T02:15:00-05:00"));
}

// --- Europe/London: the gap is 01:00-02:00, the repeat 01:00-02:00.

TEST(DstTest, London) {
  EXPECT_THAT(Fires("0 30 1 * * *", kLondon, "2026-03-28T12:00:00+00:00", 2),
              ElementsAre("2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"));
  EXPECT_THAT(Fires("0 30 1 * * *", kLondon, "2026-10-24T12:00:00+01:00", 2),
              ElementsAre("2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"));
  EXPECT_THAT(Fires("0 0 * * * *", kLondon, "2026-10-24T23:30:00+01:00", 4),
              ElementsAre("2026-10-25T00:00:00+01:00", "2026-10-25T01:00:00+01:00",
                          "2026-10-25T01:00:00+00:00", "2026-10-25T02:00:00+00:00"));
  EXPECT_THAT(Fires("0 0 * * * *", kLondon, "2026-03-28T23:30:00+00:00", 3),
              ElementsAre("2026-03-29T00:00:00+00:00", "2026-03-29T02:00:00+01:00",
                          "2026-03-29T03:00:00+01:00"));
  EXPECT_THAT(Fires("0 0 1 * * *", kLondon, "2026-03-28T12:00:00+00:00", 1),
              ElementsAre("2026-03-29T02:00:00+01:00"));
}

// --- Australia/Lord_Howe: 30-minute shifts follow the same rules.

TEST(DstTest, LordHoweHalfHourShifts) {
  // Spring (October): 02:00-02:30 is skipped.
  EXPECT_THAT(Fires("0 15 2 * * *", kLordHowe, "2026-10-03T12:00:00+10:30", 2),
              ElementsAre("2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"));
  EXPECT_THAT(Fires("0 */10 2 * * *", kLordHowe, "2026-10-03T12:00:00+10:30", 4),
              ElementsAre("2026-10-04T02:30:00+11:00", "2026-10-04T02:40:00+11:00",
                          "2026-10-04T02:50:00+11:00", "2026-10-05T02:00:00+11:00"));
  EXPECT_THAT(Fires("0 15 * * * *", kLordHowe, "2026-10-04T00:00:00+10:30", 3),
              ElementsAre("2026-10-04T00:15:00+10:30", "2026-10-04T01:15:00+10:30",
                          "2026-10-04T03:15:00+11:00"));
  // Autumn (April): 01:30-02:00 is repeated.
  EXPECT_THAT(Fires("0 45 1 * * *", kLordHowe, "2026-04-04T12:00:00+11:00", 2),
              ElementsAre("2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"));
  EXPECT_THAT(Fires("0 */15 * * * *", kLordHowe, "2026-04-05T01:20:00+11:00", 5),
              ElementsAre("2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00",
                          "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30",
                          "2026-04-05T02:00:00+10:30"));
  EXPECT_THAT(Fires("0 */15 1 * * *", kLordHowe, "2026-04-05T01:20:00+11:00", 3),
              ElementsAre("2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00",
                          "2026-04-06T01:00:00+10:30"));
}

// --- Asia/Shanghai: no DST today; the 1991 transitions exercise the same rules.

TEST(DstTest, Shanghai) {
  EXPECT_THAT(Fires("0 30 2 * * *", kShanghai, "2026-03-07T12:00:00+08:00", 2),
              ElementsAre("2026-03-08T02:30:00+08:00", "2026-03-09T02:30:00+08:00"));
  EXPECT_THAT(Fires("0 30 2 * * *", kShanghai, "1991-04-13T12:00:00+08:00", 2),
              ElementsAre("1991-04-14T03:00:00+09:00", "1991-04-15T02:30:00+09:00"));
  EXPECT_THAT(Fires("0 30 1 * * *", kShanghai, "1991-09-14T12:00:00+09:00", 2),
              ElementsAre("1991-09-15T01:30:00+09:00", "1991-09-16T01:30:00+08:00"));
  EXPECT_THAT(Fires("0 30 * * * *", kShanghai, "1991-09-15T00:00:00+09:00", 3),
              ElementsAre("1991-09-15T00:30:00+09:00", "1991-09-15T01:30:00+09:00",
                          "1991-09-15T01:30:00+08:00"));
}

// --- Day-level expressions keep their wall-clock meaning across transitions.

TEST(DstTest, DailyAndWeeklyKeepWallTime) {
  EXPECT_THAT(Fires("0 0 9 * * MON-FRI", kNy, "2026-03-06T10:00:00-05:00", 2),
              ElementsAre("2026-03-09T09:00:00-04:00", "2026-03-10T09:00:00-04:00"));
  EXPECT_THAT(Fires("@daily", kLondon, "2026-10-24T12:00:00+01:00", 2),
              ElementsAre("2026-10-25T00:00:00+01:00", "2026-10-26T00:00:00+00:00"));
  EXPECT_THAT(Fires("@hourly", kNy, "2026-03-08T00:30:00-05:00", 3),
              ElementsAre("2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00",
                          "2026-03-08T04:00:00-04:00"));
}

}  // namespace
}  // namespace hg::cron
