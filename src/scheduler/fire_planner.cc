#include "scheduler/fire_planner.h"

#include <algorithm>

namespace hg::scheduler {

void FirePlanner::Reschedule(Entry& e, absl::Time after) {
  e.generation = next_generation_++;
  e.next = e.job.schedule.Next(after);
  if (e.next) heap_.push({*e.next, e.job.name, e.generation});
}

void FirePlanner::Upsert(PlannedJob job, absl::Time now) {
  auto it = jobs_.find(job.name);
  if (it == jobs_.end()) {
    // New to this planner: resume from the stored cursor (a new leader catches up on what was
    // missed meanwhile), or start after `now` for a job that never fired.
    const absl::Time after = job.cursor.value_or(now);
    std::string name = job.name;
    auto [inserted, ok] =
        jobs_.emplace(std::move(name), Entry{.job = std::move(job), .known_since = now});
    Reschedule(inserted->second, after);
    return;
  }
  Entry& e = it->second;
  const bool schedule_changed = e.job.schedule.expression() != job.schedule.expression() ||
                                e.job.schedule.zone_name() != job.schedule.zone_name();
  if (!job.cursor) job.cursor = e.job.cursor;
  e.job = std::move(job);
  // An edit never re-runs the past: a new schedule starts after max(cursor, now). Other edits
  // (pause, policy, deadline) keep the pending instant.
  if (schedule_changed) Reschedule(e, std::max(e.job.cursor.value_or(now), now));
}

void FirePlanner::Remove(const std::string& name) { jobs_.erase(name); }

void FirePlanner::DropStale() {
  while (!heap_.empty()) {
    const HeapItem& top = heap_.top();
    auto it = jobs_.find(top.name);
    if (it != jobs_.end() && it->second.generation == top.generation) return;
    heap_.pop();
  }
}

std::optional<absl::Time> FirePlanner::NextDue() {
  DropStale();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().at;
}

std::optional<absl::Time> FirePlanner::NextOf(const std::string& name) const {
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return std::nullopt;
  return it->second.next;
}

std::vector<JobDecision> FirePlanner::TakeDue(absl::Time now, absl::Time horizon) {
  horizon = std::max(horizon, now);
  std::vector<JobDecision> out;
  while (true) {
    DropStale();
    if (heap_.empty() || heap_.top().at > horizon) break;
    HeapItem item = heap_.top();
    heap_.pop();
    Entry& e = jobs_.at(item.name);
    JobDecision d{.job = e.job.name, .fires = {}, .cursor = item.at};
    // Collect every due instant of this job: the first kMaxListedPerJob - 1 and always the
    // latest (it is the one a catch-up may still run); the ones between are only counted.
    std::vector<absl::Time> due;
    int64_t extra = 0;
    std::optional<absl::Time> latest_unlisted;
    for (std::optional<absl::Time> t = e.next; t && *t <= horizon; t = e.job.schedule.Next(*t)) {
      if (due.size() + 1 < static_cast<size_t>(kMaxListedPerJob)) {
        due.push_back(*t);
      } else {
        if (latest_unlisted) ++extra;
        latest_unlisted = *t;
      }
      d.cursor = *t;
    }
    if (latest_unlisted) due.push_back(*latest_unlisted);
    if (!e.job.paused) {
      // The last instant that is still within the starting deadline may run; with Allow every
      // such instant runs. Everything else is missed (and said so).
      // Instants after `now` (fired ahead of time) are on time; the catch-up rules apply to
      // the ones already past, the last of which is the one that may still run.
      size_t past = 0;
      while (past < due.size() && due[past] <= now) ++past;
      for (size_t i = 0; i < due.size(); ++i) {
        const bool ahead = due[i] > now;
        const bool in_deadline = now - due[i] <= e.job.starting_deadline;
        const bool is_last_past = i + 1 == past;
        const bool fire = ahead || (in_deadline && (e.job.allow_overlap || is_last_past));
        d.fires.push_back({.job = e.job.name,
                           .instant = due[i],
                           .kind = fire ? PlannedFire::Kind::kFire : PlannedFire::Kind::kMissed,
                           .late = fire && due[i] < e.known_since});
      }
      d.missed_not_listed = extra;
    }
    e.job.cursor = d.cursor;
    Reschedule(e, d.cursor);
    out.push_back(std::move(d));
  }
  return out;
}

void FirePlanner::Rollback(const std::string& name, std::optional<absl::Time> cursor,
                           absl::Time first_taken) {
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return;
  it->second.job.cursor = cursor;
  // Next() is strictly-after, so `first_taken - 1ns` re-yields `first_taken` itself. A cursor
  // already at or past it means the write did land after all (an "unavailable" that was
  // applied): resume after the cursor, never fire those instants again.
  const absl::Time after =
      cursor && *cursor >= first_taken ? *cursor : first_taken - absl::Nanoseconds(1);
  Reschedule(it->second, after);
}

}  // namespace hg::scheduler
