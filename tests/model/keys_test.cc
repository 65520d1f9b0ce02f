#include "model/keys.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace hg::model {
namespace {

TEST(KeysTest, DefaultLayout) {
  Keys keys;
  auto name = *JobName::Parse("backup");
  auto id = *ExecutionId::Parse("backup@1772938800000-1a2b3c4d");
  EXPECT_EQ(keys.prefix(), "/hourglass/");
  EXPECT_EQ(keys.Job(name), "/hourglass/jobs/backup");
  EXPECT_EQ(keys.JobsPrefix(), "/hourglass/jobs/");
  EXPECT_EQ(keys.Cursor(name), "/hourglass/cursor/backup");
  EXPECT_EQ(keys.ExecRoot(), "/hourglass/exec/");
  EXPECT_EQ(keys.ExecPrefix(name), "/hourglass/exec/backup/");
  EXPECT_EQ(keys.Exec(id), "/hourglass/exec/backup/1772938800000-1a2b3c4d");
  EXPECT_EQ(keys.Worker("w1"), "/hourglass/workers/w1");
  EXPECT_EQ(keys.Master("m1"), "/hourglass/masters/m1");
  EXPECT_EQ(keys.ElectionPrefix(), "/hourglass/election/");
  // Recipe names: the recipe appends '/', landing on the same keys as the prefixes.
  EXPECT_EQ(keys.ElectionName() + "/", keys.ElectionPrefix());
  EXPECT_EQ(keys.MastersName() + "/", keys.MastersPrefix());
  EXPECT_EQ(keys.WorkersName() + "/", keys.WorkersPrefix());
  EXPECT_EQ(keys.LockPrefix(name), "/hourglass/locks/backup/");
  EXPECT_EQ(keys.Kill(id), "/hourglass/kill/backup@1772938800000-1a2b3c4d");
}

TEST(KeysTest, StatsKeysAreOrderedByMinuteThenNode) {
  Keys keys;
  const absl::Time m = absl::FromUnixSeconds(1'767'225'600);  // Unix minute 29453760
  EXPECT_EQ(keys.StatsPrefix(), "/hourglass/stats/");
  EXPECT_EQ(keys.StatsMinute(m), "/hourglass/stats/0029453760/");
  EXPECT_EQ(keys.Stats(m, "host-1/w"), "/hourglass/stats/0029453760/host-1%2Fw");
  EXPECT_LT(keys.Stats(m, "zz"), keys.StatsMinute(m + absl::Minutes(1)));
}

TEST(KeysTest, PrefixIsNormalized) {
  EXPECT_EQ(Keys("/x").prefix(), "/x/");
  EXPECT_EQ(Keys("/x/").prefix(), "/x/");
  EXPECT_EQ(Keys("").prefix(), "/hourglass/");
  EXPECT_EQ(Keys("t1/").Job(*JobName::Parse("a")), "t1/jobs/a");
}

TEST(KeysTest, ReverseMapping) {
  Keys keys("/p/");
  auto id = *ExecutionId::Parse("backup@1772938800000-1a2b3c4d");
  EXPECT_EQ(keys.JobFromKey("/p/jobs/backup")->str(), "backup");
  EXPECT_FALSE(keys.JobFromKey("/p/jobs/"));
  EXPECT_FALSE(keys.JobFromKey("/p/jobs/a/b"));
  EXPECT_FALSE(keys.JobFromKey("/q/jobs/backup"));
  EXPECT_EQ(keys.CursorFromKey("/p/cursor/backup")->str(), "backup");
  EXPECT_EQ(*keys.ExecFromKey(keys.Exec(id)), id);
  EXPECT_FALSE(keys.ExecFromKey("/p/exec/backup"));
  EXPECT_FALSE(keys.ExecFromKey("/p/exec/backup/zzz"));
  EXPECT_FALSE(keys.ExecFromKey("/p/exec/back@up/1772938800000-1a2b3c4d"));
  EXPECT_EQ(*keys.KillFromKey(keys.Kill(id)), id);
  EXPECT_FALSE(keys.KillFromKey("/p/kill/nonsense"));
}

TEST(KeysTest, NamesAreEncodedInKeysIdentityForTheOldAlphabet) {
  Keys keys;
  // [A-Za-z0-9._-] is stored as is: keys written before v1 names need no migration.
  EXPECT_EQ(keys.Job(*JobName::Parse("A.b_c-9")), "/hourglass/jobs/A.b_c-9");
  // Everything else is percent-encoded (UTF-8 bytes, upper-case hex), '%' included.
  EXPECT_EQ(keys.Job(*JobName::Parse("My Job")), "/hourglass/jobs/My%20Job");
  EXPECT_EQ(keys.Job(*JobName::Parse("备份")), "/hourglass/jobs/%E5%A4%87%E4%BB%BD");
  EXPECT_EQ(keys.Job(*JobName::Parse("50%")), "/hourglass/jobs/50%25");
  EXPECT_EQ(keys.Cursor(*JobName::Parse("a?b#c")), "/hourglass/cursor/a%3Fb%23c");
  EXPECT_EQ(keys.ExecPrefix(*JobName::Parse("a@b")), "/hourglass/exec/a%40b/");
  EXPECT_EQ(keys.LockPrefix(*JobName::Parse("a b")), "/hourglass/locks/a%20b/");
  auto id = *ExecutionId::Parse("a@b@1772938800000-1a2b3c4d");
  EXPECT_EQ(keys.Exec(id), "/hourglass/exec/a%40b/1772938800000-1a2b3c4d");
  EXPECT_EQ(keys.Pending(id), "/hourglass/pending/a%40b@1772938800000-1a2b3c4d");
  EXPECT_EQ(keys.Inflight(id), "/hourglass/inflight/a%40b@1772938800000-1a2b3c4d");
  EXPECT_EQ(keys.Running(id), "/hourglass/running/a%40b@1772938800000-1a2b3c4d");
  EXPECT_EQ(keys.Kill(id), "/hourglass/kill/a%40b@1772938800000-1a2b3c4d");
}

TEST(KeysTest, EveryNameRoundTripsThroughEveryKey) {
  Keys keys("/p/");
  std::string long_cjk;
  for (int i = 0; i < 128; ++i) long_cjk += "备";
  for (const std::string& text :
       {std::string("backup"), std::string("My Job"), std::string("备份"), std::string("100%"),
        std::string("a@b"), std::string("@"), std::string("q?"), std::string("#x"),
        std::string("..."), long_cjk}) {
    const JobName name = *JobName::Parse(text);
    EXPECT_EQ(keys.JobFromKey(keys.Job(name)), name) << text;
    EXPECT_EQ(keys.CursorFromKey(keys.Cursor(name)), name) << text;
    std::mt19937 rng(5);
    const ExecutionId id = ExecutionId::New(name, absl::FromUnixMillis(1772938800000), rng);
    EXPECT_EQ(keys.ExecFromKey(keys.Exec(id)), id) << text;
    EXPECT_EQ(keys.KillFromKey(keys.Kill(id)), id) << text;
    EXPECT_EQ(keys.IdFromKey(keys.Pending(id), keys.PendingPrefix()), id) << text;
    EXPECT_EQ(keys.IdFromKey(keys.Inflight(id), keys.InflightPrefix()), id) << text;
    EXPECT_EQ(keys.IdFromKey(keys.Running(id), keys.RunningPrefix()), id) << text;
    // The per-job scans find this job's ids.
    EXPECT_EQ(keys.Pending(id).rfind(keys.PendingJobPrefix(name), 0), 0u) << text;
    EXPECT_EQ(keys.Inflight(id).rfind(keys.InflightJobPrefix(name), 0), 0u) << text;
    EXPECT_EQ(keys.Running(id).rfind(keys.RunningJobPrefix(name), 0), 0u) << text;
  }
}

TEST(KeysTest, PerJobScansNeverMatchAnotherJob) {
  Keys keys;
  std::mt19937 rng(5);
  // Job "a" and job "a@b": "a@" must not select a@b's executions (its '@' is encoded in keys).
  const ExecutionId other = ExecutionId::New(*JobName::Parse("a@b"), absl::FromUnixMillis(1), rng);
  const JobName a = *JobName::Parse("a");
  EXPECT_NE(keys.Pending(other).rfind(keys.PendingJobPrefix(a), 0), 0u);
  EXPECT_NE(keys.Inflight(other).rfind(keys.InflightJobPrefix(a), 0), 0u);
  EXPECT_NE(keys.Running(other).rfind(keys.RunningJobPrefix(a), 0), 0u);
  EXPECT_NE(keys.Exec(other).rfind(keys.ExecPrefix(a), 0), 0u);
  // Nor a job whose encoded name starts like another's ("a b" = a%20b, "a%" = a%25).
  const ExecutionId pct = ExecutionId::New(*JobName::Parse("a%20b"), absl::FromUnixMillis(1), rng);
  EXPECT_NE(keys.Pending(pct).rfind(keys.PendingJobPrefix(*JobName::Parse("a b")), 0), 0u);
}

TEST(KeysTest, MalformedOrNonCanonicalSegmentsAreNotNames) {
  Keys keys("/p/");
  for (const char* key :
       {"/p/jobs/a%2Fb", "/p/jobs/a%2", "/p/jobs/a%zz", "/p/jobs/%e5%a4%87", "/p/jobs/a%41",
        "/p/jobs/a b", "/p/jobs/a@b", "/p/jobs/%2E", "/p/jobs/%FF"}) {
    EXPECT_FALSE(keys.JobFromKey(key)) << key;
  }
  EXPECT_FALSE(keys.IdFromKey("/p/pending/a@b@1772938800000-1a2b3c4d", "/p/pending/"));
}

TEST(KeysTest, PrefixesDoNotOverlapSiblings) {
  Keys keys;
  // "a/" must not be a prefix of job "ab"'s records.
  const std::string a = keys.ExecPrefix(*JobName::Parse("a"));
  const std::string ab_key = keys.ExecPrefix(*JobName::Parse("ab")) + "1772938800000-1a2b3c4d";
  EXPECT_NE(ab_key.compare(0, a.size(), a), 0);
}

}  // namespace
}  // namespace hg::model
