#include "model/keys.h"

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

TEST(KeysTest, PrefixesDoNotOverlapSiblings) {
  Keys keys;
  // "a/" must not be a prefix of job "ab"'s records.
  const std::string a = keys.ExecPrefix(*JobName::Parse("a"));
  const std::string ab_key = keys.ExecPrefix(*JobName::Parse("ab")) + "1772938800000-1a2b3c4d";
  EXPECT_NE(ab_key.compare(0, a.size(), a), 0);
}

}  // namespace
}  // namespace hg::model
