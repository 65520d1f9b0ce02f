#include "model/json.h"

#include <string>

#include "gtest/gtest.h"
#include "model/field_errors.h"

namespace hg::model {
namespace {

TEST(JsonTest, ParseErrorsNamePosition) {
  auto r = ParseJson("{\n  \"a\": 1,\n}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("invalid JSON: parse error at line 3, column 1"),
            absl::string_view::npos)
      << r.status();
  EXPECT_FALSE(ParseJson("").ok());
  EXPECT_FALSE(ParseJson("{} x").ok());
  EXPECT_TRUE(ParseJson("[1, {\"a\": \"b\"}]").ok());
}

TEST(JsonTest, RejectsDeepNesting) {
  std::string deep(kMaxJsonDepth + 1, '[');
  auto r = ParseJson(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "invalid JSON at byte 65: nesting deeper than 64");
  // Brackets inside strings do not count.
  EXPECT_TRUE(ParseJson("\"" + deep + "\"").ok());
  std::string ok_depth = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseJson(ok_depth).ok());
}

TEST(JsonTest, DumpReplacesInvalidUtf8) {
  Json j = std::string("a\xff" "b");
  EXPECT_EQ(DumpJson(j), "\"a\xEF\xBF\xBD" "b\"");
}

TEST(JsonTest, Rfc3339) {
  const absl::Time t = absl::FromUnixSeconds(1772938800);
  EXPECT_EQ(FormatRfc3339(t), "2026-03-08T03:00:00Z");
  EXPECT_EQ(FormatRfc3339(t + absl::Milliseconds(250)), "2026-03-08T03:00:00.25Z");
  EXPECT_EQ(*ParseRfc3339("2026-03-08T03:00:00Z"), t);
  EXPECT_EQ(*ParseRfc3339("2026-03-08T04:00:00+01:00"), t);
  EXPECT_EQ(*ParseRfc3339("2026-03-08T03:00:00.25Z"), t + absl::Milliseconds(250));
  EXPECT_FALSE(ParseRfc3339("2026-03-08 03:00:00").ok());
  EXPECT_FALSE(ParseRfc3339("").ok());
}

TEST(FieldErrorsTest, TravelInsideTheStatus) {
  absl::Status s = InvalidFieldsError("invalid job", {{"name", "is required"},
                                                      {"executor.url", "must name a host"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "invalid job: name: is required; executor.url: must name a host");
  std::vector<FieldError> expected = {{"name", "is required"}, {"executor.url", "must name a host"}};
  EXPECT_EQ(FieldErrorsOf(s), expected);
  absl::StatusOr<int> wrapped = s;  // survives StatusOr plumbing
  EXPECT_EQ(FieldErrorsOf(wrapped.status()), expected);
  EXPECT_TRUE(FieldErrorsOf(absl::InvalidArgumentError("plain")).empty());
}

}  // namespace
}  // namespace hg::model
