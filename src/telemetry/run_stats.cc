#include "telemetry/run_stats.h"

#include <algorithm>

namespace hg::telemetry {

RunStats::RunStats(const Clock& clock)
    : clock_(clock), next_final_(model::MinuteStart(clock.Now())), changed_minute_(next_final_) {}

void RunStats::Count(model::RunOutcome outcome, std::string_view job, int64_t n) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  changed_minute_ = model::MinuteStart(now);
  minutes_[changed_minute_].Count(outcome, job, now, n);
}

void RunStats::Lag(absl::Duration lag) {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  changed_minute_ = model::MinuteStart(now);
  minutes_[changed_minute_].Lag(lag);
}

std::vector<model::NodeMinute> RunStats::Collect(const std::string& node, bool stopping) {
  const absl::Time now = clock_.Now();
  const absl::Time current = model::MinuteStart(now);
  std::vector<model::NodeMinute> out;
  absl::MutexLock lock(&mu_);
  // After a long pause (suspended process, stepped clock) only the retained minutes matter.
  next_final_ = std::max(next_final_, current - model::kStatsRetention);
  for (absl::Time m = next_final_; m < current; m += absl::Minutes(1)) {
    model::NodeMinute v{.node = node, .minute = m, .published_at = now, .final = true};
    if (auto it = minutes_.find(m); it != minutes_.end()) v.stats = std::move(it->second);
    out.push_back(std::move(v));
  }
  next_final_ = std::max(next_final_, current);
  minutes_.erase(minutes_.begin(), minutes_.lower_bound(current));
  if (changed_minute_ == current || stopping) {
    model::NodeMinute v{.node = node, .minute = current, .published_at = now};
    v.stopped = stopping;
    if (auto it = minutes_.find(current); it != minutes_.end()) v.stats = it->second;
    out.push_back(std::move(v));
    changed_minute_ = absl::InfinitePast();
  }
  return out;
}

}  // namespace hg::telemetry
