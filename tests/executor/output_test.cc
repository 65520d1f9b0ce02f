#include "executor/output.h"

#include <gtest/gtest.h>

#include <string>

#include "executor/executor.h"

namespace hg::executor {
namespace {

TEST(OutputCapture, KeepsEverythingUnderTheCap) {
  OutputCapture c(10, OutputCapture::Keep::kHeadAndTail);
  c.Append("abc");
  c.Append("defghij");
  EXPECT_EQ(c.Finish(), "abcdefghij");
  EXPECT_EQ(c.total(), 10u);
}

TEST(OutputCapture, KeepsHeadAndTailWithMarker) {
  OutputCapture c(8, OutputCapture::Keep::kHeadAndTail);
  // Many small appends exercise the ring buffer wrap-around.
  for (char ch = 'a'; ch <= 'z'; ++ch) c.Append(std::string(1, ch));
  EXPECT_EQ(c.total(), 26u);
  EXPECT_EQ(c.Finish(),
            "abcd\n\xE2\x80\xA6 [hourglass: 26 bytes total, 18 omitted] \xE2\x80\xA6\nwxyz");
}

TEST(OutputCapture, LargeAppendReplacesTail) {
  OutputCapture c(8, OutputCapture::Keep::kHeadAndTail);
  c.Append("0123456");           // head 0123, tail 456
  c.Append("abcdefghijklmnop");  // tail becomes mnop
  c.Append("XY");                // tail wraps: opXY
  EXPECT_EQ(c.Finish(),
            "0123\n\xE2\x80\xA6 [hourglass: 25 bytes total, 17 omitted] \xE2\x80\xA6\nopXY");
}

TEST(OutputCapture, HeadOnlyForHttpBodies) {
  OutputCapture c(4, OutputCapture::Keep::kHead);
  c.Append("abcdefgh");
  EXPECT_EQ(c.Finish(), "abcd\n\xE2\x80\xA6 [hourglass: 8 bytes total, 4 omitted] \xE2\x80\xA6\n");
}

TEST(OutputCapture, CutsOnCharacterBoundaries) {
  // "é" is C3 A9; a cut inside it must not leave half a character on either side.
  OutputCapture c(6, OutputCapture::Keep::kHeadAndTail);
  c.Append("ab\xC3\xA9");  // head keeps "ab\xC3" raw
  c.Append("zzzzzz");
  c.Append("\xC3\xA9xy");  // tail keeps "\xA9xy" raw
  EXPECT_EQ(c.Finish(),
            "ab\n\xE2\x80\xA6 [hourglass: 14 bytes total, 10 omitted] \xE2\x80\xA6\nxy");
}

TEST(SanitizeUtf8, ReplacesInvalidBytesOnly) {
  EXPECT_EQ(SanitizeUtf8("plain \xC3\xA9 \xF0\x9F\x98\x80"), "plain \xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(SanitizeUtf8("a\xFF"
                         "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(SanitizeUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(StatusRanges, ParseFormatAndMatch) {
  auto r = ParseStatusRanges("200, 3xx,404-410");
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0], (StatusRange{200, 200}));
  EXPECT_EQ((*r)[1], (StatusRange{300, 399}));
  EXPECT_EQ((*r)[2], (StatusRange{404, 410}));
  EXPECT_EQ(FormatStatusRanges(*r), "200,3xx,404-410");
  EXPECT_TRUE(StatusExpected(*r, 302));
  EXPECT_TRUE(StatusExpected(*r, 405));
  EXPECT_FALSE(StatusExpected(*r, 201));
  EXPECT_TRUE(StatusExpected({}, 204));
  EXPECT_FALSE(StatusExpected({}, 301));
  EXPECT_EQ(FormatStatusRanges({}), "2xx");
  EXPECT_FALSE(ParseStatusRanges("2x").has_value());
  EXPECT_FALSE(ParseStatusRanges("600").has_value());
  EXPECT_FALSE(ParseStatusRanges("300-200").has_value());
  EXPECT_FALSE(ParseStatusRanges("").has_value());
}

TEST(ExecStatusName, RecordStrings) {
  EXPECT_EQ(ExecStatusName(ExecStatus::kSuccess), "success");
  EXPECT_EQ(ExecStatusName(ExecStatus::kFailed), "failed");
  EXPECT_EQ(ExecStatusName(ExecStatus::kTimeout), "timeout");
  EXPECT_EQ(ExecStatusName(ExecStatus::kKilled), "killed");
}

TEST(FormatRfc3339Utc, ShortestExactFraction) {
  EXPECT_EQ(FormatRfc3339Utc(absl::FromUnixSeconds(1767225600)), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Utc(absl::FromUnixMillis(1767225600250)), "2026-01-01T00:00:00.25Z");
}

}  // namespace
}  // namespace hg::executor
