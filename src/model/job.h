// Job: a job definition as users send it (v1 fields verbatim plus extensions), its validation
// and its JSON codec. Pure value type; thread-compatible. Field reference: docs/design/api.md.
//
// Request JSON (v1 fields first; every other field optional with the default shown):
//   name              1-128 characters, no '/' or controls (ids.h)   (required)
//   cron_expr         cron expression, validated by hg::cron        (required)
//   executor_type     "shell" | "http"                              (required)
//   executor          shell: {command (required), env {}, cwd "", secret_env [], run_as "",
//                             limits {cpu_seconds, memory_mb, open_files, processes}}
//                     http:  {url (required, http/https), method "GET", headers {}, body "",
//                             expected_status [] (= any 2xx), secret_headers []}
//                     secret_env / secret_headers name env entries / headers whose values are
//                     secret (model/secrets.h); encoded only when non-empty
//   concurrency_policy "Allow" | "Forbid" | "Replace"               ("Allow")
//   retry_policy      {max_retries 0..10 (0), backoff "1s", kind "fixed"|"exponential" ("fixed"),
//                      max_backoff null (no cap), jitter (true for exponential, else false)}
//   timezone "UTC", timeout null (none), starting_deadline "60s", paused false,
//   retry_on_worker_loss true (a run whose worker died mid-run is retried elsewhere while
//                     max_retries allows: the run body is then at-least-once; false = it ends
//                     `failed` with reason worker_lost: at-most-once),
//   description "", labels {}, selector {}, history_limit 1..10000 (100)
// Durations are Go-style strings ("5s", "1h30m") and are echoed back exactly as sent.
// Read-only members of our responses (id, created_at, updated_at, next_run, last_execution) are
// ignored on input so GET -> edit -> PUT round-trips; any other unknown member, at any level, is
// an error naming it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cron/schedule.h"
#include "model/execution.h"
#include "model/ids.h"
#include "model/json.h"

namespace hg::model {

// Size limits of a job's fields (bytes unless said otherwise), checked by the decoder and
// ValidateJob; GET /openapi.json publishes them (api/openapi.h) so clients read, not copy, them.
// The name's limit is JobName::kMaxLength (characters); retries and history_limit are below.
struct JobLimits {
  static constexpr size_t kMaxDescription = 4096;
  static constexpr size_t kMaxCommand = 64 * 1024;
  static constexpr size_t kMaxUrl = 8192;
  static constexpr size_t kMaxHttpBody = 256 * 1024;
  static constexpr size_t kMaxMapEntries = 64;  // env, headers, labels, selector
  static constexpr size_t kMaxLabelKey = 128;
  static constexpr size_t kMaxLabelValue = 256;
  static constexpr size_t kMaxHeaderValue = 8192;
  static constexpr size_t kMaxEnvValue = 32 * 1024;
  static constexpr size_t kMaxCwd = 4096;
  static constexpr size_t kMaxUserName = 32;  // run_as
  static constexpr size_t kMaxTimezone = 64;
};

enum class ExecutorType { kShell, kHttp };
std::string_view ToString(ExecutorType type);

enum class ConcurrencyPolicy { kAllow, kForbid, kReplace };
std::string_view ToString(ConcurrencyPolicy policy);

enum class BackoffKind { kFixed, kExponential };
std::string_view ToString(BackoffKind kind);

// A duration as the user wrote it: `text` is echoed back, `value` is what code uses.
struct GoDuration {
  std::string text;
  absl::Duration value = absl::ZeroDuration();

  // InvalidArgument (message from hg::ParseGoDuration) when `text` is not a Go duration.
  static absl::StatusOr<GoDuration> Parse(std::string_view text);
  // From a value, formatted like Go's Duration.String() ("1m30s").
  static GoDuration Of(absl::Duration value);
  friend bool operator==(const GoDuration&, const GoDuration&) = default;
};

// Resource limits of a shell run; unset = the worker's default. The worker enforces them
// (executor/shell_executor.h) and refuses values above its own maximums.
struct ShellLimits {
  struct Bounds {
    const char* name;
    std::optional<int64_t> ShellLimits::*member;
    int64_t min;
    int64_t max;
  };
  static const std::array<Bounds, 4> kFields;  // every field, with its JSON name and range

  std::optional<int64_t> cpu_seconds;  // CPU time of each process
  std::optional<int64_t> memory_mb;    // address space of each process, MiB
  std::optional<int64_t> open_files;   // descriptors of each process
  std::optional<int64_t> processes;    // processes of the run's user
  bool empty() const { return !cpu_seconds && !memory_mb && !open_files && !processes; }
  friend bool operator==(const ShellLimits&, const ShellLimits&) = default;
};

struct ExecutorSpec {
  // shell
  std::string command;
  std::map<std::string, std::string> env;
  std::string cwd;                      // absolute path, or "" for the worker's default
  std::vector<std::string> secret_env;  // keys of `env` whose values are secret
  std::string run_as;                   // user name, or "" for the worker's default user
  ShellLimits limits;
  // http
  std::string url;
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  std::string body;
  std::vector<int> expected_status;  // empty = any 2xx counts as success
  // Names of `headers` whose values are secret (beyond the configured list); case-insensitive.
  std::vector<std::string> secret_headers;
  friend bool operator==(const ExecutorSpec&, const ExecutorSpec&) = default;
};

struct RetryPolicy {
  static constexpr int kMaxRetries = 10;
  int max_retries = 0;
  GoDuration backoff = GoDuration::Of(absl::Seconds(1));
  BackoffKind kind = BackoffKind::kFixed;
  std::optional<GoDuration> max_backoff;  // exponential cap; none = uncapped
  bool jitter = false;

  // Delay before retry number `retry` (1-based): backoff for kFixed, backoff * 2^(retry-1)
  // capped by max_backoff for kExponential. Jitter is the caller's business (it needs an rng).
  absl::Duration DelayBefore(int retry) const;
  friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

struct Job {
  static constexpr int kDefaultHistoryLimit = 100;
  static constexpr int kMaxHistoryLimit = 10000;

  JobName name;
  std::string description;
  std::string cron_expr;
  std::string timezone = "UTC";  // IANA name
  ExecutorType executor_type = ExecutorType::kShell;
  ExecutorSpec executor;
  ConcurrencyPolicy concurrency_policy = ConcurrencyPolicy::kAllow;
  RetryPolicy retry_policy;
  std::optional<GoDuration> timeout;  // none = no timeout
  GoDuration starting_deadline = {"60s", absl::Seconds(60)};
  bool paused = false;
  bool retry_on_worker_loss = true;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> selector;  // worker labels that must all be equal
  int history_limit = kDefaultHistoryLimit;

  // Server-managed: set by JobService, carried in the stored record, ignored on input.
  std::string id;
  std::optional<absl::Time> created_at;
  std::optional<absl::Time> updated_at;

  // The job's time zone; UTC when `timezone` cannot be loaded (never after validation).
  absl::TimeZone Zone() const;
  // The parsed schedule (cron_expr in Zone()); an error only for a job that failed validation.
  absl::StatusOr<cron::Schedule> Schedule() const;
  friend bool operator==(const Job&, const Job&) = default;
};

// Loads an IANA time zone by name after checking the name cannot escape the zoneinfo directory
// ("../x", "/etc/…", "localtime" are rejected). InvalidArgument naming the problem otherwise.
absl::StatusOr<absl::TimeZone> ParseTimeZone(std::string_view name);

// Parses and validates a request body (POST/PUT). All problems are reported at once as an
// InvalidArgument with field errors (model/field_errors.h); malformed JSON is an InvalidArgument
// naming the position. Server-managed fields in the body are ignored.
absl::StatusOr<Job> ParseJobRequest(std::string_view body);
absl::StatusOr<Job> DecodeJobRequest(const Json& json);

// Validates a Job built in code (same rules and messages as the request decoder).
absl::Status ValidateJob(const Job& job);

// Stored form (jobs/<name>): every field, including id, created_at and updated_at.
Json EncodeJob(const Job& job);
std::string SerializeJob(const Job& job);
// Decodes a stored record: like DecodeJobRequest but keeps id/created_at/updated_at and ignores
// unknown members (a newer version may have written them).
absl::StatusOr<Job> ParseStoredJob(std::string_view text);

// What a response adds to the stored form.
struct JobStatus {
  std::optional<absl::Time> next_run;       // null when paused or never fires again
  std::optional<Execution> last_execution;  // newest record, encoded as a summary
};
// Response form: EncodeJob(job) + next_run + last_execution (both null when unknown).
Json EncodeJobResponse(const Job& job, const JobStatus& status);

}  // namespace hg::model
