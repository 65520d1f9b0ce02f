// CompactionWindow, the compactor's pure decision, stepped by a FakeClock's steady time: it
// compacts to the newest revision at least `retention` old, never backwards, never past the
// store's revision, and forgets samples of a store whose revision went backwards.
#include "master/compaction_window.h"

#include <gtest/gtest.h>

#include <optional>

#include "common/clock.h"

namespace hg::master {
namespace {

constexpr absl::Duration kRetention = absl::Seconds(60);
constexpr absl::Duration kTick = absl::Seconds(6);  // retention / 10

class CompactionWindowTest : public ::testing::Test {
 protected:
  // Samples `revision` now, then moves the clock one tick.
  void SampleAndTick(store::Revision revision) {
    window_.Sample(clock_.SteadyNow(), revision);
    clock_.Advance(kTick);
  }
  std::optional<store::Revision> Target(store::Revision current, store::Revision compacted = 0) {
    return window_.Target(clock_.SteadyNow(), current, compacted);
  }

  FakeClock clock_;
  CompactionWindow window_{kRetention};
};

TEST_F(CompactionWindowTest, NothingBeforeTheFirstSampleIsRetentionOld) {
  EXPECT_EQ(Target(100), std::nullopt);  // no samples at all
  for (int i = 0; i < 10; ++i) SampleAndTick(100 + i);
  // The clock is now 60 s after the first sample: it just became old enough.
  EXPECT_EQ(Target(110), 100);
}

TEST_F(CompactionWindowTest, OneNanosecondShortOfRetentionIsTooYoung) {
  window_.Sample(clock_.SteadyNow(), 42);
  clock_.Advance(kRetention - absl::Nanoseconds(1));
  EXPECT_EQ(Target(50), std::nullopt);
  clock_.Advance(absl::Nanoseconds(1));
  EXPECT_EQ(Target(50), 42);
}

TEST_F(CompactionWindowTest, PicksTheNewestSampleThatIsOldEnough) {
  for (int i = 0; i < 15; ++i) SampleAndTick(1000 + 10 * i);  // t = 0, 6, ..., 84 s
  // Now t = 90 s: samples at t <= 30 s are old enough; the newest is t = 30 s (rev 1050).
  EXPECT_EQ(Target(2000), 1050);
  // Superseded samples are dropped: one old enough plus the younger ones (t = 36..84 s).
  EXPECT_LE(window_.samples(), 11u);
}

TEST_F(CompactionWindowTest, NeverBackwards) {
  for (int i = 0; i < 11; ++i) SampleAndTick(100 + i);
  EXPECT_EQ(Target(200, /*compacted=*/0), 101);
  EXPECT_EQ(Target(200, /*compacted=*/101), std::nullopt);  // already there
  EXPECT_EQ(Target(200, /*compacted=*/150), std::nullopt);  // someone compacted further
  EXPECT_EQ(Target(200, /*compacted=*/100), 101);
}

TEST_F(CompactionWindowTest, NeverPastTheCurrentRevision) {
  for (int i = 0; i < 11; ++i) SampleAndTick(500);
  EXPECT_EQ(Target(500), 500);
  EXPECT_EQ(Target(499), std::nullopt);
}

TEST_F(CompactionWindowTest, IdleStoreCompactsOnceThenWaits) {
  // No writes: every sample has the same revision; once compacted there is nothing to do.
  for (int i = 0; i < 11; ++i) SampleAndTick(7);
  EXPECT_EQ(Target(7), 7);
  for (int i = 0; i < 20; ++i) SampleAndTick(7);
  EXPECT_EQ(Target(7, /*compacted=*/7), std::nullopt);
}

TEST_F(CompactionWindowTest, RevisionGoingBackwardsForgetsEarlierSamples) {
  for (int i = 0; i < 11; ++i) SampleAndTick(10'000 + i);
  ASSERT_EQ(Target(20'000), 10'001);
  // The store was restored from an older backup: its revisions start over.
  SampleAndTick(300);
  EXPECT_EQ(window_.samples(), 1u);
  EXPECT_EQ(Target(301), std::nullopt);  // the restored store's sample is not old enough yet
  for (int i = 0; i < 9; ++i) SampleAndTick(301 + i);
  EXPECT_EQ(Target(310), 300);
}

TEST_F(CompactionWindowTest, SlowSamplingStillCompactsToAnOldEnoughRevision) {
  // The loop fell behind (a slow store): samples 25 s apart.
  window_.Sample(clock_.SteadyNow(), 10);
  clock_.Advance(absl::Seconds(25));
  window_.Sample(clock_.SteadyNow(), 20);
  clock_.Advance(absl::Seconds(25));
  window_.Sample(clock_.SteadyNow(), 30);
  clock_.Advance(absl::Seconds(25));  // t = 75 s: only the first sample (t = 0) is 60 s old
  EXPECT_EQ(Target(40), 10);
  clock_.Advance(absl::Seconds(10));  // t = 85 s: the second (t = 25 s) is old enough too
  EXPECT_EQ(Target(40), 20);
}

}  // namespace
}  // namespace hg::master
