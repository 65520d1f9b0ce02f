// Exactly-once across leader failover, with real processes: etcd, 2 masters, 1 worker.
// A job fires every second and appends its scheduled time to a file; the leader is killed with
// SIGKILL mid-stream. Every instant of the window must have run exactly once (counted from what
// really ran, cross-checked with the history), none twice.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/cluster/cluster_harness.h"

namespace hg::testing {
namespace {

std::map<std::string, int> CountRuns(const std::string& path) {
  std::map<std::string, int> runs;  // scheduled time -> times it ran
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() == 3) ++runs[parts[1]];
  }
  return runs;
}

std::string JobBody(const std::string& name, const std::string& out_file) {
  nlohmann::json job = {
      {"name", name},
      {"cron_expr", "* * * * * *"},
      {"executor_type", "shell"},
      {"executor",
       {{"command", "echo \"$HOURGLASS_JOB $HOURGLASS_SCHEDULED_TIME $HOURGLASS_EXECUTION_ID\" >> " +
                        out_file}}},
      {"concurrency_policy", "Allow"},
      {"starting_deadline", "10s"}};
  return job.dump();
}

TEST(Failover, LeaderKilledEveryInstantRunsExactlyOnce) {
  auto cluster = Cluster::Start({.etcd_members = 1, .masters = 2, .workers = 1,
                                 .election_ttl = "2s", .worker_session_ttl = "3s"});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  Cluster& c = **cluster;
  auto leader = c.WaitLeader(absl::Seconds(20));
  ASSERT_TRUE(leader.ok()) << leader.status();
  ASSERT_TRUE(c.WaitWorkers(1, absl::Seconds(20)).ok());

  const std::string out = c.dir() + "/runs.txt";
  auto created = c.Http(-1, "POST", "/jobs/", JobBody("tick", out));
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->status, 201) << created->body;

  std::this_thread::sleep_for(std::chrono::seconds(4));
  const absl::Time killed_at = absl::Now();
  c.master(*leader).Kill();
  auto next = c.WaitLeader(absl::Seconds(20), *leader);
  ASSERT_TRUE(next.ok()) << next.status();
  const absl::Duration election_gap = absl::Now() - killed_at;
  std::this_thread::sleep_for(std::chrono::seconds(5));
  // Pause it so no new instant starts, then let the last runs finish.
  auto paused = c.Http(*next, "POST", "/jobs/tick/pause");
  ASSERT_TRUE(paused.ok() && paused->status / 100 == 2) << (paused.ok() ? paused->body : "");
  std::this_thread::sleep_for(std::chrono::seconds(2));

  const auto runs = CountRuns(out);
  ASSERT_GE(runs.size(), 8u) << "too few runs to judge";
  for (const auto& [instant, n] : runs) EXPECT_EQ(n, 1) << instant << " ran " << n << " times";
  // No gaps: every second between the first and the last run ran (or is recorded missed).
  absl::Time t0, t1;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, runs.begin()->first, &t0, &err)) << err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, runs.rbegin()->first, &t1, &err)) << err;
  auto history = c.Http(*next, "GET", "/jobs/tick/history?page_size=1000");
  ASSERT_TRUE(history.ok() && history->status == 200);
  std::map<absl::Time, std::string> status_of;
  for (const auto& rec : history->Json()) {
    absl::Time t;
    if (absl::ParseTime(absl::RFC3339_full, rec.value("scheduled_time", ""), &t, &err)) {
      EXPECT_FALSE(status_of.count(t)) << "two records for " << rec.value("scheduled_time", "");
      status_of[t] = rec.value("status", "");
    }
  }
  int missing = 0;
  for (absl::Time t = t0; t <= t1; t += absl::Seconds(1)) {
    const std::string key = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
    if (!runs.count(key) && status_of[t] != "missed") {
      ++missing;
      ADD_FAILURE() << "instant " << key << " has no outcome";
    }
  }
  std::cout << "failover: election gap " << absl::FormatDuration(election_gap) << ", "
            << runs.size() << " instants ran, " << missing << " without outcome\n";
}

}  // namespace
}  // namespace hg::testing
