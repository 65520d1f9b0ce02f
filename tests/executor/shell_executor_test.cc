#include "executor/shell_executor.h"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "tests/executor/waiter.h"

namespace hg::executor {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

ExecRequest Shell(std::string command) {
  ExecRequest r;
  r.execution_id = "exec-1";
  r.job_name = "job-a";
  r.spec = ShellSpec{.command = std::move(command)};
  return r;
}

ShellSpec& SpecOf(ExecRequest& r) { return std::get<ShellSpec>(r.spec); }

// Prints the shell's process group id (read from /proc, not assumed to be $$).
constexpr const char* kEchoPgid = "echo $(cut -d' ' -f5 /proc/$$/stat)";

// Processes (not zombies) whose process group is `pgid`, from /proc.
std::vector<int> LiveMembers(int pgid) {
  std::vector<int> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    int pid;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    // After "(comm)": state ppid pgrp ...
    std::vector<std::string> f = absl::StrSplit(stat.substr(close + 2), ' ');
    int group;
    if (f.size() > 2 && absl::SimpleAtoi(f[2], &group) && group == pgid && f[0] != "Z") {
      out.push_back(pid);
    }
  }
  return out;
}

// CI runs the tests as root: the fixture allows it, and lets jobs name "nobody".
const ShellConfig kTestConfig{.run_as_allowed = {"nobody"}, .allow_root = true};

class ShellExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = ShellExecutor::Create(kTestConfig, clock_);
    ASSERT_TRUE(e.ok()) << e.status();
    executor_ = std::move(*e);
  }
  void TearDown() override {
    if (executor_) executor_->Stop();
  }

  FakeClock clock_;
  std::unique_ptr<ShellExecutor> executor_;
};

TEST_F(ShellExecutorTest, SuccessCapturesStdoutAndStderrInOrder) {
  ExecResult r = RunSync(*executor_, Shell("echo one; echo two >&2; echo three"));
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.signal.has_value());
  EXPECT_EQ(r.output, "one\ntwo\nthree\n");
  EXPECT_EQ(r.output_bytes, 14u);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.started, clock_.Now());
  EXPECT_EQ(r.ended, clock_.Now());
}

TEST_F(ShellExecutorTest, NonZeroExitIsFailedWithCode) {
  ExecResult r = RunSync(*executor_, Shell("echo oops; exit 3"));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.error, "exited with code 3");
  EXPECT_EQ(r.output, "oops\n");
}

TEST_F(ShellExecutorTest, DeathBySignalIsFailedWithSignal) {
  ExecResult r = RunSync(*executor_, Shell("kill -9 $$"));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_EQ(r.signal, 9);
  EXPECT_EQ(r.error, "killed by signal 9 (SIGKILL)");
}

TEST_F(ShellExecutorTest, StdinIsDevNull) {
  ExecResult r = RunSync(*executor_, Shell("cat; echo done"));
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.output, "done\n");
}

TEST_F(ShellExecutorTest, TimeoutKillsTheWholeProcessTree) {
  // The shell prints its process group, starts a background and a foreground sleep.
  ExecRequest req = Shell(absl::StrCat(kEchoPgid, "; sleep 1000 & sleep 1000"));
  req.timeout = absl::Milliseconds(200);
  req.kill_grace = absl::Seconds(5);
  const auto t0 = std::chrono::steady_clock::now();
  ExecResult r = RunSync(*executor_, req);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, ExecStatus::kTimeout);
  EXPECT_EQ(r.error, "timed out after 200ms");
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_LT(took, std::chrono::seconds(3));  // SIGTERM sufficed, no wait for the grace period
  int pgid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.output), &pgid)) << r.output;
  EXPECT_THAT(LiveMembers(pgid), ::testing::IsEmpty());
}

TEST_F(ShellExecutorTest, SigkillAfterGraceWhenSigtermIsIgnored) {
  // Ignored dispositions survive exec, so both the shell and its sleeps ignore SIGTERM.
  ExecRequest req = Shell(absl::StrCat("trap '' TERM; ", kEchoPgid, "; sleep 1000 & sleep 1000"));
  req.timeout = absl::Milliseconds(100);
  req.kill_grace = absl::Milliseconds(200);
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kTimeout);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.error, "timed out after 100ms (SIGKILL after a grace period of 200ms)");
  int pgid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.output), &pgid)) << r.output;
  EXPECT_THAT(LiveMembers(pgid), ::testing::IsEmpty());
}

TEST_F(ShellExecutorTest, BackgroundLeftoversDieWithTheShell) {
  ExecResult r =
      RunSync(*executor_, Shell(absl::StrCat(kEchoPgid, "; sleep 1000 >/dev/null 2>&1 &")));
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  int pgid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.output), &pgid)) << r.output;
  EXPECT_THAT(LiveMembers(pgid), ::testing::IsEmpty());
}

TEST_F(ShellExecutorTest, KillEndsTheRunAndItsProcessTreeAsKilled) {
  const std::string pid_file = ::testing::TempDir() + "/hg-kill-test.pid";
  std::filesystem::remove(pid_file);
  Waiter waiter;
  auto handle = executor_->Start(Shell(absl::StrCat("echo started; sleep 1000 & ", kEchoPgid, " > ",
                                                    pid_file, "; sleep 1000")),
                                 waiter.Callback());
  int pgid = 0;
  for (int i = 0; i < 500 && pgid == 0; ++i) {  // until the shell wrote its pid
    std::ifstream in(pid_file);
    if (!(in >> pgid)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(pgid, 0);
  for (int i = 0; i < 500 && LiveMembers(pgid).size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(LiveMembers(pgid).size(), 3u);  // sh and both sleeps
  EXPECT_FALSE(waiter.Done());
  handle->Kill("replaced by a newer run");
  handle->Kill("twice is harmless");
  auto r = waiter.Wait();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, ExecStatus::kKilled);
  EXPECT_EQ(r->error, "killed: replaced by a newer run");
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_EQ(r->output, "started\n");
  EXPECT_EQ(waiter.calls(), 1);
  EXPECT_THAT(LiveMembers(pgid), ::testing::IsEmpty());
}

TEST_F(ShellExecutorTest, KillAfterTheEndChangesNothing) {
  Waiter waiter;
  auto handle = executor_->Start(Shell("true"), waiter.Callback());
  auto r = waiter.Wait();
  ASSERT_TRUE(r.has_value());
  handle->Kill("late");
  executor_->Stop();  // flushes anything the late Kill could have caused
  EXPECT_EQ(waiter.calls(), 1);
  EXPECT_EQ(waiter.Wait()->status, ExecStatus::kSuccess);
}

TEST_F(ShellExecutorTest, HugeOutputIsBoundedAndCounted) {
  ExecRequest req = Shell("head -c 104857600 /dev/zero | tr '\\0' x");
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.output_bytes, 104857600u);
  const std::string marker =
      "\n\xE2\x80\xA6 [hourglass: 104857600 bytes total, 104792064 omitted] \xE2\x80\xA6\n";
  EXPECT_EQ(r.output, std::string(32768, 'x') + marker + std::string(32768, 'x'));
}

TEST_F(ShellExecutorTest, EnvironmentCarriesSpecAndHourglassVariables) {
  ExecRequest req = Shell(
      "echo \"$HOURGLASS_JOB|$HOURGLASS_EXECUTION_ID|$HOURGLASS_SCHEDULED_TIME|"
      "$HOURGLASS_ATTEMPT|$TRACEPARENT|$FOO\"; test -n \"$PATH\" && echo path-inherited");
  req.scheduled_time = absl::FromUnixSeconds(1767225600);
  req.attempt = 2;
  req.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  SpecOf(req).env = {{"FOO", "bar baz"}, {"HOURGLASS_JOB", "not-allowed-to-override"}};
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.output,
            "job-a|exec-1|2026-01-01T00:00:00Z|2|"
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01|bar baz\npath-inherited\n");
}

TEST_F(ShellExecutorTest, EnvironmentIsMinimalNotTheWorkers) {
  setenv("HG_WORKER_SECRET", "leak", 1);
  ExecResult r = RunSync(*executor_, Shell("env | cut -d= -f1 | sort | tr '\\n' ' '; echo; "
                                           "echo \"$PATH\""));
  unsetenv("HG_WORKER_SECRET");
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_THAT(r.output, Not(HasSubstr("HG_WORKER_SECRET")));
  EXPECT_THAT(r.output, HasSubstr("HOURGLASS_JOB "));
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat("\n", kSafePath, "\n")));
  if (getpwuid(geteuid()) != nullptr) {
    EXPECT_THAT(r.output, HasSubstr("HOME "));
    EXPECT_THAT(r.output, HasSubstr("USER "));
    EXPECT_THAT(r.output, HasSubstr("LOGNAME "));
  }
}

TEST_F(ShellExecutorTest, SpecEnvOverridesInheritedVariables) {
  ExecRequest req = Shell("echo \"$PATH\"");
  SpecOf(req).env = {{"PATH", "/custom/bin:/usr/bin:/bin"}};
  EXPECT_EQ(RunSync(*executor_, req).output, "/custom/bin:/usr/bin:/bin\n");
}

TEST_F(ShellExecutorTest, InvalidEnvNameFails) {
  ExecRequest req = Shell("true");
  SpecOf(req).env = {{"A=B", "x"}};
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.error, "invalid environment variable name 'A=B'");
}

TEST_F(ShellExecutorTest, WorkingDirectory) {
  const std::string dir = ::testing::TempDir();
  ExecRequest req = Shell("pwd -P");
  SpecOf(req).cwd = dir;
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.output, std::filesystem::canonical(dir).string() + "\n");
}

TEST_F(ShellExecutorTest, MissingWorkingDirectoryFailsClearly) {
  ExecRequest req = Shell("true");
  SpecOf(req).cwd = "/nonexistent/hourglass-test";
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.error, "working directory '/nonexistent/hourglass-test': No such file or directory");
  SpecOf(req).cwd = "/etc/hostname";
  EXPECT_EQ(RunSync(*executor_, req).error, "working directory '/etc/hostname' is not a directory");
}

TEST_F(ShellExecutorTest, ChildSeesOnlyStdio) {
  // A descriptor the process leaks (no O_CLOEXEC) must still not reach the job.
  const int leaky = open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 3);
  ExecResult r = RunSync(*executor_, Shell("ls /proc/$$/fd"));
  close(leaky);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.output, "0\n1\n2\n");
}

size_t OpenFdCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST_F(ShellExecutorTest, NoZombiesNoLeakedDescriptorsAfterRuns) {
  const size_t fds_before = OpenFdCount();
  for (const char* cmd : {"true", "exit 1", "kill -9 $$", "sleep 1000 & echo"}) {
    RunSync(*executor_, Shell(cmd));
  }
  ExecRequest slow = Shell("sleep 1000");
  slow.timeout = absl::Milliseconds(50);
  EXPECT_EQ(RunSync(*executor_, slow).status, ExecStatus::kTimeout);
  // The one child left is the executor's guardian, alive: 0 = children, none a zombie.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), 0);
  EXPECT_EQ(OpenFdCount(), fds_before);
  // Destroying the executor ends and reaps its guardian too.
  executor_.reset();
  errno = 0;
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(ShellExecutorTest, ManyConcurrentRuns) {
  constexpr int kRuns = 24;
  std::vector<Waiter> waiters(kRuns);
  std::vector<std::unique_ptr<RunHandle>> handles;
  for (int i = 0; i < kRuns; ++i) {
    handles.push_back(executor_->Start(Shell(absl::StrCat("sleep 0.0", i % 10, "; echo ", i)),
                                       waiters[i].Callback()));
  }
  for (int i = 0; i < kRuns; ++i) {
    auto r = waiters[i].Wait();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, ExecStatus::kSuccess) << r->error;
    EXPECT_EQ(r->output, absl::StrCat(i, "\n"));
  }
}

TEST_F(ShellExecutorTest, StopKillsInFlightRunsAndRefusesNewOnes) {
  Waiter running;
  auto handle = executor_->Start(Shell("sleep 1000"), running.Callback());
  executor_->Stop();
  ASSERT_TRUE(running.Done());  // Stop() returns only after the callback ran
  EXPECT_EQ(running.Wait()->status, ExecStatus::kKilled);
  EXPECT_EQ(running.Wait()->error, "killed: executor stopped");

  Waiter late;
  executor_->Start(Shell("true"), late.Callback());
  ASSERT_TRUE(late.Done());  // inline after Stop()
  EXPECT_EQ(late.Wait()->status, ExecStatus::kFailed);
  EXPECT_EQ(late.Wait()->error, "executor stopped");
  handle->Kill("after stop");  // a handle outliving its executor's thread is harmless
}

TEST_F(ShellExecutorTest, RejectsHttpSpec) {
  ExecRequest req;
  req.spec = HttpSpec{.url = "http://127.0.0.1/"};
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.error, "the shell executor cannot run an HTTP job");
}

TEST_F(ShellExecutorTest, RunAsSwitchesUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  ExecRequest req = Shell("id -u; id -g; echo $HOME; ls /proc/$$/fd");
  SpecOf(req).run_as = "nobody";
  SpecOf(req).cwd = "/";
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.output, "65534\n65534\n/nonexistent\n0\n1\n2\n");
}

TEST_F(ShellExecutorTest, RunAsUnknownUserFails) {
  auto e =
      ShellExecutor::Create({.run_as_allowed = {"no-such-user-hg"}, .allow_root = true}, clock_);
  ASSERT_TRUE(e.ok());
  ExecRequest req = Shell("true");
  SpecOf(req).run_as = "no-such-user-hg";
  ExecResult r = RunSync(**e, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.cause, ExecCause::kNone);
  EXPECT_EQ(r.error, "unknown user 'no-such-user-hg'");
}

TEST_F(ShellExecutorTest, RunAsNotAllowListedIsRefused) {
  ExecRequest req = Shell("true");
  SpecOf(req).run_as = "daemon";
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.cause, ExecCause::kRefused);
  EXPECT_EQ(r.error, "run_as 'daemon' is not allowed on this worker (--run-as-allow)");
}

TEST(ShellExecutorIdentity, RootIsRefusedUnlessAllowed) {
  FakeClock clock;
  // A root worker with no --shell-user, and run_as root on any worker, without --allow-root.
  auto e = ShellExecutor::Create({.run_as_allowed = {"root"}}, clock);
  ASSERT_TRUE(e.ok());
  ExecRequest as_root = Shell("id -u");
  SpecOf(as_root).run_as = "root";
  for (const ExecRequest& req : {Shell("id -u"), as_root}) {
    ExecResult r = RunSync(**e, req);
    if (geteuid() != 0 && !std::get<ShellSpec>(req.spec).run_as) {
      EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;  // not root: nothing to refuse
      continue;
    }
    EXPECT_EQ(r.status, ExecStatus::kFailed);
    EXPECT_EQ(r.cause, ExecCause::kRefused);
    EXPECT_EQ(r.output, "");
    EXPECT_THAT(r.error, geteuid() == 0 ? HasSubstr("refusing to run a shell job as root")
                                        : HasSubstr("needs a worker running as root"));
  }
}

TEST(ShellExecutorIdentity, DefaultUserAppliesToEveryRun) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  FakeClock clock;
  auto e = ShellExecutor::Create({.default_user = "nobody"}, clock);
  ASSERT_TRUE(e.ok());
  ExecResult r = RunSync(**e, Shell("id -u; echo $USER"));
  EXPECT_EQ(r.status, ExecStatus::kSuccess) << r.error;
  EXPECT_EQ(r.output, "65534\nnobody\n");
}

TEST(ShellPolicy, ChooseUserAndEffectiveLimits) {
  const ShellConfig config{.default_user = "hg",
                           .run_as_allowed = {"deploy"},
                           .default_limits = {.cpu_seconds = 60},
                           .max_limits = {.cpu_seconds = 600, .memory_mb = 1024}};
  ShellSpec spec;
  EXPECT_EQ(ChooseUser(config, spec).value(), "hg");
  spec.run_as = "deploy";
  EXPECT_EQ(ChooseUser(config, spec).value(), "deploy");
  spec.run_as = "hg";
  EXPECT_EQ(ChooseUser(config, spec).value(), "hg");
  spec.run_as = "root";
  EXPECT_EQ(ChooseUser(config, spec).status().code(), absl::StatusCode::kPermissionDenied);

  ResourceLimits l = EffectiveLimits(config, spec).value();
  EXPECT_EQ(l, (ResourceLimits{.cpu_seconds = 60, .memory_mb = 1024}));
  EXPECT_EQ(FormatLimits(l), "cpu_seconds=60, memory_mb=1024");
  spec.limits = {.cpu_seconds = 5, .processes = 10};
  EXPECT_EQ(EffectiveLimits(config, spec).value(),
            (ResourceLimits{.cpu_seconds = 5, .memory_mb = 1024, .processes = 10}));
  spec.limits = {.memory_mb = 4096};
  EXPECT_EQ(EffectiveLimits(config, spec).status().message(),
            "limits.memory_mb 4096 is above this worker's maximum 1024 (--limits-max)");
}

// Resource limits: each hog is stopped by its limit, quickly, and the run says why.
TEST_F(ShellExecutorTest, CpuHogIsStoppedByTheCpuLimit) {
  ExecRequest req = Shell("while :; do :; done");
  SpecOf(req).limits.cpu_seconds = 1;
  req.timeout = absl::Seconds(60);  // a backstop only: the limit must end it first
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.cause, ExecCause::kResourceLimit);
  EXPECT_EQ(r.signal, SIGXCPU);
  EXPECT_EQ(r.error, "stopped by the CPU time limit (cpu_seconds 1)");
}

TEST_F(ShellExecutorTest, MemoryHogIsStoppedByTheMemoryLimit) {
  // The shell collects 256 MB into a variable; with 64 MB of address space it cannot.
  ExecRequest req = Shell("x=$(head -c 268435456 /dev/zero | tr '\\0' a); echo survived");
  SpecOf(req).limits.memory_mb = 64;
  req.timeout = absl::Seconds(60);
  const auto t0 = std::chrono::steady_clock::now();
  ExecResult r = RunSync(*executor_, req);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_THAT(r.output, Not(HasSubstr("survived")));
  EXPECT_THAT(r.error, HasSubstr("(limits: memory_mb=64)"));
}

TEST_F(ShellExecutorTest, ForkBombIsStoppedByTheProcessLimit) {
  // RLIMIT_NPROC counts the processes of a real user id and does not bind root: the bomb runs
  // as "nobody". Every process it started is in its group and dies with it.
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run the bomb as a dedicated user";
  ExecRequest req = Shell(absl::StrCat(
      kEchoPgid, "; i=0; while [ $i -lt 1000 ]; do sleep 30 & i=$((i+1)); done; wait"));
  SpecOf(req).run_as = "nobody";
  SpecOf(req).cwd = "/";
  SpecOf(req).limits.processes = 20;
  req.timeout = absl::Seconds(60);
  const auto t0 = std::chrono::steady_clock::now();
  ExecResult r = RunSync(*executor_, req);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_THAT(r.output, HasSubstr("fork"));  // the shell's own words for EAGAIN
  EXPECT_THAT(r.error, HasSubstr("(limits: processes=20)"));
  int pgid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(r.output.substr(0, r.output.find('\n')), &pgid)) << r.output;
  EXPECT_THAT(LiveMembers(pgid), ::testing::IsEmpty());
}

TEST_F(ShellExecutorTest, RunAsUnknownUserFailsWhenNotAllowed) {
  ExecRequest req = Shell("true");
  SpecOf(req).run_as = "no-such-user-hg";
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.cause, ExecCause::kRefused);  // not allow-listed: refused before any lookup
}

TEST_F(ShellExecutorTest, RunAsCannotEnterForbiddenDirectory) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  ExecRequest req = Shell("true");
  SpecOf(req).run_as = "nobody";
  SpecOf(req).cwd = "/root";
  ExecResult r = RunSync(*executor_, req);
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.error,
            "cannot change to working directory '/root' as user 'nobody': Permission denied");
}

TEST(ShellExecutorConfig, WithoutPidfdExitsAreStillSeen) {
  FakeClock clock;
  auto e = ShellExecutor::Create({.use_pidfd = false, .allow_root = true}, clock);
  ASSERT_TRUE(e.ok());
  ExecResult r = RunSync(**e, Shell("echo hi; exit 4"));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.output, "hi\n");
  ExecRequest slow = Shell(absl::StrCat(kEchoPgid, "; sleep 1000 & sleep 1000"));
  slow.timeout = absl::Milliseconds(100);
  r = RunSync(**e, slow);
  EXPECT_EQ(r.status, ExecStatus::kTimeout);
  int pgid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.output), &pgid)) << r.output;
  EXPECT_THAT(LiveMembers(pgid), ::testing::IsEmpty());
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), 0);  // only the guardian, alive: no zombie
}

TEST(ShellExecutorConfig, DisabledRefusesEveryRun) {
  FakeClock clock;
  auto e = ShellExecutor::Create({.enabled = false}, clock);
  ASSERT_TRUE(e.ok());
  ExecResult r = RunSync(**e, Shell("true"));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.error, "shell executor disabled on this worker");
  EXPECT_EQ(r.cause, ExecCause::kRefused);
}

TEST(ShellExecutorConfig, AllowListRefusesOtherCommands) {
  FakeClock clock;
  auto e = ShellExecutor::Create({.allowed_prefixes = {"echo "}, .allow_root = true}, clock);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(RunSync(**e, Shell("echo ok")).output, "ok\n");
  ExecResult r = RunSync(**e, Shell("rm -rf /nonexistent"));
  EXPECT_EQ(r.status, ExecStatus::kFailed);
  EXPECT_EQ(r.error, "command not in allow-list");
  EXPECT_EQ(r.cause, ExecCause::kRefused);
}

TEST(CheckCommandAllowed, PrefixesAtWordBoundariesWithoutShellControl) {
  const ShellConfig config{.allowed_prefixes = {"/usr/bin/backup", "/opt/jobs/", "echo "}};
  const auto allowed = [&](const std::string& cmd) {
    return CheckCommandAllowed(config, cmd).ok();
  };
  EXPECT_TRUE(allowed("/usr/bin/backup"));
  EXPECT_TRUE(allowed("/usr/bin/backup --full /data"));
  EXPECT_TRUE(allowed("/opt/jobs/report.sh weekly"));
  EXPECT_TRUE(allowed("echo hello"));
  EXPECT_FALSE(allowed("/usr/bin/backupx"));
  EXPECT_FALSE(allowed("/usr/bin/backup; rm -rf /"));
  EXPECT_FALSE(allowed("/usr/bin/backup && rm -rf /"));
  EXPECT_FALSE(allowed("/usr/bin/backup $(rm -rf /)"));
  EXPECT_FALSE(allowed("/usr/bin/backup `id`"));
  EXPECT_FALSE(allowed("/usr/bin/backup > /etc/passwd"));
  EXPECT_FALSE(allowed("/usr/bin/backup\nrm -rf /"));
  EXPECT_FALSE(allowed("/opt/jobs/../../bin/rm -rf /"));
  EXPECT_FALSE(allowed("rm -rf /"));
  EXPECT_TRUE(CheckCommandAllowed({}, "anything; goes").ok());
  EXPECT_EQ(CheckCommandAllowed({.enabled = false}, "true").message(),
            "shell executor disabled on this worker");
}

}  // namespace
}  // namespace hg::executor
