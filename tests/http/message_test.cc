#include "http/message.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hg::http {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(MessageTest, QueryKeepsRepeatedKeysAndEqualsInValues) {
  EXPECT_THAT(ParseQuery("label=team=x&label=env%3Dprod&limit=5&flag&&q=a+b%20c"),
              ElementsAre(Pair("label", "team=x"), Pair("label", "env=prod"), Pair("limit", "5"),
                          Pair("flag", ""), Pair("q", "a b c")));
  Request req;
  req.params = ParseQuery("label=a=1&label=b=2&x=");
  EXPECT_THAT(req.Params("label"), ElementsAre("a=1", "b=2"));
  EXPECT_TRUE(req.HasParam("x"));
  EXPECT_EQ(req.Param("x"), "");
  EXPECT_FALSE(req.HasParam("y"));
}

TEST(MessageTest, PercentDecoding) {
  EXPECT_EQ(PercentDecode("/jobs/My%20Job+x", false), "/jobs/My Job+x");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("%zz%4", false), "%zz%4");  // malformed escapes stay as they are
  EXPECT_EQ(PercentDecode("%E5%A4%87", false), "\xE5\xA4\x87");
}

TEST(MessageTest, HeadersAreCaseInsensitive) {
  Request req;
  req.headers.emplace("Content-Type", "application/json");
  EXPECT_TRUE(req.HasHeader("content-type"));
  EXPECT_EQ(req.Header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(req.FindHeader("x-none"), std::nullopt);
  Response res;
  res.SetHeader("X-A", "1");
  res.SetHeader("x-a", "2");
  EXPECT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.Header("X-A"), "2");
  res.Redirect("/ui/");
  EXPECT_EQ(res.status, 302);
  EXPECT_EQ(res.Header("location"), "/ui/");
}

}  // namespace
}  // namespace hg::http
