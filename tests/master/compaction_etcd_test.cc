// The leader's compactor on a real etcd, with real processes: 1 etcd, 1 `hourglass master`
// with --compact-retention 1s (a compaction every second), 1 worker, 3 jobs every second.
//  - etcd really is compacted (etcdctl cannot read an old revision any more);
//  - etcd is killed (SIGKILL) and restarted: every watch of the master and the worker resumes
//    from a revision that has been compacted meanwhile and must re-list (the scheduler's jobs
//    watch, the dispatcher's watches, the worker's kill watch, the registries);
//  - through all of it the leader keeps its term (no loop ended it), compaction goes on, every
//    instant of the window ran exactly once, and a kill request written after the restart
//    still reaches the worker (its kill watch re-listed).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/scenario.h"

namespace hg::testing {
namespace {

// hourglass_store_compactions_total as the master reports it; -1 when unreadable.
double Compactions(Cluster& c, int master) {
  absl::StatusOr<HttpReply> r = c.Http(master, "GET", "/metrics");
  if (!r.ok() || r->status != 200) return -1;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) {
    const std::string kName = "hourglass_store_compactions_total ";
    double v = 0;
    if (absl::StartsWith(line, kName) && absl::SimpleAtod(line.substr(kName.size()), &v)) {
      return v;
    }
  }
  return -1;
}

TEST(StoreCompaction, LeaderCompactsEtcdAndEveryWatchSurvivesIt) {
  int leader = -1;
  // Session TTLs longer than an etcd restart: the term must survive it, so that a term change
  // can only mean that a loop ended the term.
  auto cluster = StartCluster({.etcd_members = 1,
                               .masters = 1,
                               .workers = 1,
                               .election_ttl = "10s",
                               .worker_session_ttl = "10s",
                               .master_args = {"--compact-retention", "1s"}},
                              &leader);
  ASSERT_TRUE(cluster != nullptr);
  Cluster& c = *cluster;
  Fleet fleet = CreateFleet(c, "tick", 3, c.dir() + "/runs.txt");
  ASSERT_FALSE(::testing::Test::HasFailure());
  // Never fires by itself; triggered and killed by hand after the restart.
  absl::StatusOr<HttpReply> created = c.Http(-1, "POST", "/jobs/",
                                             ShellJob({.name = "sleeper",
                                                       .cron = "0 0 0 1 1 *",
                                                       .out_file = c.dir() + "/sleeper.txt",
                                                       .tail = "sleep 60"})
                                                 .dump());
  ASSERT_TRUE(created.ok() && created->status == 201) << (created.ok() ? created->body : "");
  const absl::Time from = NextSecond(fleet.created) + absl::Seconds(1);
  absl::StatusOr<int64_t> term = c.LeaderTerm(leader);
  ASSERT_TRUE(term.ok()) << term.status();

  ASSERT_TRUE(WaitFor([&] { return Compactions(c, leader) >= 3; }, absl::Seconds(30)))
      << "compactions: " << Compactions(c, leader);
  // etcd itself was compacted: the revision the jobs were created at is gone.
  absl::StatusOr<CommandResult> old =
      c.etcd().RunEtcdctl({"get", "/hourglass/jobs/", "--prefix", "--rev=2"});
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_NE(old->exit_code, 0);
  EXPECT_TRUE(absl::StrContains(old->err, "compacted")) << old->err;

  // Every watch resumes after the restart from a revision compacted while it was away.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(c.etcd().Kill(0).ok());
  ASSERT_TRUE(c.etcd().Restart(0).ok());
  const double before = Compactions(c, leader);
  EXPECT_TRUE(WaitFor([&] { return Compactions(c, leader) >= before + 3; }, absl::Seconds(30)))
      << "compaction stopped after the etcd restart";

  // The worker's kill watch: a kill request is a key it learns of through that watch only.
  absl::StatusOr<HttpReply> trig = c.Http(-1, "POST", "/jobs/sleeper/trigger");
  ASSERT_TRUE(trig.ok() && trig->status == 202) << (trig.ok() ? trig->body : "");
  const std::string id = trig->Json().value("id", "");
  auto status_is = [&](const std::string& want) {
    absl::StatusOr<nlohmann::json> e = Execution(c, id);
    return e.ok() && e->value("status", "") == want;
  };
  ASSERT_TRUE(WaitFor([&] { return status_is("running"); }, absl::Seconds(15)));
  absl::StatusOr<HttpReply> kill = c.Http(-1, "POST", "/executions/" + id + "/kill");
  ASSERT_TRUE(kill.ok() && kill->status / 100 == 2) << (kill.ok() ? kill->body : "");
  EXPECT_TRUE(WaitFor([&] { return status_is("killed"); }, absl::Seconds(15)))
      << "the kill request did not reach the worker";

  absl::StatusOr<int64_t> term_after = c.LeaderTerm(leader);
  ASSERT_TRUE(term_after.ok()) << term_after.status();
  EXPECT_EQ(*term_after, *term) << "the leader's term ended";
  const absl::Time to = FloorSecond(absl::Now()) - absl::Seconds(1);
  FleetResult result = SettleAndAccount(c, fleet, from, to);
  EXPECT_GT(result.total.instants, 20);
  FleetFigures(result);
  Figure("compactions", Compactions(c, leader));
}

}  // namespace
}  // namespace hg::testing
