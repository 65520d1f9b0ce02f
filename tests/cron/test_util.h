// Helpers shared by the cron tests: RFC 3339 in and out, and "the next n fires" as strings.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cron/schedule.h"
#include "gtest/gtest.h"

namespace hg::cron::testing {

inline absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name;
  return tz;
}

inline absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", rfc3339, &t, &err)) << rfc3339 << err;
  return t;
}

inline std::string Format(absl::Time t, absl::TimeZone tz) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", t, tz);
}

// The next `n` fire times after `from`, formatted in the schedule's zone ("-" when none).
inline std::vector<std::string> Fires(const std::string& expr, const std::string& zone,
                                      const std::string& from, int n) {
  absl::StatusOr<Schedule> s = Schedule::Parse(expr, Zone(zone));
  EXPECT_TRUE(s.ok()) << expr << ": " << s.status();
  if (!s.ok()) return {};
  std::vector<std::string> out;
  absl::Time t = At(from);
  for (int i = 0; i < n; ++i) {
    std::optional<absl::Time> next = s->Next(t);
    if (!next) {
      out.push_back("-");
      break;
    }
    EXPECT_GT(*next, t) << expr << " must fire strictly after " << Format(t, s->zone());
    out.push_back(Format(*next, s->zone()));
    t = *next;
  }
  return out;
}

}  // namespace hg::cron::testing
