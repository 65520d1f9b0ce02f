#include "scheduler/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "model/execution.h"
#include "model/job.h"
#include "model/json.h"
#include "model/outcome_text.h"
#include "telemetry/tracer.h"

namespace hg::scheduler {
namespace {

using store::Compare;

std::optional<PlannedJob> ToPlanned(const model::Job& job) {
  auto schedule = cron::Schedule::Parse(job.cron_expr, job.Zone());
  if (!schedule.ok()) return std::nullopt;  // validated by the API; a bad record is skipped
  return PlannedJob{.name = job.name.str(),
                    .schedule = *std::move(schedule),
                    .paused = job.paused,
                    .allow_overlap = job.concurrency_policy == model::ConcurrencyPolicy::kAllow,
                    .starting_deadline = job.starting_deadline.value,
                    .cursor = std::nullopt};
}

}  // namespace

Scheduler::Scheduler(store::Kv& kv, Clock& clock, model::Keys keys, Options options,
                     SchedulerProbe probe)
    : kv_(kv), clock_(clock), keys_(std::move(keys)), options_(options), probe_(std::move(probe)) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
}

size_t Scheduler::JobCount() const {
  absl::MutexLock lock(&mu_);
  return job_count_;
}

absl::Status Scheduler::Load(const LeaderTerm& term, store::Revision* revision) {
  HG_ASSIGN_OR_RETURN(auto jobs, kv_.Range(store::RangeRequest::Prefix(keys_.JobsPrefix())));
  auto cursor_req = store::RangeRequest::Prefix(keys_.CursorPrefix());
  cursor_req.revision = jobs.revision;
  HG_ASSIGN_OR_RETURN(auto cursors, kv_.Range(cursor_req));
  *revision = jobs.revision;
  planner_ = FirePlanner();
  jobs_.clear();
  std::map<std::string, std::pair<store::Revision, absl::Time>> cursor_of;
  for (const auto& kv : cursors.kvs) {
    auto name = keys_.CursorFromKey(kv.key);
    auto t = model::ParseRfc3339(kv.value);
    if (name && t.ok()) cursor_of[name->str()] = {kv.mod_revision, *t};
  }
  const absl::Time now = clock_.Now();
  for (const auto& kv : jobs.kvs) {
    auto job = model::ParseStoredJob(kv.value);
    if (!job.ok()) {
      log_.Error("skipping unreadable job record",
                 {{"key", kv.key}, {"error", std::string(job.status().message())}});
      continue;
    }
    auto planned = ToPlanned(*job);
    if (!planned) continue;
    JobState& st = jobs_[planned->name];
    st.stored_json = kv.value;
    if (auto it = cursor_of.find(planned->name); it != cursor_of.end()) {
      st.cursor_mod = it->second.first;
      st.cursor = it->second.second;
      planned->cursor = st.cursor;
    }
    planner_.Upsert(*std::move(planned), now);
  }
  log_.Info("loaded jobs",
            {{"jobs", jobs_.size()}, {"term", term.term}, {"revision", jobs.revision}});
  absl::MutexLock lock(&mu_);
  job_count_ = jobs_.size();
  return absl::OkStatus();
}

void Scheduler::ApplyJobEvent(const store::WatchEvent& ev, absl::Time now) {
  auto name = keys_.JobFromKey(ev.kv.key);
  if (!name) return;
  if (ev.type == store::EventType::kDelete) {
    planner_.Remove(name->str());
    jobs_.erase(name->str());  // its cursor is deleted with it (API Delete)
    return;
  }
  auto job = model::ParseStoredJob(ev.kv.value);
  if (!job.ok()) return;
  auto planned = ToPlanned(*job);
  if (!planned) return;
  JobState& st = jobs_[name->str()];
  st.stored_json = ev.kv.value;
  if (!planner_.Contains(name->str())) {
    // Created (or re-created after a delete): it starts after now, never in the past.
    st.cursor_mod = 0;
    st.cursor.reset();
  }
  planned->cursor = st.cursor;
  planner_.Upsert(*std::move(planned), now);
}

bool Scheduler::StillLeader(const LeaderTerm& term) {
  auto leader = store::Get(kv_, term.leader_key);
  // Unknown (store down) counts as not leader: the caller stops rather than risk anything.
  return leader.ok() && leader->has_value() && (*leader)->create_revision == term.term;
}

absl::Status Scheduler::CommitBatch(const LeaderTerm& term, std::vector<Unit>& batch) {
  store::TxnRequest txn;
  txn.compare.push_back(
      Compare::CreateRevision(term.leader_key, Compare::Result::kEqual, term.term));
  int64_t dispatched = 0, missed = 0;
  std::vector<trace::Span> spans;  // one per fire; ended once the transaction's fate is known
  for (const Unit& u : batch) {
    const JobState& st = jobs_.at(u.job);
    const std::string cursor_key = keys_.CursorPrefix() + u.job;
    txn.compare.push_back(Compare::ModRevision(cursor_key, Compare::Result::kEqual, st.cursor_mod));
    txn.success.push_back(
        store::PutRequest{.key = cursor_key, .value = model::FormatRfc3339(u.cursor)});
    auto job_name = model::JobName::Parse(u.job);
    if (!job_name.ok()) continue;
    for (size_t i = 0; i < u.fires.size(); ++i) {
      const PlannedFire& f = u.fires[i];
      const bool fire = f.kind == PlannedFire::Kind::kFire;
      model::Execution rec = model::NewExecution(
          *job_name, f.instant, f.late ? model::Trigger::kCatchup : model::Trigger::kSchedule,
          term.term, rng_);
      if (!fire) {
        rec.status = model::ExecutionStatus::kMissed;
        rec.error = absl::StrCat("missed: no leader could start it within its starting_deadline");
        if (i + 1 == u.fires.size() && u.missed_not_listed > 0) {
          absl::StrAppend(&rec.error, "; ", u.missed_not_listed,
                          " earlier instants were missed too and are ",
                          Av(model::kMissedCountedNotListed));
        }
        ++missed;
      } else {
        ++dispatched;
        trace::Span& span = spans.emplace_back(trace::StartSpan(
            probe_.tracer, "fire", trace::SpanKind::kProducer, /*parent_traceparent=*/""));
        span.SetAttribute("hourglass.job", u.job);
        span.SetAttribute("hourglass.execution_id", rec.id.str());
        span.SetAttribute("hourglass.scheduled_time", model::FormatRfc3339(f.instant));
        span.SetAttribute("hourglass.term", term.term);
        rec.trace_id = span.trace_id();
      }
      txn.success.push_back(
          store::PutRequest{.key = keys_.Exec(rec.id), .value = model::SerializeExecution(rec)});
      if (fire) {
        txn.success.push_back(
            store::PutRequest{.key = keys_.Pending(rec.id),
                              .value = model::MakeDispatchEnvelope(st.stored_json, f.instant, 1,
                                                                   spans.back().traceparent())});
      }
    }
  }
  auto resp = kv_.Txn(txn);
  if (!resp.ok() || !resp->succeeded) {
    for (trace::Span& span : spans) span.SetError("fire transaction not committed");
  }
  if (!resp.ok()) return resp.status();
  if (resp->succeeded) {
    for (const Unit& u : batch) {
      JobState& st = jobs_.at(u.job);
      st.cursor_mod = resp->revision;
      st.cursor = u.cursor;
      if (probe_.recorded && !u.fires.empty()) probe_.recorded(u.job);
    }
    if (probe_.fires) {
      if (dispatched) probe_.fires("dispatched", dispatched);
      if (missed)
        probe_.fires(
            "missed", missed + [&] {
              int64_t n = 0;
              for (const Unit& u : batch) n += u.missed_not_listed;
              return n;
            }());
    }
    return absl::OkStatus();
  }
  if (!StillLeader(term)) {
    return absl::FailedPreconditionError(
        absl::StrCat("leadership lost (term ", term.term, "): fire transaction refused"));
  }
  // A cursor moved under us (a job deleted and re-created, or a resume that reset it):
  // re-read those cursors; the caller rolls the batch back so it is decided again.
  for (const Unit& u : batch) {
    auto cur = store::Get(kv_, keys_.CursorPrefix() + u.job);
    if (!cur.ok()) return cur.status();
    JobState& st = jobs_.at(u.job);
    st.cursor_mod = cur->has_value() ? (*cur)->mod_revision : 0;
    if (cur->has_value()) {
      auto t = model::ParseRfc3339((*cur)->value);
      if (t.ok()) st.cursor = *t;
    }
  }
  return absl::AbortedError("cursor changed; batch will be decided again");
}

absl::Status Scheduler::Commit(const LeaderTerm& term, std::vector<JobDecision> decisions,
                               absl::Time now) {
  // Split each decision into transaction-sized units; a job's units commit in order, one per
  // transaction, each moving its cursor only up to the instants it records.
  const size_t per_unit = static_cast<size_t>(std::max(1, options_.max_txn_ops / 2 - 2));
  std::map<std::string, std::deque<Unit>> queues;
  for (JobDecision& d : decisions) {
    auto& q = queues[d.job];
    const std::optional<absl::Time> previous =
        jobs_.count(d.job) ? jobs_[d.job].cursor : std::nullopt;
    if (d.fires.empty()) {
      q.push_back(Unit{.job = d.job, .fires = {}, .cursor = d.cursor, .previous_cursor = previous});
      continue;
    }
    for (size_t i = 0; i < d.fires.size(); i += per_unit) {
      Unit u{.job = d.job, .previous_cursor = previous};
      const size_t end = std::min(d.fires.size(), i + per_unit);
      u.fires.assign(d.fires.begin() + static_cast<long>(i),
                     d.fires.begin() + static_cast<long>(end));
      const bool last = end == d.fires.size();
      u.cursor = last ? d.cursor : u.fires.back().instant;
      if (last) u.missed_not_listed = d.missed_not_listed;
      q.push_back(std::move(u));
    }
  }
  while (!queues.empty()) {
    std::vector<Unit> batch;
    int ops = 1;
    for (auto it = queues.begin(); it != queues.end();) {
      Unit& u = it->second.front();
      const int cost = 2 + 2 * static_cast<int>(u.fires.size());
      if (!batch.empty() && ops + cost > options_.max_txn_ops) {
        ++it;
        continue;
      }
      ops += cost;
      batch.push_back(std::move(u));
      it->second.pop_front();
      it = it->second.empty() ? queues.erase(it) : std::next(it);
    }
    // Jobs deleted while deciding are dropped (their state is gone).
    std::erase_if(batch, [&](const Unit& u) { return !jobs_.count(u.job); });
    if (batch.empty()) continue;
    absl::Status st = CommitBatch(term, batch);
    if (st.ok()) continue;
    if (absl::IsFailedPrecondition(st)) return st;
    // Not written: decide these jobs again from what is persisted.
    for (const Unit& u : batch) {
      const absl::Time first = u.fires.empty() ? u.cursor : u.fires.front().instant;
      const JobState& js = jobs_.at(u.job);
      planner_.Rollback(u.job, js.cursor, first);
      queues.erase(u.job);
    }
    if (!absl::IsAborted(st)) {
      log_.Warn("fire transaction failed; will retry", {{"error", std::string(st.message())}});
      return st;
    }
  }
  (void)now;
  return absl::OkStatus();
}

absl::Status Scheduler::RunAsLeader(const LeaderTerm& term) {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return absl::OkStatus();
    events_.clear();
  }
  store::Revision revision = 0;
  HG_RETURN_IF_ERROR(Load(term, &revision));
  auto watch = kv_.StartWatch(store::WatchRequest::Prefix(keys_.JobsPrefix(), revision + 1),
                              [this](const store::WatchResponse& resp) {
                                absl::MutexLock lock(&mu_);
                                events_.push_back(resp);
                              });
  if (!watch.ok()) return watch.status();

  while (true) {
    std::deque<store::WatchResponse> events;
    {
      absl::MutexLock lock(&mu_);
      const std::optional<absl::Time> due = planner_.NextDue();
      const absl::Time deadline = due ? *due : clock_.Now() + absl::Seconds(1);
      clock_.WaitUntil(mu_, deadline, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !events_.empty();
      });
      if (stop_) return absl::OkStatus();
      events.swap(events_);
    }
    const absl::Time now = clock_.Now();
    for (const auto& resp : events) {
      if (!resp.status.ok()) {
        // Compacted or broken watch: reload everything from the store (a re-list).
        log_.Warn("jobs watch ended; reloading", {{"error", std::string(resp.status.message())}});
        (*watch)->Cancel();
        HG_RETURN_IF_ERROR(Load(term, &revision));
        watch = kv_.StartWatch(store::WatchRequest::Prefix(keys_.JobsPrefix(), revision + 1),
                               [this](const store::WatchResponse& r) {
                                 absl::MutexLock lock(&mu_);
                                 events_.push_back(r);
                               });
        if (!watch.ok()) return watch.status();
        break;
      }
      for (const auto& ev : resp.events) ApplyJobEvent(ev, now);
    }
    {
      absl::MutexLock lock(&mu_);
      job_count_ = jobs_.size();
    }
    std::vector<JobDecision> decisions = planner_.TakeDue(now);
    if (decisions.empty()) continue;
    absl::Status st = Commit(term, std::move(decisions), now);
    if (absl::IsFailedPrecondition(st)) {
      log_.Warn("stopping: leadership lost", {{"term", term.term}});
      return st;
    }
    if (!st.ok()) {
      // Store trouble: back off a little; the planner was rolled back, nothing is lost.
      absl::MutexLock lock(&mu_);
      const absl::Time until = clock_.Now() + options_.retry_delay;
      clock_.WaitUntil(mu_, until, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; });
    }
  }
}

}  // namespace hg::scheduler
