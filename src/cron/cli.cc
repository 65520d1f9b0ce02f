#include "cron/cli.h"

#include "cron/schedule.h"

namespace hg::cron {
namespace {

absl::StatusOr<Schedule> ParseWithZone(std::string_view expr, std::string_view tz) {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(std::string(tz), &zone)) {
    return absl::InvalidArgumentError("unknown time zone \"" + std::string(tz) +
                                      "\" (expected an IANA name such as America/New_York)");
  }
  return Schedule::Parse(expr, zone);
}

}  // namespace

std::string FormatRfc3339(absl::Time t, absl::TimeZone zone) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", t, zone);
}

absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text) {
  absl::Time t;
  std::string why;
  // %Ez accepts "+hh:mm"; RFC 3339 also allows "Z".
  std::string s(text);
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) s.replace(s.size() - 1, 1, "+00:00");
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", s, &t, &why)) {
    return absl::InvalidArgumentError("invalid RFC 3339 time \"" + std::string(text) +
                                      "\" (expected e.g. 2026-03-08T01:30:00-05:00): " + why);
  }
  return t;
}

int RunNext(const NextOptions& options, absl::Time now, std::ostream& out, std::ostream& err) {
  if (options.count < 1 || options.count > NextOptions::kMaxCount) {
    err << "hourglass cron next: -n must be between 1 and " << NextOptions::kMaxCount << "\n";
    return kExitUsage;
  }
  absl::Time t = now;
  if (options.from) {
    absl::StatusOr<absl::Time> from = ParseRfc3339(*options.from);
    if (!from.ok()) {
      err << "hourglass cron next: --from: " << from.status().message() << "\n";
      return kExitUsage;
    }
    t = *from;
  }
  absl::StatusOr<Schedule> schedule = ParseWithZone(options.expr, options.tz);
  if (!schedule.ok()) {
    err << "hourglass cron next: " << schedule.status().message() << "\n";
    return kExitUsage;
  }
  for (int i = 0; i < options.count; ++i) {
    std::optional<absl::Time> next = schedule->Next(t);
    if (!next) {
      err << "hourglass cron next: no further fire time within 5 years after "
          << FormatRfc3339(t, schedule->zone()) << "\n";
      break;
    }
    out << FormatRfc3339(*next, schedule->zone()) << "\n";
    t = *next;
  }
  return kExitOk;
}

int RunExplain(std::string_view expr, std::string_view tz, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Schedule> schedule = ParseWithZone(expr, tz);
  if (!schedule.ok()) {
    err << "hourglass cron explain: " << schedule.status().message() << "\n";
    return kExitUsage;
  }
  out << schedule->Explain();
  return kExitOk;
}

}  // namespace hg::cron
