// The logic behind `hourglass cron next|explain`, kept out of src/app so it is unit-tested.
// Pure apart from writing to the given streams; the caller passes "now" (no clock reads here).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hg::cron {

// Exit codes of the cron subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;  // invalid expression, zone, --from or -n

struct NextOptions {
  std::string expr;
  int count = 1;                    // -n: how many fire times, 1..kMaxCount
  std::optional<std::string> from;  // --from RFC 3339; default: `now`
  std::string tz = "UTC";           // --tz; a CRON_TZ= prefix in `expr` wins
  static constexpr int kMaxCount = 100000;
};

// "2026-03-08T03:00:00-04:00": RFC 3339 with the numeric offset of `zone` at `t`.
std::string FormatRfc3339(absl::Time t, absl::TimeZone zone);

// Accepts RFC 3339 with "Z" or a numeric offset and optional fractional seconds.
absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text);

// Prints the next `count` fire times after `from` (or `now`), one per line, in the schedule's
// zone. Errors go to `err` with exit code kExitUsage. When the schedule has no further fire
// within Schedule::kSearchHorizon, prints what it found, says so on `err`, and returns kExitOk.
int RunNext(const NextOptions& options, absl::Time now, std::ostream& out, std::ostream& err);

// Prints Schedule::Explain() of `expr` in zone `tz`.
int RunExplain(std::string_view expr, std::string_view tz, std::ostream& out, std::ostream& err);

}  // namespace hg::cron
