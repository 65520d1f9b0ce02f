#include "executor/shell_executor.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "common/status.h"
#include "common/strings.h"
#include "executor/internal.h"
#include "executor/output.h"

namespace hg::executor {
namespace {

using Steady = std::chrono::steady_clock;

// After the shell exits, how long to keep reading output that an escaped process still writes.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(250);
// Exit polling period where pidfd_open is unavailable.
constexpr auto kNoPidfdTick = std::chrono::milliseconds(10);
constexpr size_t kReadChunk = 64 * 1024;
// Per run and wake-up, so one chatty job cannot starve the others.
constexpr size_t kReadBudget = 1024 * 1024;

std::string ErrnoText(int err) { return strerrordesc_np(err); }

std::string SignalText(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? absl::StrCat(sig, " (SIG", abbrev, ")") : absl::StrCat(sig);
}

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Moves `fd` above 2 so that setting up the child's 0-2 cannot clobber it.
absl::Status LiftAboveStdio(Fd& fd) {
  if (fd.get() > 2) return absl::OkStatus();
  const int lifted = fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (lifted < 0) return absl::InternalError(absl::StrCat("fcntl: ", ErrnoText(errno)));
  fd.Reset(lifted);
  return absl::OkStatus();
}

struct Identity {
  std::string name;
  uid_t uid;
  gid_t gid;
  std::string home;
  std::string shell;
  std::vector<gid_t> groups;
};

// By name, or (name empty) the worker's own effective user. The worker's own user may be
// missing from the password database (containers): then only its ids are known.
absl::StatusOr<Identity> LookupUser(const std::string& name) {
  std::vector<char> buf(16 * 1024);
  passwd pw{};
  passwd* found = nullptr;
  int rc;
  while ((rc = name.empty()
                   ? getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &found)
                   : getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  if (name.empty() && (rc != 0 || found == nullptr)) {
    return Identity{"", geteuid(), getegid(), "", "", {}};
  }
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot look up user '", name, "': ", ErrnoText(rc)));
  }
  if (found == nullptr) return absl::NotFoundError(absl::StrCat("unknown user '", name, "'"));
  Identity id{pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir, pw.pw_shell, {}};
  int n = 16;
  id.groups.resize(n);
  while (getgrouplist(pw.pw_name, pw.pw_gid, id.groups.data(), &n) < 0) id.groups.resize(n);
  id.groups.resize(n);
  return id;
}

// The child's environment: a minimal base for `identity` (never the worker's whole
// environment: it may hold the worker's secrets), then the spec's, then Hourglass's own.
absl::StatusOr<std::vector<std::string>> BuildEnv(const ExecRequest& req, const ShellSpec& spec,
                                                  const Identity& identity) {
  std::map<std::string, std::string> vars;
  vars["PATH"] = kSafePath;
  if (!identity.name.empty()) {
    vars["USER"] = identity.name;
    vars["LOGNAME"] = identity.name;
  }
  if (!identity.home.empty()) vars["HOME"] = identity.home;
  if (!identity.shell.empty()) vars["SHELL"] = identity.shell;
  for (const char* name : {"LANG", "TZ"}) {
    if (const char* value = getenv(name); value != nullptr) vars[name] = value;
  }
  for (const auto& [key, value] : spec.env) {
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid environment variable name '", key, "'"));
    }
    vars[key] = value;
  }
  vars["HOURGLASS_JOB"] = req.job_name;
  vars["HOURGLASS_EXECUTION_ID"] = req.execution_id;
  vars["HOURGLASS_SCHEDULED_TIME"] = FormatRfc3339Utc(req.scheduled_time);
  vars["HOURGLASS_ATTEMPT"] = absl::StrCat(req.attempt);
  if (!req.traceparent.empty()) vars["TRACEPARENT"] = req.traceparent;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [key, value] : vars) out.push_back(absl::StrCat(key, "=", value));
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// posix_spawn in a new process group; returns 0 or an errno value.
int SpawnDirect(const char* shell, const std::string& cwd, int out_fd, char* const argv[],
                char* const envp[], pid_t* pid) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  const int rc = posix_spawn(pid, shell, &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

// The guardian: one small process per executor, forked at Create(), that kills the runs'
// process groups when the worker process dies — even by SIGKILL, when nothing in the worker
// can clean up (DESIGN.md guard 3: no run outlives its owner).
// The executor tells it every group it starts (+pgid) and reaps (-pgid) over a pipe whose write
// end only the executor holds; when that pipe reaches EOF (the worker died, or the executor was
// destroyed) the guardian SIGKILLs every group still registered and exits. Runs themselves stay
// on the posix_spawn fast path; a run costs the guardian one 4-byte write.
class Guardian {
 public:
  static constexpr int kMaxGroups = 8192;

  // nullptr when the guardian cannot be started (runs are then unguarded, as a plain worker).
  static std::unique_ptr<Guardian> Start() {
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) return nullptr;
    Fd read_end(ends[0]), write_end(ends[1]);
    const pid_t pid = fork();
    if (pid < 0) return nullptr;
    if (pid == 0) Serve(read_end.get());  // never returns
    read_end.Reset();
    return std::unique_ptr<Guardian>(new Guardian(std::move(write_end), pid));
  }

  ~Guardian() {
    write_.Reset();  // EOF: the guardian kills what is left (nothing, after Stop) and exits
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }

  void Register(pid_t pgid) { Send(static_cast<int32_t>(pgid)); }
  void Unregister(pid_t pgid) { Send(-static_cast<int32_t>(pgid)); }

 private:
  Guardian(Fd write, pid_t pid) : write_(std::move(write)), pid_(pid) {}

  void Send(int32_t message) {
    // 4 bytes < PIPE_BUF: atomic, so callers on different threads never interleave.
    while (write(write_.get(), &message, sizeof message) < 0 && errno == EINTR) {
    }
  }

  // The child: only raw system calls (after fork in a threaded process nothing else is safe).
  [[noreturn]] static void Serve(int fd) {
    setpgid(0, 0);  // out of the worker's group: a Ctrl-C meant for the worker is not for us
    struct sigaction ign = {};
    ign.sa_handler = SIG_IGN;
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2}) {
      sigaction(sig, &ign, nullptr);
    }
    dup2(fd, 0);
    syscall(SYS_close_range, 1, ~0U, 0);  // hold nothing of the worker's (sockets, pipes)
    pid_t groups[kMaxGroups];
    int count = 0;
    while (true) {
      int32_t message = 0;
      const ssize_t n = read(0, &message, sizeof message);
      if (n < 0 && errno == EINTR) continue;
      if (n != static_cast<ssize_t>(sizeof message)) break;  // EOF: the worker is gone
      if (message > 0 && count < kMaxGroups) {
        groups[count++] = message;
      } else if (message < 0) {
        for (int i = 0; i < count; ++i) {
          if (groups[i] == -message) {
            groups[i] = groups[--count];
            break;
          }
        }
      }
    }
    for (int i = 0; i < count; ++i) kill(-groups[i], SIGKILL);
    _exit(0);
  }

  Fd write_;
  const pid_t pid_;
};

// What a fork+exec child reports through its error pipe when a step fails.
enum class ChildStep : int { kStdio, kLimits, kIdentity, kChdir, kExec };

// One setrlimit of the child, computed before fork.
struct Rlimit {
  int resource;
  rlimit value;
};

// The rlimits for `limits`, never above the worker's own hard limits (raising one would need
// privileges a non-root worker lacks; root could, but a job gets no more than its worker).
std::vector<Rlimit> ToRlimits(const ResourceLimits& limits) {
  std::vector<Rlimit> out;
  const auto add = [&](int resource, std::optional<int64_t> soft, rlim_t extra_hard) {
    if (!soft) return;
    rlimit own{};
    getrlimit(resource, &own);
    const auto cap = [&](rlim_t v) {
      return own.rlim_max == RLIM_INFINITY ? v : std::min(v, own.rlim_max);
    };
    const rlim_t s = static_cast<rlim_t>(*soft);
    out.push_back({resource, {cap(s), cap(s + extra_hard)}});
  };
  // CPU: SIGXCPU at the soft limit, SIGKILL at the hard one a second later.
  add(RLIMIT_CPU, limits.cpu_seconds, 1);
  add(RLIMIT_AS, limits.memory_mb ? std::optional<int64_t>(*limits.memory_mb << 20) : std::nullopt,
      0);
  add(RLIMIT_NOFILE, limits.open_files, 0);
  add(RLIMIT_NPROC, limits.processes, 0);
  return out;
}
struct ChildError {
  ChildStep step;
  int err;
};

// fork + setrlimit + setgroups/setgid/setuid + exec, for runs that switch user (`id` not null)
// or have limits: posix_spawn can do neither. The child only makes raw system calls: after fork
// in a threaded process nothing else is safe.
absl::Status SpawnForked(const char* shell, const std::string& cwd, int out_fd, char* const argv[],
                         char* const envp[], const Identity* id, const std::vector<Rlimit>& limits,
                         pid_t* pid_out) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0)
    return absl::InternalError(absl::StrCat("pipe: ", ErrnoText(errno)));
  Fd err_read(ends[0]), err_write(ends[1]);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", ErrnoText(errno)));
  if (pid == 0) {
    const auto fail = [&](ChildStep step) {
      const ChildError e{step, errno};
      (void)!write(err_write.get(), &e, sizeof e);
      _exit(127);
    };
    setpgid(0, 0);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) {
      fail(ChildStep::kStdio);
    }
    for (const Rlimit& l : limits) {
      if (syscall(SYS_prlimit64, 0, l.resource, &l.value, nullptr) != 0) fail(ChildStep::kLimits);
    }
    if (id != nullptr && (syscall(SYS_setgroups, id->groups.size(), id->groups.data()) != 0 ||
                          syscall(SYS_setresgid, id->gid, id->gid, id->gid) != 0 ||
                          syscall(SYS_setresuid, id->uid, id->uid, id->uid) != 0)) {
      fail(ChildStep::kIdentity);
    }
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) fail(ChildStep::kChdir);
    // Everything above 2 closes at exec (the error pipe must survive until then).
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(shell, argv, envp);
    fail(ChildStep::kExec);
  }
  setpgid(pid, pid);  // also from the parent, so the group exists before we may signal it
  err_write.Reset();
  ChildError e{};
  ssize_t n;
  while ((n = read(err_read.get(), &e, sizeof e)) < 0 && errno == EINTR) {
  }
  if (n <= 0) {
    *pid_out = pid;
    return absl::OkStatus();
  }
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  switch (e.step) {
    case ChildStep::kStdio:
      return absl::InternalError(absl::StrCat("cannot set up stdio: ", ErrnoText(e.err)));
    case ChildStep::kLimits:
      return absl::InternalError(absl::StrCat("cannot set resource limits: ", ErrnoText(e.err)));
    case ChildStep::kIdentity:
      return absl::FailedPreconditionError(
          absl::StrCat("cannot switch to user '", id->name, "': ", ErrnoText(e.err)));
    case ChildStep::kChdir:
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot change to working directory '", cwd, "'",
          id != nullptr ? absl::StrCat(" as user '", id->name, "'") : "", ": ", ErrnoText(e.err)));
    case ChildStep::kExec:
      break;
  }
  return absl::InternalError(absl::StrCat("cannot run ", shell, ": ", ErrnoText(e.err)));
}

bool HasShellControl(std::string_view s) {
  return s.find_first_of(";&|`$()<>\n\r") != std::string_view::npos;
}

}  // namespace

absl::Status CheckCommandAllowed(const ShellConfig& config, const std::string& command) {
  if (!config.enabled) return absl::PermissionDeniedError("shell executor disabled on this worker");
  if (config.allowed_prefixes.empty()) return absl::OkStatus();
  for (const std::string& prefix : config.allowed_prefixes) {
    if (prefix.empty() || !absl::StartsWith(command, prefix)) continue;
    const std::string_view rest = std::string_view(command).substr(prefix.size());
    const bool boundary =
        prefix.back() == ' ' || prefix.back() == '/' || rest.empty() || rest.front() == ' ';
    if (!boundary || HasShellControl(rest)) continue;
    if (prefix.back() == '/') {  // a directory prefix: the program must stay inside it
      const std::string_view program = rest.substr(0, rest.find(' '));
      if (program.find("..") != std::string_view::npos) continue;
    }
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError("command not in allow-list");
}

absl::StatusOr<std::string> ChooseUser(const ShellConfig& config, const ShellSpec& spec) {
  if (!spec.run_as.has_value() || *spec.run_as == config.default_user) return config.default_user;
  if (std::find(config.run_as_allowed.begin(), config.run_as_allowed.end(), *spec.run_as) ==
      config.run_as_allowed.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("run_as '", *spec.run_as, "' is not allowed on this worker (--run-as-allow)"));
  }
  return *spec.run_as;
}

namespace {

struct LimitField {
  const char* name;
  std::optional<int64_t> ResourceLimits::*member;
};
constexpr LimitField kLimitFields[] = {
    {"cpu_seconds", &ResourceLimits::cpu_seconds},
    {"memory_mb", &ResourceLimits::memory_mb},
    {"open_files", &ResourceLimits::open_files},
    {"processes", &ResourceLimits::processes},
};

}  // namespace

absl::StatusOr<ResourceLimits> EffectiveLimits(const ShellConfig& config, const ShellSpec& spec) {
  ResourceLimits out;
  for (const LimitField& f : kLimitFields) {
    const std::optional<int64_t>& asked = spec.limits.*f.member;
    const std::optional<int64_t>& max = config.max_limits.*f.member;
    if (asked && max && *asked > *max) {
      return absl::PermissionDeniedError(absl::StrCat("limits.", f.name, " ", *asked,
                                                      " is above this worker's maximum ", *max,
                                                      " (--limits-max)"));
    }
    const std::optional<int64_t>& fallback = config.default_limits.*f.member;
    out.*f.member = asked ? asked : (fallback ? fallback : max);
    if (max && out.*f.member && *(out.*f.member) > *max) out.*f.member = max;
  }
  return out;
}

std::string FormatLimits(const ResourceLimits& limits) {
  std::string out;
  for (const LimitField& f : kLimitFields) {
    if (!(limits.*f.member)) continue;
    absl::StrAppend(&out, out.empty() ? "" : ", ", f.name, "=", *(limits.*f.member));
  }
  return out;
}

namespace {

// One spawned run, owned by the executor thread once posted.
struct ShellRun {
  uint64_t id = 0;
  pid_t pid = -1;  // also the process group id
  Fd pidfd;        // invalid: poll for exit every kNoPidfdTick
  Fd out;          // read end of the stdout+stderr pipe; invalid once EOF or drained
  OutputCapture capture{0, OutputCapture::Keep::kHeadAndTail};
  DoneCallback on_done;
  absl::Time started;
  SteadyTime clock_start;
  absl::Duration timeout;
  absl::Duration grace;
  std::optional<Steady::time_point> timeout_at;
  ResourceLimits limits;

  // Set once by the first of timeout / Kill / Stop.
  bool terminating = false;
  ExecStatus end_status = ExecStatus::kFailed;
  std::string end_error;
  Steady::time_point kill_at;
  bool sigkill_sent = false;

  bool exited = false;
  int wait_status = 0;
  absl::Duration cpu_used;  // of the shell and the children it waited for
  Steady::time_point drain_until;
};

}  // namespace

class ShellExecutor::Impl {
 public:
  Impl(ShellConfig config, const Clock& clock, Fd wake)
      : config_(std::move(config)),
        clock_(clock),
        guardian_(Guardian::Start()),
        wake_(std::move(wake)),
        mailbox_(std::make_shared<internal::Mailbox<ShellRun>>([fd = wake_.get()] {
          const uint64_t one = 1;
          (void)!write(fd, &one, sizeof one);
        })) {}

  void StartThread() {
    thread_.Start([this] { Loop(); });
  }

  std::unique_ptr<RunHandle> Start(const ExecRequest& request, DoneCallback on_done);
  void Stop() { thread_.Stop(); }

 private:
  // `identity`: who the run executes as; `switch_user`: whether that needs setuid.
  absl::Status Spawn(const ExecRequest& request, const ShellSpec& spec, const Identity& identity,
                     bool switch_user, ShellRun& run);
  void Loop();
  void Terminate(ShellRun& run, ExecStatus status, std::string error, Steady::time_point now);
  void ReadOutput(ShellRun& run);
  void CheckExit(ShellRun& run, Steady::time_point now);
  void Finish(ShellRun& run);

  const ShellConfig config_;
  const Clock& clock_;
  // Null if it could not be started. Destroyed after the thread has stopped (and killed the
  // runs), so its EOF finds nothing left to kill.
  const std::unique_ptr<Guardian> guardian_;
  Fd wake_;  // eventfd; outlives the thread (closed after mailbox_->Close())
  const std::shared_ptr<internal::Mailbox<ShellRun>> mailbox_;
  std::vector<char> buf_ = std::vector<char>(kReadChunk);  // executor thread only
  internal::LoopThread<ShellRun> thread_{mailbox_};        // last: stops first
};

std::unique_ptr<RunHandle> ShellExecutor::Impl::Start(const ExecRequest& request,
                                                      DoneCallback on_done) {
  ExecResult failed;
  failed.started = clock_.Now();
  const SteadyTime clock_start = clock_.SteadyNow();
  const auto fail = [&](std::string error, ExecCause cause = ExecCause::kNone) {
    failed.error = std::move(error);
    failed.cause = cause;
    internal::Stamp(failed, clock_, failed.started, clock_start);
    return internal::FinishEarly(*mailbox_, std::move(on_done), std::move(failed));
  };
  if (mailbox_->Stopping()) return fail("executor stopped");
  const auto* spec = std::get_if<ShellSpec>(&request.spec);
  if (spec == nullptr) return fail("the shell executor cannot run an HTTP job");
  if (absl::Status s = CheckCommandAllowed(config_, spec->command); !s.ok()) {
    return fail(std::string(s.message()), ExecCause::kRefused);
  }
  absl::StatusOr<std::string> user = ChooseUser(config_, *spec);
  if (!user.ok()) return fail(std::string(user.status().message()), ExecCause::kRefused);
  ShellRun run;
  absl::StatusOr<ResourceLimits> limits = EffectiveLimits(config_, *spec);
  if (!limits.ok()) return fail(std::string(limits.status().message()), ExecCause::kRefused);
  run.limits = *limits;
  absl::StatusOr<Identity> identity = LookupUser(*user);
  if (!identity.ok()) return fail(std::string(identity.status().message()));
  if (identity->uid == 0 && !config_.allow_root) {
    return fail(
        "refusing to run a shell job as root: start the worker with --shell-user USER "
        "(or --allow-root)",
        ExecCause::kRefused);
  }
  const bool switch_user = identity->uid != geteuid() || identity->gid != getegid();
  if (switch_user && geteuid() != 0) {
    return fail(
        absl::StrCat("running as user '", identity->name, "' needs a worker running as root"),
        ExecCause::kRefused);
  }
  run.started = failed.started;
  run.clock_start = clock_start;
  if (absl::Status s = Spawn(request, *spec, *identity, switch_user, run); !s.ok()) {
    return fail(std::string(s.message()));
  }
  run.id = mailbox_->NextId();
  run.on_done = std::move(on_done);
  const uint64_t id = run.id;
  if (!mailbox_->PostRun(run)) {  // Stop() began while we spawned: undo the spawn
    kill(-run.pid, SIGKILL);
    if (guardian_) guardian_->Unregister(run.pid);
    while (waitpid(run.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    failed.error = "executor stopped";
    internal::Stamp(failed, clock_, failed.started, clock_start);
    run.on_done(std::move(failed));
    return std::make_unique<internal::FinishedRunHandle>();
  }
  return std::make_unique<internal::MailboxRunHandle<ShellRun>>(mailbox_, id);
}

absl::Status ShellExecutor::Impl::Spawn(const ExecRequest& request, const ShellSpec& spec,
                                        const Identity& identity, bool switch_user, ShellRun& run) {
  if (!spec.cwd.empty()) {
    struct stat st;
    if (stat(spec.cwd.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("working directory '", spec.cwd, "': ", ErrnoText(errno)));
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("working directory '", spec.cwd, "' is not a directory"));
    }
  }
  HG_ASSIGN_OR_RETURN(std::vector<std::string> env, BuildEnv(request, spec, identity));
  std::vector<std::string> args = {config_.shell, "-c", spec.command};
  const std::vector<char*> argv = CStrings(args);
  const std::vector<char*> envp = CStrings(env);

  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat("pipe: ", ErrnoText(errno)));
  }
  run.out.Reset(ends[0]);
  Fd write_end(ends[1]);
  HG_RETURN_IF_ERROR(LiftAboveStdio(run.out));
  HG_RETURN_IF_ERROR(LiftAboveStdio(write_end));
  fcntl(run.out.get(), F_SETFL, O_NONBLOCK);

  if (switch_user || !run.limits.empty()) {
    HG_RETURN_IF_ERROR(SpawnForked(config_.shell.c_str(), spec.cwd, write_end.get(), argv.data(),
                                   envp.data(), switch_user ? &identity : nullptr,
                                   ToRlimits(run.limits), &run.pid));
  } else if (const int rc = SpawnDirect(config_.shell.c_str(), spec.cwd, write_end.get(),
                                        argv.data(), envp.data(), &run.pid);
             rc != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run ", config_.shell,
                     spec.cwd.empty() ? "" : absl::StrCat(" in working directory '", spec.cwd, "'"),
                     ": ", ErrnoText(rc)));
  }
  if (guardian_) guardian_->Register(run.pid);
  // Raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C" and cannot be used from C++.
  if (config_.use_pidfd) run.pidfd.Reset(static_cast<int>(syscall(SYS_pidfd_open, run.pid, 0)));
  run.capture = OutputCapture(request.output_cap, OutputCapture::Keep::kHeadAndTail);
  run.timeout = request.timeout;
  run.grace = request.kill_grace;
  if (request.timeout > absl::ZeroDuration()) {
    run.timeout_at = Steady::now() + absl::ToChronoNanoseconds(request.timeout);
  }
  return absl::OkStatus();
}

void ShellExecutor::Impl::Terminate(ShellRun& run, ExecStatus status, std::string error,
                                    Steady::time_point now) {
  if (run.terminating || run.exited) return;
  run.terminating = true;
  run.end_status = status;
  run.end_error = std::move(error);
  // The leader is not reaped yet (we reap only in CheckExit), so the group id is still ours.
  if (run.grace <= absl::ZeroDuration()) {
    kill(-run.pid, SIGKILL);
    run.sigkill_sent = true;
    return;
  }
  kill(-run.pid, SIGTERM);
  kill(-run.pid, SIGCONT);  // a stopped process would otherwise never see SIGTERM
  run.kill_at = now + absl::ToChronoNanoseconds(run.grace);
}

void ShellExecutor::Impl::ReadOutput(ShellRun& run) {
  size_t budget = kReadBudget;
  while (run.out.valid() && budget > 0) {
    const ssize_t n = read(run.out.get(), buf_.data(), buf_.size());
    if (n > 0) {
      run.capture.Append(std::string_view(buf_.data(), static_cast<size_t>(n)));
      budget -= std::min(budget, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    run.out.Reset();  // EOF (every writer gone) or a read error
  }
}

void ShellExecutor::Impl::CheckExit(ShellRun& run, Steady::time_point now) {
  siginfo_t info = {};
  if (waitid(P_PID, run.pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
  // The leader is a zombie, so its pid (= the group id) cannot be reused yet: clear out
  // whatever it left in its group, then reap it.
  kill(-run.pid, SIGKILL);
  if (guardian_) guardian_->Unregister(run.pid);  // before the reap frees the group id
  rusage usage{};
  while (wait4(run.pid, &run.wait_status, 0, &usage) < 0 && errno == EINTR) {
  }
  run.cpu_used =
      absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
  run.exited = true;
  run.pidfd.Reset();
  run.drain_until = now + kDrainAfterExit;
}

namespace {

// The shell, or the last command it ran (exit code 128 + signal), died of SIGXCPU — only the
// CPU limit sends it — or of the SIGKILL that follows at the hard limit, after using at least
// the CPU time it was allowed (rusage is sampled: SIGXCPU itself may arrive slightly before).
bool StoppedByCpuLimit(const ShellRun& run, const ExecResult& result) {
  if (!run.limits.cpu_seconds) return false;
  const int sig = result.signal.value_or(result.exit_code.value_or(0) - 128);
  return sig == SIGXCPU ||
         (sig == SIGKILL && run.cpu_used >= absl::Seconds(*run.limits.cpu_seconds));
}

}  // namespace

void ShellExecutor::Impl::Finish(ShellRun& run) {
  ExecResult result;
  const int st = run.wait_status;
  if (WIFEXITED(st)) result.exit_code = WEXITSTATUS(st);
  if (WIFSIGNALED(st)) result.signal = WTERMSIG(st);
  if (run.terminating) {
    result.status = run.end_status;
    result.error = run.end_error;
    if (run.sigkill_sent && run.grace > absl::ZeroDuration()) {
      absl::StrAppend(&result.error, " (SIGKILL after a grace period of ",
                      FormatGoDuration(run.grace), ")");
    }
  } else if (result.exit_code == 0) {
    result.status = ExecStatus::kSuccess;
  } else if (StoppedByCpuLimit(run, result)) {
    result.cause = ExecCause::kResourceLimit;
    result.error =
        absl::StrCat("stopped by the CPU time limit (cpu_seconds ", *run.limits.cpu_seconds, ")");
  } else {
    result.error = result.exit_code.has_value()
                       ? absl::StrCat("exited with code ", *result.exit_code)
                       : absl::StrCat("killed by signal ", SignalText(result.signal.value_or(0)));
    // Other limits make a call inside the job fail; the job says how. Name them for the reader.
    if (!run.limits.empty())
      absl::StrAppend(&result.error, " (limits: ", FormatLimits(run.limits), ")");
  }
  result.output = run.capture.Finish();
  result.output_bytes = run.capture.total();
  internal::Stamp(result, clock_, run.started, run.clock_start);
  run.on_done(std::move(result));
}

void ShellExecutor::Impl::Loop() {
  std::unordered_map<uint64_t, ShellRun> runs;
  bool stopping = false;
  std::vector<pollfd> fds;
  enum class Role { kOutput, kExit };
  std::vector<std::pair<ShellRun*, Role>> owners;  // owners[i] goes with fds[i + 1]
  while (true) {
    auto batch = mailbox_->Take();
    for (auto& done : batch.finished) done.on_done(std::move(done.result));
    for (ShellRun& run : batch.runs) {
      const uint64_t id = run.id;
      runs.emplace(id, std::move(run));
    }
    Steady::time_point now = Steady::now();
    for (auto& kill : batch.kills) {
      auto it = runs.find(kill.run_id);
      if (it != runs.end()) {
        ShellRun& run = it->second;
        if (kill.mode == KillMode::kImmediate) {
          run.grace = absl::ZeroDuration();
          if (run.terminating && !run.sigkill_sent && !run.exited) {
            ::kill(-run.pid, SIGKILL);  // already in its SIGTERM grace: cut it short
            run.sigkill_sent = true;
          }
        }
        Terminate(run, ExecStatus::kKilled, absl::StrCat("killed: ", kill.reason), now);
      }
    }
    if (batch.stopping && !stopping) {
      stopping = true;
      for (auto& [id, run] : runs) {
        Terminate(run, ExecStatus::kKilled, "killed: executor stopped", now);
      }
    }

    // Deadlines, exits without a pidfd, and finished runs.
    std::optional<Steady::time_point> wake_at;
    const auto wake_by = [&](Steady::time_point t) {
      if (!wake_at || t < *wake_at) wake_at = t;
    };
    for (auto it = runs.begin(); it != runs.end();) {
      ShellRun& run = it->second;
      if (!run.exited) {
        if (!run.pidfd.valid()) CheckExit(run, now);
        if (run.timeout_at && now >= *run.timeout_at) {
          Terminate(run, ExecStatus::kTimeout,
                    absl::StrCat("timed out after ", FormatGoDuration(run.timeout)), now);
        }
        if (run.terminating && !run.sigkill_sent && now >= run.kill_at) {
          kill(-run.pid, SIGKILL);
          run.sigkill_sent = true;
        }
      } else if (run.out.valid() && now >= run.drain_until) {
        run.out.Reset();  // an escaped process still holds the pipe; stop waiting for it
      }
      if (run.exited && !run.out.valid()) {
        Finish(run);
        it = runs.erase(it);
        continue;
      }
      if (!run.exited) {
        if (run.timeout_at && !run.terminating) wake_by(*run.timeout_at);
        if (run.terminating && !run.sigkill_sent) wake_by(run.kill_at);
        if (!run.pidfd.valid()) wake_by(now + kNoPidfdTick);
      } else {
        wake_by(run.drain_until);
      }
      ++it;
    }
    if (stopping && runs.empty()) return;

    fds.clear();
    owners.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    for (auto& [id, run] : runs) {
      if (run.out.valid()) {
        fds.push_back({run.out.get(), POLLIN, 0});
        owners.emplace_back(&run, Role::kOutput);
      }
      if (run.pidfd.valid()) {
        fds.push_back({run.pidfd.get(), POLLIN, 0});
        owners.emplace_back(&run, Role::kExit);
      }
    }
    int timeout_ms = -1;
    if (wake_at) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*wake_at - now);
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 0, 60'000));
    }
    if (poll(fds.data(), fds.size(), timeout_ms) < 0) continue;  // EINTR
    if (fds[0].revents != 0) {
      uint64_t count;
      (void)!read(wake_.get(), &count, sizeof count);
    }
    now = Steady::now();
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto [run, role] = owners[i - 1];
      if (role == Role::kOutput) {
        ReadOutput(*run);
      } else {
        CheckExit(*run, now);
      }
    }
  }
}

absl::StatusOr<std::unique_ptr<ShellExecutor>> ShellExecutor::Create(ShellConfig config,
                                                                     const Clock& clock) {
  Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return absl::InternalError(absl::StrCat("eventfd: ", ErrnoText(errno)));
  auto impl = std::make_unique<Impl>(std::move(config), clock, std::move(wake));
  impl->StartThread();
  return std::unique_ptr<ShellExecutor>(new ShellExecutor(std::move(impl)));
}

ShellExecutor::ShellExecutor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ShellExecutor::~ShellExecutor() { Stop(); }

std::unique_ptr<RunHandle> ShellExecutor::Start(const ExecRequest& request, DoneCallback on_done) {
  return impl_->Start(request, std::move(on_done));
}

void ShellExecutor::Stop() { impl_->Stop(); }

}  // namespace hg::executor
