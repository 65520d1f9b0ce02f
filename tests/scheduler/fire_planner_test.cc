#include "scheduler/fire_planner.h"

#include <gtest/gtest.h>

namespace hg::scheduler {
namespace {

using Kind = PlannedFire::Kind;

absl::Time T(int64_t unix_seconds) { return absl::FromUnixSeconds(unix_seconds); }
// 2026-01-01T00:00:00Z, a multiple of 60.
constexpr int64_t kBase = 1'767'225'600;

PlannedJob Job(std::string name, std::string_view expr, std::optional<absl::Time> cursor = {}) {
  auto schedule = cron::Schedule::Parse(expr);
  EXPECT_TRUE(schedule.ok()) << schedule.status();
  return PlannedJob{.name = std::move(name), .schedule = *schedule, .cursor = cursor};
}

TEST(FirePlanner, NewJobStartsAfterNowAndFiresEachInstantOnce) {
  FirePlanner p;
  p.Upsert(Job("a", "*/10 * * * * *"), T(kBase + 3));
  EXPECT_EQ(p.NextDue(), T(kBase + 10));
  EXPECT_TRUE(p.TakeDue(T(kBase + 9)).empty());
  auto d = p.TakeDue(T(kBase + 10));
  ASSERT_EQ(d.size(), 1u);
  ASSERT_EQ(d[0].fires.size(), 1u);
  EXPECT_EQ(d[0].fires[0].instant, T(kBase + 10));
  EXPECT_EQ(d[0].fires[0].kind, Kind::kFire);
  EXPECT_FALSE(d[0].fires[0].late);
  EXPECT_EQ(d[0].cursor, T(kBase + 10));
  EXPECT_TRUE(p.TakeDue(T(kBase + 10)).empty());  // never twice
  EXPECT_EQ(p.NextDue(), T(kBase + 20));
}

TEST(FirePlanner, InstantsWithinTheHorizonAreFiredAheadOnTime) {
  FirePlanner p;
  p.Upsert(Job("a", "*/10 * * * * *"), T(kBase + 3));
  const absl::Time now = T(kBase + 9) + absl::Milliseconds(500);
  EXPECT_TRUE(p.TakeDue(now, now + absl::Milliseconds(400)).empty());  // 10 is beyond
  auto d = p.TakeDue(now, now + absl::Milliseconds(500));
  ASSERT_EQ(d.size(), 1u);
  ASSERT_EQ(d[0].fires.size(), 1u);
  EXPECT_EQ(d[0].fires[0].instant, T(kBase + 10));
  EXPECT_EQ(d[0].fires[0].kind, Kind::kFire);
  EXPECT_FALSE(d[0].fires[0].late);
  EXPECT_EQ(d[0].cursor, T(kBase + 10));
  EXPECT_TRUE(p.TakeDue(T(kBase + 10)).empty());  // fired ahead: not again at the instant
}

TEST(FirePlanner, AheadOfTimeDoesNotChangeTheCatchUpOfThePast) {
  FirePlanner p;
  PlannedJob job = Job("f", "* * * * * *", T(kBase));  // cursor 5 s behind
  job.starting_deadline = absl::Seconds(60);
  const absl::Time now = T(kBase + 5) + absl::Milliseconds(500);
  p.Upsert(std::move(job), now);
  auto d = p.TakeDue(now, now + absl::Seconds(1));
  ASSERT_EQ(d.size(), 1u);
  ASSERT_EQ(d[0].fires.size(), 6u);  // 1..5 past, 6 ahead
  for (int i = 0; i < 4; ++i) EXPECT_EQ(d[0].fires[i].kind, Kind::kMissed) << i;
  EXPECT_EQ(d[0].fires[4].kind, Kind::kFire);  // the last past instant: the catch-up run
  EXPECT_TRUE(d[0].fires[4].late);
  EXPECT_EQ(d[0].fires[5].kind, Kind::kFire);  // the instant ahead runs on time
  EXPECT_FALSE(d[0].fires[5].late);
}

TEST(FirePlanner, JobsDueAtTheSameInstantComeOutTogether) {
  FirePlanner p;
  for (std::string name : {"a", "b", "c"}) p.Upsert(Job(name, "* * * * * *"), T(kBase));
  auto d = p.TakeDue(T(kBase + 1));
  ASSERT_EQ(d.size(), 3u);
  for (const auto& jd : d) EXPECT_EQ(jd.fires.at(0).instant, T(kBase + 1));
}

TEST(FirePlanner, CatchUpWithinDeadlineRunsOnceAndMissesTheRest) {
  FirePlanner p;
  // Cursor 5 minutes ago (a leader died); deadline 60 s, Forbid-like (no overlap).
  PlannedJob j = Job("a", "0 * * * * *", T(kBase));
  j.starting_deadline = absl::Seconds(60);
  p.Upsert(std::move(j), T(kBase + 330));
  auto d = p.TakeDue(T(kBase + 330));
  ASSERT_EQ(d.size(), 1u);
  ASSERT_EQ(d[0].fires.size(), 5u);  // 60,120,180,240,300
  for (int i = 0; i < 4; ++i) EXPECT_EQ(d[0].fires[i].kind, Kind::kMissed) << i;
  EXPECT_EQ(d[0].fires[4].instant, T(kBase + 300));
  EXPECT_EQ(d[0].fires[4].kind, Kind::kFire);
  EXPECT_TRUE(d[0].fires[4].late);
  EXPECT_EQ(d[0].cursor, T(kBase + 300));
}

TEST(FirePlanner, CatchUpBeyondDeadlineIsAllMissed) {
  FirePlanner p;
  PlannedJob j = Job("a", "0 * * * * *", T(kBase));
  j.starting_deadline = absl::Seconds(10);
  p.Upsert(std::move(j), T(kBase + 150));
  auto d = p.TakeDue(T(kBase + 150));
  ASSERT_EQ(d.at(0).fires.size(), 2u);
  EXPECT_EQ(d[0].fires[0].kind, Kind::kMissed);
  EXPECT_EQ(d[0].fires[1].kind, Kind::kMissed);  // 120 is 30 s late > 10 s
}

TEST(FirePlanner, AllowRunsEveryInstantWithinDeadline) {
  FirePlanner p;
  PlannedJob j = Job("a", "*/10 * * * * *", T(kBase));
  j.allow_overlap = true;
  j.starting_deadline = absl::Seconds(25);
  p.Upsert(std::move(j), T(kBase + 40));
  auto d = p.TakeDue(T(kBase + 40));
  ASSERT_EQ(d.at(0).fires.size(), 4u);  // 10 missed (30 s late), 20, 30, 40 fire
  EXPECT_EQ(d[0].fires[0].kind, Kind::kMissed);
  EXPECT_EQ(d[0].fires[1].kind, Kind::kFire);
  EXPECT_EQ(d[0].fires[2].kind, Kind::kFire);
  EXPECT_EQ(d[0].fires[3].kind, Kind::kFire);
}

TEST(FirePlanner, PausedJobAdvancesCursorWithoutRecords) {
  FirePlanner p;
  PlannedJob j = Job("a", "* * * * * *");
  j.paused = true;
  p.Upsert(j, T(kBase));
  auto d = p.TakeDue(T(kBase + 5));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].fires.empty());
  EXPECT_EQ(d[0].cursor, T(kBase + 5));
  j.paused = false;
  j.cursor.reset();
  p.Upsert(j, T(kBase + 5));  // resume: nothing from the pause is replayed
  d = p.TakeDue(T(kBase + 6));
  ASSERT_EQ(d.at(0).fires.size(), 1u);
  EXPECT_EQ(d[0].fires[0].instant, T(kBase + 6));
}

TEST(FirePlanner, ScheduleChangeNeverRerunsThePast) {
  FirePlanner p;
  p.Upsert(Job("a", "0 * * * * *", T(kBase)), T(kBase));
  (void)p.TakeDue(T(kBase + 60));
  // Switch to every second at t=90: next is 91, not anything in (60, 90].
  p.Upsert(Job("a", "* * * * * *"), T(kBase + 90));
  EXPECT_EQ(p.NextDue(), T(kBase + 91));
}

TEST(FirePlanner, RemoveStopsFiring) {
  FirePlanner p;
  p.Upsert(Job("a", "* * * * * *"), T(kBase));
  p.Remove("a");
  EXPECT_FALSE(p.NextDue().has_value());
  EXPECT_TRUE(p.TakeDue(T(kBase + 100)).empty());
}

TEST(FirePlanner, RollbackMakesTheInstantDueAgain) {
  FirePlanner p;
  p.Upsert(Job("a", "*/10 * * * * *", T(kBase)), T(kBase));
  auto d = p.TakeDue(T(kBase + 10));
  ASSERT_EQ(d.size(), 1u);
  p.Rollback("a", T(kBase), d[0].fires[0].instant);
  d = p.TakeDue(T(kBase + 11));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].fires.at(0).instant, T(kBase + 10));
}

TEST(FirePlanner, RollbackPastAnAppliedWriteNeverRefires) {
  FirePlanner p;
  p.Upsert(Job("a", "*/10 * * * * *", T(kBase)), T(kBase));
  auto d = p.TakeDue(T(kBase + 10));
  ASSERT_EQ(d.size(), 1u);
  // The write reported failure but landed: the persisted cursor is the instant itself.
  p.Rollback("a", T(kBase + 10), d[0].fires[0].instant);
  EXPECT_TRUE(p.TakeDue(T(kBase + 11)).empty());
  EXPECT_EQ(p.NextDue(), T(kBase + 20));
}

TEST(FirePlanner, HugeBacklogIsCountedNotListed) {
  FirePlanner p;
  p.Upsert(Job("a", "* * * * * *", T(kBase)), T(kBase));
  auto d = p.TakeDue(T(kBase + 86'400));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].fires.size(), static_cast<size_t>(FirePlanner::kMaxListedPerJob));
  EXPECT_EQ(d[0].missed_not_listed, 86'400 - FirePlanner::kMaxListedPerJob);
  EXPECT_EQ(d[0].cursor, T(kBase + 86'400));
  // Only the latest instant is on time and runs; all earlier ones are missed.
  for (size_t i = 0; i + 1 < d[0].fires.size(); ++i) EXPECT_EQ(d[0].fires[i].kind, Kind::kMissed);
  EXPECT_EQ(d[0].fires.back().instant, T(kBase + 86'400));
  EXPECT_EQ(d[0].fires.back().kind, Kind::kFire);
}

}  // namespace
}  // namespace hg::scheduler
