// Executor: runs one attempt of a job (a shell command or an HTTP request) asynchronously and
// reports exactly one ExecResult (DESIGN.md "One run, end to end", step 6).
//
//   auto shell = ShellExecutor::Create({}, RealClock::Get());           // shell_executor.h
//   std::unique_ptr<RunHandle> run = (*shell)->Start(request, [](ExecResult r) { ... });
//   run->Kill("replaced by a newer run");   // optional; the result is then `killed`
//   (*shell)->Stop();                       // kills what is still running, joins its thread
//
// Contract shared by every implementation:
// - Start() never blocks on the run itself and never fails: every problem (refused command,
//   bad cwd, unknown user, unresolvable host, ...) arrives as a `failed` ExecResult whose `error`
//   says what went wrong in words a job owner understands.
// - `on_done` is called exactly once per Start(), from the executor's own thread (never inline
//   from Start(), except after Stop(): then inline, with `failed` "executor stopped"). It must
//   not block for long and must not call Stop(); it may call Start() and RunHandle::Kill().
// - RunHandle::Kill(reason) ends the run (a shell run: its whole process group) and reports
//   `killed` with `error` = "killed: <reason>". It is asynchronous and idempotent; a Kill that
//   arrives after the run has ended (or after its result is on its way) changes nothing.
//   Destroying a RunHandle does NOT kill the run; a handle may outlive its executor.
// - Stop() refuses new runs, kills in-flight ones (reason "executor stopped"), waits for their
//   callbacks and joins the executor's thread. The destructor calls Stop().
// - Thread safety: Start(), Kill() and Stop() may be called from any thread.
//
// Timestamps (`started`, `ended`) and `duration` are read from the executor's hg::Clock. The
// timeout itself is enforced in real time (poll()/libcurl deadlines) because it bounds a real
// process or socket; tests use short real timeouts (~200 ms) for it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/time/time.h"

namespace hg::executor {

// Per-run resource limits of a shell run (setrlimit in the child; each applies to every process
// of the run separately, except `processes`, which counts every process of the run's user).
// Unset = the worker's default (ShellConfig).
struct ResourceLimits {
  std::optional<int64_t> cpu_seconds;  // RLIMIT_CPU: SIGXCPU at the limit, SIGKILL 1 s later
  std::optional<int64_t> memory_mb;    // RLIMIT_AS: allocations beyond it fail
  std::optional<int64_t> open_files;   // RLIMIT_NOFILE
  std::optional<int64_t> processes;    // RLIMIT_NPROC: per real user id; not enforced for root
  bool empty() const { return !cpu_seconds && !memory_mb && !open_files && !processes; }
  friend bool operator==(const ResourceLimits&, const ResourceLimits&) = default;
};

// `/bin/sh -c <command>` in its own process group. stdin is /dev/null; stdout and stderr share
// one pipe, so the captured output is merged in the order the job wrote it.
struct ShellSpec {
  std::string command;
  // Added to (and overriding) the minimal environment the run gets (shell_executor.h: PATH,
  // HOME, USER, LOGNAME, SHELL, LANG, TZ — not the worker's). HOURGLASS_JOB,
  // HOURGLASS_EXECUTION_ID, HOURGLASS_SCHEDULED_TIME, HOURGLASS_ATTEMPT and TRACEPARENT are set
  // by the executor after these and cannot be overridden.
  std::map<std::string, std::string> env;
  std::string cwd;  // empty = the worker's working directory
  // User name; must be allowed by the worker (ShellConfig) and needs a root worker to switch.
  std::optional<std::string> run_as;
  ResourceLimits limits;
};

// Inclusive range of HTTP status codes; a single code is {code, code}.
struct StatusRange {
  int lo = 200;
  int hi = 299;
  bool Contains(int code) const { return code >= lo && code <= hi; }
  friend bool operator==(const StatusRange&, const StatusRange&) = default;
};

// Parses "200", "2xx", "200-204" or a comma-separated list of those ("200,3xx") into ranges.
// Returns std::nullopt on malformed input (for config/API validation).
std::optional<std::vector<StatusRange>> ParseStatusRanges(std::string_view text);
// The inverse: "2xx", "200", "200-204", joined by ','. Empty ranges format as "2xx".
std::string FormatStatusRanges(const std::vector<StatusRange>& ranges);
// Whether `code` is expected; empty `ranges` means any 2xx.
bool StatusExpected(const std::vector<StatusRange>& ranges, int code);

struct HttpSpec {
  std::string method = "GET";  // any token; HEAD sends no body and reads none
  std::string url;             // http:// or https:// only (other schemes are refused)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<StatusRange> expected_status;  // empty = any 2xx
  int max_redirects = 5;   // 0 = do not follow (a 3xx is then judged by expected_status)
  bool tls_verify = true;  // verify peer certificate and host name
};

struct ExecRequest {
  std::string execution_id;
  std::string job_name;
  absl::Time scheduled_time = absl::UnixEpoch();
  int attempt = 1;                                // 1-based
  std::string traceparent;                        // W3C; empty = none
  absl::Duration timeout = absl::ZeroDuration();  // 0 = none
  // After SIGTERM (timeout or Kill), how long a shell run gets before SIGKILL. Ignored for HTTP.
  absl::Duration kill_grace = absl::Seconds(5);
  // Bytes of output kept: shell keeps the first and last output_cap/2 bytes, HTTP the first
  // output_cap bytes of the body; what is dropped is replaced by a marker naming the counts.
  size_t output_cap = 64 * 1024;
  std::variant<ShellSpec, HttpSpec> spec;
};

enum class ExecStatus { kSuccess, kFailed, kTimeout, kKilled };

// Why a run ended as it did, where the status alone does not say (callers act on this, never on
// the text of `error`).
enum class ExecCause {
  kNone,
  kRefused,        // failed: the worker's policy refused it (shell disabled or not allow-listed,
                   // run_as not permitted, root refused, HTTP destination denied)
  kResourceLimit,  // failed: stopped by a resource limit (`error` names which)
};

// "success" | "failed" | "timeout" | "killed" (the record's status strings).
std::string_view ExecStatusName(ExecStatus status);

struct ExecResult {
  ExecStatus status = ExecStatus::kFailed;
  std::optional<int> exit_code;    // shell: the process exited normally
  std::optional<int> signal;       // shell: the process was ended by this signal
  std::optional<int> http_status;  // http: the final response's status
  // Captured text, valid UTF-8 (invalid bytes become U+FFFD), with a truncation marker
  // "\n… [hourglass: <total> bytes total, <omitted> omitted] …\n" where bytes were dropped.
  std::string output;
  uint64_t output_bytes = 0;  // bytes the job produced (shell) or the body had (http)
  std::string error;          // empty on success; otherwise one human-readable sentence
  ExecCause cause = ExecCause::kNone;
  absl::Time started = absl::InfinitePast();
  absl::Time ended = absl::InfinitePast();
  absl::Duration duration = absl::ZeroDuration();
};

using DoneCallback = std::function<void(ExecResult)>;

// kGraceful: a shell run gets SIGTERM, then SIGKILL after the request's kill_grace.
// kImmediate: SIGKILL at once — for a worker that can no longer prove its session alive, where
// a job that traps SIGTERM must not outlive the lease (DESIGN.md guard 3).
enum class KillMode { kGraceful, kImmediate };

// A started run. See the header comment for Kill() semantics. Thread-safe.
class RunHandle {
 public:
  virtual ~RunHandle() = default;
  virtual void Kill(std::string reason, KillMode mode) = 0;
  void Kill(std::string reason) { Kill(std::move(reason), KillMode::kGraceful); }
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Starts `request`; `on_done` receives its result (see the header comment). Never null.
  virtual std::unique_ptr<RunHandle> Start(const ExecRequest& request, DoneCallback on_done) = 0;
  // Kills in-flight runs, waits for their callbacks, joins. Idempotent.
  virtual void Stop() = 0;
};

// Formats `t` as RFC 3339 UTC with the shortest exact fraction ("2026-01-01T00:00:00Z").
std::string FormatRfc3339Utc(absl::Time t);

}  // namespace hg::executor
