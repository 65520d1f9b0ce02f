#include "model/run_stats.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hg::model {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kT0 = absl::FromUnixSeconds(1'767'225'600);  // 2026-01-01T00:00:00Z

int64_t Of(const MinuteStats& s, RunOutcome o) { return s.counts[static_cast<size_t>(o)]; }

TEST(RunStatsTest, OutcomeOfEveryFinalStatus) {
  EXPECT_EQ(OutcomeOf(ExecutionStatus::kSuccess), RunOutcome::kSucceeded);
  EXPECT_EQ(OutcomeOf(ExecutionStatus::kMissed), RunOutcome::kMissed);
  EXPECT_EQ(OutcomeOf(ExecutionStatus::kSkipped), RunOutcome::kSkipped);
  EXPECT_EQ(OutcomeOf(ExecutionStatus::kRunning), std::nullopt);
  for (auto s : {ExecutionStatus::kSuccess, ExecutionStatus::kFailed, ExecutionStatus::kTimeout,
                 ExecutionStatus::kKilled, ExecutionStatus::kMissed, ExecutionStatus::kSkipped}) {
    EXPECT_TRUE(OutcomeOf(s).has_value()) << ToString(s);
  }
  EXPECT_EQ(ToString(RunOutcome::kLost), "lost");
}

TEST(RunStatsTest, CountTalliesFailuresAndMissedByJob) {
  MinuteStats m;
  m.Count(RunOutcome::kSucceeded, "a", kT0);
  m.Count(RunOutcome::kFailed, "a", kT0 + absl::Seconds(1));
  m.Count(RunOutcome::kTimeout, "a", kT0 + absl::Seconds(3));
  m.Count(RunOutcome::kMissed, "b", kT0 + absl::Seconds(2), 5);
  m.Count(RunOutcome::kKilled, "c", kT0);
  EXPECT_EQ(Of(m, RunOutcome::kSucceeded), 1);
  EXPECT_EQ(Of(m, RunOutcome::kMissed), 5);
  EXPECT_EQ(m.failures.at("a"), (JobTally{2, kT0 + absl::Seconds(3)}));
  EXPECT_EQ(m.missed.at("b"), (JobTally{5, kT0 + absl::Seconds(2)}));
  EXPECT_FALSE(m.failures.contains("c"));
}

TEST(RunStatsTest, JobTalliesAreBoundedButCountsAreNot) {
  MinuteStats m;
  for (size_t i = 0; i < MinuteStats::kMaxJobs + 10; ++i) {
    m.Count(RunOutcome::kFailed, "job" + std::to_string(i), kT0);
  }
  EXPECT_EQ(m.failures.size(), MinuteStats::kMaxJobs);
  EXPECT_EQ(Of(m, RunOutcome::kFailed), static_cast<int64_t>(MinuteStats::kMaxJobs + 10));
}

TEST(RunStatsTest, LagPercentilesFromMergedHistograms) {
  MinuteStats a, b;
  for (int i = 0; i < 90; ++i) a.Lag(absl::Milliseconds(3));    // bucket (2, 5]
  for (int i = 0; i < 10; ++i) b.Lag(absl::Milliseconds(700));  // bucket (500, 1000]
  b.Lag(absl::Milliseconds(-5));                                // clock skew: 0
  a.Merge(b);
  EXPECT_EQ(a.lag_count(), 101);
  LagSummary s = SummarizeLag(a);
  ASSERT_TRUE(s.p50 && s.p90 && s.p99 && s.max);
  EXPECT_GT(*s.p50, 2.0);
  EXPECT_LE(*s.p50, 5.0);
  EXPECT_GT(*s.p99, 500.0);
  EXPECT_LE(*s.p99, 700.0);  // capped at the observed max
  EXPECT_EQ(*s.max, 700.0);
  EXPECT_FALSE(SummarizeLag(MinuteStats{}).p50.has_value());
}

TEST(RunStatsTest, LagAboveTheLastBoundIsCappedAtMax) {
  MinuteStats m;
  m.Lag(absl::Hours(2));
  LagSummary s = SummarizeLag(m);
  EXPECT_GT(*s.p50, 3'600'000.0);  // inside the open bucket, between its floor and max
  EXPECT_LE(*s.p99, 7'200'000.0);
  EXPECT_EQ(*s.max, 7'200'000.0);
}

TEST(RunStatsTest, NodeMinuteRoundTrips) {
  NodeMinute v{.node = "w-1", .minute = kT0, .published_at = kT0 + absl::Seconds(65)};
  v.final = true;
  v.stats.Count(RunOutcome::kFailed, "backup", kT0 + absl::Seconds(10), 2);
  v.stats.Count(RunOutcome::kMissed, "report", kT0 + absl::Seconds(20));
  v.stats.Count(RunOutcome::kLost, "", kT0);
  v.stats.Lag(absl::Milliseconds(42));
  auto parsed = ParseNodeMinute(SerializeNodeMinute(v));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, v);
}

TEST(RunStatsTest, ParseRejectsBadValues) {
  EXPECT_FALSE(ParseNodeMinute("[]").ok());
  EXPECT_FALSE(ParseNodeMinute(R"({"node":"n"})").ok());  // no minute
  EXPECT_FALSE(
      ParseNodeMinute(R"({"node":"n","minute":"2026-01-01T00:00:00Z","lag_ms":{"buckets":[1]}})")
          .ok());
}

TEST(RunStatsTest, MinuteStartFloorsToTheMinute) {
  EXPECT_EQ(MinuteStart(kT0 + absl::Seconds(59) + absl::Milliseconds(999)), kT0);
  EXPECT_EQ(MinuteStart(kT0 + absl::Seconds(60)), kT0 + absl::Minutes(1));
}

NodeMinute Value(std::string node, int minute, int64_t succeeded, bool stopped = false) {
  NodeMinute v{.node = std::move(node), .minute = kT0 + absl::Minutes(minute)};
  v.final = true;
  v.stopped = stopped;
  v.stats.Count(RunOutcome::kSucceeded, "a", v.minute, succeeded);
  return v;
}

TEST(RunStatsTest, MergeWindowSumsNodesPerMinuteWithZeros) {
  std::vector<NodeMinute> values = {Value("m", 0, 1),  Value("m", 1, 2), Value("m", 2, 0),
                                    Value("w", 0, 10), Value("w", 1, 0), Value("w", 2, 3),
                                    Value("w", 5, 100)};  // outside the window: ignored
  values[1].stats.Count(RunOutcome::kFailed, "x", kT0 + absl::Seconds(70), 3);
  values[4].stats.Count(RunOutcome::kFailed, "y", kT0 + absl::Seconds(80), 4);
  values[4].stats.Count(RunOutcome::kFailed, "x", kT0 + absl::Seconds(90), 1);
  values[4].stats.Count(RunOutcome::kLost, "", kT0);
  StatsWindow w = MergeWindow(values, kT0, 4, kT0 + absl::Minutes(3) + absl::Seconds(10));
  ASSERT_EQ(w.per_minute.size(), 4u);
  EXPECT_EQ(w.per_minute[0].start, kT0);
  EXPECT_EQ(w.per_minute[0].counts[0], 11);
  EXPECT_EQ(w.per_minute[1].counts[0], 2);
  EXPECT_EQ(w.per_minute[1].counts[1], 8);
  EXPECT_EQ(w.per_minute[3].counts[0], 0);
  EXPECT_EQ(Of(w.total, RunOutcome::kSucceeded), 16);
  EXPECT_EQ(w.runs, 24);  // lost is not a run's end
  ASSERT_EQ(w.failing.size(), 2u);
  EXPECT_EQ(w.failing[0].name, "x");
  EXPECT_EQ(w.failing[0].count, 4);
  EXPECT_EQ(w.failing[0].last, kT0 + absl::Seconds(90));
  EXPECT_EQ(w.failing[1].name, "y");
  EXPECT_TRUE(w.complete);
}

TEST(RunStatsTest, TopJobsAreLimited) {
  NodeMinute v = Value("m", 0, 0);
  for (int i = 0; i < 30; ++i)
    v.stats.Count(RunOutcome::kMissed, "j" + std::to_string(i), kT0, i + 1);
  StatsWindow w = MergeWindow({v}, kT0, 1, kT0 + absl::Seconds(30));
  ASSERT_EQ(w.missed.size(), StatsWindow::kTopJobs);
  EXPECT_EQ(w.missed[0].name, "j29");
  EXPECT_EQ(w.missed[0].count, 30);
}

TEST(RunStatsTest, AGapInANodesValuesMakesTheWindowIncomplete) {
  const absl::Time now = kT0 + absl::Minutes(4) + absl::Seconds(10);
  StatsWindow w = MergeWindow({Value("m", 0, 1), Value("m", 2, 1), Value("m", 3, 0)}, kT0, 5, now);
  EXPECT_FALSE(w.complete);
  EXPECT_THAT(w.incomplete_nodes, ElementsAre("m"));
  // The same gap after a clean stop is a process that was not running: complete.
  w = MergeWindow({Value("m", 0, 1, /*stopped=*/true), Value("m", 2, 1), Value("m", 3, 0)}, kT0, 5,
                  now);
  EXPECT_TRUE(w.complete);
  EXPECT_THAT(w.incomplete_nodes, IsEmpty());
}

TEST(RunStatsTest, ANodeThatStoppedPublishingWithoutACleanStopIsIncomplete) {
  // 20 s into minute 4: minute 3's final value is due by now.
  const absl::Time now = kT0 + absl::Minutes(4) + absl::Seconds(20);
  EXPECT_TRUE(MergeWindow({Value("w", 1, 1), Value("w", 2, 1)}, kT0, 5,
                          kT0 + absl::Minutes(4) + absl::Seconds(5))
                  .complete);  // minute 3's final write may not be there yet
  // Values up to minute 3 (the previous minute): still publishing.
  EXPECT_TRUE(MergeWindow({Value("w", 2, 1), Value("w", 3, 1)}, kT0, 5, now).complete);
  // Values up to minute 2 only: it died (its last seconds were never published).
  EXPECT_FALSE(MergeWindow({Value("w", 1, 1), Value("w", 2, 1)}, kT0, 5, now).complete);
  EXPECT_TRUE(MergeWindow({Value("w", 1, 1), Value("w", 2, 1, true)}, kT0, 5, now).complete);
}

}  // namespace
}  // namespace hg::model
