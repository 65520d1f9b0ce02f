// The windows newest-first history reads walk down (api/history_reads.h).
#include "api/history_reads.h"

#include "gtest/gtest.h"
#include "store/kv.h"

namespace hg::api {
namespace {

TEST(NewestFirstWindowsTest, TileTheWholePrefixDownwardsGrowingFromOneMinute) {
  model::Keys keys;
  const auto name = *model::JobName::Parse("a");
  const std::string prefix = keys.ExecPrefix(name);
  const absl::Time now = absl::FromUnixSeconds(1'767'225'600);  // 2026-01-01
  const auto windows = NewestFirstWindows(prefix, store::PrefixEnd(prefix), now);
  ASSERT_GE(windows.size(), 3u);
  EXPECT_EQ(windows.front().upper, store::PrefixEnd(prefix));
  EXPECT_EQ(windows.front().lower, keys.ExecAt(name, absl::ToUnixMillis(now - absl::Minutes(1))));
  EXPECT_EQ(windows[1].lower, keys.ExecAt(name, absl::ToUnixMillis(now - absl::Minutes(8))));
  EXPECT_EQ(windows.back().lower, prefix);  // the last one is open to the oldest key
  for (size_t i = 1; i < windows.size(); ++i) {
    EXPECT_EQ(windows[i].upper, windows[i - 1].lower);  // contiguous, no gap, no overlap
    EXPECT_LT(windows[i].lower, windows[i].upper);
  }
  EXPECT_LE(windows.size(), 12u);  // ×8 a step: 1970 is a dozen steps away
}

TEST(NewestFirstWindowsTest, StartBelowARecordKeyAtItsOwnTime) {
  model::Keys keys;
  const auto name = *model::JobName::Parse("a");
  const std::string prefix = keys.ExecPrefix(name);
  const absl::Time at = absl::FromUnixSeconds(1'700'000'000);
  const std::string upper = keys.ExecAt(name, absl::ToUnixMillis(at)) + "-0000abcd";
  const auto windows = NewestFirstWindows(prefix, upper, at + absl::Hours(1000));
  ASSERT_FALSE(windows.empty());
  EXPECT_EQ(windows.front().upper, upper);
  EXPECT_EQ(windows.front().lower, keys.ExecAt(name, absl::ToUnixMillis(at - absl::Minutes(1))));
}

}  // namespace
}  // namespace hg::api
