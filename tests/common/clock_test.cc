#include "common/clock.h"

#include <gtest/gtest.h>

#include <thread>

namespace hg {
namespace {

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(absl::FromUnixSeconds(100));
  const SteadyTime s0 = clock.SteadyNow();
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
  EXPECT_EQ(clock.SteadyNow() - s0, std::chrono::seconds(5));
  clock.Set(absl::FromUnixSeconds(50));  // never backward
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(105));
}

TEST(FakeClock, WaitUntilReturnsWhenAdvancedPastDeadline) {
  FakeClock clock(absl::FromUnixSeconds(0));
  absl::Mutex mu;
  bool woke_by_deadline = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    woke_by_deadline = !clock.WaitUntil(mu, absl::FromUnixSeconds(10), [] { return false; });
  });
  clock.Advance(absl::Seconds(10));
  waiter.join();
  EXPECT_TRUE(woke_by_deadline);
}

TEST(FakeClock, WaitUntilReturnsWhenConditionTurnsTrue) {
  FakeClock clock(absl::FromUnixSeconds(0));
  absl::Mutex mu;
  bool flag = false;
  bool result = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.WaitUntil(mu, absl::FromUnixSeconds(1000), [&] { return flag; });
  });
  {
    absl::MutexLock lock(&mu);
    flag = true;
  }
  waiter.join();
  EXPECT_TRUE(result);
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(0));
}

}  // namespace
}  // namespace hg
