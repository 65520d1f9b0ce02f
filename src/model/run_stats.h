// Run statistics by minute (docs/design/api.md "GET /stats", docs/design/storage.md `stats/`):
// what every process that ends runs or decides missed instants counts (through the same
// telemetry probes that count /metrics), publishes as one value per node and minute, and what
// GET /stats merges over a window. Pure; thread-compatible.
//
//   MinuteStats m;
//   m.Count(RunOutcome::kFailed, "backup", now);
//   m.Lag(absl::Milliseconds(40));
//   std::string value = SerializeNodeMinute({.node = "w1", .minute = MinuteStart(now), ...});
//   StatsWindow w = MergeWindow(parsed_values, first_minute, 15, now);
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/execution.h"

namespace hg::model {

// What a minute counts. Every final status of an execution has one (success → succeeded);
// `lost` counts runs whose worker's session expired mid-run (the leader then retries, fails or
// kills them: that end is counted too, as failed or killed — so `lost` is not part of `runs`).
enum class RunOutcome { kSucceeded, kFailed, kTimeout, kKilled, kSkipped, kMissed, kLost };
inline constexpr size_t kRunOutcomeCount = 7;
std::string_view ToString(RunOutcome outcome);  // "succeeded", "failed", …, "lost"
// The outcome a final status counts as; nullopt for scheduled and running.
std::optional<RunOutcome> OutcomeOf(ExecutionStatus status);

// Every process publishes its counts this often (and at rollover of a minute, and when it
// stops); values older than the retention are deleted by whoever publishes. GET /stats windows
// are 1 minute .. the retention.
inline constexpr absl::Duration kStatsPublishInterval = absl::Seconds(5);
inline constexpr absl::Duration kStatsRetention = absl::Hours(24);

// Start-lag histogram: upper bounds in milliseconds (inclusive), and one bucket above the last.
// Fixed: stored values of every node merge bucket by bucket.
inline constexpr std::array<int64_t, 17> kLagBoundsMs = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, 300000, 3600000};

struct JobTally {
  int64_t count = 0;
  absl::Time last = absl::InfinitePast();  // the latest counted event
  friend bool operator==(const JobTally&, const JobTally&) = default;
};

// One node's counts of one minute.
struct MinuteStats {
  // Distinct jobs tallied per map and minute (bounds the stored value); events of further jobs
  // count in `counts` only.
  static constexpr size_t kMaxJobs = 100;

  std::array<int64_t, kRunOutcomeCount> counts{};
  std::array<int64_t, kLagBoundsMs.size() + 1> lag{};
  int64_t lag_max_ms = 0;
  std::map<std::string, JobTally> failures;  // failed and timeout, by job
  std::map<std::string, JobTally> missed;    // missed instants, by job

  // `n` events of `outcome` at `at`; failed/timeout and missed are also tallied for `job`
  // (when not empty).
  void Count(RunOutcome outcome, std::string_view job, absl::Time at, int64_t n = 1);
  void Lag(absl::Duration lag);  // negative counts as 0
  void Merge(const MinuteStats& other);
  int64_t lag_count() const;
  bool empty() const;
  friend bool operator==(const MinuteStats&, const MinuteStats&) = default;
};

// The stored value at stats/<minute>/<node>.
struct NodeMinute {
  std::string node;
  absl::Time minute = absl::UnixEpoch();  // start of the minute (UTC)
  absl::Time published_at = absl::UnixEpoch();
  bool final = false;    // written after the minute ended: no more changes
  bool stopped = false;  // the process stopped cleanly after this (its last value)
  MinuteStats stats;
  friend bool operator==(const NodeMinute&, const NodeMinute&) = default;
};
// JSON: {"node","minute","published_at","final","stopped","counts":{"succeeded":n,…},
//        "lag_ms":{"buckets":[…],"max":n},"failures":{"<job>":{"n":n,"last":"<RFC3339>"}},
//        "missed":{…}}
std::string SerializeNodeMinute(const NodeMinute& value);
absl::StatusOr<NodeMinute> ParseNodeMinute(std::string_view text);

// The start of the UTC minute holding `t`.
absl::Time MinuteStart(absl::Time t);

// Lag percentiles (ms) estimated from a merged histogram: linear inside the bucket, never above
// the observed max. nullopt when nothing was observed.
struct LagSummary {
  std::optional<double> p50, p90, p99, max;
};
LagSummary SummarizeLag(const MinuteStats& stats);

struct JobCount {
  std::string name;
  int64_t count = 0;
  absl::Time last = absl::InfinitePast();
};

struct StatsWindow {
  static constexpr size_t kTopJobs = 20;
  struct Minute {
    absl::Time start;
    std::array<int64_t, kRunOutcomeCount> counts{};
  };
  std::vector<Minute> per_minute;  // oldest first, one per minute of the window
  MinuteStats total;               // every value of the window merged
  int64_t runs = 0;                // runs that ended: every outcome but lost
  std::vector<JobCount> failing;   // top kTopJobs by count (then name)
  std::vector<JobCount> missed;
  // False when some node's counts are missing for part of the window: a minute without its
  // value between two of its values (not after a clean stop), or a node whose values stopped
  // before the previous minute (allowing a few publish intervals for the previous minute's
  // final write) without a clean stop: it died, and up to one publish interval of its counts
  // was lost. Values that did not parse also make it false.
  bool complete = true;
  std::vector<std::string> incomplete_nodes;  // sorted
};

// Merges the values of the `minutes` minutes starting at `first_minute` (values outside are
// ignored); `now` is when the window ends (completeness of nodes' latest values).
StatsWindow MergeWindow(const std::vector<NodeMinute>& values, absl::Time first_minute, int minutes,
                        absl::Time now);

}  // namespace hg::model
