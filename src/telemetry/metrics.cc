#include "telemetry/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <sstream>
#include <string>

#include "model/execution.h"
#include "model/run_stats.h"
#include "telemetry/tracer.h"

namespace hg::telemetry {
namespace {

using prometheus::Histogram;

// Request latencies: 1 ms .. 10 s.
const Histogram::BucketBoundaries& FastBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *b;
}

// Run durations and schedule lag: 10 ms .. 1 h.
const Histogram::BucketBoundaries& SlowBuckets() {
  static const auto* b = new Histogram::BucketBoundaries{
      0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
  return *b;
}

double Seconds(absl::Duration d) {
  return absl::ToDoubleSeconds(d < absl::ZeroDuration() ? absl::ZeroDuration() : d);
}

std::string Str(std::string_view s) { return std::string(s); }

}  // namespace

Metrics::Metrics(Options options)
    : options_(std::move(options)),
      registry_(std::make_shared<prometheus::Registry>()),
      run_stats_(options_.clock ? *options_.clock : RealClock::Get()) {
  prometheus::BuildGauge()
      .Name("hourglass_build_info")
      .Help("Hourglass build information; always 1.")
      .Register(*registry_)
      .Add({{"version", options_.version.empty() ? "unknown" : options_.version}})
      .Set(1);
}

Metrics::~Metrics() = default;

std::string Metrics::Serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

std::string Metrics::JobLabel(std::string_view job) const {
  return options_.per_job_labels ? std::string(job) : std::string(kAllJobs);
}

// ---------------------------------------------------------------------------------------------

ApiProbe::ApiProbe(Metrics& metrics)
    : requests_(prometheus::BuildCounter()
                    .Name("hourglass_api_requests_total")
                    .Help("HTTP API requests by route template, method and status code.")
                    .Register(metrics.registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("hourglass_api_request_duration_seconds")
                    .Help("HTTP API request handling time by route template and method.")
                    .Register(metrics.registry())) {}

void ApiProbe::Request(std::string_view route, std::string_view method, int code,
                       absl::Duration elapsed) {
  const std::string m(MethodLabel(method));
  requests_.Add({{"route", Str(route)}, {"method", m}, {"code", std::to_string(code)}}).Increment();
  duration_.Add({{"route", Str(route)}, {"method", m}}, FastBuckets()).Observe(Seconds(elapsed));
}

void ApiProbe::Unrouted(std::string_view method, int code) {
  requests_
      .Add({{"route", "unmatched"},
            {"method", Str(MethodLabel(method))},
            {"code", std::to_string(code)}})
      .Increment();
}

std::string ApiProbe::RouteTemplate(std::string_view pattern) {
  return trace::RouteTemplate(pattern);
}

std::string_view ApiProbe::MethodLabel(std::string_view method) {
  static constexpr std::array<std::string_view, 7> kMethods = {"GET",    "HEAD",  "POST",   "PUT",
                                                               "DELETE", "PATCH", "OPTIONS"};
  for (std::string_view m : kMethods) {
    if (m == method) return m;
  }
  return "other";
}

// ---------------------------------------------------------------------------------------------

FireProbe::FireProbe(Metrics& metrics)
    : fires_(prometheus::BuildCounter()
                 .Name("hourglass_fires_total")
                 .Help("Scheduled instants by outcome: dispatched (handed to dispatch), skipped "
                       "(overlap policy), missed (beyond starting_deadline), no_worker.")
                 .Register(metrics.registry())),
      stats_(metrics.run_stats()) {
  for (const char* outcome : {"dispatched", "skipped", "missed", "no_worker"}) {
    fires_.Add({{"outcome", outcome}});
  }
}

void FireProbe::Fires(std::string_view outcome, int64_t n) {
  if (n <= 0) return;
  fires_.Add({{"outcome", Str(outcome)}}).Increment(static_cast<double>(n));
}

void FireProbe::Missed(std::string_view job, int64_t n) {
  if (n <= 0) return;
  Fires("missed", n);
  stats_.Count(model::RunOutcome::kMissed, job, n);
}

void FireProbe::NoWorker(std::string_view job) {
  Fires("no_worker", 1);
  stats_.Count(model::RunOutcome::kFailed, job);
}

// ---------------------------------------------------------------------------------------------

LeaderProbe::LeaderProbe(Metrics& metrics)
    : leader_(prometheus::BuildGauge()
                  .Name("hourglass_leader")
                  .Help("1 while this master is the leader (schedules and dispatches), else 0.")
                  .Register(metrics.registry())
                  .Add({})),
      changes_(prometheus::BuildCounter()
                   .Name("hourglass_leader_changes_total")
                   .Help("Times this master became leader.")
                   .Register(metrics.registry())
                   .Add({})),
      term_(prometheus::BuildGauge()
                .Name("hourglass_term")
                .Help("The leader term this master last held or saw (election key create "
                      "revision); 0 before any.")
                .Register(metrics.registry())
                .Add({})) {}

void LeaderProbe::Leadership(bool leader, int64_t term) {
  if (leader && leader_.Value() != 1) changes_.Increment();
  leader_.Set(leader ? 1 : 0);
  if (term > 0) term_.Set(static_cast<double>(term));
}

// ---------------------------------------------------------------------------------------------

DispatchProbe::DispatchProbe(Metrics& metrics)
    : workers_(prometheus::BuildGauge()
                   .Name("hourglass_workers")
                   .Help("Live registered workers, as the leader sees them (0 on standbys).")
                   .Register(metrics.registry())
                   .Add({})),
      errors_(prometheus::BuildCounter()
                  .Name("hourglass_dispatch_errors_total")
                  .Help("Failed attempts to hand a run to a worker, by reason (a gRPC status "
                        "name, or no_worker when no worker could take it).")
                  .Register(metrics.registry())),
      lost_(prometheus::BuildCounter()
                .Name("hourglass_runs_lost_total")
                .Help("Runs whose worker was lost mid-run, by what the leader then did: retried, "
                      "failed or killed.")
                .Register(metrics.registry())),
      stats_(metrics.run_stats()) {
  errors_.Add({{"reason", "no_worker"}});
  for (const char* outcome : {"retried", "failed", "killed"}) lost_.Add({{"outcome", outcome}});
}

void DispatchProbe::Workers(size_t live) { workers_.Set(static_cast<double>(live)); }

void DispatchProbe::DispatchError(std::string_view reason) {
  errors_.Add({{"reason", Str(reason)}}).Increment();
}

void DispatchProbe::RunLost(std::string_view job, std::string_view outcome) {
  lost_.Add({{"outcome", Str(outcome)}}).Increment();
  stats_.Count(model::RunOutcome::kLost, job);
  if (outcome == "failed") stats_.Count(model::RunOutcome::kFailed, job);
  if (outcome == "killed") stats_.Count(model::RunOutcome::kKilled, job);
}

// ---------------------------------------------------------------------------------------------

WorkerProbe::WorkerProbe(Metrics& metrics)
    : metrics_(metrics),
      executions_(prometheus::BuildCounter()
                      .Name("hourglass_executions_total")
                      .Help("Finished executions by job and final status.")
                      .Register(metrics.registry())),
      duration_(prometheus::BuildHistogram()
                    .Name("hourglass_execution_duration_seconds")
                    .Help("Execution time (claim to final result, all attempts) by job.")
                    .Register(metrics.registry())),
      lag_(prometheus::BuildHistogram()
               .Name("hourglass_schedule_lag_seconds")
               .Help("Scheduled instant to process start on the worker (first attempt).")
               .Register(metrics.registry())
               .Add({}, SlowBuckets())),
      running_(prometheus::BuildGauge()
                   .Name("hourglass_running_executions")
                   .Help("Executions this worker holds (running or waiting for a retry).")
                   .Register(metrics.registry())
                   .Add({})) {}

void WorkerProbe::ExecutionFinished(std::string_view job, std::string_view status,
                                    absl::Duration duration) {
  const std::string label = metrics_.JobLabel(job);
  executions_.Add({{"job_name", label}, {"status", Str(status)}}).Increment();
  if (status != "skipped")
    duration_.Add({{"job_name", label}}, SlowBuckets()).Observe(Seconds(duration));
  if (auto parsed = model::ParseExecutionStatus(status)) {
    if (auto outcome = model::OutcomeOf(*parsed)) metrics_.run_stats().Count(*outcome, job);
  }
}

void WorkerProbe::ExecutionStarted(absl::Duration lag) {
  lag_.Observe(Seconds(lag));
  metrics_.run_stats().Lag(lag);
}

void WorkerProbe::Running(size_t n) { running_.Set(static_cast<double>(n)); }

// ---------------------------------------------------------------------------------------------

StoreProbe::StoreProbe(Metrics& metrics)
    : duration_(prometheus::BuildHistogram()
                    .Name("hourglass_store_request_duration_seconds")
                    .Help("Store (etcd or SQLite) call time by operation.")
                    .Register(metrics.registry())),
      errors_(prometheus::BuildCounter()
                  .Name("hourglass_store_errors_total")
                  .Help("Store calls that returned an error, by operation.")
                  .Register(metrics.registry())) {}

void StoreProbe::Request(std::string_view op, absl::Duration elapsed, bool ok) {
  duration_.Add({{"op", Str(op)}}, FastBuckets()).Observe(Seconds(elapsed));
  if (!ok) errors_.Add({{"op", Str(op)}}).Increment();
}

// ---------------------------------------------------------------------------------------------

CompactionProbe::CompactionProbe(Metrics& metrics)
    : compactions_(prometheus::BuildCounter()
                       .Name("hourglass_store_compactions_total")
                       .Help("Store compactions this master applied as leader (compactor).")
                       .Register(metrics.registry())
                       .Add({})),
      revision_(prometheus::BuildGauge()
                    .Name("hourglass_store_revision")
                    .Help("The store's revision, as the leader's compactor last read it.")
                    .Register(metrics.registry())
                    .Add({})),
      compact_revision_(prometheus::BuildGauge()
                            .Name("hourglass_store_compact_revision")
                            .Help("The newest store compaction known to this master (history "
                                  "before it is gone).")
                            .Register(metrics.registry())
                            .Add({})),
      db_size_(prometheus::BuildGauge()
                   .Name("hourglass_store_db_size_bytes")
                   .Help("Size of the store's backend file (etcd dbSize; SQLite pages), as the "
                         "leader's compactor last read it.")
                   .Register(metrics.registry())
                   .Add({})),
      db_size_in_use_(prometheus::BuildGauge()
                          .Name("hourglass_store_db_size_in_use_bytes")
                          .Help("Bytes of the store's backend file holding data (the rest is "
                                "free pages, reused by later writes).")
                          .Register(metrics.registry())
                          .Add({})) {}

void CompactionProbe::StoreStatus(int64_t revision, int64_t compact_revision, int64_t db_size,
                                  int64_t db_size_in_use) {
  revision_.Set(static_cast<double>(revision));
  compact_revision_.Set(static_cast<double>(compact_revision));
  db_size_.Set(static_cast<double>(db_size));
  db_size_in_use_.Set(static_cast<double>(db_size_in_use));
}

void CompactionProbe::Compacted(int64_t revision) {
  compactions_.Increment();
  compact_revision_.Set(static_cast<double>(revision));
}

// ---------------------------------------------------------------------------------------------

TraceProbe::TraceProbe(Metrics& metrics)
    : spans_(prometheus::BuildCounter()
                 .Name("hourglass_trace_spans_total")
                 .Help("Spans handed to the OTLP exporter by result: exported, dropped (queue "
                       "full), failed (collector refused or unreachable).")
                 .Register(metrics.registry())) {
  for (const char* r : {"exported", "dropped", "failed"}) spans_.Add({{"result", r}});
}

void TraceProbe::Spans(std::string_view result, int64_t n) {
  if (n > 0) spans_.Add({{"result", Str(result)}}).Increment(static_cast<double>(n));
}

}  // namespace hg::telemetry
