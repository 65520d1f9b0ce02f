// Scenario (f), graceful handover, with real processes: etcd, 2 masters, 1 worker, jobs every
// second (5; HG_SCENARIO_JOBS). SIGTERM the leader (three times, restarting it as a standby each
// time): it must resign at once, so the standby fires the next instant on time. Measured from what
// ran: the first run fired by the new leader starts at most 500 ms after its scheduled instant, and
// every instant of the whole window ran exactly once.
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/scenario.h"

namespace hg::testing {
namespace {

constexpr int kHandovers = 3;
constexpr absl::Duration kMaxLateness = absl::Milliseconds(500);

TEST(Handover, SigtermLeaderStandbyFiresNextInstantOnTime) {
  TickScenario s = StartTickScenario({.masters = 2, .workers = 1}, ScenarioJobs(5));
  ASSERT_FALSE(::testing::Test::HasFailure());
  Cluster& c = *s.cluster;
  std::optional<int> leader = s.leader;
  const Fleet& fleet = s.fleet;
  const absl::Time from = s.from;

  struct Handover {
    absl::Time sigterm;
    int64_t old_term = 0;
    absl::Duration exit_took;
    absl::Duration new_leader_seen;
  };
  std::vector<Handover> handovers;
  for (int k = 0; k < kHandovers; ++k) {
    auto term = c.LeaderTerm(*leader);
    ASSERT_TRUE(term.ok()) << term.status();
    SleepToFraction(0.4);
    Handover h{.sigterm = absl::Now(), .old_term = *term, .exit_took = {}, .new_leader_seen = {}};
    const int rc = c.master(*leader).Terminate(absl::Seconds(20));
    h.exit_took = absl::Now() - h.sigterm;
    EXPECT_EQ(rc, 0) << "master did not exit cleanly on SIGTERM";
    auto next = c.WaitLeader(absl::Seconds(20), *leader);
    ASSERT_TRUE(next.ok()) << next.status();
    h.new_leader_seen = absl::Now() - h.sigterm;
    handovers.push_back(h);
    // The old leader comes back as a standby for the next round.
    ASSERT_TRUE(c.RestartMaster(*leader).ok());
    leader = *next;
    std::this_thread::sleep_for(std::chrono::seconds(4));
  }
  const absl::Time to = FloorSecond(absl::Now()) - absl::Seconds(1);
  FleetResult result = SettleAndAccount(c, fleet, from, to);

  std::vector<double> lateness, instant_lateness, gap, exit_ms;
  for (const Handover& h : handovers) {
    FirstFire f = FirstFireAfterTerm(result, h.old_term);
    ASSERT_TRUE(f.found) << "no run fired by a leader newer than term " << h.old_term;
    EXPECT_GE(ParseTimeOrDie(f.run.scheduled), FloorSecond(h.sigterm))
        << "the new leader's first fire is older than the handover";
    EXPECT_LE(ParseTimeOrDie(f.run.scheduled), NextSecond(h.sigterm))
        << "the new leader skipped the first instant after SIGTERM";
    EXPECT_LE(f.lateness, kMaxLateness)
        << "the first fire of the new leader (" << f.run.id << ") started "
        << absl::FormatDuration(f.lateness) << " after its instant";
    lateness.push_back(absl::ToDoubleMilliseconds(f.lateness));
    // Every job's run of that instant (the first run is the quickest of them).
    for (const RunLine& r : result.runs) {
      if (r.attempt == 1 && r.scheduled == f.run.scheduled) {
        instant_lateness.push_back(
            absl::ToDoubleMilliseconds(r.started - ParseTimeOrDie(r.scheduled)));
      }
    }
    gap.push_back(absl::ToDoubleMilliseconds(f.run.started - h.sigterm));
    exit_ms.push_back(absl::ToDoubleMilliseconds(h.exit_took));
    std::cout << "handover: term " << h.old_term << " -> " << f.term << ", SIGTERM->exit "
              << absl::FormatDuration(h.exit_took) << ", new leader visible after "
              << absl::FormatDuration(h.new_leader_seen) << ", first fire " << f.run.id
              << " started " << absl::FormatDuration(f.run.started - h.sigterm)
              << " after SIGTERM, " << absl::FormatDuration(f.lateness) << " after its instant\n";
  }
  // Lateness of every run in steady state, for comparison.
  std::vector<double> all_lateness;
  for (const RunLine& r : result.runs) {
    if (r.attempt == 1) {
      all_lateness.push_back(absl::ToDoubleMilliseconds(r.started - ParseTimeOrDie(r.scheduled)));
    }
  }
  Figure("handover_first_fire_lateness_ms_median", Median(lateness));
  Figure("handover_first_fire_lateness_ms_max", Max(lateness));
  Figure("handover_first_instant_lateness_ms_median", Median(instant_lateness));
  Figure("handover_first_instant_lateness_ms_max", Max(instant_lateness));
  Figure("handover_sigterm_to_first_fire_ms_median", Median(gap));
  Figure("handover_sigterm_to_first_fire_ms_max", Max(gap));
  Figure("handover_sigterm_to_exit_ms_max", Max(exit_ms));
  Figure("run_lateness_ms_median_all", Median(all_lateness));
  Figure("run_lateness_ms_max_all", Max(all_lateness));
  FleetFigures(result);
}

}  // namespace
}  // namespace hg::testing
