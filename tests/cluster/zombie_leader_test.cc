// Scenario (c), paused leader ("zombie"), with real processes: etcd, 2 masters, 1 worker, jobs
// every second (5; HG_SCENARIO_JOBS). SIGSTOP the leader until its lease has expired and a new
// leader is firing, then SIGCONT it (three rounds). The resumed process still believes it leads
// for a moment; the term guard on every leader write (fire, no-worker, lost) must make that
// harmless: no instant twice, and no record of the old term for an instant after the pause.
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/scenario.h"

namespace hg::testing {
namespace {

constexpr int kRounds = 3;

TEST(ZombieLeader, PausedLeaderWritesNothingAfterResuming) {
  TickScenario s = StartTickScenario({.masters = 2, .workers = 1}, ScenarioJobs(5));
  ASSERT_FALSE(::testing::Test::HasFailure());
  Cluster& c = *s.cluster;
  std::optional<int> leader = s.leader;
  const Fleet& fleet = s.fleet;
  const absl::Time from = s.from;

  struct Round {
    int master;
    int64_t old_term;
    absl::Time stopped, resumed;
  };
  std::vector<Round> rounds;
  for (int k = 0; k < kRounds; ++k) {
    auto term = c.LeaderTerm(*leader);
    ASSERT_TRUE(term.ok()) << term.status();
    Round r{.master = *leader, .old_term = *term, .stopped = absl::Now(), .resumed = {}};
    c.PauseMaster(*leader);
    auto next = c.WaitLeader(absl::Seconds(20), *leader);
    ASSERT_TRUE(next.ok()) << next.status();
    // Let the new leader fire a couple of instants while the old one is frozen.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    r.resumed = absl::Now();
    c.ResumeMaster(*leader);
    rounds.push_back(r);
    leader = *next;
    std::this_thread::sleep_for(std::chrono::seconds(4));
    // The resumed master is alive and follows: it reports the new leader, not itself.
    auto view = c.Http(r.master, "GET", "/cluster");
    ASSERT_TRUE(view.ok()) << view.status();
    EXPECT_EQ(view->Json()["leader"].value("id", ""), absl::StrCat("master", *leader))
        << view->body;
  }
  const absl::Time to = FloorSecond(absl::Now()) - absl::Seconds(1);
  FleetResult result = SettleAndAccount(c, fleet, from, to);

  // Fencing: no record of an old term for an instant after its leader froze.
  int stale_writes = 0;
  std::vector<double> gaps;
  for (const Round& r : rounds) {
    stale_writes += StaleTermWrites(result, r.old_term, r.stopped, c.options().fire_ahead);
    FirstFire f = FirstFireAfterTerm(result, r.old_term);
    ASSERT_TRUE(f.found) << "no run fired by a leader newer than term " << r.old_term;
    gaps.push_back(absl::ToDoubleMilliseconds(f.run.started - r.stopped));
    std::cout << "zombie round: term " << r.old_term << " frozen, term " << f.term
              << " fired first " << f.run.id << " "
              << absl::FormatDuration(f.run.started - r.stopped) << " after SIGSTOP\n";
  }
  Figure("zombie_sigstop_to_first_fire_ms_median", Median(gaps));
  Figure("zombie_sigstop_to_first_fire_ms_max", Max(gaps));
  Figure("zombie_stale_term_writes", stale_writes);
  FleetFigures(result);
}

}  // namespace
}  // namespace hg::testing
