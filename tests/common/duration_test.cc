#include "common/duration.h"

#include <gtest/gtest.h>

namespace hg {
namespace {

TEST(ParseGoDuration, AcceptsGoForms) {
  EXPECT_EQ(*ParseGoDuration("5s"), absl::Seconds(5));
  EXPECT_EQ(*ParseGoDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("90s"), absl::Seconds(90));
  EXPECT_EQ(*ParseGoDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseGoDuration("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseGoDuration("2h45m30.5s"), absl::Hours(2) + absl::Minutes(45) +
                                                 absl::Milliseconds(30500));
  EXPECT_EQ(*ParseGoDuration("10us"), absl::Microseconds(10));
  EXPECT_EQ(*ParseGoDuration("-3m"), absl::Minutes(-3));
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
}

TEST(ParseGoDuration, RejectsWithReason) {
  for (const char* bad : {"", "5", "s", "5x", "1h 30m", "abc", "1..5s", "-"}) {
    auto d = ParseGoDuration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(d.status().message().find("invalid duration"), std::string_view::npos);
  }
  EXPECT_NE(ParseGoDuration("5").status().message().find("missing unit"), std::string_view::npos);
  EXPECT_FALSE(ParseGoDuration("99999999999h").ok());
}

TEST(FormatGoDuration, MatchesGoString) {
  EXPECT_EQ(FormatGoDuration(absl::Seconds(5)), "5s");
  EXPECT_EQ(FormatGoDuration(absl::Minutes(90)), "1h30m0s");
  EXPECT_EQ(FormatGoDuration(absl::Milliseconds(1500)), "1.5s");
  EXPECT_EQ(FormatGoDuration(absl::Milliseconds(500)), "500ms");
  EXPECT_EQ(FormatGoDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatGoDuration(absl::Minutes(-2)), "-2m0s");
  for (const char* s : {"5s", "1h30m0s", "1.5s", "500ms", "2h0m1s"}) {
    EXPECT_EQ(FormatGoDuration(*ParseGoDuration(s)), s);
  }
}

}  // namespace
}  // namespace hg
