#include "api/job_service.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/history_reads.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "cron/schedule.h"
#include "model/field_errors.h"
#include "model/json.h"
#include "model/run_log.h"
#include "runs/entries.h"
#include "runs/transitions.h"
#include "telemetry/trace_context.h"
#include "telemetry/tracer.h"

namespace hg::api {
namespace {

using model::Execution;
using model::ExecutionStatus;
using model::Job;
using model::JobName;

// Guarded read-modify-write loops give up after this many lost races (-> Aborted, 409).
constexpr int kMaxAttempts = 8;
// Read ops per transaction (etcd's default --max-txn-ops is 128).
constexpr size_t kOpsPerTxn = 100;
// Records read per Range while scanning history for a status filter or unfinished runs.
constexpr int64_t kScanChunk = 200;

const log::Logger& Log() {
  static const log::Logger* logger = new log::Logger("api");
  return *logger;
}

// The record stored at `kv`; nullopt (logged) when it does not parse — one bad record must not
// hide the others from history, ledger or job listings.
std::optional<Execution> ReadExecution(const store::KeyValue& kv) {
  auto e = model::ParseExecution(kv.value);
  if (!e.ok()) {
    Log().Warn("unreadable execution record", {{"key", kv.key}, {"error", e.status().ToString()}});
    return std::nullopt;
  }
  return *std::move(e);
}

// The records at `keys` (nullopt: absent or unreadable), one read transaction per chunk.
absl::StatusOr<std::vector<std::optional<Execution>>> ReadRecords(
    store::Kv& kv, const std::vector<std::string>& keys) {
  std::vector<std::optional<Execution>> out(keys.size());
  for (size_t begin = 0; begin < keys.size(); begin += kOpsPerTxn) {
    const size_t end = std::min(keys.size(), begin + kOpsPerTxn);
    store::TxnRequest read;
    for (size_t i = begin; i < end; ++i) {
      read.success.emplace_back(std::in_place_type<store::RangeRequest>,
                                store::RangeRequest::Key(keys[i]));
    }
    HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv.Txn(read));
    for (size_t i = begin; i < end && i - begin < resp.responses.size(); ++i) {
      const auto* r = std::get_if<store::RangeResponse>(&resp.responses[i - begin]);
      if (r != nullptr && !r->kvs.empty()) out[i] = ReadExecution(r->kvs.front());
    }
  }
  return out;
}

absl::Time TruncateToMillis(absl::Time t) { return absl::FromUnixMillis(absl::ToUnixMillis(t)); }

absl::Status JobNotFound(const JobName& name) {
  return absl::NotFoundError(absl::StrCat("job \"", name.str(), "\" not found"));
}

absl::Status Conflict(std::string_view what) {
  return absl::AbortedError(absl::StrCat(Av(what), ": too many concurrent updates, try again"));
}

// The last segment of `key` after `prefix`.
std::string SuffixOf(const std::string& key, const std::string& prefix) {
  return key.size() > prefix.size() ? key.substr(prefix.size()) : std::string();
}

// The registry value of a cluster member as JSON: the stored object, or its raw text.
model::Json MemberInfo(const std::string& value) {
  auto json = model::ParseJson(value);
  if (json.ok() && json->is_object()) return *std::move(json);
  return model::Json{{"value", value}};
}

ClusterMember Member(const store::KeyValue& kv, const std::string& prefix) {
  ClusterMember m;
  m.info = MemberInfo(kv.value);
  m.create_revision = kv.create_revision;
  auto id = m.info.find("id");
  m.id = id != m.info.end() && id->is_string() ? id->get<std::string>() : SuffixOf(kv.key, prefix);
  return m;
}

}  // namespace

JobService::JobService(store::Kv& kv, Clock& clock, Options options)
    : kv_(kv),
      clock_(clock),
      options_(std::move(options)),
      keys_(options_.prefix),
      commits_(kv, runs::GroupCommit::Options{}) {}

model::ExecutionId JobService::NewExecutionId(const JobName& name, absl::Time scheduled) {
  absl::MutexLock lock(&rng_mu_);
  return model::ExecutionId::New(name, scheduled, rng_);
}

std::string JobService::NewJobId() {
  uint64_t hi, lo;
  {
    absl::MutexLock lock(&rng_mu_);
    hi = absl::Uniform<uint64_t>(rng_);
    lo = absl::Uniform<uint64_t>(rng_);
  }
  // RFC 4122 version 4 layout.
  hi = (hi & ~0xF000ULL) | 0x4000ULL;
  lo = (lo & ~(0xC0ULL << 56)) | (0x80ULL << 56);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF,
                         lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

absl::StatusOr<std::pair<Job, store::KeyValue>> JobService::Load(const JobName& name) {
  HG_ASSIGN_OR_RETURN(auto kv, store::Get(kv_, keys_.Job(name)));
  if (!kv) return JobNotFound(name);
  auto job = model::ParseStoredJob(kv->value);
  if (!job.ok()) {
    return absl::InternalError(
        absl::StrCat("stored job \"", name.str(), "\" is unreadable: ", job.status().message()));
  }
  return std::make_pair(*std::move(job), *std::move(kv));
}

absl::StatusOr<std::vector<model::JobStatus>> JobService::StatusOf(const std::vector<Job>& jobs) {
  std::vector<model::JobStatus> out(jobs.size());
  const absl::Time now = clock_.Now();
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].paused) continue;
    auto schedule = jobs[i].Schedule();
    if (schedule.ok()) out[i].next_run = schedule->Next(now);
  }
  std::vector<JobName> names;
  names.reserve(jobs.size());
  for (const Job& job : jobs) names.push_back(job.name);
  HG_ASSIGN_OR_RETURN(auto newest, ReadNewestRecordOfEach(kv_, keys_, names, now, kOpsPerTxn));
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!newest[i]) continue;
    if (auto e = ReadExecution(*newest[i])) out[i].last_execution = *std::move(e);
  }
  return out;
}

absl::StatusOr<UpsertResult> JobService::Upsert(Job job, bool keep_paused) {
  const std::string key = keys_.Job(job.name);
  const std::string cursor_key = keys_.Cursor(job.name);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    store::TxnRequest read;
    read.success = {store::RangeRequest::Key(key), store::RangeRequest::Key(cursor_key)};
    HG_ASSIGN_OR_RETURN(store::TxnResponse current, kv_.Txn(read));
    auto first = [&](size_t i) -> std::optional<store::KeyValue> {
      const auto* r = i < current.responses.size()
                          ? std::get_if<store::RangeResponse>(&current.responses[i])
                          : nullptr;
      if (r == nullptr || r->kvs.empty()) return std::nullopt;
      return r->kvs.front();
    };
    const std::optional<store::KeyValue> existing = first(0);
    const std::optional<store::KeyValue> cursor = first(1);
    const absl::Time now = TruncateToMillis(clock_.Now());
    store::TxnRequest txn;
    bool created = !existing.has_value();
    // The cursor goes with the definition (docs/design/execution.md "Cursor"): a new job starts
    // from its creation, so a leader elected right after still accounts for the first instants;
    // a schedule change starts after max(cursor, now), so no leader replays the old schedule.
    bool move_cursor = created;
    if (existing) {
      txn.compare.push_back(
          store::Compare::ModRevision(key, store::Compare::Result::kEqual, existing->mod_revision));
      auto old = model::ParseStoredJob(existing->value);
      if (old.ok()) {
        job.id = old->id;
        job.created_at = old->created_at;
        if (keep_paused) job.paused = old->paused;
        move_cursor = old->cron_expr != job.cron_expr || old->timezone != job.timezone;
      } else {
        move_cursor = true;
        Log().Warn("replacing an unreadable job record",
                   {{"job", job.name.str()}, {"error", old.status().ToString()}});
      }
    } else {
      txn.compare.push_back(store::Compare::Version(key, store::Compare::Result::kEqual, 0));
    }
    if (job.id.empty()) job.id = NewJobId();
    if (!job.created_at) job.created_at = now;
    job.updated_at = now;
    txn.success.push_back(store::PutRequest{.key = key, .value = model::SerializeJob(job)});
    if (move_cursor) {
      absl::Time at = now;
      if (cursor) {
        txn.compare.push_back(store::Compare::ModRevision(
            cursor_key, store::Compare::Result::kEqual, cursor->mod_revision));
        if (auto t = runs::DecodeCursor(cursor->value); t.ok() && !created) at = std::max(at, *t);
      } else {
        txn.compare.push_back(
            store::Compare::Version(cursor_key, store::Compare::Result::kEqual, 0));
      }
      txn.success.push_back(runs::PutCursor(keys_, job.name, at));
    }
    HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv_.Txn(txn));
    if (!resp.succeeded) continue;
    Log().Info(created ? "job created" : "job replaced", {{"job", job.name.str()}});
    HG_ASSIGN_OR_RETURN(auto status, StatusOf({job}));
    return UpsertResult{JobView{std::move(job), std::move(status.front())}, created};
  }
  return Conflict(absl::StrCat("job \"", job.name.str(), "\""));
}

absl::StatusOr<JobView> JobService::Get(const JobName& name) {
  HG_ASSIGN_OR_RETURN(auto loaded, Load(name));
  HG_ASSIGN_OR_RETURN(auto status, StatusOf({loaded.first}));
  return JobView{std::move(loaded.first), std::move(status.front())};
}

absl::StatusOr<JobPage> JobService::List(int limit, std::string_view cursor,
                                         const JobFilter& filter) {
  if (limit < 0) return absl::InvalidArgumentError("limit must not be negative");
  if (!cursor.empty() && !JobName::IsValid(cursor)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid cursor \"", Av(cursor), "\""));
  }
  const std::string prefix = keys_.JobsPrefix();
  // Names with the prefix are one key range (the key codec encodes byte by byte).
  const std::string range_start = prefix + model::Keys::NamePrefixSegment(filter.name_prefix);
  store::RangeRequest req{.key = range_start, .range_end = store::PrefixEnd(range_start)};
  // Keys after the cursor's: the cursor name's key followed by the smallest byte.
  if (!cursor.empty()) {
    req.key = std::max(range_start, keys_.Job(*JobName::Parse(cursor)) + std::string(1, '\0'));
  }
  // Without a filter one read of `limit` keys; with one, chunks until the page is full.
  req.limit = filter.empty() ? limit : std::max(limit, 100);
  JobPage page;
  std::vector<Job> jobs;
  std::vector<model::JobStatus> statuses;
  for (;;) {
    HG_ASSIGN_OR_RETURN(store::RangeResponse resp, kv_.Range(req));
    std::vector<Job> chunk;
    std::vector<std::string> chunk_keys;
    for (const auto& kv : resp.kvs) {
      auto job = model::ParseStoredJob(kv.value);
      if (!job.ok()) {
        Log().Warn("skipping an unreadable job record",
                   {{"key", kv.key}, {"error", job.status().ToString()}});
        continue;
      }
      if (filter.state == JobFilter::State::kPaused && !job->paused) continue;
      if (filter.state == JobFilter::State::kActive && job->paused) continue;
      if (!std::all_of(filter.labels.begin(), filter.labels.end(), [&](const auto& l) {
            auto it = job->labels.find(l.first);
            return it != job->labels.end() && it->second == l.second;
          })) {
        continue;
      }
      chunk.push_back(*std::move(job));
      chunk_keys.push_back(kv.key);
    }
    HG_ASSIGN_OR_RETURN(auto chunk_statuses, StatusOf(chunk));
    // Set when the page fills up before the range ends: the next page starts after it.
    std::optional<std::string> cursor_key;
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (filter.state == JobFilter::State::kFailing) {
        const auto& last = chunk_statuses[i].last_execution;
        if (!last || (last->status != model::ExecutionStatus::kFailed &&
                      last->status != model::ExecutionStatus::kTimeout &&
                      last->status != model::ExecutionStatus::kMissed)) {
          continue;
        }
      }
      jobs.push_back(std::move(chunk[i]));
      statuses.push_back(std::move(chunk_statuses[i]));
      if (limit > 0 && static_cast<int>(jobs.size()) == limit) {
        // The page ends at this job, even if its chunk went further.
        if (i + 1 < chunk.size() || resp.more) cursor_key = chunk_keys[i];
        break;
      }
    }
    if (cursor_key) {
      // The cursor is the last job's name (its key holds the name's key segment).
      auto name = keys_.JobFromKey(*cursor_key);
      page.next_cursor = name ? name->str() : SuffixOf(*cursor_key, prefix);
      break;
    }
    if (!resp.more || resp.kvs.empty()) break;
    req.key = resp.kvs.back().key + std::string(1, '\0');
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    page.jobs.push_back(JobView{std::move(jobs[i]), std::move(statuses[i])});
  }
  return page;
}

absl::StatusOr<JobService::Unfinished> JobService::UnfinishedOf(const JobName& name) {
  // pending/ and inflight/ hold exactly the unfinished executions ("<name>@" matches no other
  // job's ids), however many and however old.
  store::TxnRequest read;
  read.success = {store::RangeRequest::Prefix(keys_.PendingJobPrefix(name)),
                  store::RangeRequest::Prefix(keys_.InflightJobPrefix(name))};
  HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv_.Txn(read));
  Unfinished out;
  if (resp.responses.size() != 2) return absl::InternalError("short read response");
  out.pending = std::get<store::RangeResponse>(resp.responses[0]).kvs;
  out.inflight = std::get<store::RangeResponse>(resp.responses[1]).kvs;
  return out;
}

absl::StatusOr<std::optional<store::TxnRequest>> JobService::EndQueued(
    const store::KeyValue& pending_kv, ExecutionStatus status, model::EndReason reason,
    std::string error) {
  auto id = keys_.IdFromKey(pending_kv.key, keys_.PendingPrefix());
  if (!id) return std::nullopt;
  HG_ASSIGN_OR_RETURN(auto record_kv, store::Get(kv_, keys_.Exec(*id)));
  if (!record_kv) return std::nullopt;
  auto record = model::ParseExecution(record_kv->value);
  if (!record.ok() || model::IsFinal(record->status)) return std::nullopt;
  return runs::EndBeforeStart(keys_, *record_kv, *record, pending_kv, status, reason,
                              std::move(error), TruncateToMillis(clock_.Now()))
      .txn;
}

absl::Status JobService::Delete(const JobName& name, DeleteOptions options) {
  HG_ASSIGN_OR_RETURN(Unfinished unfinished, UnfinishedOf(name));
  // The definition and cursor (and with purge every trace of the job) in one transaction.
  store::TxnRequest txn;
  txn.success.push_back(store::DeleteRequest::Key(keys_.Job(name)));
  txn.success.push_back(store::DeleteRequest::Key(keys_.Cursor(name)));
  if (options.purge) {
    txn.success.push_back(store::DeleteRequest::Prefix(keys_.ExecPrefix(name)));
    txn.success.push_back(store::DeleteRequest::Prefix(keys_.StatusIndexOf(name)));
    txn.success.push_back(store::DeleteRequest::Prefix(keys_.PendingJobPrefix(name)));
    txn.success.push_back(store::DeleteRequest::Prefix(keys_.InflightJobPrefix(name)));
  }
  HG_RETURN_IF_ERROR(kv_.Txn(txn).status());
  // Work the job left queued never starts: recorded `killed` (reason job_deleted), so no
  // record stays `scheduled` for ever. A worker that claims one first finds the job gone and
  // records the same.
  std::vector<store::TxnRequest> changes;
  if (!options.purge) {
    for (const store::KeyValue& pending : unfinished.pending) {
      HG_ASSIGN_OR_RETURN(
          auto change, EndQueued(pending, ExecutionStatus::kKilled, model::EndReason::kJobDeleted,
                                 "killed: its job was deleted before it started"));
      if (change) changes.push_back(*std::move(change));
    }
  }
  if (options.kill && !unfinished.inflight.empty()) {
    HG_ASSIGN_OR_RETURN(auto grant, kv_.LeaseGrant(options_.kill_request_ttl_seconds));
    for (const store::KeyValue& inflight : unfinished.inflight) {
      auto id = keys_.IdFromKey(inflight.key, keys_.InflightPrefix());
      if (!id) continue;
      changes.push_back(runs::RequestKill(keys_, *id, inflight, "job deleted", grant.id));
    }
  }
  for (const auto& r : commits_.CommitAll(std::move(changes))) HG_RETURN_IF_ERROR(r.status);
  Log().Info("job deleted", {{"job", name.str()},
                             {"purge", options.purge},
                             {"kill", options.kill},
                             {"queued", unfinished.pending.size()},
                             {"running", unfinished.inflight.size()}});
  return absl::OkStatus();
}

absl::StatusOr<HistoryPage> JobService::History(const JobName& name, const HistoryQuery& query) {
  std::vector<model::FieldError> errors;
  if (query.page < 1) errors.push_back({"page", "must be 1 or more"});
  if (query.page_size < 1 || query.page_size > options_.max_page_size) {
    errors.push_back({"page_size", absl::StrCat("must be between 1 and ", options_.max_page_size)});
  }
  const std::string prefix = keys_.ExecPrefix(name);
  std::string upper = store::PrefixEnd(prefix);
  if (!query.cursor.empty()) {
    if (model::ExecutionId::FromSuffix(name, query.cursor).ok()) {
      upper = prefix + query.cursor;
    } else {
      errors.push_back({"cursor", "is not a cursor of this job's history"});
    }
  }
  if (!errors.empty()) return model::InvalidFieldsError("invalid history query", errors);

  HistoryPage page;
  const int64_t size = query.page_size;
  const absl::Time now = clock_.Now();
  int64_t skip = query.cursor.empty() ? int64_t{query.page - 1} * size : 0;
  if (!query.status) {
    if (skip > 0) {
      // Skip whole pages by key only: the page starts below the last skipped key.
      HG_ASSIGN_OR_RETURN(RecordRun skipped,
                          ReadNewestRecords(kv_, prefix, upper, now, skip, true));
      if (static_cast<int64_t>(skipped.kvs.size()) < skip) return page;
      upper = skipped.kvs.back().key;
    }
    HG_ASSIGN_OR_RETURN(RecordRun run, ReadNewestRecords(kv_, prefix, upper, now, size));
    for (const auto& kv : run.kvs) {
      if (auto e = ReadExecution(kv)) page.executions.push_back(*std::move(e));
    }
    if (run.more && !run.kvs.empty()) page.next_cursor = SuffixOf(run.kvs.back().key, prefix);
    return page;
  }
  if (!model::IsFinal(*query.status)) {
    return UnfinishedHistory(name, *query.status, upper, skip, size);
  }
  HG_ASSIGN_OR_RETURN(bool indexed, StatusIndexReady());
  if (indexed) return IndexedHistory(name, *query.status, query.cursor, skip, size);
  // A store whose status index is still being built (HistoryRetention::BackfillStatusIndex):
  // scan newest first in chunks until the page is full.
  std::string last_key;
  bool exhausted = false;
  while (static_cast<int64_t>(page.executions.size()) < size) {
    HG_ASSIGN_OR_RETURN(RecordRun run, ReadNewestRecords(kv_, prefix, upper, now, kScanChunk));
    size_t i = 0;
    for (; i < run.kvs.size() && static_cast<int64_t>(page.executions.size()) < size; ++i) {
      const auto& kv = run.kvs[i];
      upper = kv.key;
      auto e = model::ParseExecution(kv.value);
      if (!e.ok() || e->status != *query.status) continue;
      if (skip > 0) {
        --skip;
        continue;
      }
      last_key = kv.key;
      page.executions.push_back(*std::move(e));
    }
    if (i == run.kvs.size() && !run.more) {
      exhausted = true;
      break;
    }
  }
  if (!exhausted && !last_key.empty()) page.next_cursor = SuffixOf(last_key, prefix);
  return page;
}

absl::StatusOr<bool> JobService::StatusIndexReady() {
  if (status_index_ready_.load(std::memory_order_acquire)) return true;
  HG_ASSIGN_OR_RETURN(auto mark, store::Get(kv_, keys_.StatusIndexReady()));
  if (mark) status_index_ready_.store(true, std::memory_order_release);
  return mark.has_value();
}

absl::StatusOr<HistoryPage> JobService::IndexedHistory(const JobName& name, ExecutionStatus status,
                                                       const std::string& cursor, int64_t skip,
                                                       int64_t size) {
  // The index entries newest first, then their records in one read per chunk; an entry whose
  // record has moved on (a late result merged into a final record) or is gone is passed over.
  const std::string index = keys_.StatusIndexPrefix(name, status);
  std::string upper = cursor.empty() ? store::PrefixEnd(index) : index + cursor;
  const absl::Time now = clock_.Now();
  HistoryPage page;
  while (true) {
    const int64_t need = skip + size - static_cast<int64_t>(page.executions.size());
    HG_ASSIGN_OR_RETURN(RecordRun run,
                        ReadNewestRecords(kv_, index, upper, now, need, /*keys_only=*/true));
    std::vector<std::string> record_keys;
    for (const auto& entry : run.kvs) {
      record_keys.push_back(keys_.ExecPrefix(name) + SuffixOf(entry.key, index));
    }
    HG_ASSIGN_OR_RETURN(auto records, ReadRecords(kv_, record_keys));
    std::string last_suffix;
    for (size_t i = 0; i < records.size(); ++i) {
      if (!records[i] || records[i]->status != status) continue;
      if (skip > 0) {
        --skip;
        continue;
      }
      last_suffix = SuffixOf(run.kvs[i].key, index);
      page.executions.push_back(*std::move(records[i]));
    }
    if (static_cast<int64_t>(page.executions.size()) >= size) {
      if (run.more) page.next_cursor = last_suffix;
      return page;
    }
    if (!run.more || run.kvs.empty()) return page;
    upper = run.kvs.back().key;
  }
}

absl::StatusOr<HistoryPage> JobService::UnfinishedHistory(const JobName& name,
                                                          ExecutionStatus status,
                                                          const std::string& upper, int64_t skip,
                                                          int64_t size) {
  // `scheduled` and `running` records are exactly those with pending/ or inflight/ entries (a
  // claimed run stays `scheduled` until marked running): few, however long the history.
  HG_ASSIGN_OR_RETURN(Unfinished unfinished, UnfinishedOf(name));
  std::vector<std::string> keys;
  for (const auto* entries : {&unfinished.pending, &unfinished.inflight}) {
    for (const store::KeyValue& kv : *entries) {
      auto id = keys_.IdFromKey(
          kv.key, entries == &unfinished.pending ? keys_.PendingPrefix() : keys_.InflightPrefix());
      if (id && keys_.Exec(*id) < upper) keys.push_back(keys_.Exec(*id));
    }
  }
  std::sort(keys.begin(), keys.end(), std::greater<>());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  HG_ASSIGN_OR_RETURN(auto records, ReadRecords(kv_, keys));
  HistoryPage page;
  for (auto& e : records) {
    if (!e || e->status != status) continue;
    if (skip > 0) {
      --skip;
      continue;
    }
    if (static_cast<int64_t>(page.executions.size()) == size) {
      page.next_cursor = std::string(page.executions.back().id.suffix());
      return page;
    }
    page.executions.push_back(*std::move(e));
  }
  return page;
}

absl::StatusOr<Ledger> JobService::GetLedger(const JobName& name, const LedgerQuery& query) {
  const absl::Time now = TruncateToMillis(clock_.Now());
  const absl::Time to = TruncateToMillis(query.to.value_or(now));
  const absl::Time from =
      TruncateToMillis(query.from.value_or(to - options_.default_ledger_window));
  if (from > to) {
    return model::InvalidFieldsError("invalid ledger query",
                                     {{"from", "must not be after \"to\""}});
  }
  HG_ASSIGN_OR_RETURN(auto loaded, Load(name));
  const Job& job = loaded.first;
  HG_ASSIGN_OR_RETURN(cron::Schedule schedule, job.Schedule());

  LedgerInputs in{.job = &job, .from = from, .to = to, .now = now, .grace = options_.ledger_grace};
  // Instants before the job existed are not expected (a new job never replays the past).
  absl::Time after = from - absl::Nanoseconds(1);
  if (job.created_at && *job.created_at > after) after = *job.created_at;
  for (std::optional<absl::Time> t = schedule.Next(after); t && *t <= to; t = schedule.Next(*t)) {
    if (static_cast<int>(in.instants.size()) == options_.max_ledger_instants) {
      return model::InvalidFieldsError(
          "invalid ledger query",
          {{"to", absl::StrCat("the window holds more than ", options_.max_ledger_instants,
                               " instants of this job; narrow [from, to]")}});
    }
    in.instants.push_back(*t);
  }

  // Cursor, whether records older than the window exist, the first record after the window —
  // each found in time windows, never by a range over the whole history (api/history_reads.h).
  const std::string prefix = keys_.ExecPrefix(name);
  auto key_at = [&](int64_t ms) { return keys_.ExecAt(name, ms); };
  HG_ASSIGN_OR_RETURN(auto cursor_kv, store::Get(kv_, keys_.Cursor(name)));
  if (cursor_kv) {
    if (auto t = model::ParseRfc3339(cursor_kv->value); t.ok()) in.cursor = *t;
  }
  HG_ASSIGN_OR_RETURN(RecordRun before,
                      ReadNewestRecords(kv_, prefix, key_at(absl::ToUnixMillis(from)), now, 1,
                                        /*keys_only=*/true));
  HG_ASSIGN_OR_RETURN(auto next_kv,
                      ReadOldestRecordFrom(kv_, prefix, key_at(absl::ToUnixMillis(to) + 1), now));
  if (next_kv) {
    if (auto e = model::ParseExecution(next_kv->value); e.ok()) in.next_record = *e;
  }

  // The records of the window, in chunks (retention bounds them by history_limit).
  std::string lower = key_at(absl::ToUnixMillis(from));
  const std::string upper = key_at(absl::ToUnixMillis(to) + 1);
  while (true) {
    store::RangeRequest r;
    r.key = lower;
    r.range_end = upper;
    // One read for a window within max_ledger_instants records (each read of a key range costs
    // the whole range on etcd, so chunks of it would cost it again and again).
    r.limit = std::max<int64_t>(kScanChunk, options_.max_ledger_instants + 1);
    r.sort_order = store::SortOrder::kAscend;
    r.sort_target = store::SortTarget::kKey;
    HG_ASSIGN_OR_RETURN(store::RangeResponse resp, kv_.Range(r));
    for (const auto& kv : resp.kvs) {
      if (auto e = ReadExecution(kv)) in.records.push_back(*std::move(e));
    }
    if (!resp.more || resp.kvs.empty()) break;
    lower = resp.kvs.back().key + '\0';  // strictly after the last key read
  }
  // The oldest retained record matters only when it is not older than the window (instants
  // before it were pruned); then it is the window's first record or the one after it.
  in.history_before_window = !before.kvs.empty();
  if (!in.history_before_window) {
    if (!in.records.empty()) {
      in.oldest_record = in.records.front().scheduled_time;
    } else if (in.next_record) {
      in.oldest_record = in.next_record->scheduled_time;
    }
  }
  return JoinLedger(in);
}

absl::StatusOr<Execution> JobService::Trigger(const JobName& name, std::string_view traceparent) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const absl::Time now = TruncateToMillis(clock_.Now());
    Execution e;
    e.id = NewExecutionId(name, now);
    e.scheduled_time = now;
    e.trigger = model::Trigger::kManual;
    e.term = 0;  // not created by a leader; the leader dispatches it from pending/
    e.trace_id = trace::TraceIdOf(traceparent);
    HG_ASSIGN_OR_RETURN(auto loaded, Load(name));
    runs::GroupCommit::Result r =
        commits_.Commit(runs::Trigger(keys_, e, loaded.second.mod_revision, traceparent));
    HG_RETURN_IF_ERROR(r.status);
    if (!r.succeeded) continue;  // the job changed (or vanished: Load says which)
    model::RunLogger(Log(), e.id, /*worker=*/"", traceparent, e.trace_id).Info("manual trigger");
    return e;
  }
  return Conflict(absl::StrCat("triggering job \"", name.str(), "\""));
}

absl::StatusOr<JobView> JobService::SetPaused(const JobName& name, bool paused) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    HG_ASSIGN_OR_RETURN(auto loaded, Load(name));
    auto& [job, kv] = loaded;
    if (job.paused != paused) {
      job.paused = paused;
      job.updated_at = TruncateToMillis(clock_.Now());
      store::TxnRequest txn;
      txn.compare.push_back(
          store::Compare::ModRevision(kv.key, store::Compare::Result::kEqual, kv.mod_revision));
      txn.success.push_back(store::PutRequest{.key = kv.key, .value = model::SerializeJob(job)});
      HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv_.Txn(txn));
      if (!resp.succeeded) continue;
      Log().Info(paused ? "job paused" : "job resumed", {{"job", name.str()}});
    }
    HG_ASSIGN_OR_RETURN(auto status, StatusOf({job}));
    return JobView{std::move(job), std::move(status.front())};
  }
  return Conflict(absl::StrCat("job \"", name.str(), "\""));
}

absl::StatusOr<Execution> JobService::GetExecution(const model::ExecutionId& id) {
  HG_ASSIGN_OR_RETURN(auto kv, store::Get(kv_, keys_.Exec(id)));
  if (!kv) return absl::NotFoundError(absl::StrCat("execution \"", id.str(), "\" not found"));
  auto e = model::ParseExecution(kv->value);
  if (!e.ok()) {
    return absl::InternalError(
        absl::StrCat("stored execution \"", id.str(), "\" is unreadable: ", e.status().message()));
  }
  return e;
}

absl::StatusOr<Execution> JobService::KillExecution(const model::ExecutionId& id) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    store::TxnRequest read;
    read.success = {store::RangeRequest::Key(keys_.Exec(id)),
                    store::RangeRequest::Key(keys_.Pending(id)),
                    store::RangeRequest::Key(keys_.Inflight(id))};
    HG_ASSIGN_OR_RETURN(store::TxnResponse state, kv_.Txn(read));
    auto first = [&](size_t i) -> std::optional<store::KeyValue> {
      const auto* r = std::get_if<store::RangeResponse>(&state.responses.at(i));
      if (r == nullptr || r->kvs.empty()) return std::nullopt;
      return r->kvs.front();
    };
    const std::optional<store::KeyValue> record_kv = first(0), pending = first(1),
                                         inflight = first(2);
    if (!record_kv)
      return absl::NotFoundError(absl::StrCat("execution \"", id.str(), "\" not found"));
    HG_ASSIGN_OR_RETURN(Execution e, model::ParseExecution(record_kv->value));
    if (model::IsFinal(e.status)) {
      return absl::FailedPreconditionError(absl::StrCat("execution \"", id.str(),
                                                        "\" already finished with status \"",
                                                        Av(model::ToString(e.status)), "\""));
    }
    store::TxnRequest change;
    if (pending) {
      // Not started: it ends here.
      change = runs::EndBeforeStart(keys_, *record_kv, e, *pending, ExecutionStatus::kKilled,
                                    model::EndReason::kNone,
                                    "killed: kill requested (before it started)",
                                    TruncateToMillis(clock_.Now()))
                   .txn;
    } else if (inflight) {
      // Running: its worker kills it and records `killed: kill requested`. The request is
      // leased (forgotten ones expire) and also stops a retry after a lost worker.
      HG_ASSIGN_OR_RETURN(auto grant, kv_.LeaseGrant(options_.kill_request_ttl_seconds));
      change = runs::RequestKill(keys_, id, *inflight, "kill requested", grant.id);
    } else {
      // Neither queued nor claimed: nothing will ever run or finish it.
      change = runs::EndOrphan(keys_, *record_kv, e, ExecutionStatus::kKilled,
                               "killed: kill requested (it was neither queued nor running)",
                               TruncateToMillis(clock_.Now()))
                   .txn;
    }
    runs::GroupCommit::Result r = commits_.Commit(std::move(change));
    HG_RETURN_IF_ERROR(r.status);
    if (!r.succeeded) continue;
    // Written under the kill request's span (its trace, not necessarily the run's).
    model::RunLogger(Log(), id, e.worker_id, trace::CurrentTraceparent(), e.trace_id)
        .Info("kill requested", {{"status", std::string(model::ToString(e.status))}});
    return GetExecution(id);
  }
  return Conflict(absl::StrCat("execution \"", id.str(), "\""));
}

absl::StatusOr<ClusterInfo> JobService::Cluster() {
  const std::string election = keys_.ElectionPrefix();
  const std::string masters = keys_.MastersPrefix();
  const std::string workers = keys_.WorkersPrefix();
  store::TxnRequest txn;
  txn.success = {store::RangeRequest::Prefix(election), store::RangeRequest::Prefix(masters),
                 store::RangeRequest::Prefix(workers),
                 store::RangeRequest::Prefix(keys_.InflightPrefix())};
  HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv_.Txn(txn));
  if (resp.responses.size() != 4) return absl::InternalError("cluster read: short txn response");
  // Each worker's live runs, from the same revision as the registry (the claims it holds).
  std::map<std::string, int> in_flight;
  for (const auto& kv : std::get<store::RangeResponse>(resp.responses[3]).kvs) {
    if (auto entry = runs::DecodeInflight(kv.value); entry.ok()) ++in_flight[entry->worker_id];
  }
  ClusterInfo info;
  const auto& candidates = std::get<store::RangeResponse>(resp.responses[0]).kvs;
  auto leader = std::min_element(candidates.begin(), candidates.end(),
                                 [](const store::KeyValue& a, const store::KeyValue& b) {
                                   return a.create_revision < b.create_revision;
                                 });
  if (leader != candidates.end()) info.leader = Member(*leader, election);
  for (const auto& kv : std::get<store::RangeResponse>(resp.responses[1]).kvs) {
    info.masters.push_back(Member(kv, masters));
  }
  for (const auto& kv : std::get<store::RangeResponse>(resp.responses[2]).kvs) {
    ClusterMember w = Member(kv, workers);
    if (auto it = in_flight.find(w.id); it != in_flight.end()) w.in_flight = it->second;
    info.workers.push_back(std::move(w));
  }
  return info;
}

absl::StatusOr<CronPreview> JobService::PreviewCron(std::string_view expr,
                                                    std::string_view timezone, int n) {
  std::vector<model::FieldError> errors;
  absl::TimeZone zone = absl::UTCTimeZone();
  const std::string tz_name = timezone.empty() ? "UTC" : std::string(timezone);
  if (auto parsed = model::ParseTimeZone(tz_name); parsed.ok()) {
    zone = *parsed;
  } else {
    errors.push_back({"tz", std::string(parsed.status().message())});
  }
  if (n < 1 || n > options_.max_preview) {
    errors.push_back({"n", absl::StrCat("must be between 1 and ", options_.max_preview)});
  }
  std::optional<cron::Schedule> schedule;
  if (expr.empty()) {
    errors.push_back({"expr", "is required"});
  } else if (auto parsed = cron::Schedule::Parse(expr, zone); parsed.ok()) {
    schedule = *std::move(parsed);
  } else {
    errors.push_back({"expr", std::string(parsed.status().message())});
  }
  if (!errors.empty()) return model::InvalidFieldsError("invalid cron preview", errors);
  CronPreview out{std::string(expr), schedule->zone_name(), schedule->Explain(), {}};
  absl::Time t = clock_.Now();
  for (int i = 0; i < n; ++i) {
    auto next = schedule->Next(t);
    if (!next) break;
    out.next.push_back(*next);
    t = *next;
  }
  return out;
}

absl::Status JobService::Ping() {
  return kv_.Range(store::RangeRequest::Key(keys_.JobsPrefix())).status();
}

}  // namespace hg::api
