// Metrics: the process's Prometheus registry (prometheus-cpp core) and the probe classes each
// module reports through (STYLE.md "Observability": domain code calls its probe, never
// prometheus-cpp). The text exposition is served by our own HTTP servers (ApiServer on masters
// and `hourglass dev`, MetricsServer on workers), not by prometheus-cpp's civetweb exposer.
//
//   telemetry::Metrics metrics({.per_job_labels = true});
//   telemetry::WorkerProbe probe(metrics);
//   probe.ExecutionFinished("backup", "success", absl::Seconds(3));
//   std::string text = metrics.Serialize();   // what GET /metrics returns
//
// Every metric is documented in docs/design/observability.md. Label values are bounded: API
// routes are templates (/jobs/{name}), methods and statuses are fixed sets, and the per-job
// label becomes "_all" when `per_job_labels` is false (clusters with very many jobs). The job
// label is `job_name`, not `job`: Prometheus attaches its own `job` (the scrape job) to every
// series and would rename ours to `exported_job`.
//
// Probes are cheap to construct (families are registered once per name; a second probe of the
// same kind on the same Metrics — `hourglass dev` runs master and worker in one process — shares
// them). Thread safety: Metrics and every probe are thread-safe. The Metrics object must outlive
// its probes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/clock.h"
#include "telemetry/run_stats.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace hg::telemetry {

class Metrics {
 public:
  struct Options {
    bool per_job_labels = true;
    std::string version;  // hourglass_build_info{version}
    // The clock of run_stats() (its minutes). Null: the real clock.
    const Clock* clock = nullptr;
  };
  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";
  static constexpr char kAllJobs[] = "_all";

  explicit Metrics(Options options);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The Prometheus text format (0.0.4) of every metric registered so far.
  std::string Serialize() const;

  // The value of a `job_name` label: the name, or "_all" when per-job labels are off.
  std::string JobLabel(std::string_view job) const;

  prometheus::Registry& registry() { return *registry_; }
  // This process's run counts by minute (GET /stats), counted by the probes below in the same
  // calls as their Prometheus counters; StatsPublisher writes them to the store.
  RunStats& run_stats() { return run_stats_; }

 private:
  const Options options_;
  std::shared_ptr<prometheus::Registry> registry_;
  RunStats run_stats_;
};

// hourglass_api_requests_total{route,method,code}, hourglass_api_request_duration_seconds.
class ApiProbe {
 public:
  explicit ApiProbe(Metrics& metrics);
  // A request a route took; `route` is a template ("/jobs/{name}").
  void Request(std::string_view route, std::string_view method, int code, absl::Duration elapsed);
  // A request no route took: counted as route "unmatched", no duration observed.
  void Unrouted(std::string_view method, int code);

  // trace::RouteTemplate (telemetry/tracer.h): "/jobs/([^/]+)/?" -> "/jobs/{name}".
  static std::string RouteTemplate(std::string_view pattern);
  // GET, POST, ... or "other" (method label stays bounded whatever clients send).
  static std::string_view MethodLabel(std::string_view method);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
};

// hourglass_fires_total{outcome}: dispatched | skipped | missed | no_worker (all four exported
// from the start, so rate() and increase() see zeros instead of absent series).
class FireProbe {
 public:
  explicit FireProbe(Metrics& metrics);
  // dispatched | skipped (the run statistics count skipped runs in WorkerProbe).
  void Fires(std::string_view outcome, int64_t n);
  // `n` instants of `job` recorded missed: fires{missed} and the run statistics.
  void Missed(std::string_view job, int64_t n);
  // A run of `job` recorded failed for want of a worker: fires{no_worker}, and a failed run in
  // the run statistics.
  void NoWorker(std::string_view job);

 private:
  prometheus::Family<prometheus::Counter>& fires_;
  RunStats& stats_;
};

// hourglass_leader, hourglass_leader_changes_total (times this process became leader),
// hourglass_term.
class LeaderProbe {
 public:
  explicit LeaderProbe(Metrics& metrics);
  void Leadership(bool leader, int64_t term);

 private:
  prometheus::Gauge& leader_;
  prometheus::Counter& changes_;
  prometheus::Gauge& term_;
};

// hourglass_workers, hourglass_dispatch_errors_total{reason}, hourglass_runs_lost_total{outcome}.
class DispatchProbe {
 public:
  explicit DispatchProbe(Metrics& metrics);
  void Workers(size_t live);
  void DispatchError(std::string_view reason);
  // A run of `job` lost with its worker, then `outcome` retried|failed|killed: runs_lost_total,
  // and in the run statistics a lost run (plus a failed or killed one for those outcomes).
  void RunLost(std::string_view job, std::string_view outcome);

 private:
  prometheus::Gauge& workers_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& lost_;
  RunStats& stats_;
};

// hourglass_executions_total{job_name,status}, hourglass_execution_duration_seconds{job_name},
// hourglass_schedule_lag_seconds, hourglass_running_executions.
class WorkerProbe {
 public:
  explicit WorkerProbe(Metrics& metrics);
  // A run ended with `status` (success|failed|timeout|killed|skipped) after `duration` (from its
  // claim to its final result; not observed for `skipped`). Also counted in the run statistics.
  void ExecutionFinished(std::string_view job, std::string_view status, absl::Duration duration);
  // The first attempt's process started `lag` after the scheduled instant (also in the run
  // statistics' lag histogram).
  void ExecutionStarted(absl::Duration lag);
  void Running(size_t n);

 private:
  Metrics& metrics_;
  prometheus::Family<prometheus::Counter>& executions_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Histogram& lag_;
  prometheus::Gauge& running_;
};

// hourglass_store_request_duration_seconds{op}, hourglass_store_errors_total{op}.
class StoreProbe {
 public:
  explicit StoreProbe(Metrics& metrics);
  // `op`: range|put|delete|txn|lease_grant|lease_keepalive|lease_revoke|lease_ttl|watch|
  // compact|status.
  void Request(std::string_view op, absl::Duration elapsed, bool ok);

 private:
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Counter>& errors_;
};

// hourglass_store_compactions_total, hourglass_store_revision, hourglass_store_compact_revision,
// hourglass_store_db_size_bytes, hourglass_store_db_size_in_use_bytes: the leader's store
// compactor (master/compactor.h). Reported while this master leads; a standby keeps the values it
// last saw as leader (0 if never).
class CompactionProbe {
 public:
  explicit CompactionProbe(Metrics& metrics);
  // The store's status as the compactor read it.
  void StoreStatus(int64_t revision, int64_t compact_revision, int64_t db_size,
                   int64_t db_size_in_use);
  // A compaction to `revision` was applied.
  void Compacted(int64_t revision);

 private:
  prometheus::Counter& compactions_;
  prometheus::Gauge& revision_;
  prometheus::Gauge& compact_revision_;
  prometheus::Gauge& db_size_;
  prometheus::Gauge& db_size_in_use_;
};

// hourglass_trace_spans_total{result="exported|dropped|failed"}: the OTLP exporter's queue.
class TraceProbe {
 public:
  explicit TraceProbe(Metrics& metrics);
  void Spans(std::string_view result, int64_t n);

 private:
  prometheus::Family<prometheus::Counter>& spans_;
};

}  // namespace hg::telemetry
