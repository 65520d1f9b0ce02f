// Fuzzes hg::cron::Schedule: arbitrary text through Parse(); whatever parses must give strictly
// increasing Next() times (or nullopt) from instants around DST transitions, and an Explain().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "cron/schedule.h"

namespace {

absl::TimeZone ZoneFor(uint8_t selector) {
  static const char* const kZones[] = {"UTC", "America/New_York", "Europe/London",
                                       "Asia/Shanghai", "Australia/Lord_Howe"};
  absl::TimeZone tz;
  absl::LoadTimeZone(kZones[selector % 5], &tz);
  return tz;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::TimeZone zone = ZoneFor(data[0]);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const absl::StatusOr<hg::cron::Schedule> s = hg::cron::Schedule::Parse(text, zone);
  if (!s.ok()) {
    if (s.status().message().empty()) __builtin_trap();  // every error must say why
    return 0;
  }
  // Instants next to New York, London and Lord Howe transitions of 2026, and plain ones.
  const int64_t starts[] = {1767225600, 1772953199, 1793512799, 1774745999,
                            1792890000, 1775316600, 1791043199, 0};
  for (int64_t start : starts) {
    absl::Time t = absl::FromUnixSeconds(start) + absl::Milliseconds(data[0] % 3 * 500);
    for (int i = 0; i < 5; ++i) {
      const std::optional<absl::Time> next = s->Next(t);
      if (!next) break;
      if (*next <= t || *next > t + hg::cron::Schedule::kSearchHorizon) __builtin_trap();
      t = *next;
    }
  }
  if (s->Explain().empty()) __builtin_trap();
  return 0;
}
