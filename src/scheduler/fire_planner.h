// FirePlanner: the pure decision core of the leader's scheduler (DESIGN.md steps 2-3 and 7).
//
// It holds every job's schedule and cursor (the last instant fired or accounted for) in one
// timer heap and, given "now", says which instants are due and what to do with each:
//   kFire     run it (on time, or late but within the job's starting_deadline)
//   kMissed   record it `missed` (too late, or an older instant of a non-Allow job that had
//             several instants due at once: one catch-up run per job, the rest are missed)
// Paused jobs produce nothing and their instants are not recorded (the cursor still moves, so
// resuming never replays the pause).
//
// No I/O, no clock reads: callers pass `now`. Single-threaded (owned by the scheduler thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cron/schedule.h"

namespace hg::scheduler {

struct PlannedJob {
  std::string name;
  cron::Schedule schedule;
  bool paused = false;
  bool allow_overlap = false;  // concurrency_policy == Allow: every due instant may run
  absl::Duration starting_deadline = absl::Seconds(60);
  // Last instant fired or accounted for; nullopt for a job that never fired (it then starts
  // with the first instant after `now` at Upsert time: creating a job never replays the past).
  std::optional<absl::Time> cursor;
};

struct PlannedFire {
  enum class Kind { kFire, kMissed };
  std::string job;
  absl::Time instant;
  Kind kind = Kind::kFire;
  bool late = false;  // kFire of an instant that was already past when the planner learned of it
};

// What one job's due instants resolved to; `cursor` is the new cursor to persist.
struct JobDecision {
  std::string job;
  std::vector<PlannedFire> fires;  // in instant order
  absl::Time cursor;
  int64_t missed_not_listed = 0;  // instants beyond kMaxListedPerJob, counted only
};

class FirePlanner {
 public:
  // More missed instants than this in one decision are counted, not listed one by one
  // (a `* * * * * *` job after a day without a leader would otherwise write 86,400 records).
  static constexpr int kMaxListedPerJob = 1000;

  // Adds or replaces a job. A schedule change never re-runs the past: the next instant is
  // computed after max(cursor, now) when the job is new or its schedule changed, and after
  // the cursor otherwise (so a leader taking over catches up on instants missed meanwhile).
  void Upsert(PlannedJob job, absl::Time now);
  void Remove(const std::string& name);
  bool Contains(const std::string& name) const { return jobs_.contains(name); }
  size_t size() const { return jobs_.size(); }

  // When the next instant of any job is due (nullopt: nothing scheduled).
  std::optional<absl::Time> NextDue();

  // Resolves every instant due at or before `horizon` (>= now; later than now to fire ahead of
  // time), advancing the in-memory cursors. Instants after `now` are on time and always fire
  // (unless paused); for the ones at or before `now` the catch-up rules apply. The caller
  // persists the decisions (cursor + records) and calls Rollback() for any job whose write
  // failed so it is decided again.
  std::vector<JobDecision> TakeDue(absl::Time now, absl::Time horizon);
  std::vector<JobDecision> TakeDue(absl::Time now) { return TakeDue(now, now); }

  // Undoes a decision whose write failed: sets the job's cursor to what is persisted and makes
  // `first_taken` (the decision's first instant) due again — unless `cursor` is already at or
  // past it (the write was applied after all), in which case the job resumes after `cursor`.
  void Rollback(const std::string& name, std::optional<absl::Time> cursor, absl::Time first_taken);

  std::optional<absl::Time> NextOf(const std::string& name) const;

 private:
  struct Entry {
    PlannedJob job;
    std::optional<absl::Time> next;
    uint64_t generation = 0;  // heap entries with an older generation are stale
    // When this planner learned of the job: instants before it are catch-up, not on time.
    absl::Time known_since = absl::InfinitePast();
  };
  struct HeapItem {
    absl::Time at;
    std::string name;
    uint64_t generation;
    bool operator>(const HeapItem& o) const { return at > o.at; }
  };

  void Reschedule(Entry& e, absl::Time after);
  void DropStale();

  std::map<std::string, Entry> jobs_;
  std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<>> heap_;
  uint64_t next_generation_ = 1;
};

}  // namespace hg::scheduler
