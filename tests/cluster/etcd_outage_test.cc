// Scenario (d), etcd failures, with real processes: 3 etcd members, 2 masters, 1 worker, jobs
// every second (5; HG_SCENARIO_JOBS): 3/5 of them with a 60 s starting deadline, 2/5 with 3 s.
//  1. Kill one etcd follower, later the etcd leader (each restarted): scheduling goes on, every
//     instant runs exactly once.
//  2. Stop all of etcd for HG_ETCD_OUTAGE_SECONDS (default 10; the figure is 30): the
//     API answers 503 with a clear "store unavailable" error; after etcd returns everything
//     resumes by itself: no job definition lost, no record left scheduled/running, every
//     instant of the window ran once or, past its starting_deadline, is recorded `missed`.
//     Jobs with a 60 s deadline catch every instant up; jobs with a 3 s deadline record misses.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/scenario.h"

namespace hg::testing {
namespace {

// Lateness (run start - instant, ms) of first attempts whose instant is in [from, to].
std::vector<double> LatenessMs(const std::vector<RunLine>& runs, absl::Time from, absl::Time to) {
  std::vector<double> out;
  for (const RunLine& r : runs) {
    const absl::Time t = ParseTimeOrDie(r.scheduled);
    if (r.attempt == 1 && t >= from && t <= to) {
      out.push_back(absl::ToDoubleMilliseconds(r.started - t));
    }
  }
  return out;
}

TEST(EtcdFailures, MemberLossAndFullOutage) {
  int leader = -1;
  auto cluster = StartCluster({.etcd_members = 3, .masters = 2, .workers = 1}, &leader);
  ASSERT_TRUE(cluster != nullptr);
  Cluster& c = *cluster;

  const std::string out = c.dir() + "/runs.txt";
  const int jobs = ScenarioJobs(5);
  const int patient_jobs = std::max(1, jobs * 3 / 5);
  Fleet patient = CreateFleet(c, "patient", patient_jobs, out, nullptr, "60s");
  Fleet strict = CreateFleet(c, "strict", std::max(1, jobs - patient_jobs), out, nullptr, "3s");
  ASSERT_FALSE(::testing::Test::HasFailure());
  const absl::Time from = NextSecond(strict.created) + absl::Seconds(1);
  std::this_thread::sleep_for(std::chrono::seconds(3));

  // 1. One member at a time: a follower, then the raft leader.
  auto etcd_leader = c.etcd().WaitLeader(absl::Seconds(20));
  ASSERT_TRUE(etcd_leader.ok()) << etcd_leader.status();
  const int follower = (*etcd_leader + 1) % 3;
  const absl::Time follower_killed = absl::Now();
  ASSERT_TRUE(c.etcd().Kill(follower).ok());
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const absl::Time follower_window_end = absl::Now();
  ASSERT_TRUE(c.etcd().Restart(follower).ok());
  etcd_leader = c.etcd().WaitLeader(absl::Seconds(20));
  ASSERT_TRUE(etcd_leader.ok()) << etcd_leader.status();
  const absl::Time leader_killed = absl::Now();
  ASSERT_TRUE(c.etcd().Kill(*etcd_leader).ok());
  std::this_thread::sleep_for(std::chrono::seconds(6));
  const absl::Time leader_window_end = absl::Now();
  ASSERT_TRUE(c.etcd().Restart(*etcd_leader).ok());
  ASSERT_TRUE(c.etcd().WaitLeader(absl::Seconds(20)).ok());
  std::this_thread::sleep_for(std::chrono::seconds(2));

  // 2. All of etcd down.
  const int outage_s = EnvInt("HG_ETCD_OUTAGE_SECONDS", 10);
  const absl::Time outage_start = absl::Now();
  for (int m = 0; m < 3; ++m) ASSERT_TRUE(c.etcd().Stop(m).ok());
  int get_status = 0, post_status = 0;
  std::string get_body;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = c.Http(-1, "GET", "/jobs/");
        if (!r.ok()) return false;
        get_status = r->status;
        get_body = r->body;
        return r->status == 503;
      },
      absl::Seconds(outage_s)))
      << "GET /jobs during the outage: " << get_status << " " << get_body;
  EXPECT_NE(get_body.find("store unavailable"), std::string::npos) << get_body;
  const nlohmann::json new_job = ShellJob({.name = "during-outage", .out_file = out});
  auto post = c.Http(-1, "POST", "/jobs/", new_job.dump());
  if (post.ok()) post_status = post->status;
  EXPECT_EQ(post_status, 503) << (post.ok() ? post->body : post.status().ToString());
  const absl::Time resume_at = outage_start + absl::Seconds(outage_s);
  if (absl::Now() < resume_at) absl::SleepFor(resume_at - absl::Now());
  const absl::Time outage_end = absl::Now();
  for (int m = 0; m < 3; ++m) ASSERT_TRUE(c.etcd().Restart(m, /*wait_healthy=*/false).ok());
  ASSERT_TRUE(c.etcd().WaitLeader(absl::Seconds(30)).ok());
  const absl::Time etcd_back = absl::Now();

  // Resumes by itself: a fire after etcd came back.
  absl::Time first_after;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const RunLine& r : ReadRuns(out)) {
          if (r.started > etcd_back) {
            first_after = r.started;
            return true;
          }
        }
        return false;
      },
      absl::Seconds(30)))
      << "nothing ran within 30 s of etcd's return";
  std::this_thread::sleep_for(std::chrono::seconds(4));
  const absl::Time to = FloorSecond(absl::Now()) - absl::Seconds(1);

  // No definition lost.
  absl::StatusOr<std::set<std::string>> names = absl::UnavailableError("not asked");
  EXPECT_TRUE(WaitFor(
      [&] {
        names = JobNames(c);
        return names.ok();
      },
      absl::Seconds(20)));
  ASSERT_TRUE(names.ok()) << names.status();
  for (const Fleet* f : {&patient, &strict}) {
    for (const auto& n : f->names) EXPECT_TRUE(names->count(n)) << n << " lost";
  }
  EXPECT_FALSE(names->count("during-outage")) << "a write refused with 503 was applied";

  // A leader elected right after etcd returns may see no worker yet (they re-register within
  // their session TTL), or a worker still renewing its session: a patient job's instants must
  // wait for one, not be recorded failed "no worker available" (they were, before the
  // dispatcher parked and retried such entries). A strict job's 3 s may legitimately run out
  // while the workers come back: that is its outcome, accounted for, not asserted against.
  FleetResult p = SettleAndAccount(c, patient, from, to, /*allow_missed=*/false);
  FleetResult s = SettleAndAccount(c, strict, from, to, /*allow_missed=*/true,
                                   /*allow_other_outcomes=*/true);
  int no_worker = 0;
  for (const auto& [job, recs] : p.history) {
    for (const auto& e : recs) {
      no_worker += e.value("reason", "") == "no_worker";
    }
  }
  EXPECT_EQ(no_worker, 0);
  Figure("etcd_outage_no_worker_failures", no_worker);
  EXPECT_GT(s.total.missed, 0) << "a " << outage_s << " s outage must miss 3 s-deadline instants";
  int catchup = 0;
  for (const auto& [job, recs] : p.history) {
    for (const auto& e : recs) catchup += e.value("trigger", "") == "catchup";
  }
  EXPECT_GT(catchup, 0) << "instants of the outage were not caught up";

  const std::vector<double> follower_lateness =
      LatenessMs(p.runs, FloorSecond(follower_killed), follower_window_end);
  EXPECT_LE(Max(follower_lateness), 1000) << "losing one etcd follower interrupted scheduling";
  // Runs of instants the leader kill stalled are still queued when the full outage starts
  // (8 s later) when the job rate is high: the max then includes the outage.
  const std::vector<double> leader_lateness =
      LatenessMs(p.runs, FloorSecond(leader_killed), leader_window_end);
  Figure("jobs", jobs);
  Figure("etcd_follower_kill_max_lateness_ms", Max(follower_lateness));
  Figure("etcd_leader_kill_median_lateness_ms", Median(leader_lateness));
  Figure("etcd_leader_kill_max_lateness_ms", Max(leader_lateness));
  Figure("etcd_outage_s", absl::ToDoubleSeconds(outage_end - outage_start));
  Figure("etcd_outage_api_get_status", get_status);
  Figure("etcd_outage_api_post_status", post_status);
  Figure("etcd_back_to_first_run_ms", absl::ToDoubleMilliseconds(first_after - etcd_back));
  Figure("etcd_outage_caught_up_runs", catchup);
  Figure("etcd_outage_strict_missed", s.total.missed);
  Figure("instants", p.total.instants + s.total.instants);
  Figure("duplicates", p.total.duplicates + s.total.duplicates);
  Figure("no_outcome", p.total.no_outcome + s.total.no_outcome);
}

// A claim whose answer is lost (the worker's link to etcd resets after etcd committed it; as
// when all of etcd stops while a batch of claims is in flight, which scenario (d) hit at 200
// jobs/s) must not cost the instant its run: nothing ran, the store is back at once and the
// starting deadline is 60 s away. With fire-ahead the claims of an instant are sent ~500 ms
// before it, so the worker's answers are lost in [t - 0.6 s, t - 0.2 s] of three instants.
// A claim whose answer is lost (the worker cannot know it holds it) is given back by the
// worker (runs::ReleaseClaim) and dispatched again: the instant still runs, once. Failed on
// 997d0d6, where the worker settled such claims as `failed` "not started".
TEST(EtcdFailures, ClaimWhoseAnswerWasLostStillRuns) {
  int leader = -1;
  auto cluster = StartCluster({.masters = 1, .workers = 1, .proxy_workers = true}, &leader);
  ASSERT_TRUE(cluster != nullptr);
  Cluster& c = *cluster;
  Fleet fleet = CreateFleet(c, "patient", ScenarioJobs(5), c.dir() + "/runs.txt", nullptr, "60s");
  ASSERT_FALSE(::testing::Test::HasFailure());
  const absl::Time from = NextSecond(fleet.created) + absl::Seconds(1);
  std::this_thread::sleep_for(std::chrono::seconds(3));

  TcpProxy& link = *c.WorkerProxies(0).at(0);
  for (int k = 0; k < 3; ++k) {
    SleepToFraction(0.4);
    link.SetLoseAnswers(true);
    absl::SleepFor(absl::Milliseconds(400));
    link.SetLoseAnswers(false);
    std::this_thread::sleep_for(std::chrono::seconds(3));
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const absl::Time to = FloorSecond(absl::Now()) - absl::Seconds(1);
  EXPECT_GT(link.answers_lost(), 0) << "no answer was lost: the test proved nothing";
  FleetResult r = SettleAndAccount(c, fleet, from, to);
  Figure("answers_lost", link.answers_lost());
  FleetFigures(r);
}

}  // namespace
}  // namespace hg::testing
