// The six cron fields parsed into bitmasks. Internal to src/cron (Schedule holds one).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace hg::cron::internal {

enum FieldIndex { kSecond = 0, kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek, kFieldCount };

// Which wall times a field set names (bit v set = value v allowed).
struct Fields {
  uint64_t second = 0;               // bits 0..59
  uint64_t minute = 0;               // bits 0..59
  uint32_t hour = 0;                 // bits 0..23
  uint32_t dom = 0;                  // bits 1..31: plain days of month
  uint32_t dom_last = 0;             // bit n: "L-n" (last day minus n); bit 0 is "L"
  uint32_t dom_nearest = 0;          // bit n: "nW", the weekday nearest day n
  bool dom_last_weekday = false;     // "LW"
  uint16_t month = 0;                // bits 1..12
  uint8_t dow = 0;                   // bits 0..6, 0 = Sunday
  uint8_t dow_last = 0;              // bit w: "wL", the last weekday w of the month
  std::array<uint8_t, 7> dow_nth{};  // [w] bit k: "w#k", the k-th weekday w (k = 1..5)
  bool dom_restricted = false;       // day-of-month field is not "*" or "?"
  bool dow_restricted = false;       // day-of-week field is not "*" or "?"
  bool hour_wildcard = true;         // hour field is "*": follow absolute time across DST
  // dow_days[w]: days 1..31 whose weekday is in `dow`, for a month whose 1st is weekday w.
  std::array<uint32_t, 7> dow_days{};
};

// Splits on ASCII whitespace, dropping empty words.
std::vector<std::string_view> SplitWords(std::string_view text);

// Name of field `index` as used in messages: "second", "day of month", ...
std::string_view FieldName(int index);

// Parses `count` (5 or 6) whitespace-separated fields. With 5, seconds are "0". Stores each
// field's text (second first; "0" for an implicit second) in `texts`. Errors are
// InvalidArgument: cron: field "hour" (3rd): value 24 out of range 0-23
absl::StatusOr<Fields> ParseFields(std::string_view text, int count,
                                   std::array<std::string, kFieldCount>* texts);

}  // namespace hg::cron::internal
