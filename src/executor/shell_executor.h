// ShellExecutor: runs ShellSpec jobs as `/bin/sh -c <command>` (see executor.h for the contract).
//
// Process model. Each run is spawned with posix_spawn (fork+exec when it must switch user or
// set resource limits, which posix_spawn cannot do) into a process group of its own, stdin =
// /dev/null, stdout and stderr = one pipe, every other descriptor closed (closefrom(3)), signal
// mask and dispositions reset. The run ends when the group leader (the shell) exits; whatever it
// left behind in its group is then SIGKILLed, so a job cannot leave background processes running. A
// timeout or Kill() sends SIGTERM (and SIGCONT) to the whole group and SIGKILL after `kill_grace`.
// Processes that leave the group (setsid) are out of reach; output is then read for at most 250 ms
// after the leader exits.
//
// Threads. One thread per executor does all waiting: it poll()s a wake-up eventfd, each run's
// output pipe and each run's pidfd (pidfd_open, Linux >= 5.3), and computes poll's timeout from
// the nearest run deadline. Why: a pidfd makes a child's exit an fd event, so there is no
// SIGCHLD handler (process-wide state other libraries also want), no waitpid(-1) (which would
// reap children owned by other parts of the process) and no thread per child. The leader is
// reaped with waitpid(pid) only after its group was signalled, so its pid (= the group id)
// cannot be reused while we signal it. Where pidfd_open is unavailable the thread falls back to
// waitid(WNOHANG) every 10 ms. Spawning happens on the caller of Start() (about 0.3 ms).
// Requirement on the embedding process: SIGCHLD must not be SIG_IGN (children would be
// auto-reaped and their exit status lost).
//
// Output: the first and last output_cap/2 bytes are kept in memory, the middle is counted and
// dropped, so a job writing gigabytes costs bounded memory and never blocks on a full pipe.
//
// Identity. A run executes as ShellSpec::run_as (which must be `default_user` or listed in
// `run_as_allowed`), else as `default_user`, else as the worker's own user. A run that would
// execute as root (uid 0) is refused unless `allow_root`. Refusals are `failed` runs with cause
// kRefused, checked before anything is spawned.
//
// Environment: not the worker's. The run gets PATH (kSafePath), HOME, USER, LOGNAME and SHELL
// of the user it runs as, LANG and TZ when the worker has them, then ShellSpec::env, then
// Hourglass's own variables (executor.h).
//
// Limits: the job's ResourceLimits, else `default_limits`, else `max_limits`; a job asking for
// more than `max_limits` is refused. Set with setrlimit in the child before exec. A run ended by
// its CPU limit reports cause kResourceLimit ("stopped by the CPU time limit (cpu_seconds 2)");
// the other limits make a system call fail inside the job (ENOMEM, EMFILE, EAGAIN on fork), which
// the job reports as it does (its exit code and output), and the error names the limits in force.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "executor/executor.h"

namespace hg::executor {

struct ShellConfig {
  bool enabled = true;  // false: every run fails "shell executor disabled on this worker"
  // Empty = any command. Otherwise the command must start with one of these prefixes, at a word
  // boundary (the prefix ends with ' ' or '/', or the command continues with a space or ends),
  // and the rest of the command may not contain shell control characters (; & | ` $ ( ) < >
  // newline) nor a ".." path step, so "backup.sh" does not admit "backup.sh; rm -rf /".
  std::vector<std::string> allowed_prefixes;
  std::string shell = "/bin/sh";
  // false = never use pidfds, poll exits every 10 ms (what kernels < 5.3 get; tests use it).
  bool use_pidfd = true;
  std::string default_user;                 // empty = the worker's own user
  std::vector<std::string> run_as_allowed;  // users a job may name in run_as (+ default_user)
  bool allow_root = false;                  // false: refuse runs that would execute as uid 0
  ResourceLimits default_limits;            // for limits a job does not set
  ResourceLimits max_limits;                // a job may not ask for more; default of last resort
};

// PATH of every run (a job may set its own in env).
inline constexpr char kSafePath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// OK when `config` allows `command`; otherwise PermissionDenied with the message a run reports
// ("shell executor disabled on this worker" / "command not in allow-list").
absl::Status CheckCommandAllowed(const ShellConfig& config, const std::string& command);

// The user a run of `spec` executes as: a name, or "" for the worker's own user.
// PermissionDenied naming the flag when `config` does not let the job name that user.
absl::StatusOr<std::string> ChooseUser(const ShellConfig& config, const ShellSpec& spec);

// The limits a run of `spec` gets (job's, else default, else maximum). PermissionDenied naming
// the limit when the job asks for more than the maximum.
absl::StatusOr<ResourceLimits> EffectiveLimits(const ShellConfig& config, const ShellSpec& spec);

// "cpu_seconds=2, memory_mb=64" ("" when none).
std::string FormatLimits(const ResourceLimits& limits);

class ShellExecutor final : public Executor {
 public:
  // Starts the executor thread. `clock` must outlive the executor. Fails only when the kernel
  // refuses an eventfd or a thread.
  static absl::StatusOr<std::unique_ptr<ShellExecutor>> Create(ShellConfig config,
                                                               const Clock& clock);
  ~ShellExecutor() override;

  std::unique_ptr<RunHandle> Start(const ExecRequest& request, DoneCallback on_done) override;
  void Stop() override;

  class Impl;

 private:
  explicit ShellExecutor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hg::executor
