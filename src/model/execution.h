// Execution: one run of a job at one scheduled instant, as stored at exec/<job>/<suffix> and
// returned by the API. Record JSON (field order as encoded):
//   v1:  id, job_name, start_time, end_time (RFC 3339 or null), status, output, error,
//        retries_attempted, worker_id
//   new: scheduled_time, attempt, exit_code, http_status, trace_id, trigger, term, duration_ms,
//        attempts (earlier attempts, only when there were some), reason (EndReason, when set)
// Pure value type; thread-compatible. See docs/design/storage.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/ids.h"
#include "model/json.h"

namespace hg::model {

enum class ExecutionStatus {
  kScheduled,  // created by the leader (fire or manual trigger), not yet claimed by a worker
  kRunning,    // claimed by a worker (scheduled -> running transaction)
  kSuccess,
  kFailed,
  kTimeout,
  kKilled,
  kMissed,   // instant passed while no leader could fire it within starting_deadline
  kSkipped,  // not run because of the overlap policy (Forbid)
};
std::string_view ToString(ExecutionStatus status);
std::optional<ExecutionStatus> ParseExecutionStatus(std::string_view text);
// True for every status after which the record no longer changes.
bool IsFinal(ExecutionStatus status);
// Every status IsFinal holds for (the status index's prefixes, model/keys.h).
inline constexpr ExecutionStatus kFinalStatuses[] = {
    ExecutionStatus::kSuccess, ExecutionStatus::kFailed, ExecutionStatus::kTimeout,
    ExecutionStatus::kKilled,  ExecutionStatus::kMissed, ExecutionStatus::kSkipped};

// Why an execution ended as it did, where the status alone does not say. Code acts on this
// (the schedule ledger, the late-result merge), never on the text of `error`.
enum class EndReason {
  kNone,
  kNoWorker,       // failed: no worker could take it
  kWorkerLost,     // failed: its worker's session expired mid-run, no retry
  kMissedCounted,  // missed, standing also for earlier missed instants counted, not listed
  kJobDeleted,     // killed before it started: its job was deleted
  kSessionLost,    // killed: the worker could no longer prove its session alive
  kRefused,        // failed: the worker's executor policy refused it (allow-list, run_as, root,
                   // HTTP destination); retrying on the same worker would be refused again
  kResourceLimit,  // failed: stopped by a resource limit (the error names it)
};
std::string_view ToString(EndReason reason);
std::optional<EndReason> ParseEndReason(std::string_view text);

enum class Trigger { kSchedule, kManual, kCatchup };
std::string_view ToString(Trigger trigger);
std::optional<Trigger> ParseTrigger(std::string_view text);

// An earlier attempt of an execution (the record's top-level fields describe the latest one):
// a retry after a failure, or an attempt whose worker was lost. Output is not kept.
struct AttemptSummary {
  int attempt = 1;
  std::string worker_id;
  ExecutionStatus status = ExecutionStatus::kFailed;
  std::optional<absl::Time> start_time;
  std::optional<absl::Time> end_time;
  std::optional<int> exit_code;
  std::optional<int> http_status;
  std::string error;
  EndReason reason = EndReason::kNone;
  friend bool operator==(const AttemptSummary&, const AttemptSummary&) = default;
};

struct Execution {
  ExecutionId id;  // carries job name and scheduled time (ms)
  ExecutionStatus status = ExecutionStatus::kScheduled;
  Trigger trigger = Trigger::kSchedule;
  absl::Time scheduled_time = absl::UnixEpoch();
  std::optional<absl::Time> start_time;
  std::optional<absl::Time> end_time;
  int attempt = 1;            // 1-based; a retry inside the same execution increments it
  int retries_attempted = 0;  // v1 field: attempts beyond the first
  std::string worker_id;
  std::string output;  // tail of stdout/stderr or of the HTTP response body
  std::string error;
  std::optional<int> exit_code;
  std::optional<int> http_status;
  std::string trace_id;
  int64_t term = 0;  // leader term (election key create_revision) that created the record
  std::optional<int64_t> duration_ms;
  std::vector<AttemptSummary> attempts;  // earlier attempts, oldest first
  EndReason reason = EndReason::kNone;   // encoded as "reason" when not kNone

  const JobName& job_name() const { return id.job(); }
  friend bool operator==(const Execution&, const Execution&) = default;
};

// A new `scheduled` record of `job` at `scheduled` (id drawn from `rng`).
Execution NewExecution(const JobName& job, absl::Time scheduled, Trigger trigger, int64_t term,
                       absl::BitGenRef rng);

Json EncodeExecution(const Execution& execution);
std::string SerializeExecution(const Execution& execution);  // DumpJson(EncodeExecution(…))

// The short form embedded in job responses as `last_execution`:
// {id, status, trigger, scheduled_time, start_time, end_time}.
Json EncodeExecutionSummary(const Execution& execution);

// Decodes a stored record. Unknown fields are ignored (a newer writer may add some); wrong types,
// a malformed id or a job_name that disagrees with the id are InvalidArgument with field errors.
absl::StatusOr<Execution> DecodeExecution(const Json& json);
absl::StatusOr<Execution> ParseExecution(std::string_view text);

// The dispatch envelope stored at pending/<id> (docs/design/execution.md): the job as stored
// (`job_json`, embedded as an object), the instant, the attempt and the trace context.
std::string MakeDispatchEnvelope(std::string_view job_json, absl::Time scheduled, int attempt,
                                 std::string_view traceparent);

}  // namespace hg::model
