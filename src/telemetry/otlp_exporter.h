// OtlpExporter: sends ended spans to an OpenTelemetry collector over OTLP/HTTP with JSON
// encoding (POST <endpoint>/v1/traces, Content-Type application/json), written by hand because
// Debian ships no OpenTelemetry C++ SDK (see TOOLCHAIN.md "OpenTelemetry").
//
//   auto config = OtlpConfigFromEnv(flag_endpoint, "hourglass-master", EnvLookup());
//   if (config.ok() && config->enabled()) exporter = std::make_unique<OtlpExporter>(*config,
//   clock); trace::Tracer tracer(clock, exporter.get());
//
// Submit() never blocks on the network: spans go to a bounded queue; when it is full the span
// is dropped and counted (on_drop). A background thread sends batches of up to `max_batch`
// spans every `flush_interval` (sooner when a batch is full); a failed POST is logged and its
// spans counted as failed (no retry: the queue must stay bounded and scheduling must never wait).
//
// Threading: Submit() and the counters are thread-safe. Stop() (also the destructor) sends
// what is queued, within `shutdown_timeout`, then joins the thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "telemetry/metrics.h"
#include "telemetry/tracer.h"

namespace hg::telemetry {

struct OtlpConfig {
  // Full URL spans are POSTed to ("http://collector:4318/v1/traces"); empty = tracing off.
  std::string traces_url;
  std::string service_name = "hourglass";
  std::vector<std::pair<std::string, std::string>> resource_attributes;  // besides service.name
  std::vector<std::pair<std::string, std::string>> headers;  // OTEL_EXPORTER_OTLP_HEADERS
  size_t max_queue = 4096;
  size_t max_batch = 512;
  absl::Duration flush_interval = absl::Seconds(1);
  absl::Duration request_timeout = absl::Seconds(5);
  absl::Duration shutdown_timeout = absl::Seconds(3);
  std::vector<std::string> warnings;  // settings ignored, for the caller to log

  bool enabled() const { return !traces_url.empty(); }
};

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
// Reads the process environment.
EnvLookup ProcessEnv();

// The exporter settings from `flag_endpoint` (--otlp-endpoint, wins when not empty) and the
// standard variables: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), OTEL_EXPORTER_OTLP_ENDPOINT
// (+ "/v1/traces"), OTEL_EXPORTER_OTLP_PROTOCOL / _TRACES_PROTOCOL (only http/json is spoken;
// another value is a warning), OTEL_SERVICE_NAME (else `default_service`),
// OTEL_RESOURCE_ATTRIBUTES (k=v,k2=v2, percent-decoded), OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_SDK_DISABLED=true (off), OTEL_TRACES_EXPORTER=none (off).
// InvalidArgument for an endpoint that is not an http(s) URL.
absl::StatusOr<OtlpConfig> OtlpConfigFromEnv(std::string_view flag_endpoint,
                                             std::string_view default_service,
                                             const EnvLookup& env);

// The OTLP/JSON ExportTraceServiceRequest for `spans` (trace and span ids as hex, 64-bit
// numbers as decimal strings, as the OTLP JSON mapping specifies).
nlohmann::json EncodeOtlpJson(const std::vector<trace::SpanData>& spans, const OtlpConfig& config);

class OtlpExporter final : public trace::SpanSink {
 public:
  struct Counters {
    int64_t exported = 0;  // spans the collector accepted (2xx)
    int64_t dropped = 0;   // spans dropped because the queue was full
    int64_t failed = 0;    // spans in batches the collector refused or could not be reached
  };
  // Hooks for metrics (all optional; called on the exporter's thread or in Submit()).
  struct Hooks {
    std::function<void(int64_t n)> dropped;
    std::function<void(int64_t n)> exported;
    std::function<void(int64_t n)> failed;
  };

  // Starts the sender thread. `config.enabled()` must be true; `clock` outlives the exporter.
  OtlpExporter(OtlpConfig config, const Clock& clock, Hooks hooks = {});
  ~OtlpExporter() override;
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  void Submit(trace::SpanData span) override;

  // Waits until every span submitted so far has been sent (or has failed), at most `timeout`
  // of Clock time. Returns whether the queue was emptied. For tests and shutdown.
  bool Flush(absl::Duration timeout);
  void Stop();  // idempotent

  Counters counters() const;

 private:
  void Loop();
  // One POST; returns whether the collector answered 2xx.
  bool Send(const std::vector<trace::SpanData>& batch);

  const OtlpConfig config_;
  const Clock& clock_;
  const Hooks hooks_;

  mutable absl::Mutex mu_;
  std::deque<trace::SpanData> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool sending_ ABSL_GUARDED_BY(mu_) = false;  // a batch is in flight
  int64_t flush_requests_ ABSL_GUARDED_BY(mu_) = 0;
  Counters counters_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace hg::telemetry

namespace hg::telemetry {

class TraceProbe;

// What a process needs for traces: the exporter (when an endpoint is configured) and the Tracer
// every module gets. Destroying it flushes and stops the exporter.
struct Tracing {
  std::unique_ptr<TraceProbe> probe;
  std::unique_ptr<OtlpExporter> exporter;  // null: tracing off (contexts still propagate)
  std::unique_ptr<trace::Tracer> tracer;
  ~Tracing();
};

// Reads the configuration (OtlpConfigFromEnv), logs its warnings, and starts the exporter when
// an endpoint is set; exporter counters go to hourglass_trace_spans_total in `metrics`.
// `metrics` and `clock` must outlive the result. InvalidArgument for a bad endpoint.
absl::StatusOr<std::unique_ptr<Tracing>> StartTracing(Metrics& metrics,
                                                      std::string_view flag_endpoint,
                                                      std::string_view default_service,
                                                      const Clock& clock);

}  // namespace hg::telemetry
