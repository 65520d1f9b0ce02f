// Scenario (b), rolling chaos (LABEL soak), with real processes: 3 etcd members, 3 masters,
// 3 workers, jobs every second, Forbid on half of them. For HG_SOAK_SECONDS (default 60; the
// issue's figure is 300) kill -9 the leader every 20 s and a random worker every 30 s,
// restarting each. Result: zero duplicate (job, instant) pairs, zero instants without an
// outcome (a run, or a missed / failed "worker lost" / skipped record), Forbid runs never
// overlapped (from the start and end lines the runs themselves wrote).
// HG_SOAK_JOBS (else HG_SCENARIO_JOBS) sets the job count (default 20, which a shared 2-core
// machine runs under sanitizers; RELIABILITY.md's figures: 200 on a release build).
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/scenario.h"

namespace hg::testing {
namespace {

// execution id -> wall time its shell wrote "end".
std::map<std::string, absl::Time> ReadEnds(const std::string& path) {
  std::map<std::string, absl::Time> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> p = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t ns = 0;
    if (p.size() == 2 && absl::SimpleAtoi(p[1], &ns)) out[p[0]] = absl::FromUnixNanos(ns);
  }
  return out;
}

TEST(Soak, RollingChaosEveryInstantAccountedForbidNeverOverlaps) {
  const int seconds = EnvInt("HG_SOAK_SECONDS", 60);
  const int jobs = EnvInt("HG_SOAK_JOBS", ScenarioJobs(20));
  int first_leader = -1;
  auto cluster = StartCluster({.etcd_members = 3, .masters = 3, .workers = 3}, &first_leader);
  ASSERT_TRUE(cluster != nullptr);
  Cluster& c = *cluster;

  const std::string ends = c.dir() + "/ends.txt";
  auto forbid = [](int i) { return i % 2 == 0; };
  Fleet fleet = CreateFleet(c, "soak", jobs, c.dir() + "/runs.txt", forbid, "10s", [&](int i) {
    // Forbid runs last long enough to overlap if the lock failed.
    return forbid(i) ? "sleep 0.4; echo \"$HOURGLASS_EXECUTION_ID $(date +%s%N)\" >> " + ends
                     : std::string();
  });
  ASSERT_FALSE(::testing::Test::HasFailure());
  const absl::Time from = NextSecond(fleet.created) + absl::Seconds(1);

  std::mt19937 rng(static_cast<unsigned>(absl::ToUnixNanos(absl::Now())));
  const absl::Time start = absl::Now();
  absl::Time next_leader_kill = start + absl::Seconds(20);
  absl::Time next_worker_kill = start + absl::Seconds(30);
  int leader_kills = 0, worker_kills = 0;
  std::vector<double> elections;
  while (absl::Now() < start + absl::Seconds(seconds)) {
    if (absl::Now() >= next_leader_kill) {
      auto l = c.WaitLeader(absl::Seconds(20));
      ASSERT_TRUE(l.ok()) << l.status();
      const absl::Time at = absl::Now();
      c.master(*l).Kill();
      auto next = c.WaitLeader(absl::Seconds(20), *l);
      ASSERT_TRUE(next.ok()) << next.status();
      elections.push_back(absl::ToDoubleMilliseconds(absl::Now() - at));
      ASSERT_TRUE(c.RestartMaster(*l).ok());
      ++leader_kills;
      next_leader_kill += absl::Seconds(20);
    }
    if (absl::Now() >= next_worker_kill) {
      const int w = static_cast<int>(rng() % c.worker_count());
      ASSERT_TRUE(c.RestartWorker(w).ok());  // kill -9, then start again
      ++worker_kills;
      next_worker_kill += absl::Seconds(30);
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const absl::Time to = FloorSecond(absl::Now()) - absl::Seconds(1);
  FleetResult result = SettleAndAccount(c, fleet, from, to, /*allow_missed=*/true,
                                        /*allow_other_outcomes=*/true);

  // Forbid: runs of one job never overlapped (start line .. end line).
  const auto end_of = ReadEnds(ends);
  int overlaps = 0;
  for (int i = 0; i < jobs; ++i) {
    if (!forbid(i)) continue;
    const std::string name = fleet.names[i];
    std::vector<std::pair<absl::Time, absl::Time>> spans;
    for (const RunLine& r : result.runs) {
      if (r.job != name) continue;
      auto it = end_of.find(r.id);
      spans.emplace_back(r.started, it == end_of.end() ? r.started : it->second);
    }
    std::sort(spans.begin(), spans.end());
    for (size_t k = 1; k < spans.size(); ++k) {
      if (spans[k].first < spans[k - 1].second) {
        ++overlaps;
        ADD_FAILURE() << name << ": a run started at " << absl::FormatTime(spans[k].first)
                      << " before the previous one ended at "
                      << absl::FormatTime(spans[k - 1].second);
      }
    }
  }
  int worker_lost = 0, shown = 0;
  for (const auto& [job, recs] : result.history) {
    for (const auto& e : recs) {
      worker_lost += e.value("reason", "") == "worker_lost";
      const std::string st = e.value("status", "");
      // A sample of the non-run outcomes, for the report (missed = a Forbid catch-up collapsed
      // to its latest instant at takeover, by design).
      if (st != "success" && st != "skipped" && shown++ < 8) {
        std::cout << "outcome: " << e.dump() << "\n";
      }
    }
  }
  Figure("soak_seconds", seconds);
  Figure("jobs", jobs);
  Figure("leader_kills", leader_kills);
  Figure("worker_kills", worker_kills);
  Figure("leader_kill_to_new_leader_visible_ms_max", Max(elections));
  Figure("instants", result.total.instants);
  Figure("ran", result.total.ran);
  Figure("duplicates", result.total.duplicates);
  Figure("missed", result.total.missed);
  Figure("failed_or_skipped_without_run", result.total.other_outcome);
  Figure("worker_lost_records", worker_lost);
  Figure("no_outcome", result.total.no_outcome);
  Figure("forbid_overlaps", overlaps);
}

}  // namespace
}  // namespace hg::testing
