// StatsService: GET /stats (docs/design/api.md) — runs per minute by outcome, start-lag
// percentiles, the most failing and most missed jobs over a window, and the workers' load.
// Computed from the counts every process publishes under stats/<minute>/<node>
// (model/run_stats.h, telemetry/stats_publisher.h): one key range of nodes × minutes, whatever
// the number of jobs or the size of the history. Thread-safe (no state of its own).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/job_service.h"
#include "common/clock.h"
#include "model/json.h"
#include "model/keys.h"
#include "model/run_stats.h"
#include "store/kv.h"

namespace hg::api {

struct WorkersLoad {
  int count = 0;      // live registered workers
  int in_flight = 0;  // their claimed, unfinished runs (as /cluster counts them)
  int capacity = 0;   // the sum of their capacities
};

struct StatsView {
  absl::Duration window;  // whole minutes
  absl::Time generated_at;
  model::StatsWindow stats;
  WorkersLoad workers;
};

class StatsService {
 public:
  static constexpr absl::Duration kDefaultWindow = absl::Minutes(15);
  static constexpr absl::Duration kMinWindow = absl::Minutes(1);
  static constexpr absl::Duration kMaxWindow = model::kStatsRetention;

  // `kv`, `clock` and `jobs` must outlive the service.
  StatsService(store::Kv& kv, const Clock& clock, model::Keys keys, JobService& jobs);

  // The `window` query parameter ("15m", "1h", "90s": Go duration syntax; empty = default),
  // rounded up to whole minutes. InvalidArgument naming the field `window` otherwise.
  static absl::StatusOr<absl::Duration> ParseWindow(std::string_view text);

  // The window's stats: its last minute is the current one. Store errors as they come.
  absl::StatusOr<StatsView> Stats(absl::Duration window);

 private:
  store::Kv& kv_;
  const Clock& clock_;
  const model::Keys keys_;
  JobService& jobs_;
};

// The GET /stats body (see docs/design/api.md).
model::Json EncodeStats(const StatsView& view);

}  // namespace hg::api
