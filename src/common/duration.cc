#include "common/duration.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace hg {
namespace {

struct Unit {
  std::string_view name;
  int64_t nanos;
};

// Longest names first so "ms" is not read as "m".
constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // µs (U+00B5)
    {"\xCE\xBCs", 1'000},  // μs (U+03BC)
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

absl::Status Invalid(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid duration \"", Av(text), "\": ", Av(why)));
}

}  // namespace

absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return absl::ZeroDuration();
  if (s.empty()) return Invalid(text, "empty");
  // Accumulate in long double nanoseconds, then check the int64 range like Go does.
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    long double whole = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      whole = whole * 10 + (s[i] - '0');
      ++i;
      digits = true;
    }
    long double frac = 0, scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        frac = frac * 10 + (s[i] - '0');
        scale *= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) return Invalid(text, "expected a number");
    s.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (s.substr(0, u.name.size()) == u.name) {
        // "m" must not swallow the start of "ms".
        if (!unit || u.name.size() > unit->name.size()) unit = &u;
      }
    }
    if (unit == nullptr) {
      return Invalid(text, s.empty() ? "missing unit (use ns, us, ms, s, m or h)"
                                     : absl::StrCat("unknown unit in \"", Av(s), "\""));
    }
    s.remove_prefix(unit->name.size());
    total += (whole + frac / scale) * static_cast<long double>(unit->nanos);
    if (total > static_cast<long double>(INT64_MAX)) return Invalid(text, "out of range");
  }
  const auto nanos = static_cast<int64_t>(total);
  return absl::Nanoseconds(negative ? -nanos : nanos);
}

std::string FormatGoDuration(absl::Duration d) {
  if (d == absl::ZeroDuration()) return "0s";
  std::string sign = d < absl::ZeroDuration() ? "-" : "";
  if (d < absl::ZeroDuration()) d = -d;
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  // Below one second Go prints a single unit with a fraction.
  auto fraction = [](int64_t value, int64_t unit) {
    std::string out = absl::StrCat(value / unit);
    int64_t rest = value % unit;
    if (rest != 0) {
      std::string digits;
      for (int64_t u = unit / 10; u > 0; u /= 10) {
        digits += static_cast<char>('0' + (rest / u) % 10);
      }
      while (!digits.empty() && digits.back() == '0') digits.pop_back();
      absl::StrAppend(&out, ".", digits);
    }
    return out;
  };
  if (ns < 1'000) return absl::StrCat(sign, ns, "ns");
  if (ns < 1'000'000) return absl::StrCat(sign, fraction(ns, 1'000), "us");
  if (ns < 1'000'000'000) return absl::StrCat(sign, fraction(ns, 1'000'000), "ms");
  const int64_t hours = ns / 3'600'000'000'000;
  const int64_t minutes = ns / 60'000'000'000 % 60;
  const int64_t sec_ns = ns % 60'000'000'000;
  std::string out = sign;
  if (hours > 0) absl::StrAppend(&out, hours, "h");
  if (hours > 0 || minutes > 0) absl::StrAppend(&out, minutes, "m");
  absl::StrAppend(&out, fraction(sec_ns, 1'000'000'000), "s");
  return out;
}

}  // namespace hg
