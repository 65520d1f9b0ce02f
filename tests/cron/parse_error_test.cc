// Every parse error: InvalidArgument with a message naming the field, the text and the position.
#include <string>

#include "cron/schedule.h"
#include "gtest/gtest.h"

namespace hg::cron {
namespace {

struct ErrorCase {
  std::string expr;
  std::string message;
};

class ParseErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrorTest, ExactMessage) {
  const absl::StatusOr<Schedule> s = Schedule::Parse(GetParam().expr);
  ASSERT_FALSE(s.ok()) << "accepted: " << GetParam().expr;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.status().message()), GetParam().message) << GetParam().expr;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ParseErrorTest,
    ::testing::Values(
        // Shape.
        ErrorCase{"", "cron: empty expression"},
        ErrorCase{"   ", "cron: empty expression"},
        ErrorCase{"* * * *",
                  "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 "
                  "(with seconds first), got 4 in \"* * * *\""},
        ErrorCase{"0 0 0 * * * 2026",
                  "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 "
                  "(with seconds first), got 7 in \"0 0 0 * * * 2026\""},
        // Ranges of values, with the field's position as written (5 or 6 fields).
        ErrorCase{"0 0 24 * * *", "cron: field \"hour\" (3rd): value 24 out of range 0-23"},
        ErrorCase{"0 24 * * *", "cron: field \"hour\" (2nd): value 24 out of range 0-23"},
        ErrorCase{"60 * * * * *", "cron: field \"second\" (1st): value 60 out of range 0-59"},
        ErrorCase{"0 60 * * * *", "cron: field \"minute\" (2nd): value 60 out of range 0-59"},
        ErrorCase{"0 0 0 0 * *", "cron: field \"day of month\" (4th): value 0 out of range 1-31"},
        ErrorCase{"0 0 0 32 * *",
                  "cron: field \"day of month\" (4th): value 32 out of range 1-31"},
        ErrorCase{"0 0 0 1 13 *", "cron: field \"month\" (5th): value 13 out of range 1-12"},
        ErrorCase{"0 0 0 * * 8", "cron: field \"day of week\" (6th): value 8 out of range 0-7"},
        ErrorCase{"0 0 1-99 * * *", "cron: field \"hour\" (3rd): value 99 out of range 0-23"},
        ErrorCase{"9999999 * * * *",
                  "cron: field \"minute\" (1st): value 9999999 in \"9999999\" is too large"},
        // Garbage.
        ErrorCase{"abc * * * *",
                  "cron: field \"minute\" (1st): invalid value \"abc\" in \"abc\" (names are "
                  "only allowed in month and day of week)"},
        ErrorCase{"1x * * * *",
                  "cron: field \"minute\" (1st): invalid value \"1x\" in \"1x\" (expected a "
                  "number)"},
        ErrorCase{"-5 * * * *",
                  "cron: field \"minute\" (1st): incomplete range \"-5\" (expected start-end)"},
        ErrorCase{"1- * * * *",
                  "cron: field \"minute\" (1st): incomplete range \"1-\" (expected start-end)"},
        ErrorCase{"0 1,,2 * * * *", "cron: field \"minute\" (2nd): empty list item in \"1,,2\""},
        ErrorCase{"0 1, * * * *", "cron: field \"minute\" (2nd): empty list item in \"1,\""},
        // Steps.
        ErrorCase{"*/0 * * * *",
                  "cron: field \"minute\" (1st): step 0 in \"*/0\" (must be at least 1)"},
        ErrorCase{"*/ * * * *", "cron: field \"minute\" (1st): missing step after \"/\" in \"*/\""},
        ErrorCase{"/5 * * * *",
                  "cron: field \"minute\" (1st): missing start before \"/\" in \"/5\""},
        ErrorCase{"*/x * * * *",
                  "cron: field \"minute\" (1st): invalid step \"x\" in \"*/x\" (expected a "
                  "number)"},
        ErrorCase{"1/2/3 * * * *",
                  "cron: field \"minute\" (1st): invalid step \"2/3\" in \"1/2/3\" (expected a "
                  "number)"},
        // Reversed range.
        ErrorCase{"0 5-1 * * * *",
                  "cron: field \"minute\" (2nd): reversed range \"5-1\" (start 5 is after end 1)"},
        ErrorCase{"0 0 0 * * FRI-MON",
                  "cron: field \"day of week\" (6th): reversed range \"FRI-MON\" (start 5 is "
                  "after end 1)"},
        // Names.
        ErrorCase{"0 0 * FOO *", "cron: field \"month\" (4th): unknown name \"FOO\" (expected "
                                 "JAN-DEC)"},
        ErrorCase{"0 0 * * MONDAY", "cron: field \"day of week\" (5th): unknown name \"MONDAY\" "
                                    "(expected SUN-SAT)"},
        ErrorCase{"0 0 JAN * *", "cron: field \"day of month\" (3rd): invalid value \"JAN\" in "
                                 "\"JAN\" (names are only allowed in month and day of week)"},
        // Quartz extensions where they do not belong, or malformed.
        ErrorCase{"L * * * *",
                  "cron: field \"minute\" (1st): \"L\" in \"L\" is only allowed in day of month "
                  "and day of week"},
        ErrorCase{"0 0 0 * L *",
                  "cron: field \"month\" (5th): \"L\" in \"L\" is only allowed in day of month "
                  "and day of week"},
        ErrorCase{"0 0 5W * * *",
                  "cron: field \"hour\" (3rd): \"W\" in \"5W\" is only allowed in day of month"},
        ErrorCase{"0 0 0 * * 1W",
                  "cron: field \"day of week\" (6th): \"W\" in \"1W\" is only allowed in day of "
                  "month"},
        ErrorCase{"0 0 0 1#2 * *",
                  "cron: field \"day of month\" (4th): \"#\" in \"1#2\" is only allowed in day "
                  "of week"},
        ErrorCase{"0 0 0 * * MON#6",
                  "cron: field \"day of week\" (6th): occurrence #6 in \"MON#6\" out of range 1-5"},
        ErrorCase{"0 0 0 * * 1#0",
                  "cron: field \"day of week\" (6th): occurrence #0 in \"1#0\" out of range 1-5"},
        ErrorCase{"0 0 0 * * MON#",
                  "cron: field \"day of week\" (6th): incomplete \"#\" in \"MON#\" (expected e.g. "
                  "MON#2)"},
        ErrorCase{"0 0 0 * * MON-FRI#2",
                  "cron: field \"day of week\" (6th): \"#\" in \"MON-FRI#2\" needs a single "
                  "weekday before it (e.g. MON#2)"},
        ErrorCase{"0 0 0 * * 8#1",
                  "cron: field \"day of week\" (6th): value 8 out of range 0-7"},
        ErrorCase{"0 0 0 * * L",
                  "cron: field \"day of week\" (6th): \"L\" alone is ambiguous in day of week; "
                  "write e.g. 5L or FRIL for the last Friday of the month"},
        ErrorCase{"0 0 0 * * 1-5L",
                  "cron: field \"day of week\" (6th): invalid use of L in \"1-5L\" (expected one "
                  "weekday, e.g. 5L or FRIL)"},
        ErrorCase{"0 0 0 L-31 * *",
                  "cron: field \"day of month\" (4th): offset 31 in \"L-31\" out of range 0-30"},
        ErrorCase{"0 0 0 32W * *",
                  "cron: field \"day of month\" (4th): value 32 in \"32W\" out of range 1-31"},
        ErrorCase{"0 0 0 L/2 * *",
                  "cron: field \"day of month\" (4th): invalid use of L/W in \"L/2\" (expected L, "
                  "L-n, LW or nW, not in a range or step)"},
        ErrorCase{"0 0 0 1-LW * *",
                  "cron: field \"day of month\" (4th): invalid use of L/W in \"1-LW\" (expected "
                  "L, L-n, LW or nW, not in a range or step)"},
        ErrorCase{"0 ? * * * *",
                  "cron: field \"minute\" (2nd): \"?\" is only allowed in day of month and day "
                  "of week"},
        ErrorCase{"0 0 0 ?/2 * *",
                  "cron: field \"day of month\" (4th): \"?\" in \"?/2\" must stand alone"},
        // Can never fire.
        ErrorCase{"0 0 0 30 2 *",
                  "cron: field \"day of month\" (4th): \"30\" names no day that exists in month "
                  "\"2\": the expression can never fire"},
        ErrorCase{"0 0 31 APR,JUN,SEP,NOV ?",
                  "cron: field \"day of month\" (3rd): \"31\" names no day that exists in month "
                  "\"APR,JUN,SEP,NOV\": the expression can never fire"},
        // Descriptors.
        ErrorCase{"@foo",
                  "cron: unknown descriptor \"@foo\" (expected @yearly, @annually, @monthly, "
                  "@weekly, @daily, @midnight, @hourly or @every <duration>)"},
        ErrorCase{"@reboot", "cron: \"@reboot\" is not supported (no fixed instant)"},
        ErrorCase{"@daily 5", "cron: unexpected text after \"@daily\": \"5\""},
        ErrorCase{"@every",
                  "cron: \"@every\" takes exactly one duration (e.g. @every 1h30m), got 0 words"},
        ErrorCase{"@every 500ms",
                  "cron: @every: interval \"500ms\" is below the 1s minimum (robfig/cron ran "
                  "it every 1s: write @every 1s)"},
        ErrorCase{"@every -5s", "cron: @every: interval \"-5s\" is below the 1s minimum"},
        ErrorCase{"@every 1.5s",
                  "cron: @every: interval \"1.5s\" is not a whole number of seconds "
                  "(robfig/cron truncated it: write @every 1s)"},
        ErrorCase{"@every 50000h",
                  "cron: @every: interval \"50000h\" exceeds the 5-year search horizon"},
        ErrorCase{"@every 1x", "cron: @every: invalid duration \"1x\": unknown unit in \"x\""},
        // Time zone prefix.
        ErrorCase{"CRON_TZ=Mars/Olympus 0 0 * * *",
                  "cron: unknown time zone \"Mars/Olympus\" in \"CRON_TZ=Mars/Olympus\" (expected "
                  "an IANA name such as America/New_York)"},
        ErrorCase{"TZ=../../etc/passwd 0 0 * * *",
                  "cron: unknown time zone \"../../etc/passwd\" in \"TZ=../../etc/passwd\" "
                  "(expected an IANA name such as America/New_York)"},
        ErrorCase{"CRON_TZ= 0 0 * * *", "cron: missing time zone name after \"CRON_TZ=\""},
        ErrorCase{"CRON_TZ=UTC", "cron: nothing after \"CRON_TZ=UTC\": expected a schedule"},
        ErrorCase{"CRON_TZ=UTC 0 0 0 * * 9",
                  "cron: field \"day of week\" (6th): value 9 out of range 0-7"}));

}  // namespace
}  // namespace hg::cron
