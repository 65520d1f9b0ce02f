#include "cron/schedule.h"

#include <bit>
#include <cctype>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "common/status.h"
#include "common/strings.h"
#include "cron/civil.h"
#include "cron/fields.h"

namespace hg::cron {
namespace {

using internal::CivilFromDays;
using internal::DaysFromCivil;
using internal::DaysInMonth;
using internal::FloorDiv;
using internal::kSecondsPerDay;
using internal::WeekdayFromDays;

// Instants outside years 0001..9999 are not searched (keeps every sum far from int64 limits).
constexpr int64_t kMinUnix = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxUnix = 253402300799;  // 9999-12-31T23:59:59Z
// Offset changes examined by one Next() call; real zones have a few per year.
constexpr int kMaxSegments = 1000;

absl::Status Invalid(std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("cron: ", Av(message)));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A zone name goes to the tz database as a file name: refuse anything that could leave it.
bool PlausibleZoneName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/') return false;
  if (name.find("..") != std::string_view::npos) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
          c == '+')) {
      return false;
    }
  }
  return true;
}

struct Descriptor {
  std::string_view name;
  std::string_view fields;  // 6-field equivalent
};
constexpr Descriptor kDescriptors[] = {
    {"@yearly", "0 0 0 1 1 *"}, {"@annually", "0 0 0 1 1 *"}, {"@monthly", "0 0 0 1 * *"},
    {"@weekly", "0 0 0 * * 0"}, {"@daily", "0 0 0 * * *"},    {"@midnight", "0 0 0 * * *"},
    {"@hourly", "0 0 * * * *"},
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Smallest set bit of `mask` at or above `from`, or -1.
inline int NextBit(uint64_t mask, int from) {
  if (from >= 64) return -1;
  const uint64_t m = mask >> from;
  return m == 0 ? -1 : from + std::countr_zero(m);
}

}  // namespace

absl::StatusOr<Schedule> Schedule::Parse(std::string_view expr, absl::TimeZone zone) {
  Schedule s;
  s.expression_ = std::string(expr);
  s.zone_ = zone;
  std::string_view rest = Trim(expr);
  if (rest.empty()) return Invalid("empty expression");

  // Optional CRON_TZ=<zone> / TZ=<zone> prefix (robfig/cron and Vixie cron spell it this way).
  for (std::string_view prefix : {std::string_view("CRON_TZ="), std::string_view("TZ=")}) {
    if (rest.substr(0, prefix.size()) != prefix) continue;
    std::vector<std::string_view> words = internal::SplitWords(rest);
    std::string_view name = words[0].substr(prefix.size());
    if (name.empty())
      return Invalid(absl::StrCat("missing time zone name after \"", Av(prefix), "\""));
    absl::TimeZone tz;
    if (!PlausibleZoneName(name) || !absl::LoadTimeZone(std::string(name), &tz)) {
      return Invalid(absl::StrCat("unknown time zone \"", Av(name), "\" in \"", Av(words[0]),
                                  "\" (expected an IANA name such as America/New_York)"));
    }
    s.zone_ = tz;
    rest = Trim(rest.substr(words[0].size()));
    if (rest.empty()) {
      return Invalid(absl::StrCat("nothing after \"", Av(words[0]), "\": expected a schedule"));
    }
    break;
  }

  std::vector<std::string_view> words = internal::SplitWords(rest);
  if (rest.front() == '@') {
    const std::string name = Lower(words[0]);
    if (name == "@every") {
      if (words.size() != 2) {
        return Invalid(
            absl::StrCat("\"@every\" takes exactly one duration (e.g. @every 1h30m), got ",
                         words.size() - 1, " words"));
      }
      absl::StatusOr<absl::Duration> d = ParseGoDuration(words[1]);
      if (!d.ok()) return Invalid(absl::StrCat("@every: ", d.status().message()));
      if (*d < absl::Seconds(1)) {
        return Invalid(absl::StrCat(
            "@every: interval \"", Av(words[1]), "\" is below the 1s minimum",
            *d > absl::ZeroDuration() ? " (robfig/cron ran it every 1s: write @every 1s)" : ""));
      }
      // Refused rather than rounded as robfig/cron does: the stored expression must say what
      // runs (docs/design/cron.md "Differences from robfig/cron").
      if (*d % absl::Seconds(1) != absl::ZeroDuration()) {
        return Invalid(absl::StrCat(
            "@every: interval \"", Av(words[1]),
            "\" is not a whole number of seconds (robfig/cron truncated it: write @every ",
            FormatGoDuration(absl::Trunc(*d, absl::Seconds(1))), ")"));
      }
      if (*d > kSearchHorizon) {
        return Invalid(absl::StrCat("@every: interval \"", Av(words[1]),
                                    "\" exceeds the 5-year search horizon"));
      }
      s.every_seconds_ = absl::ToInt64Seconds(*d);
      s.descriptor_ = "@every " + FormatGoDuration(*d);
      return s;
    }
    if (name == "@reboot") return Invalid("\"@reboot\" is not supported (no fixed instant)");
    for (const Descriptor& d : kDescriptors) {
      if (name != d.name) continue;
      if (words.size() != 1) {
        return Invalid(
            absl::StrCat("unexpected text after \"", Av(words[0]), "\": \"", Av(words[1]), "\""));
      }
      s.descriptor_ = std::string(d.name);
      HG_ASSIGN_OR_RETURN(s.f_, internal::ParseFields(d.fields, 6, &s.field_text_));
      return s;
    }
    return Invalid(absl::StrCat("unknown descriptor \"", Av(words[0]),
                                "\" (expected @yearly, @annually, @monthly, @weekly, @daily, "
                                "@midnight, @hourly or @every <duration>)"));
  }
  if (words.size() != 5 && words.size() != 6) {
    return Invalid(
        absl::StrCat("expected 5 fields (minute hour day-of-month month day-of-week) "
                     "or 6 (with seconds first), got ",
                     words.size(), " in \"", Av(rest), "\""));
  }
  s.field_count_ = static_cast<int>(words.size());
  HG_ASSIGN_OR_RETURN(s.f_, internal::ParseFields(rest, s.field_count_, &s.field_text_));
  return s;
}

const std::string& Schedule::expression() const { return expression_; }
absl::TimeZone Schedule::zone() const { return zone_; }
std::string Schedule::zone_name() const { return zone_.name(); }

uint32_t Schedule::DayMask(int64_t year, int month) const {
  const int dim = DaysInMonth(year, month);
  const uint32_t all = ((uint32_t{1} << dim) - 1) << 1;  // bits 1..dim
  if (!f_.dom_restricted && !f_.dow_restricted) return all;
  const int wd1 = WeekdayFromDays(DaysFromCivil(year, month, 1));
  const int wd_last = (wd1 + dim - 1) % 7;
  uint32_t dom = 0;
  if (f_.dom_restricted) {
    dom = f_.dom & all;
    for (uint32_t m = f_.dom_last; m != 0; m &= m - 1) {
      const int day = dim - std::countr_zero(m);
      if (day >= 1) dom |= uint32_t{1} << day;
    }
    for (uint32_t m = f_.dom_nearest & all; m != 0; m &= m - 1) {
      int day = std::countr_zero(m);
      const int wd = (wd1 + day - 1) % 7;
      if (wd == 6)
        day = day == 1 ? 3 : day - 1;  // Saturday: Friday, or Monday the 3rd
      else if (wd == 0)
        day = day == dim ? day - 2 : day + 1;  // Sunday: Monday, or Friday
      dom |= uint32_t{1} << day;
    }
    if (f_.dom_last_weekday) {
      const int day = wd_last == 6 ? dim - 1 : wd_last == 0 ? dim - 2 : dim;
      dom |= uint32_t{1} << day;
    }
  }
  uint32_t dow = 0;
  if (f_.dow_restricted) {
    dow = f_.dow_days[wd1] & all;
    for (uint32_t m = f_.dow_last; m != 0; m &= m - 1) {
      const int w = std::countr_zero(m);
      dow |= uint32_t{1} << (dim - (wd_last - w + 7) % 7);
    }
    for (int w = 0; w < 7; ++w) {
      if (f_.dow_nth[w] == 0) continue;
      const int first = 1 + (w - wd1 + 7) % 7;
      for (uint32_t m = f_.dow_nth[w]; m != 0; m &= m - 1) {
        const int day = first + 7 * (std::countr_zero(m) - 1);
        if (day <= dim) dow |= uint32_t{1} << day;
      }
    }
  }
  // Vixie cron: when both day fields are restricted, a day matching either one fires.
  if (f_.dom_restricted && f_.dow_restricted) return dom | dow;
  return f_.dom_restricted ? dom : dow;
}

std::optional<int64_t> Schedule::FindLocal(int64_t from, int64_t to) const {
  if (from >= to) return std::nullopt;
  const int64_t from_days = FloorDiv(from, kSecondsPerDay);
  const int64_t sod = from - from_days * kSecondsPerDay;
  const internal::CivilDate start = CivilFromDays(from_days);
  int64_t year = start.year;
  int month = start.month, day = start.day;
  int hour = static_cast<int>(sod / 3600), minute = static_cast<int>(sod / 60 % 60),
      second = static_cast<int>(sod % 60);
  const int64_t last_year = CivilFromDays(FloorDiv(to - 1, kSecondsPerDay)).year;
  int64_t mask_year = 0;
  int mask_month = 0;  // 0: `days` not computed yet
  uint32_t days = 0;
  // Each step moves the candidate strictly forward, field by field; bounded by last_year.
  while (year <= last_year) {
    const int m = NextBit(f_.month, month);
    if (m < 0) {
      ++year;
      month = 1, day = 1, hour = 0, minute = 0, second = 0;
      continue;
    }
    if (m != month) month = m, day = 1, hour = 0, minute = 0, second = 0;
    if (mask_month != month || mask_year != year) {
      days = DayMask(year, month);
      mask_year = year, mask_month = month;
    }
    const int d = NextBit(days, day);
    if (d < 0) {
      if (++month > 12) month = 1, ++year;
      day = 1, hour = 0, minute = 0, second = 0;
      continue;
    }
    if (d != day) day = d, hour = 0, minute = 0, second = 0;
    const int h = NextBit(f_.hour, hour);
    if (h < 0) {
      ++day, hour = 0, minute = 0, second = 0;  // past the month's end: NextBit finds no day
      continue;
    }
    if (h != hour) hour = h, minute = 0, second = 0;
    const int mi = NextBit(f_.minute, minute);
    if (mi < 0) {
      ++hour, minute = 0, second = 0;
      continue;  // hour 24 finds no hour bit and moves to the next day
    }
    if (mi != minute) minute = mi, second = 0;
    const int s = NextBit(f_.second, second);
    if (s < 0) {
      ++minute, second = 0;
      continue;  // minute 60 finds no minute bit and moves to the next hour
    }
    const int64_t local =
        DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60 + s;
    if (local >= to) return std::nullopt;
    return local;
  }
  return std::nullopt;
}

std::optional<absl::Time> Schedule::Next(absl::Time after) const {
  if (after < absl::FromUnixSeconds(kMinUnix) || after >= absl::FromUnixSeconds(kMaxUnix)) {
    return std::nullopt;
  }
  const int64_t after_unix = absl::ToUnixSeconds(after);  // rounds down
  const int64_t horizon_unix = after_unix + absl::ToInt64Seconds(kSearchHorizon);
  if (every_seconds_ > 0) {
    // Multiples of the interval since the Unix epoch: every master computes the same instants.
    return absl::FromUnixSeconds((FloorDiv(after_unix, every_seconds_) + 1) * every_seconds_);
  }
  // The search walks the zone's segments of constant UTC offset, [start, next transition). Inside
  // one segment wall time and absolute time move together, so the field search is exact. At each
  // boundary the DST rules of docs/design/cron.md decide what the gap or the repeat means:
  //  - hour "*": fire at every instant whose wall time matches (repeats twice, gaps never);
  //  - hour restricted: wall-time semantics; a repeated wall time fires on its first pass only,
  //    and matching wall times inside a gap fire once, at the first instant after the gap.
  const bool wall = !f_.hour_wildcard;
  int64_t start = after_unix + 1;        // first candidate instant (inclusive), unix seconds
  int64_t skip_until_local = INT64_MIN;  // wall mode: local times below this were already passed
  if (wall) {
    // The latest transition at or before `start`. Inside the second pass of a repeat, the wall
    // times up to its end already fired; a gap that ends exactly at `start` fires at `start`.
    absl::TimeZone::CivilTransition prev;
    if (zone_.PrevTransition(absl::FromUnixSeconds(start + 1), &prev)) {  // latest <= start
      const int64_t prev_from = prev.from - absl::CivilSecond(1970);
      const int64_t prev_to = prev.to - absl::CivilSecond(1970);
      if (prev_to < prev_from) {
        skip_until_local = prev_from;
      } else if (prev_to > prev_from &&
                 prev_to - zone_.At(absl::FromUnixSeconds(start)).offset == start &&
                 FindLocal(prev_from, prev_to)) {
        return absl::FromUnixSeconds(start);
      }
    }
  }
  for (int segment = 0; segment < kMaxSegments && start <= horizon_unix; ++segment) {
    const absl::Time start_time = absl::FromUnixSeconds(start);
    const int64_t offset = zone_.At(start_time).offset;
    absl::TimeZone::CivilTransition tr;
    const bool has_tr = zone_.NextTransition(start_time, &tr);
    const int64_t tr_from_local = has_tr ? tr.from - absl::CivilSecond(1970) : 0;
    const int64_t tr_to_local = has_tr ? tr.to - absl::CivilSecond(1970) : 0;
    const int64_t tr_unix = has_tr ? tr_from_local - offset : 0;
    const bool boundary = has_tr && tr_unix <= horizon_unix;
    const int64_t end_local = boundary ? tr_from_local : horizon_unix + 1 + offset;
    const int64_t from_local = std::max(start + offset, skip_until_local);
    if (std::optional<int64_t> local = FindLocal(from_local, end_local)) {
      return absl::FromUnixSeconds(*local - offset);
    }
    if (!boundary) return std::nullopt;
    if (wall && tr_to_local > tr_from_local && FindLocal(tr_from_local, tr_to_local)) {
      return absl::FromUnixSeconds(tr_unix);  // wall times skipped by the gap fire once, now
    }
    // Wall mode: after a fall-back, the repeated wall times already had their first pass.
    skip_until_local = wall ? tr_from_local : INT64_MIN;
    start = tr_unix;
  }
  return std::nullopt;
}

}  // namespace hg::cron
