// RunStats: this process's run counts by minute (model/run_stats.h), kept next to its Prometheus
// counters. The probes of metrics.h count into both in the same call (WorkerProbe,
// FireProbe, DispatchProbe), so GET /stats and /metrics cannot diverge; StatsPublisher writes the
// counts to the store under stats/<minute>/<node>, where any master's GET /stats merges them.
//
//   RunStats stats(clock);                      // one per process: Metrics owns it
//   stats.Count(model::RunOutcome::kFailed, "backup");
//   std::vector<model::NodeMinute> due = stats.Collect("node-1", /*stopping=*/false);
//
// Memory: only the minutes not collected yet (normally the current one). Thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "model/run_stats.h"

namespace hg::telemetry {

class RunStats {
 public:
  // Counting starts with the minute of `clock.Now()`. `clock` must outlive this.
  explicit RunStats(const Clock& clock);

  // `n` runs ended (or instants missed) now; `job` for the per-job tallies.
  void Count(model::RunOutcome outcome, std::string_view job, int64_t n = 1);
  // A run's first attempt started `lag` after its scheduled instant.
  void Lag(absl::Duration lag);

  // The values to publish for `node` now: one `final` value for every minute that ended since
  // the last call (every such minute, empty or not: a node's values show when it was running;
  // at most kStatsRetention of them), then the current minute if it changed since the last call
  // or `stopping` (then marked `stopped`). Ended minutes are handed out once.
  std::vector<model::NodeMinute> Collect(const std::string& node, bool stopping);

 private:
  const Clock& clock_;
  absl::Mutex mu_;
  std::map<absl::Time, model::MinuteStats> minutes_ ABSL_GUARDED_BY(mu_);
  absl::Time next_final_ ABSL_GUARDED_BY(mu_);  // oldest minute not handed out final yet
  // The minute of the newest change not collected yet (the start minute at first: a node's
  // first value says it runs); InfinitePast when none.
  absl::Time changed_minute_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hg::telemetry
