// Runs the built `hourglass` binary: exit codes, stdout and stderr of `cron next|explain`.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

struct Result {
  int rc;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `args` is passed through /bin/sh; callers quote what needs quoting.
Result RunHourglass(const std::string& args) {
  const char* bin_dir = std::getenv("HG_BINARY_DIR");
  EXPECT_NE(bin_dir, nullptr) << "HG_BINARY_DIR is set by hg_test";
  const std::string binary = std::string(bin_dir ? bin_dir : ".") + "/src/app/hourglass";
  const std::string tmp = ::testing::TempDir() + "/cron_cli_" +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const std::string cmd =
      binary + " " + args + " >" + tmp + ".out 2>" + tmp + ".err";
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status)) << cmd;
  return {WEXITSTATUS(status), Slurp(tmp + ".out"), Slurp(tmp + ".err")};
}

TEST(CronCliBinaryTest, NextAcrossSpringForward) {
  const Result r = RunHourglass(
      "cron next '0 30 2 * * *' -n 3 --from 2026-03-07T12:00:00-05:00 --tz America/New_York");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n2026-03-10T02:30:00-04:00\n");
}

TEST(CronCliBinaryTest, ExpressionAsSeveralWords) {
  const Result r = RunHourglass("cron next @every 90s --from 2026-01-01T00:00:00Z -n 2");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "2026-01-01T00:01:30+00:00\n2026-01-01T00:03:00+00:00\n");
}

TEST(CronCliBinaryTest, InvalidExpressionExitsTwo) {
  const Result r = RunHourglass("cron next '0 0 24 * * *'");
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("cron: field \"hour\" (3rd): value 24 out of range 0-23"));
}

TEST(CronCliBinaryTest, Explain) {
  const Result r = RunHourglass("cron explain '0 0 9 * * MON#1' --tz Europe/London");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("day of week: MON#1 = the 1st Monday of the month\n"));
  EXPECT_EQ(RunHourglass("cron explain '0 0 9 * * MON#6'").rc, 2);
}

}  // namespace
