#include "telemetry/trace_context.h"

#include <algorithm>
#include <random>

namespace hg::trace {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is invalid in traceparent
}

// Decodes exactly `n` bytes of lower-case hex from `text` (2n characters).
template <size_t N>
bool DecodeHex(std::string_view text, std::array<uint8_t, N>* out) {
  if (text.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    const int hi = HexValue(text[2 * i]);
    const int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::mt19937_64& Engine() {
  thread_local std::mt19937_64 engine([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  return engine;
}

template <size_t N>
void FillRandom(std::array<uint8_t, N>* out) {
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t r = Engine()();
      for (size_t j = 0; j < 8 && i + j < N; ++j)
        (*out)[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  } while (AllZero(*out));  // all-zero ids are invalid
}

bool ValidKey(std::string_view key) {
  // simple-key: lcalpha 0*255(lcalpha / DIGIT / "_" / "-"/ "*" / "/")
  // multi-tenant-key: tenant-id "@" system-id (same alphabet, tenant may start with a digit).
  if (key.empty() || key.size() > 256) return false;
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/' || c == '@';
  };
  if (!std::all_of(key.begin(), key.end(), allowed)) return false;
  const size_t at = key.find('@');
  if (at == std::string_view::npos) return key[0] >= 'a' && key[0] <= 'z';
  if (key.find('@', at + 1) != std::string_view::npos) return false;
  return at > 0 && at + 1 < key.size() && key[at + 1] >= 'a' && key[at + 1] <= 'z';
}

bool ValidValue(std::string_view value) {
  // 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  return std::all_of(value.begin(), value.end(),
                     [](char c) { return c >= 0x20 && c <= 0x7e && c != ',' && c != '='; });
}

}  // namespace

std::string ToHex(const uint8_t* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string SpanContext::TraceIdHex() const { return ToHex(trace_id.data(), trace_id.size()); }
std::string SpanContext::SpanIdHex() const { return ToHex(span_id.data(), span_id.size()); }

std::optional<SpanContext> ParseTraceparent(std::string_view value) {
  value = Trim(value);
  // version "-" trace-id "-" parent-id "-" trace-flags  = 2+1+32+1+16+1+2 = 55 characters.
  if (value.size() < 55) return std::nullopt;
  std::array<uint8_t, 1> version{};
  if (!DecodeHex(value.substr(0, 2), &version) || version[0] == 0xff) return std::nullopt;
  if (version[0] == 0 && value.size() != 55) return std::nullopt;
  // A future version may append fields, separated by '-'.
  if (value.size() > 55 && value[55] != '-') return std::nullopt;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;
  SpanContext ctx;
  std::array<uint8_t, 1> flags{};
  if (!DecodeHex(value.substr(3, 32), &ctx.trace_id) ||
      !DecodeHex(value.substr(36, 16), &ctx.span_id) || !DecodeHex(value.substr(53, 2), &flags)) {
    return std::nullopt;
  }
  if (AllZero(ctx.trace_id) || AllZero(ctx.span_id)) return std::nullopt;
  ctx.flags = flags[0];
  return ctx;
}

std::optional<std::string> ParseTracestate(std::string_view value) {
  if (value.size() > 512) return std::nullopt;
  std::string out;
  int members = 0;
  while (true) {
    const size_t comma = value.find(',');
    std::string_view member = Trim(value.substr(0, comma));
    if (!member.empty()) {
      const size_t eq = member.find('=');
      if (eq == std::string_view::npos || !ValidKey(member.substr(0, eq)) ||
          !ValidValue(member.substr(eq + 1))) {
        return std::nullopt;
      }
      if (++members > 32) return std::nullopt;
      if (!out.empty()) out += ',';
      out.append(member);
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

std::string FormatTraceparent(const SpanContext& ctx) {
  std::string out = "00-";
  out += ctx.TraceIdHex();
  out += '-';
  out += ctx.SpanIdHex();
  out += '-';
  out += ToHex(&ctx.flags, 1);
  return out;
}

SpanId NewSpanId() {
  SpanId id;
  FillRandom(&id);
  return id;
}

SpanContext NewRoot() {
  SpanContext ctx;
  FillRandom(&ctx.trace_id);
  ctx.span_id = NewSpanId();
  ctx.flags = 0x01;
  return ctx;
}

SpanContext ChildOf(const SpanContext& parent) {
  SpanContext ctx = parent;
  ctx.span_id = NewSpanId();
  return ctx;
}

std::string TraceIdOf(std::string_view traceparent) {
  auto ctx = ParseTraceparent(traceparent);
  return ctx ? ctx->TraceIdHex() : "";
}

}  // namespace hg::trace
