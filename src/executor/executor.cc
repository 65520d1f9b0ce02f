#include "executor/executor.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hg::executor {
namespace {

std::optional<int> ParseCode(absl::string_view s) {
  int v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 100 || v > 599) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::vector<StatusRange>> ParseStatusRanges(std::string_view text) {
  std::vector<StatusRange> out;
  for (absl::string_view part : absl::StrSplit(absl::string_view(text.data(), text.size()), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.size() == 3 && (part[1] == 'x' || part[1] == 'X') &&
        (part[2] == 'x' || part[2] == 'X')) {
      if (part[0] < '1' || part[0] > '5') return std::nullopt;
      const int hundreds = (part[0] - '0') * 100;
      out.push_back({hundreds, hundreds + 99});
      continue;
    }
    const size_t dash = part.find('-');
    if (dash == absl::string_view::npos) {
      const auto code = ParseCode(part);
      if (!code) return std::nullopt;
      out.push_back({*code, *code});
      continue;
    }
    const auto lo = ParseCode(absl::StripAsciiWhitespace(part.substr(0, dash)));
    const auto hi = ParseCode(absl::StripAsciiWhitespace(part.substr(dash + 1)));
    if (!lo || !hi || *lo > *hi) return std::nullopt;
    out.push_back({*lo, *hi});
  }
  return out;
}

std::string FormatStatusRanges(const std::vector<StatusRange>& ranges) {
  if (ranges.empty()) return "2xx";
  std::string out;
  for (const StatusRange& r : ranges) {
    if (!out.empty()) out += ',';
    if (r.lo % 100 == 0 && r.hi == r.lo + 99) {
      absl::StrAppend(&out, r.lo / 100, "xx");
    } else if (r.lo == r.hi) {
      absl::StrAppend(&out, r.lo);
    } else {
      absl::StrAppend(&out, r.lo, "-", r.hi);
    }
  }
  return out;
}

bool StatusExpected(const std::vector<StatusRange>& ranges, int code) {
  if (ranges.empty()) return code >= 200 && code <= 299;
  return std::any_of(ranges.begin(), ranges.end(),
                     [code](const StatusRange& r) { return r.Contains(code); });
}

std::string_view ExecStatusName(ExecStatus status) {
  switch (status) {
    case ExecStatus::kSuccess:
      return "success";
    case ExecStatus::kFailed:
      return "failed";
    case ExecStatus::kTimeout:
      return "timeout";
    case ExecStatus::kKilled:
      return "killed";
  }
  return "failed";
}

std::string FormatRfc3339Utc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

}  // namespace hg::executor
