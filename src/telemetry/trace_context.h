// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and `tracestate`
// values that carry one trace across the API, the leader, gRPC metadata, the pending/ envelope
// and into the job (TRACEPARENT env, `traceparent` header).
//
//   auto parent = ParseTraceparent(request_header);       // nullopt when absent or malformed
//   SpanContext child = parent ? ChildOf(*parent) : NewRoot();
//   std::string header = FormatTraceparent(child);        // "00-<32 hex>-<16 hex>-01"
//
// Pure functions and value types; thread-safe. Ids come from a thread-local random engine seeded
// from std::random_device (unique, not secret).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hg::trace {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

struct SpanContext {
  TraceId trace_id{};
  SpanId span_id{};
  uint8_t flags = 0x01;    // bit 0: sampled
  std::string tracestate;  // opaque vendor list, passed on unchanged (validated on parse)

  bool sampled() const { return (flags & 0x01) != 0; }
  std::string TraceIdHex() const;
  std::string SpanIdHex() const;
  friend bool operator==(const SpanContext&, const SpanContext&) = default;
};

// Parses a `traceparent` value. Accepts version 00 exactly (4 fields) and, as the spec asks,
// higher versions with at least those fields; refuses version ff, all-zero ids, upper-case or
// non-hex digits, and wrong lengths. Surrounding blanks are ignored.
std::optional<SpanContext> ParseTraceparent(std::string_view value);

// Validates a `tracestate` value (list-members `key=value` separated by commas, at most 32,
// at most 512 bytes as this implementation's limit). Returns the normalized list (blanks and
// empty members removed) or nullopt when invalid: the spec says to drop an invalid tracestate,
// never the traceparent.
std::optional<std::string> ParseTracestate(std::string_view value);

// `traceparent` for `ctx` (version 00). Ids are lower-case hex.
std::string FormatTraceparent(const SpanContext& ctx);

// A new trace: random trace and span ids, sampled.
SpanContext NewRoot();
// A child of `parent`: same trace id, flags and tracestate, a new random span id.
SpanContext ChildOf(const SpanContext& parent);
SpanId NewSpanId();

std::string ToHex(const uint8_t* bytes, size_t n);
// The 32-hex trace id of a traceparent, or "" when it does not parse.
std::string TraceIdOf(std::string_view traceparent);

}  // namespace hg::trace
