// Schedule::Explain(): a plain-English line per field, built from the parsed bitmasks (not from
// the text) so that it shows what Next() actually uses.
#include <bit>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"
#include "cron/schedule.h"

namespace hg::cron {
namespace {

using internal::FieldName;

constexpr const char* kMonthNames[] = {"",        "January",  "February", "March",  "April",
                                       "May",     "June",     "July",     "August", "September",
                                       "October", "November", "December"};
constexpr const char* kDayNames[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};

std::string Ordinal(int n) {
  const char* suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    suffix = n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
  }
  return absl::StrCat(n, suffix);
}

std::string Name(int index, int v) {
  if (index == internal::kMonth) return kMonthNames[v];
  if (index == internal::kDayOfWeek) return kDayNames[v];
  if (index == internal::kDayOfMonth) return Ordinal(v);
  return absl::StrCat(v);
}

// "0, 10, 20" or "Monday through Friday"; runs of three or more become "a through b".
std::string DescribeSet(int index, uint64_t bits, int lo, int hi) {
  std::vector<std::string> parts;
  for (int v = lo; v <= hi;) {
    if (!(bits >> v & 1)) {
      ++v;
      continue;
    }
    int end = v;
    while (end + 1 <= hi && (bits >> (end + 1) & 1)) ++end;
    if (end - v >= 2) {
      parts.push_back(absl::StrCat(Name(index, v), " through ", Name(index, end)));
    } else {
      for (int x = v; x <= end; ++x) parts.push_back(Name(index, x));
    }
    v = end + 1;
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace

std::string Schedule::Explain() const {
  std::string out;
  if (every_seconds_ > 0) {
    absl::StrAppend(&out, "schedule: ", descriptor_, "\n");
    absl::StrAppend(&out, "fires: every ", every_seconds_,
                    " seconds, at whole multiples of the interval since 1970-01-01T00:00:00Z "
                    "(the same instants on every master; DST does not apply)\n");
    absl::StrAppend(&out, "time zone: ", zone_.name(), " (used only to display times)\n");
    return out;
  }
  if (!descriptor_.empty()) {
    absl::StrAppend(&out, "descriptor: ", descriptor_, " = ", absl::StrJoin(field_text_, " "),
                    "\n");
  }
  const uint64_t bits[] = {f_.second, f_.minute, f_.hour, f_.dom, f_.month, f_.dow};
  const int lo[] = {0, 0, 0, 1, 1, 0};
  const int hi[] = {59, 59, 23, 31, 12, 6};
  const char* every[] = {"every second",           "every minute", "every hour",
                         "every day of the month", "every month",  "every day of the week"};
  for (int i = 0; i < internal::kFieldCount; ++i) {
    std::string meaning;
    const bool all = std::popcount(bits[i]) == hi[i] - lo[i] + 1;
    if (i == internal::kDayOfMonth && !f_.dom_restricted) {
      meaning = f_.dow_restricted ? "any (day of week decides)" : every[i];
    } else if (i == internal::kDayOfWeek && !f_.dow_restricted) {
      meaning = f_.dom_restricted ? "any (day of month decides)" : every[i];
    } else if (all) {
      meaning = every[i];
    } else {
      std::vector<std::string> parts;
      if (bits[i] != 0) {
        const char* prefix = i == internal::kSecond   ? "at second "
                             : i == internal::kMinute ? "at minute "
                             : i == internal::kHour   ? "at hour "
                                                      : "";
        parts.push_back(absl::StrCat(prefix, DescribeSet(i, bits[i], lo[i], hi[i])));
      }
      if (i == internal::kDayOfMonth) {
        for (int n = 0; n <= 30; ++n) {
          if (!(f_.dom_last >> n & 1)) continue;
          parts.push_back(n == 0 ? "the last day of the month"
                                 : absl::StrCat(n, " day(s) before the last day of the month"));
        }
        for (int n = 1; n <= 31; ++n) {
          if (f_.dom_nearest >> n & 1) {
            parts.push_back(absl::StrCat("the weekday nearest the ", Ordinal(n)));
          }
        }
        if (f_.dom_last_weekday) parts.push_back("the last weekday (Mon-Fri) of the month");
      }
      if (i == internal::kDayOfWeek) {
        for (int w = 0; w < 7; ++w) {
          if (f_.dow_last >> w & 1) {
            parts.push_back(absl::StrCat("the last ", kDayNames[w], " of the month"));
          }
          for (int k = 1; k <= 5; ++k) {
            if (f_.dow_nth[w] >> k & 1) {
              parts.push_back(absl::StrCat("the ", Ordinal(k), " ", kDayNames[w], " of the month"));
            }
          }
        }
      }
      meaning = absl::StrJoin(parts, ", ");
    }
    const bool implicit = field_count_ == 5 && i == internal::kSecond;
    absl::StrAppend(&out, Av(FieldName(i)), ": ", field_text_[i], implicit ? " (implicit)" : "",
                    " = ", meaning, "\n");
  }
  if (f_.dom_restricted && f_.dow_restricted) {
    absl::StrAppend(&out,
                    "days: a day fires when day of month OR day of week matches (both are "
                    "restricted, as in Vixie cron)\n");
  }
  absl::StrAppend(&out, "time zone: ", zone_.name(), "\n");
  absl::StrAppend(
      &out, "dst: ",
      f_.hour_wildcard
          ? "hour is *: follows absolute time (a repeated hour fires twice, a skipped hour never)"
          : "hour is restricted: wall-clock times (a time skipped by a gap fires once at the gap's "
            "end; a repeated time fires on its first pass only)",
      "\n");
  return out;
}

}  // namespace hg::cron
