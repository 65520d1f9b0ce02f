// The state transitions of an execution (docs/design/execution.md has the state diagram). Every
// write that changes an execution's state is built here, and only here: the scheduler, the
// dispatcher, the worker and the API call these functions and commit what they return (most
// through GroupCommit), they never assemble execution transactions themselves.
//
// Each builder is pure: it takes what its caller read (records with their revisions) and returns
// one transaction whose compares guard exactly that execution, so many of them can share one
// store transaction as nested transactions. Decisions that depend on what was read (may this
// claim go ahead? is a lost run retried?) are pure functions too, with typed answers.
//
//        fire/trigger            claim                 finish
//   (none) ──────────> scheduled ─────> running ─────────────────> success|failed|timeout|killed
//                        │  ▲             │  │ attempt (retry)
//                        │  └─────────────┘  └──> running (attempt+1)
//                        │   lose (worker gone, retries left)
//                        └──> skipped | killed | failed (no worker) | missed (at fire)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/execution.h"
#include "model/ids.h"
#include "model/job.h"
#include "model/keys.h"
#include "runs/entries.h"
#include "store/kv.h"

namespace hg::runs {

// ---------------------------------------------------------------------------------------------
// Fire (leader) and trigger (API): a new `scheduled` record with its pending entry.

struct FireRecord {
  // kScheduled: to run (gets a pending entry); kMissed: recorded only.
  model::Execution record;
  std::string traceparent;  // the fire span's context, carried by the pending entry
};

// Every record write: appends the record's put and, once it is final, its status index entry
// (model/keys.h), so a status-filtered history never misses a record. `previous`: the status
// the record had when read; a final one that differs (a late result merged into a final
// record) has its entry deleted in the same transaction.
void PutRecordTo(std::vector<store::TxnOp>& ops, const model::Keys& keys,
                 const model::Execution& record,
                 std::optional<model::ExecutionStatus> previous = std::nullopt);

// One job's records of one fire step, moving its cursor to `cursor`. Guarded by the job's
// definition and cursor as the scheduler knows them: if either changed (edit, delete, a cursor
// written by an edit) nothing is written and the failure branch reads both back (FireConflict).
store::TxnRequest FireJob(const model::Keys& keys, const model::JobName& job,
                          store::Revision job_revision, store::Revision cursor_revision,
                          absl::Time cursor, const std::vector<FireRecord>& records);
struct FireConflict {
  std::optional<store::KeyValue> job;
  std::optional<store::KeyValue> cursor;
};
// What a failed FireJob read back (its failure-branch responses).
FireConflict ReadFireConflict(const std::vector<store::TxnOpResponse>& responses);

// A manual run: the record and its pending entry, guarded by the job as the caller read it.
store::TxnRequest Trigger(const model::Keys& keys, const model::Execution& record,
                          store::Revision job_revision, std::string_view traceparent);

// The cursor a job starts from, written with its definition on create and on a schedule change
// (so a new leader neither loses the first instants after a create nor replays the old
// schedule after an edit).
store::PutRequest PutCursor(const model::Keys& keys, const model::JobName& job, absl::Time at);

// ---------------------------------------------------------------------------------------------
// Claim (worker): read one snapshot, decide, then one guarded transaction.

// What the worker reads about one execution before claiming it.
struct ClaimView {
  model::ExecutionId id;
  std::optional<store::KeyValue> record, pending, inflight, kill, job, lock_holder;
};
// The reads (6 ranges; all of one snapshot when sent in one transaction) and their decoding.
std::vector<store::TxnOp> ClaimReads(const model::Keys& keys, const model::ExecutionId& id);
inline constexpr int kClaimReads = 6;
ClaimView ParseClaimReads(const model::ExecutionId& id, const store::TxnOpResponse* responses);

enum class ClaimDecision {
  kClaim,           // scheduled and queued: claim it
  kSkip,            // Forbid and another execution of the job holds its lock: record `skipped`
  kKill,            // a kill was requested before it started: record `killed`
  kJobGone,         // its job was deleted: record `killed` (never started)
  kAlreadyClaimed,  // another claim got it (running here or elsewhere)
  kFinished,        // already final
  kNotQueued,       // `scheduled` without a pending entry: not this call's to start
  kUnreadable,      // record, job or pending entry does not decode (logged; nothing written)
};
std::string_view ToString(ClaimDecision decision);

struct ClaimPlan {
  ClaimDecision decision = ClaimDecision::kUnreadable;
  model::Execution record;  // as read
  PendingEntry pending;
  model::Job job;
  std::string holder;       // kSkip: the execution holding the lock; kAlreadyClaimed: the worker
  std::string kill_reason;  // kKill
  std::string problem;      // kUnreadable: what did not decode
};
ClaimPlan DecideClaim(const ClaimView& view);

// What a claim needs to know beforehand, all of it pinned by its compares (a wrong hint only
// fails the claim, never runs anything else): the pending entry's and the job's mod revisions,
// the attempt the pending entry names, and whether the job is Forbid (the claim takes its
// lock). The leader sends these with the ids (it has them from its watches), so a claim is one
// round trip; without them the worker reads them first (ClaimReads + DecideClaim).
struct ClaimHint {
  store::Revision pending_revision = 0;
  store::Revision job_revision = 0;
  int attempt = 1;
  bool forbid = false;
};
ClaimHint HintOf(const ClaimView& view, const ClaimPlan& plan);

struct Claimed {
  store::TxnRequest txn;
  InflightEntry inflight;
  std::string lock_key;  // Forbid: the lock it takes ("" otherwise)
};
// Claims execution `id` for `worker_id` under `lease`: deletes the pending entry, puts
// inflight/<id> (and the job's lock for Forbid), and reads back, before the delete, the pending
// entry, the record and the job definition (ReadClaimed). Guarded by the pending entry and the
// job as hinted, no kill request, and for Forbid no lock held. The record is not written: it
// stays `scheduled` until MarkRunning (deferred: a quick run goes straight to its final record).
// On a failed compare nothing is written and nothing is read: read and decide (DecideClaim).
Claimed Claim(const model::Keys& keys, const model::ExecutionId& id, const ClaimHint& hint,
              std::string_view worker_id, store::LeaseId lease);
struct ClaimedState {
  std::optional<store::KeyValue> pending, record, job;
};
ClaimedState ReadClaimed(const std::vector<store::TxnOpResponse>& responses);

// The `running` record of a claimed execution: on `worker_id` since `started`, the attempt
// its pending entry named.
model::Execution Running(const model::Execution& scheduled, const PendingEntry& pending,
                         std::string_view worker_id, absl::Time started, std::string_view trace_id);
// Writes `running` (the record of a claimed run, shown while it lasts). Guarded by the record as
// it was (`record_revision`) and the inflight entry as this worker wrote it.
store::TxnRequest MarkRunning(const model::Keys& keys, const model::Execution& running,
                              store::Revision record_revision, store::Revision inflight_revision);

// Ends a queued execution before it starts: records `status` with `error`, deletes its pending
// entry (and a kill request, if `kill_key` is set). Guarded by record and pending entry as read.
// Used for Forbid skips, kills before start, deleted jobs and "no worker available".
struct Ended {
  store::TxnRequest txn;
  model::Execution record;
};
Ended EndBeforeStart(const model::Keys& keys, const store::KeyValue& record_kv,
                     const model::Execution& record, const store::KeyValue& pending_kv,
                     model::ExecutionStatus status, model::EndReason reason, std::string error,
                     absl::Time now, std::string_view worker_id = "",
                     bool delete_kill_request = false);

// Gives back a claim that never started: its answer was lost (the store became unreachable just
// after the commit), so the worker could not know it held it. The inflight entry (and the Forbid
// lock) go, the pending entry comes back with the claimed attempt, and the leader dispatches it
// again. Guarded by the inflight entry and the record as read.
store::TxnRequest ReleaseClaim(const model::Keys& keys, const store::KeyValue& inflight_kv,
                               const InflightEntry& inflight, const store::KeyValue& record_kv,
                               const model::ExecutionId& id, const std::string& lock_key);

// Ends a non-final record that nothing will run or finish (neither queued nor claimed: written
// by hand, or left by a version before this protocol). Guarded by the record as read.
Ended EndOrphan(const model::Keys& keys, const store::KeyValue& record_kv,
                const model::Execution& record, model::ExecutionStatus status, std::string error,
                absl::Time now);

// ---------------------------------------------------------------------------------------------
// Attempts and finish (worker).

// What one attempt did (executor-neutral).
struct AttemptResult {
  model::ExecutionStatus status = model::ExecutionStatus::kFailed;  // success|failed|timeout|killed
  absl::Time started = absl::InfinitePast();
  absl::Time ended = absl::InfinitePast();
  std::optional<int> exit_code;
  std::optional<int> http_status;
  std::string output;
  std::string error;
  model::EndReason reason = model::EndReason::kNone;  // refused / resource_limit, from the executor
};

// The next attempt of a running execution: the previous one moves into `attempts`, the record
// and inflight/<id> name the new attempt number. Must be written before the attempt starts, so
// that a lost worker's retry never reuses an attempt number. Guarded by record and inflight
// entry as last written by this worker.
struct NextAttempt {
  store::TxnRequest txn;
  model::Execution record;
  InflightEntry inflight;
};
NextAttempt StartNextAttempt(const model::Keys& keys, const model::Execution& running,
                             store::Revision record_revision, const InflightEntry& inflight,
                             store::Revision inflight_revision, const AttemptResult& previous);

// The final record of a run from its last attempt.
model::Execution FinalRecord(const model::Execution& running, const AttemptResult& last,
                             absl::Time now);

// Writes the final record, deletes inflight/<id>, a kill request (consumed by the run it ended)
// and the Forbid lock. Guarded by record and
// inflight entry as last written by this worker; the failure branch reads both back
// (for LateResult).
store::TxnRequest Finish(const model::Keys& keys, const model::Execution& final_record,
                         store::Revision record_revision, store::Revision inflight_revision,
                         const std::string& lock_key);
struct FinishConflict {
  std::optional<store::KeyValue> record;
  std::optional<store::KeyValue> inflight;
};
FinishConflict ReadFinishConflict(const std::vector<store::TxnOpResponse>& responses);

// A result that arrives after the leader moved on (it found the worker lost and retried the
// execution or ended it): the attempt is still recorded, so the record shows every attempt that
// really ran. Returns the record to write, or nullopt when `current` already shows that attempt.
// When the leader had ended the execution as worker_lost on exactly this attempt, the real
// result replaces that guess.
std::optional<model::Execution> MergeLateResult(const model::Execution& current,
                                                const model::Execution& late);
// Writes `merged` guarded by the record as read (`current_status`: its status then); also
// deletes the inflight entry when it is still this run's (`own_inflight` as read).
store::TxnRequest RecordLateResult(const model::Keys& keys, const model::Execution& merged,
                                   model::ExecutionStatus current_status,
                                   store::Revision record_revision,
                                   const std::optional<store::KeyValue>& own_inflight);
// Deletes a Forbid lock if `holder` still holds it (a run whose record was settled elsewhere).
store::TxnRequest ReleaseLock(const std::string& lock_key, const model::ExecutionId& holder);

// ---------------------------------------------------------------------------------------------
// Loss (leader): a claimed execution whose worker's lease has expired.

enum class LossDecision {
  kRetry,   // back to `scheduled` with the next attempt and a new pending entry
  kFail,    // `failed` ("worker lost"): no retries left, or the job does not retry on loss
  kKilled,  // a kill was requested: `killed`
  kGone,    // the record is final or missing: only the inflight entry is removed
};
std::string_view ToString(LossDecision decision);

struct Loss {
  LossDecision decision = LossDecision::kGone;
  store::TxnRequest txn;
  model::Execution record;  // as written (kGone: as read)
};
// `job` is null when the job was deleted; `kill_reason` is set when a kill request exists.
// Guarded by the inflight entry and record as read.
Loss Lose(const model::Keys& keys, const model::ExecutionId& id, const store::KeyValue& inflight_kv,
          const InflightEntry& inflight, const std::optional<store::KeyValue>& record_kv,
          const model::Job* job, store::Revision job_revision,
          const std::optional<std::string>& kill_reason, absl::Time now);

// ---------------------------------------------------------------------------------------------
// Kill requests (API, Replace).

// Asks the worker running `id` to kill it: kill/<id> under `lease` (so forgotten requests
// expire). Guarded by the inflight entry as read (the run is still claimed).
store::TxnRequest RequestKill(const model::Keys& keys, const model::ExecutionId& id,
                              const store::KeyValue& inflight_kv, std::string_view reason,
                              store::LeaseId lease);

}  // namespace hg::runs
