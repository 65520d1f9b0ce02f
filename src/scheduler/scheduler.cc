#include "scheduler/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "model/execution.h"
#include "model/job.h"
#include "model/json.h"
#include "runs/entries.h"
#include "runs/transitions.h"
#include "telemetry/tracer.h"

namespace hg::scheduler {
namespace {

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
    auto t = runs::DecodeCursor(kv.value);
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
    st.job_revision = kv.mod_revision;
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

void Scheduler::Refresh(const std::string& job, const std::optional<store::KeyValue>& job_kv,
                        const std::optional<store::KeyValue>& cursor_kv) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  JobState& st = it->second;
  if (job_kv) st.job_revision = job_kv->mod_revision;
  st.cursor_mod = cursor_kv ? cursor_kv->mod_revision : 0;
  st.cursor.reset();
  if (cursor_kv) {
    if (auto t = runs::DecodeCursor(cursor_kv->value); t.ok()) st.cursor = *t;
  }
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
  st.job_revision = ev.kv.mod_revision;
  // The API writes the cursor with the definition (create: the creation instant; schedule
  // change: no earlier than the edit), so read it back: instants between the write and this
  // event are not lost, and an edited schedule never replays the old one.
  if (auto cursor = store::Get(kv_, keys_.Cursor(*name)); cursor.ok()) {
    Refresh(name->str(), std::nullopt, *cursor);
  } else if (!planner_.Contains(name->str())) {
    st.cursor_mod = 0;  // unknown: the fire's compare will fail and read it
    st.cursor.reset();
  }
  planned->cursor = st.cursor;
  planner_.Upsert(*std::move(planned), now);
}

absl::Status Scheduler::Commit(runs::GroupCommit& commits, const LeaderTerm& term,
                               std::vector<JobDecision> decisions) {
  // Split each decision into change-sized units; a job's units commit in order (round by
  // round), each moving its cursor only up to the instants it records.
  const size_t per_unit = static_cast<size_t>(std::max(1, options_.max_fires_per_change));
  std::map<std::string, std::deque<Unit>> queues;
  for (JobDecision& d : decisions) {
    auto& q = queues[d.job];
    if (d.fires.empty()) {
      q.push_back(Unit{.job = d.job, .fires = {}, .cursor = d.cursor});
      continue;
    }
    for (size_t i = 0; i < d.fires.size(); i += per_unit) {
      Unit u{.job = d.job};
      const size_t end = std::min(d.fires.size(), i + per_unit);
      u.fires.assign(d.fires.begin() + static_cast<long>(i),
                     d.fires.begin() + static_cast<long>(end));
      const bool last = end == d.fires.size();
      u.cursor = last ? d.cursor : u.fires.back().instant;
      if (last) u.missed_not_listed = d.missed_not_listed;
      q.push_back(std::move(u));
    }
  }
  absl::Status result = absl::OkStatus();
  // Rolls back every unit not yet written: they are decided again from the persisted cursor.
  auto rollback = [&](const std::string& job, const Unit& first) {
    const absl::Time at = first.fires.empty() ? first.cursor : first.fires.front().instant;
    auto it = jobs_.find(job);
    if (it != jobs_.end()) planner_.Rollback(job, it->second.cursor, at);
  };
  while (!queues.empty()) {
    std::vector<Unit> round;
    for (auto it = queues.begin(); it != queues.end();) {
      if (!jobs_.count(it->first)) {  // deleted while deciding: its state is gone
        it = queues.erase(it);
        continue;
      }
      round.push_back(std::move(it->second.front()));
      it->second.pop_front();
      it = it->second.empty() ? queues.erase(it) : std::next(it);
    }
    if (round.empty()) break;
    std::vector<store::TxnRequest> changes;
    std::vector<std::vector<trace::Span>> spans(round.size());
    int64_t dispatched = 0;
    for (size_t k = 0; k < round.size(); ++k) {
      const Unit& u = round[k];
      const JobState& st = jobs_.at(u.job);
      // Names here came from validated keys or records (JobFromKey, ParseStoredJob).
      const model::JobName job_name = model::JobName::Parse(u.job).value();
      std::vector<runs::FireRecord> records;
      for (size_t i = 0; i < u.fires.size(); ++i) {
        const PlannedFire& f = u.fires[i];
        runs::FireRecord r;
        r.record = model::NewExecution(
            job_name, f.instant, f.late ? model::Trigger::kCatchup : model::Trigger::kSchedule,
            term.term, rng_);
        if (f.kind == PlannedFire::Kind::kMissed) {
          r.record.status = model::ExecutionStatus::kMissed;
          r.record.error = "missed: no leader could start it within its starting_deadline";
          if (i + 1 == u.fires.size() && u.missed_not_listed > 0) {
            r.record.reason = model::EndReason::kMissedCounted;
            absl::StrAppend(&r.record.error, "; ", u.missed_not_listed,
                            " earlier instants were missed too and are counted, not listed");
          }
        } else {
          ++dispatched;
          trace::Span& span = spans[k].emplace_back(trace::StartSpan(
              probe_.tracer, "fire", trace::SpanKind::kProducer, /*parent_traceparent=*/""));
          span.SetAttribute("hourglass.job", u.job);
          span.SetAttribute("hourglass.execution_id", r.record.id.str());
          span.SetAttribute("hourglass.scheduled_time", model::FormatRfc3339(f.instant));
          span.SetAttribute("hourglass.term", term.term);
          r.record.trace_id = span.trace_id();
          r.traceparent = span.traceparent();
        }
        records.push_back(std::move(r));
      }
      changes.push_back(
          runs::FireJob(keys_, job_name, st.job_revision, st.cursor_mod, u.cursor, records));
    }
    std::vector<runs::GroupCommit::Result> results = commits.CommitAll(std::move(changes));
    for (size_t k = 0; k < round.size() && k < results.size(); ++k) {
      const Unit& u = round[k];
      const runs::GroupCommit::Result& r = results[k];
      const bool written = r.answered() && r.succeeded;
      for (trace::Span& span : spans[k]) {
        if (!written) span.SetError("fire transaction not committed");
      }
      if (r.guard_failed) {
        return absl::FailedPreconditionError(
            absl::StrCat("leadership lost (term ", term.term, "): fire transaction refused"));
      }
      if (!r.status.ok()) {
        result = r.status;
        rollback(u.job, u);
        queues.erase(u.job);
        continue;
      }
      if (!r.succeeded) {
        // The job or its cursor moved under us (edited, deleted and re-created, a cursor
        // written by an edit): decide it again from what the store holds now.
        runs::FireConflict c = runs::ReadFireConflict(r.responses);
        if (!c.job) {
          planner_.Remove(u.job);
          jobs_.erase(u.job);
        } else if (c.job->mod_revision != jobs_.at(u.job).job_revision) {
          // Edited: decide with the definition as it is now (its watch event may lag).
          Refresh(u.job, c.job, c.cursor);
          rollback(u.job, u);
          ApplyJobEvent({.type = store::EventType::kPut, .kv = *c.job}, clock_.Now());
        } else {
          Refresh(u.job, c.job, c.cursor);
          rollback(u.job, u);
        }
        queues.erase(u.job);
        continue;
      }
      JobState& st = jobs_.at(u.job);
      st.cursor_mod = r.revision;
      st.cursor = u.cursor;
      if (probe_.missed) {
        const int64_t n = u.missed_not_listed +
                          std::count_if(u.fires.begin(), u.fires.end(), [](const PlannedFire& f) {
                            return f.kind == PlannedFire::Kind::kMissed;
                          });
        if (n > 0) probe_.missed(u.job, n);
      }
      if (probe_.recorded && !u.fires.empty()) probe_.recorded(u.job);
    }
    if (probe_.fires && dispatched) probe_.fires("dispatched", dispatched);
  }
  if (!result.ok()) {
    log_.Warn("fire transaction failed; will retry", {{"error", std::string(result.message())}});
  }
  return result;
}

absl::Status Scheduler::RunAsLeader(const LeaderTerm& term) {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return absl::OkStatus();
    events_.clear();
  }
  runs::GroupCommit commits(kv_, {.guard = {term.Guard()}});
  std::unique_ptr<store::Watch> watch;
  // Loads jobs and cursors and watches jobs/ after them. A store error is retried within the
  // term (a transient read error must not hand leadership away): only Stop() — the session
  // lost, or the master stopping — or a failed guard ends the term.
  auto resync = [&]() -> bool {
    for (absl::Duration backoff = options_.retry_delay;;
         backoff = std::min(backoff * 2, absl::Seconds(2))) {
      if (watch) watch->Cancel();
      watch.reset();
      store::Revision revision = 0;
      absl::Status st = Load(term, &revision);
      if (st.ok()) {
        auto started = kv_.StartWatch(store::WatchRequest::Prefix(keys_.JobsPrefix(), revision + 1),
                                      [this](const store::WatchResponse& resp) {
                                        absl::MutexLock lock(&mu_);
                                        events_.push_back(resp);
                                      });
        if (started.ok()) {
          watch = *std::move(started);
          return true;
        }
        st = started.status();
      }
      log_.Warn("cannot load jobs; retrying", {{"error", std::string(st.message())}});
      absl::MutexLock lock(&mu_);
      clock_.WaitUntil(mu_, clock_.Now() + backoff,
                       [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; });
      if (stop_) return false;
      events_.clear();
    }
  };
  if (!resync()) return absl::OkStatus();

  while (true) {
    std::deque<store::WatchResponse> events;
    {
      absl::MutexLock lock(&mu_);
      const std::optional<absl::Time> due = planner_.NextDue();
      // Fired `fire_ahead` before the instant: records, dispatch and claims happen before it,
      // and the worker starts the run at the instant itself.
      const absl::Time deadline =
          due ? *due - options_.fire_ahead : clock_.Now() + absl::Seconds(1);
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
        if (!resync()) return absl::OkStatus();
        break;
      }
      for (const auto& ev : resp.events) ApplyJobEvent(ev, now);
    }
    {
      absl::MutexLock lock(&mu_);
      job_count_ = jobs_.size();
    }
    std::vector<JobDecision> decisions = planner_.TakeDue(now, now + options_.fire_ahead);
    if (decisions.empty()) continue;
    absl::Status st = Commit(commits, term, std::move(decisions));
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
