// RunStats (the per-minute counts behind GET /stats), the probes that count them together with
// /metrics, and StatsPublisher writing them to a real SqliteKv — stepped by a FakeClock.
#include "telemetry/run_stats.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/keys.h"
#include "telemetry/metrics.h"
#include "telemetry/stats_publisher.h"
#include "tests/fixtures/flaky_kv.h"
#include "tests/fixtures/temp_sqlite_kv.h"

namespace hg::telemetry {
namespace {

using model::RunOutcome;
using ::testing::HasSubstr;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'767'225'600);  // a whole minute

int64_t Of(const model::MinuteStats& s, RunOutcome o) { return s.counts[static_cast<size_t>(o)]; }

TEST(RunStatsRecorderTest, CollectHandsOutEndedMinutesOnceAndTheCurrentOneWhenChanged) {
  FakeClock clock(kT0 + absl::Seconds(10));
  RunStats stats(clock);
  stats.Count(RunOutcome::kSucceeded, "a");
  auto first = stats.Collect("n1", false);
  ASSERT_THAT(first, SizeIs(1));
  EXPECT_EQ(first[0].minute, kT0);
  EXPECT_FALSE(first[0].final);
  EXPECT_EQ(Of(first[0].stats, RunOutcome::kSucceeded), 1);
  EXPECT_THAT(stats.Collect("n1", false), SizeIs(0));  // nothing changed

  stats.Count(RunOutcome::kFailed, "a");
  clock.Advance(absl::Minutes(2) + absl::Seconds(5));  // minutes 0 and 1 ended, 2 is current
  auto due = stats.Collect("n1", false);
  ASSERT_THAT(due, SizeIs(2));  // 0 (final, both counts) and 1 (final, empty): a heartbeat
  EXPECT_TRUE(due[0].final);
  EXPECT_EQ(Of(due[0].stats, RunOutcome::kSucceeded), 1);
  EXPECT_EQ(Of(due[0].stats, RunOutcome::kFailed), 1);
  EXPECT_EQ(due[1].minute, kT0 + absl::Minutes(1));
  EXPECT_TRUE(due[1].final);
  EXPECT_TRUE(due[1].stats.empty());

  auto last = stats.Collect("n1", /*stopping=*/true);
  ASSERT_THAT(last, SizeIs(1));
  EXPECT_EQ(last[0].minute, kT0 + absl::Minutes(2));
  EXPECT_TRUE(last[0].stopped);
}

TEST(RunStatsRecorderTest, ALongPauseHandsOutOnlyTheRetainedMinutes) {
  FakeClock clock(kT0);
  RunStats stats(clock);
  clock.Advance(model::kStatsRetention + absl::Hours(3));
  auto due = stats.Collect("n1", false);
  EXPECT_EQ(static_cast<int64_t>(due.size()), model::kStatsRetention / absl::Minutes(1));
}

// The probes count /metrics and the run statistics in the same calls.
TEST(RunStatsRecorderTest, ProbesCountMetricsAndStatsTogether) {
  FakeClock clock(kT0);
  Metrics metrics({.clock = &clock});
  WorkerProbe worker(metrics);
  FireProbe fires(metrics);
  DispatchProbe dispatch(metrics);
  worker.ExecutionStarted(absl::Milliseconds(30));
  worker.ExecutionFinished("a", "success", absl::Seconds(1));
  worker.ExecutionFinished("a", "failed", absl::Seconds(1));
  worker.ExecutionFinished("b", "timeout", absl::Seconds(1));
  worker.ExecutionFinished("b", "killed", absl::Seconds(1));
  worker.ExecutionFinished("b", "skipped", absl::ZeroDuration());
  fires.Missed("c", 3);
  fires.NoWorker("d");
  dispatch.RunLost("e", "failed");
  dispatch.RunLost("e", "retried");
  dispatch.RunLost("e", "killed");
  auto due = metrics.run_stats().Collect("n", false);
  ASSERT_THAT(due, SizeIs(1));
  const model::MinuteStats& s = due[0].stats;
  EXPECT_EQ(Of(s, RunOutcome::kSucceeded), 1);
  EXPECT_EQ(Of(s, RunOutcome::kFailed), 3);  // worker, no worker, lost then failed
  EXPECT_EQ(Of(s, RunOutcome::kTimeout), 1);
  EXPECT_EQ(Of(s, RunOutcome::kKilled), 2);
  EXPECT_EQ(Of(s, RunOutcome::kSkipped), 1);
  EXPECT_EQ(Of(s, RunOutcome::kMissed), 3);
  EXPECT_EQ(Of(s, RunOutcome::kLost), 3);
  EXPECT_EQ(s.lag_count(), 1);
  EXPECT_EQ(s.missed.at("c").count, 3);
  EXPECT_EQ(s.failures.at("d").count, 1);
  const std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr(R"(hourglass_fires_total{outcome="missed"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_fires_total{outcome="no_worker"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_runs_lost_total{outcome="failed"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_runs_lost_total{outcome="retried"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(hourglass_schedule_lag_seconds_count 1)"));
}

std::vector<model::NodeMinute> Stored(store::Kv& kv, const model::Keys& keys) {
  auto r = kv.Range(store::RangeRequest::Prefix(keys.StatsPrefix()));
  EXPECT_TRUE(r.ok()) << r.status();
  std::vector<model::NodeMinute> out;
  if (!r.ok()) return out;
  for (const auto& kv : r->kvs) {
    auto v = model::ParseNodeMinute(kv.value);
    EXPECT_TRUE(v.ok()) << v.status();
    if (v.ok()) out.push_back(*v);
  }
  return out;
}

TEST(StatsPublisherTest, PublishesPerMinuteValuesAndPrunesOldOnes) {
  FakeClock clock(kT0 + absl::Seconds(1));
  hg::testing::TempSqliteKv store(clock, "stats");
  ASSERT_TRUE(store.ok());
  const model::Keys keys("/t/");
  // Another node's value from long ago: pruned by whoever publishes.
  const absl::Time old = kT0 - model::kStatsRetention - absl::Minutes(5);
  ASSERT_TRUE(store.kv()
                  .Put({.key = keys.Stats(old, "gone"),
                        .value = model::SerializeNodeMinute({.node = "gone", .minute = old})})
                  .ok());
  RunStats stats(clock);
  StatsPublisher publisher(store.kv(), clock, keys, "n1", stats, {});
  stats.Count(RunOutcome::kSucceeded, "a");
  ASSERT_TRUE(publisher.PublishOnce().ok());
  auto values = Stored(store.kv(), keys);
  ASSERT_THAT(values, SizeIs(1));
  EXPECT_EQ(values[0].node, "n1");
  EXPECT_EQ(values[0].minute, kT0);
  EXPECT_FALSE(values[0].final);

  stats.Count(RunOutcome::kSucceeded, "a");
  clock.Advance(absl::Minutes(1));
  ASSERT_TRUE(publisher.PublishOnce().ok());
  values = Stored(store.kv(), keys);
  ASSERT_THAT(values, SizeIs(1));  // minute 0, now final with both runs; 1 not changed yet
  EXPECT_TRUE(values[0].final);
  EXPECT_EQ(Of(values[0].stats, RunOutcome::kSucceeded), 2);

  publisher.Stop();  // a last value, marked stopped
  values = Stored(store.kv(), keys);
  ASSERT_THAT(values, SizeIs(2));
  EXPECT_TRUE(values[1].stopped);
  model::StatsWindow w = model::MergeWindow(values, kT0, 15, clock.Now());
  EXPECT_TRUE(w.complete);
  EXPECT_EQ(w.runs, 2);
}

TEST(StatsPublisherTest, WritesInBoundedTransactions) {
  FakeClock clock(kT0);
  hg::testing::TempSqliteKv store(clock, "stats");
  ASSERT_TRUE(store.ok());
  const model::Keys keys("/t/");
  RunStats stats(clock);
  StatsPublisher publisher(store.kv(), clock, keys, "n1", stats, {.values_per_txn = 4});
  clock.Advance(absl::Minutes(10) + absl::Seconds(1));
  ASSERT_TRUE(publisher.PublishOnce().ok());
  EXPECT_THAT(Stored(store.kv(), keys), SizeIs(10));  // every ended minute, one heartbeat each
}

TEST(StatsPublisherTest, KeepsWhatTheStoreRefusedAndDoesNotWaitForItAtStop) {
  FakeClock clock(kT0);
  hg::testing::TempSqliteKv store(clock, "stats");
  ASSERT_TRUE(store.ok());
  worker::testing::FlakyKv flaky(store.kv());
  const model::Keys keys("/t/");
  RunStats stats(clock);
  StatsPublisher publisher(flaky, clock, keys, "n1", stats, {});
  stats.Count(RunOutcome::kFailed, "a");
  clock.Advance(absl::Minutes(1));
  flaky.SetDown(true);
  EXPECT_FALSE(publisher.PublishOnce().ok());
  flaky.SetDown(false);
  ASSERT_TRUE(publisher.PublishOnce().ok());  // the value of minute 0, kept and written now
  auto values = Stored(store.kv(), keys);
  ASSERT_THAT(values, SizeIs(1));
  EXPECT_EQ(Of(values[0].stats, RunOutcome::kFailed), 1);
  stats.Count(RunOutcome::kSucceeded, "a");
  flaky.SetDown(true);
  EXPECT_FALSE(publisher.PublishOnce().ok());
  publisher.Stop();  // no last attempt against a store that did not answer
  flaky.SetDown(false);
  EXPECT_THAT(Stored(store.kv(), keys), SizeIs(1));
}

}  // namespace
}  // namespace hg::telemetry
