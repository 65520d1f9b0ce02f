#include "telemetry/tracer.h"

#include <utility>

namespace hg::trace {

Span::Span(Span&& other) noexcept { *this = std::move(other); }

Span& Span::operator=(Span&& other) noexcept {
  if (this == &other) return *this;
  End();
  clock_ = other.clock_;
  sink_ = other.sink_;
  has_context_ = other.has_context_;
  ended_ = other.ended_;
  ctx_ = std::move(other.ctx_);
  data_ = std::move(other.data_);
  other.sink_ = nullptr;
  other.ended_ = true;
  return *this;
}

Span Span::Inert(std::optional<SpanContext> ctx) {
  Span span;
  if (ctx) {
    span.ctx_ = *std::move(ctx);
    span.has_context_ = true;
  }
  return span;
}

std::string Span::traceparent() const { return has_context_ ? FormatTraceparent(ctx_) : ""; }

void Span::SetAttribute(std::string key, AttributeValue value) {
  if (!recording()) return;
  for (auto& [k, v] : data_.attributes) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  data_.attributes.emplace_back(std::move(key), std::move(value));
}

void Span::SetError(std::string message) {
  if (!recording()) return;
  data_.status = SpanStatus::kError;
  data_.status_message = std::move(message);
}

void Span::SetOk() {
  if (!recording()) return;
  data_.status = SpanStatus::kOk;
  data_.status_message.clear();
}

void Span::End() {
  if (ended_) return;
  ended_ = true;
  if (sink_ == nullptr) return;
  data_.end = clock_->Now();
  if (data_.end < data_.start) data_.end = data_.start;
  SpanSink* sink = sink_;
  sink_ = nullptr;
  sink->Submit(std::move(data_));
}

Span Tracer::StartSpan(std::string name, SpanKind kind,
                       const std::optional<SpanContext>& parent) const {
  Span span;
  span.ctx_ = parent ? ChildOf(*parent) : NewRoot();
  span.has_context_ = true;
  span.clock_ = &clock_;
  // Not sampled upstream: propagate, do not record.
  span.sink_ = span.ctx_.sampled() ? sink_ : nullptr;
  span.ended_ = false;
  span.data_.trace_id = span.ctx_.trace_id;
  span.data_.span_id = span.ctx_.span_id;
  if (parent) span.data_.parent_span_id = parent->span_id;
  span.data_.tracestate = span.ctx_.tracestate;
  span.data_.name = std::move(name);
  span.data_.kind = kind;
  span.data_.start = clock_.Now();
  return span;
}

Span Tracer::StartSpan(std::string name, SpanKind kind, std::string_view parent_traceparent,
                       std::string_view parent_tracestate) const {
  return StartSpan(std::move(name), kind, ParseHeaders(parent_traceparent, parent_tracestate));
}

Span StartSpan(const Tracer* tracer, std::string name, SpanKind kind,
               std::string_view parent_traceparent, std::string_view parent_tracestate) {
  if (tracer == nullptr) return Span::Inert(ParseHeaders(parent_traceparent, parent_tracestate));
  return tracer->StartSpan(std::move(name), kind, parent_traceparent, parent_tracestate);
}

std::optional<SpanContext> ParseHeaders(std::string_view traceparent, std::string_view tracestate) {
  std::optional<SpanContext> ctx = ParseTraceparent(traceparent);
  if (ctx && !tracestate.empty()) {
    if (auto state = ParseTracestate(tracestate)) ctx->tracestate = *std::move(state);
  }
  return ctx;
}

namespace {
thread_local std::string current_traceparent;
}  // namespace

const std::string& CurrentTraceparent() { return current_traceparent; }

ScopedTraceparent::ScopedTraceparent(std::string traceparent)
    : previous_(std::exchange(current_traceparent, std::move(traceparent))) {}

ScopedTraceparent::~ScopedTraceparent() { current_traceparent = std::move(previous_); }

std::string RouteTemplate(std::string_view pattern) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '(') {
      // Skip the whole (possibly nested) group.
      int depth = 0;
      size_t j = i;
      for (; j < pattern.size(); ++j) {
        if (pattern[j] == '\\') {
          ++j;
          continue;
        }
        if (pattern[j] == '(') ++depth;
        if (pattern[j] == ')' && --depth == 0) break;
      }
      const std::string_view group = pattern.substr(i, j + 1 - i);
      std::string name = "param";
      if (out.ends_with("/jobs/")) {
        name = "name";
      } else if (out.ends_with("/executions/")) {
        name = "id";
      } else if (group == "(.*)" || group == "(.+)") {
        name = "path";
      }
      out += "{" + name + "}";
      i = j + 1;
      continue;
    }
    if (c == '\\' && i + 1 < pattern.size()) {
      out += pattern[i + 1];
      i += 2;
      continue;
    }
    if (c == '?' || c == '^' || c == '$') {
      // "/?" (optional slash): drop the slash too, unless it is the whole route.
      if (c == '?' && out.size() > 1 && out.back() == '/') out.pop_back();
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  if (out.empty()) out = "/";
  return out;
}

}  // namespace hg::trace
