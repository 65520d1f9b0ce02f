// Spans: a Tracer starts them, a Span collects name, times, attributes and status, and on End()
// hands a SpanData to the Tracer's SpanSink (the OTLP exporter) — or to nothing.
//
//   trace::Span span = tracer.StartSpan("fire", trace::SpanKind::kInternal, parent_traceparent);
//   span.SetAttribute("hourglass.job", job);
//   envelope.traceparent = span.traceparent();   // children continue this trace
//   ...                                          // span.End() or its destructor ends it
//
// Without a sink (tracing off) spans still get ids, so trace context propagates and execution
// records carry a trace id; nothing is recorded. A span whose parent is not sampled (flags 00) is
// propagated but not exported. Domain code that has no Tracer uses StartSpan(nullptr, ...): an
// inert span whose context is the parent's, i.e. the incoming traceparent passes through as is.
//
// Threading: Tracer is thread-safe (the sink must be too). A Span is used by one thread at a
// time; it may be moved between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "telemetry/trace_context.h"

namespace hg::trace {

// OTLP's SpanKind numbers.
enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
enum class SpanStatus { kUnset = 0, kOk = 1, kError = 2 };  // OTLP's Status.code

using AttributeValue = std::variant<std::string, int64_t, double, bool>;

struct SpanData {
  TraceId trace_id{};
  SpanId span_id{};
  std::optional<SpanId> parent_span_id;
  std::string tracestate;
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  absl::Time start;
  absl::Time end;
  std::vector<std::pair<std::string, AttributeValue>> attributes;
  SpanStatus status = SpanStatus::kUnset;
  std::string status_message;
};

// Receives ended spans. Submit() must not block for long (it runs on scheduling and execution
// paths) and must be thread-safe.
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void Submit(SpanData span) = 0;
};

class Span {
 public:
  Span() = default;  // inert, no context
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span() { End(); }

  // An inert span carrying `ctx` (nothing recorded; traceparent() is ctx's).
  static Span Inert(std::optional<SpanContext> ctx);

  bool recording() const { return sink_ != nullptr && !ended_; }
  bool has_context() const { return has_context_; }
  const SpanContext& context() const { return ctx_; }
  // This span's traceparent for children; "" when it has no context.
  std::string traceparent() const;
  std::string trace_id() const { return has_context_ ? ctx_.TraceIdHex() : ""; }

  void SetAttribute(std::string key, AttributeValue value);
  void SetAttribute(std::string key, const char* value) {
    SetAttribute(std::move(key), AttributeValue(std::string(value)));
  }
  void SetError(std::string message);
  void SetOk();
  // Ends the span now (Clock time) and submits it. Idempotent.
  void End();

 private:
  friend class Tracer;
  const Clock* clock_ = nullptr;
  SpanSink* sink_ = nullptr;  // null: inert
  bool has_context_ = false;
  bool ended_ = false;
  SpanContext ctx_;
  SpanData data_;
};

class Tracer {
 public:
  // `sink` may be null (tracing off). Both must outlive the tracer and its spans.
  Tracer(const Clock& clock, SpanSink* sink) : clock_(clock), sink_(sink) {}

  // A span that is a child of `parent` (a new root when nullopt).
  Span StartSpan(std::string name, SpanKind kind, const std::optional<SpanContext>& parent) const;
  // Same, with the parent given as W3C header values; a malformed traceparent starts a new
  // root, an invalid tracestate is dropped (as the spec asks).
  Span StartSpan(std::string name, SpanKind kind, std::string_view parent_traceparent,
                 std::string_view parent_tracestate = "") const;

  bool exporting() const { return sink_ != nullptr; }

 private:
  const Clock& clock_;
  SpanSink* const sink_;
};

// `tracer` may be null: then the span is inert and carries the parent's context unchanged.
Span StartSpan(const Tracer* tracer, std::string name, SpanKind kind,
               std::string_view parent_traceparent, std::string_view parent_tracestate = "");

// Parses header values into a context (tracestate attached when valid).
std::optional<SpanContext> ParseHeaders(std::string_view traceparent, std::string_view tracestate);

// The traceparent of the span the current thread is working under ("" when none), for code
// that cannot be handed it explicitly (an HTTP handler behind a fixed signature). Set for a
// scope with ScopedTraceparent; scopes nest.
const std::string& CurrentTraceparent();
class ScopedTraceparent {
 public:
  explicit ScopedTraceparent(std::string traceparent);
  ~ScopedTraceparent();
  ScopedTraceparent(const ScopedTraceparent&) = delete;
  ScopedTraceparent& operator=(const ScopedTraceparent&) = delete;

 private:
  std::string previous_;
};

// The template of an httplib route regex, for span names and metric labels: capture groups
// become {name} after /jobs/, {id} after /executions/, {path} for (.*), {param} elsewhere;
// optional trailing slashes and regex escapes go. "/jobs/([^/]+)/history/?" ->
// "/jobs/{name}/history".
std::string RouteTemplate(std::string_view pattern);

}  // namespace hg::trace
