// A parsed cron expression and its next-fire computation. Pure: no I/O, no clock reads.
//
// Syntax and DST rules: docs/design/cron.md. Immutable after Parse(); safe to share between
// threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cron/fields.h"

namespace hg::cron {

class Schedule {
 public:
  // Parses `expr` (6 fields with seconds, 5 standard fields, @descriptors, @every, and an
  // optional CRON_TZ=/TZ= prefix that overrides `zone`). Errors are InvalidArgument with a
  // message naming the field, the offending text and its position, e.g.
  //   cron: field "hour" (3rd): value 24 out of range 0-23
  static absl::StatusOr<Schedule> Parse(std::string_view expr,
                                        absl::TimeZone zone = absl::UTCTimeZone());

  // The first fire time strictly after `after`, or nullopt when there is none within
  // kSearchHorizon of `after` (an expression such as "0 0 0 30 2 *" never fires).
  std::optional<absl::Time> Next(absl::Time after) const;

  // Human-readable meaning of each field, one line per field.
  std::string Explain() const;

  const std::string& expression() const;
  absl::TimeZone zone() const;
  std::string zone_name() const;

  static constexpr absl::Duration kSearchHorizon = absl::Hours(24 * 366 * 5);

 private:
  Schedule() = default;

  // Days (bits 1..31) of `year`-`month` that the day fields allow.
  uint32_t DayMask(int64_t year, int month) const;
  // The first local time (seconds since 1970-01-01T00:00 local) in [from, to) that matches the
  // fields, or nullopt.
  std::optional<int64_t> FindLocal(int64_t from, int64_t to) const;

  std::string expression_;
  absl::TimeZone zone_;
  int64_t every_seconds_ = 0;  // > 0 for "@every": fires at multiples since the Unix epoch
  internal::Fields f_;
  std::string descriptor_;                 // "@daily" etc. when one was used
  int field_count_ = 6;                    // 5 or 6 as written (6 for descriptors)
  std::array<std::string, 6> field_text_;  // second..day-of-week as written (or expanded)
};

}  // namespace hg::cron
