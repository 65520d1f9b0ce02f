// JobService: everything the HTTP API does, as plain calls over the store (no HTTP types), so it
// is testable without a server and reusable by other front ends. Writes go to the store only;
// the leader learns of them by watching (DESIGN.md "One run, end to end").
//
// Errors (absl::Status; api/errors.h maps them to HTTP):
//   InvalidArgument  bad input (with field errors for job bodies)
//   NotFound         no such job / execution
//   FailedPrecondition  e.g. killing an execution that already finished
//   Aborted          a guarded write kept losing to concurrent writers (retry)
//   Unavailable / DeadlineExceeded  from the store
//
// Thread safety: every method may be called concurrently (the Kv is thread-safe; the only own
// state, the random generator, is guarded). `kv` and `clock` must outlive the service.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/ledger.h"
#include "common/clock.h"
#include "model/execution.h"
#include "model/ids.h"
#include "model/job.h"
#include "model/keys.h"
#include "runs/group_commit.h"
#include "store/kv.h"

namespace hg::api {

// A job as the API returns it: the definition plus what is computed on read.
struct JobView {
  model::Job job;
  model::JobStatus status;  // next_run, last_execution
};

// GET /jobs/ filters; every one given must hold.
struct JobFilter {
  std::string name_prefix;                    // names starting with it
  std::map<std::string, std::string> labels;  // every label equal
  enum class State { kAny, kPaused, kActive, kFailing };
  State state = State::kAny;  // failing: the newest record failed, timed out or was missed
  bool empty() const { return name_prefix.empty() && labels.empty() && state == State::kAny; }
};

struct JobPage {
  std::vector<JobView> jobs;  // ordered by name
  std::string next_cursor;    // "" on the last page
};

struct HistoryQuery {
  int page = 1;                                  // 1-based; ignored when `cursor` is set
  int page_size = 20;                            // 1..max_page_size
  std::string cursor;                            // from a previous HistoryPage::next_cursor
  std::optional<model::ExecutionStatus> status;  // only executions with this status
};

struct HistoryPage {
  std::vector<model::Execution> executions;  // newest scheduled_time first
  std::string next_cursor;                   // "" when there is nothing older
};

struct LedgerQuery {
  std::optional<absl::Time> from;  // default: `to` - Options::default_ledger_window
  std::optional<absl::Time> to;    // default: now
};

struct ClusterMember {
  std::string id;    // last key segment
  model::Json info;  // the registry value (JSON object; raw text under "value" otherwise)
  int64_t create_revision = 0;
  int in_flight = 0;  // workers: runs claimed by it and not final (its inflight/ entries)
};

struct ClusterInfo {
  std::optional<ClusterMember> leader;  // lowest create_revision under election/
  std::vector<ClusterMember> masters;
  std::vector<ClusterMember> workers;
};

struct CronPreview {
  std::string expr;
  std::string timezone;
  std::string description;       // Schedule::Explain()
  std::vector<absl::Time> next;  // the next fire times after now (fewer if it stops firing)
};

struct UpsertResult {
  JobView view;
  bool created = false;  // false: an existing job was replaced
};

class JobService {
 public:
  struct Options {
    std::string prefix = std::string(model::Keys::kDefaultPrefix);
    int max_page_size = 1000;
    // Lease TTL of kill/<execution-id> requests: long enough for a worker to see it, short
    // enough that stale requests disappear by themselves.
    int64_t kill_request_ttl_seconds = 600;
    int max_preview = 100;
    // Ledger: at most this many instants per request (more is InvalidArgument), the default
    // window, and how long a due instant may wait for the scheduler before it is `unaccounted`.
    int max_ledger_instants = 1000;
    absl::Duration default_ledger_window = absl::Hours(1);
    absl::Duration ledger_grace = absl::Seconds(30);
  };

  JobService(store::Kv& kv, Clock& clock) : JobService(kv, clock, Options{}) {}
  JobService(store::Kv& kv, Clock& clock, Options options);

  // Creates or replaces `job` (already validated) at jobs/<name>. Keeps id and created_at of an
  // existing job, sets updated_at = now. With `keep_paused`, `job.paused` is taken from the
  // existing job (a client that does not send `paused` must not resume a paused job).
  absl::StatusOr<UpsertResult> Upsert(model::Job job, bool keep_paused = false);

  absl::StatusOr<JobView> Get(const model::JobName& name);

  // Jobs ordered by name, at most `limit` (0 = all) after `cursor` (a name; "" = from the start).
  // Jobs by name after `cursor`, at most `limit` (0: all) that pass `filter`. With a filter
  // the store is read in chunks until the page is full, so a page may come from far more keys.
  absl::StatusOr<JobPage> List(int limit, std::string_view cursor, const JobFilter& filter = {});

  struct DeleteOptions {
    bool purge = false;  // also delete the execution history
    bool kill = false;   // kill its unfinished executions
  };
  // Deletes definition and cursor in one transaction (with purge also its history and queued
  // and claimed entries). Executions it left queued are recorded `killed` (reason job_deleted);
  // with kill, every claimed one gets a kill request. Idempotent: deleting an absent job is OK
  // (its history is still purged when asked).
  absl::Status Delete(const model::JobName& name, DeleteOptions options);

  // One page of history, newest first, without reading more than the page (plus keys of skipped
  // pages; with a status filter, the records up to the page).
  absl::StatusOr<HistoryPage> History(const model::JobName& name, const HistoryQuery& query);

  // Records a `scheduled` execution with trigger "manual" and scheduled_time = now, guarded on
  // the job existing (NotFound otherwise). The leader watches exec/ and dispatches it.
  // `traceparent` (W3C, may be empty) continues the caller's trace: it rides in the pending/
  // envelope to the dispatcher and the worker, and its trace id is the record's trace_id.
  absl::StatusOr<model::Execution> Trigger(const model::JobName& name,
                                           std::string_view traceparent = "");

  absl::StatusOr<JobView> Pause(const model::JobName& name) { return SetPaused(name, true); }
  absl::StatusOr<JobView> Resume(const model::JobName& name) { return SetPaused(name, false); }

  absl::StatusOr<model::Execution> GetExecution(const model::ExecutionId& id);

  // The schedule ledger of `name` over [from, to] (api/ledger.h). Reads the job, its cursor, the
  // oldest retained record and the records scheduled in the window (a key range: record keys
  // sort by scheduled time). InvalidArgument (field errors on from/to) when from > to or the
  // window holds more than max_ledger_instants instants; NotFound without the job.
  absl::StatusOr<Ledger> GetLedger(const model::JobName& name, const LedgerQuery& query);

  // A `scheduled` execution is marked `killed` at once; a `running` one gets a kill request at
  // kill/<id> (under a lease) that its worker watches. FailedPrecondition if already finished.
  // Returns the execution as it is after the request.
  absl::StatusOr<model::Execution> KillExecution(const model::ExecutionId& id);

  absl::StatusOr<ClusterInfo> Cluster();

  // The next `n` (1..max_preview) fire times of `expr` in `timezone` ("" = UTC) after now.
  // InvalidArgument with field errors on "expr" / "tz" / "n".
  absl::StatusOr<CronPreview> PreviewCron(std::string_view expr, std::string_view timezone, int n);

  // A cheap read that fails when the store is unreachable (readiness probe).
  absl::Status Ping();

  const model::Keys& keys() const { return keys_; }
  const Options& options() const { return options_; }

 private:
  absl::StatusOr<JobView> SetPaused(const model::JobName& name, bool paused);
  // Loads jobs/<name> (NotFound when absent) with its KeyValue metadata.
  absl::StatusOr<std::pair<model::Job, store::KeyValue>> Load(const model::JobName& name);
  // next_run and last_execution of each job (one read transaction per chunk of jobs).
  absl::StatusOr<std::vector<model::JobStatus>> StatusOf(const std::vector<model::Job>& jobs);
  // Every unfinished execution of `name`: queued (pending/) and claimed (inflight/).
  struct Unfinished {
    std::vector<store::KeyValue> pending;
    std::vector<store::KeyValue> inflight;
  };
  absl::StatusOr<Unfinished> UnfinishedOf(const model::JobName& name);
  // The change that ends the queued execution of `pending_kv` before it starts (nullopt when it
  // is no longer queued).
  absl::StatusOr<std::optional<store::TxnRequest>> EndQueued(const store::KeyValue& pending_kv,
                                                             model::ExecutionStatus status,
                                                             model::EndReason reason,
                                                             std::string error);
  // History pages filtered by status: a final status through the status index, `scheduled` /
  // `running` through the job's pending/ and inflight/ entries. `skip` records are passed over
  // first (page offsets); `upper` / `cursor` bound them from above.
  absl::StatusOr<HistoryPage> IndexedHistory(const model::JobName& name,
                                             model::ExecutionStatus status,
                                             const std::string& cursor, int64_t skip, int64_t size);
  absl::StatusOr<HistoryPage> UnfinishedHistory(const model::JobName& name,
                                                model::ExecutionStatus status,
                                                const std::string& upper, int64_t skip,
                                                int64_t size);
  // Whether the store's status index is complete (Keys::StatusIndexReady; cached once true).
  absl::StatusOr<bool> StatusIndexReady();
  model::ExecutionId NewExecutionId(const model::JobName& name, absl::Time scheduled);
  std::string NewJobId();

  store::Kv& kv_;
  Clock& clock_;
  Options options_;
  model::Keys keys_;
  runs::GroupCommit commits_;  // execution writes of concurrent requests share transactions
  std::atomic<bool> status_index_ready_{false};
  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);
};

}  // namespace hg::api
