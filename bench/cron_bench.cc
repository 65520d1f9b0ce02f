// Next() throughput: each iteration asks for the fire time after the previous one, walking
// forward from 2026-01-01 in a zone with DST (America/New_York) and in UTC. The same expressions
// and walk as bench/croner/bench.mjs, so bench/cron_vs_croner.sh can print ratios.
#include <string>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "cron/schedule.h"

namespace {

constexpr const char* kExpressions[] = {"*/10 * * * * *", "0 30 9 * * MON-FRI", "0 0 0 L * ?",
                                        "0 0 9 * * MON#1"};
constexpr const char* kZones[] = {"America/New_York", "UTC"};
const absl::Time kStart = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

void BM_Next(benchmark::State& state, std::string expr, std::string zone_name) {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(zone_name, &zone)) {
    state.SkipWithError("unknown zone");
    return;
  }
  const absl::StatusOr<hg::cron::Schedule> s = hg::cron::Schedule::Parse(expr, zone);
  if (!s.ok()) {
    state.SkipWithError("parse failed");
    return;
  }
  absl::Time t = kStart;
  for (auto _ : state) {
    std::optional<absl::Time> next = s->Next(t);
    benchmark::DoNotOptimize(next);
    // Walk forward; restart after ~100 years so every run covers the same kind of dates.
    t = next && *next < kStart + absl::Hours(24 * 365 * 100) ? *next : kStart;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Parse(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(hg::cron::Schedule::Parse("0 30 9 * * MON-FRI"));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Parse);

const bool kRegistered = [] {
  for (const char* zone : kZones) {
    for (const char* expr : kExpressions) {
      benchmark::RegisterBenchmark((std::string("BM_Next/") + zone + "/" + expr).c_str(), BM_Next,
                                   expr, zone)
          ->UseRealTime();  // wall time, as bench/croner/bench.mjs measures
    }
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
