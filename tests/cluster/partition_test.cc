// Scenario (g), network partition, with real processes: etcd, 2 masters, 1 worker, jobs every
// second (5; HG_SCENARIO_JOBS). The leader is cut off from etcd (a TcpProxy between each master and
// etcd stops forwarding; no network namespace needed) while its HTTP API and its gRPC links to the
// worker stay up: the harshest split, a deposed leader that can still reach workers. It must lose
// leadership (its session cannot be renewed); the other master takes over; nothing runs twice
// and the cut-off leader writes nothing for an instant after the cut. Then the partition heals
// and the old leader rejoins as a standby. Two rounds.
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/scenario.h"

namespace hg::testing {
namespace {

constexpr int kRounds = 2;
constexpr absl::Duration kTtl = absl::Seconds(2);

TEST(Partition, LeaderCutOffFromEtcdLosesLeadershipNothingRunsTwice) {
  TickScenario s =
      StartTickScenario({.masters = 2, .workers = 1, .proxy_masters = true}, ScenarioJobs(5));
  ASSERT_FALSE(::testing::Test::HasFailure());
  Cluster& c = *s.cluster;
  std::optional<int> leader = s.leader;
  const Fleet& fleet = s.fleet;
  const absl::Time from = s.from;

  struct Round {
    int master;
    int64_t old_term;
    absl::Time cut;
  };
  std::vector<Round> rounds;
  for (int k = 0; k < kRounds; ++k) {
    auto term = c.LeaderTerm(*leader);
    ASSERT_TRUE(term.ok()) << term.status();
    Round r{.master = *leader, .old_term = *term, .cut = absl::Now()};
    c.PartitionMaster(*leader, true);
    // Ask the other master: the cut-off one cannot read etcd any more.
    const int other = 1 - *leader;
    int next = -1;
    ASSERT_TRUE(WaitFor(
        [&] {
          auto t = c.LeaderTerm(other);
          if (!t.ok() || *t == r.old_term) return false;
          auto view = c.Http(other, "GET", "/cluster");
          if (!view.ok()) return false;
          next =
              view->Json()["leader"].value("id", "") == absl::StrCat("master", other) ? other : -1;
          return next >= 0;
        },
        absl::Seconds(20)))
        << "no new leader while master" << *leader << " is cut off from etcd";
    rounds.push_back(r);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    c.PartitionMaster(r.master, false);
    leader = next;
    std::this_thread::sleep_for(std::chrono::seconds(4));
  }
  const absl::Time to = FloorSecond(absl::Now()) - absl::Seconds(1);
  FleetResult result = SettleAndAccount(c, fleet, from, to);

  int stale_writes = 0;
  std::vector<double> gaps;
  for (const Round& r : rounds) {
    stale_writes += StaleTermWrites(result, r.old_term, r.cut, c.options().fire_ahead);
    FirstFire f = FirstFireAfterTerm(result, r.old_term);
    ASSERT_TRUE(f.found) << "no run fired by a leader newer than term " << r.old_term;
    const absl::Duration gap = f.run.started - r.cut;
    EXPECT_LE(gap, kTtl + absl::Seconds(1)) << "first fire after the cut: " << f.run.id;
    gaps.push_back(absl::ToDoubleMilliseconds(gap));
  }
  // The healed master is back as a standby: both masters registered.
  std::string cluster_view;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto view = c.Http(-1, "GET", "/cluster");
        if (!view.ok()) return false;
        cluster_view = view->body;
        return view->Json()["masters"].size() == 2u;
      },
      absl::Seconds(15)))
      << cluster_view;

  Figure("partition_cut_to_first_fire_ms_median", Median(gaps));
  Figure("partition_cut_to_first_fire_ms_max", Max(gaps));
  Figure("partition_stale_term_writes", stale_writes);
  FleetFigures(result);
}

}  // namespace
}  // namespace hg::testing
