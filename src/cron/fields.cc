#include "cron/fields.h"

#include <bit>
#include <cctype>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/strings.h"
#include "cron/civil.h"

namespace hg::cron::internal {
namespace {

constexpr std::string_view kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::string_view kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct Spec {
  std::string_view name;
  int min;
  int max;
};
constexpr Spec kSpecs[kFieldCount] = {
    {"second", 0, 59},       {"minute", 0, 59}, {"hour", 0, 23},
    {"day of month", 1, 31}, {"month", 1, 12},  {"day of week", 0, 7},
};

std::string_view Ordinal(int n) {
  constexpr std::string_view kOrdinals[] = {"1st", "2nd", "3rd", "4th", "5th", "6th"};
  return kOrdinals[n - 1];
}

// Parsing context of one field: builds messages naming the field and its position.
class FieldParser {
 public:
  FieldParser(int index, int ordinal, Fields* f) : index_(index), ordinal_(ordinal), f_(f) {}

  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("cron: field \"", Av(kSpecs[index_].name),
                                                   "\" (", Av(Ordinal(ordinal_)), "): ", Av(what)));
  }

  // Parses the whole field text into `bits` (and the Quartz extensions into f_).
  absl::Status Parse(std::string_view text, uint64_t* bits) {
    const Spec& spec = kSpecs[index_];
    if (text == "?") {
      if (index_ != kDayOfMonth && index_ != kDayOfWeek) {
        return Error("\"?\" is only allowed in day of month and day of week");
      }
      text = "*";
    }
    size_t pos = 0;
    while (true) {
      const size_t comma = text.find(',', pos);
      const std::string_view item =
          text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      if (item.empty()) {
        return Error(absl::StrCat("empty list item in \"", Av(text), "\""));
      }
      HG_RETURN_IF_ERROR(ParseItem(item, spec, bits));
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status ParseItem(std::string_view item, const Spec& spec, uint64_t* bits) {
    if (index_ == kDayOfMonth) {
      absl::StatusOr<bool> special = ParseDomSpecial(item);
      if (!special.ok() || *special) return special.status();
    }
    if (index_ == kDayOfWeek) {
      absl::StatusOr<bool> special = ParseDowSpecial(item);
      if (!special.ok() || *special) return special.status();
    }
    if (absl::Status st = CheckMisplacedSpecials(item); !st.ok()) return st;
    // base[/step]; base is "*", "a", or "a-b".
    std::string_view base = item;
    int step = 1;
    bool has_step = false;
    if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      const std::string_view step_text = item.substr(slash + 1);
      if (step_text.empty())
        return Error(absl::StrCat("missing step after \"/\" in \"", Av(item), "\""));
      HG_ASSIGN_OR_RETURN(step, Number(step_text, item, "step"));
      if (step == 0)
        return Error(absl::StrCat("step 0 in \"", Av(item), "\" (must be at least 1)"));
      has_step = true;
      if (base.empty())
        return Error(absl::StrCat("missing start before \"/\" in \"", Av(item), "\""));
    }
    int lo, hi;
    if (base == "*") {
      // Day of week: "*" is 0..6, so "*/n" holds Sunday once (0..7 would give the same days).
      lo = spec.min, hi = index_ == kDayOfWeek ? 6 : spec.max;
    } else if (const size_t dash = base.find('-'); dash != std::string_view::npos) {
      const std::string_view a = base.substr(0, dash), b = base.substr(dash + 1);
      if (a.empty() || b.empty()) {
        return Error(absl::StrCat("incomplete range \"", Av(base), "\" (expected start-end)"));
      }
      HG_ASSIGN_OR_RETURN(lo, Value(a, item));
      HG_ASSIGN_OR_RETURN(hi, Value(b, item));
      if (index_ == kDayOfWeek && hi == 0 && lo > 0) hi = 7;  // "FRI-SUN": Sunday ends a week
      if (lo > hi) {
        return Error(absl::StrCat("reversed range \"", Av(base), "\" (start ", lo, " is after end ",
                                  hi, ")"));
      }
    } else {
      HG_ASSIGN_OR_RETURN(lo, Value(base, item));
      // "a/n" runs to the field's maximum; for day of week that is Saturday (6), as in
      // robfig/cron, so "MON/2" is Mon, Wed, Fri and never Sunday (docs/design/cron.md).
      hi = has_step ? (index_ == kDayOfWeek ? 6 : spec.max) : lo;
    }
    for (int v = lo; v <= hi; v += step) {
      *bits |= uint64_t{1} << (index_ == kDayOfWeek && v == 7 ? 0 : v);
    }
    return absl::OkStatus();
  }

  // L, W and # belong to the day fields; "?" stands alone. Precise errors for the rest.
  absl::Status CheckMisplacedSpecials(std::string_view item) const {
    if (item.find('?') != std::string_view::npos) {
      return Error(absl::StrCat("\"?\" in \"", Av(item), "\" must stand alone"));
    }
    const std::string up = Upper(item);
    for (size_t i = 0; i < up.size();) {
      // Letters inside a month or weekday name (JUL, WED) are not the L/W extensions.
      size_t j = i;
      while (j < up.size() && std::isalpha(static_cast<unsigned char>(up[j]))) ++j;
      if (j > i && IsName(std::string_view(up).substr(i, j - i))) {
        i = j;
        continue;
      }
      const char c = up[i];
      if (c == 'L' || c == 'W' || c == '#') {
        const std::string_view allowed = c == '#'   ? "day of week"
                                         : c == 'W' ? "day of month"
                                                    : "day of month and day of week";
        return Error(absl::StrCat("\"", std::string(1, c), "\" in \"", Av(item),
                                  "\" is only allowed in ", Av(allowed)));
      }
      i = std::max(i + 1, j);
    }
    return absl::OkStatus();
  }

  // Day-of-month extensions: L, L-n, LW, nW. Returns true when `item` was one of them.
  absl::StatusOr<bool> ParseDomSpecial(std::string_view item) {
    std::string up = Upper(item);
    if (up == "L") {
      f_->dom_last |= 1;
      return true;
    }
    if (up == "LW") {
      f_->dom_last_weekday = true;
      return true;
    }
    if (up.size() > 2 && up.substr(0, 2) == "L-") {
      HG_ASSIGN_OR_RETURN(int n, Number(item.substr(2), item, "offset"));
      if (n > 30)
        return Error(absl::StrCat("offset ", n, " in \"", Av(item), "\" out of range 0-30"));
      f_->dom_last |= uint32_t{1} << n;
      return true;
    }
    if (up.size() > 1 && up.back() == 'W' && up.find_first_not_of("0123456789") == up.size() - 1) {
      HG_ASSIGN_OR_RETURN(int n, Number(item.substr(0, item.size() - 1), item, "value"));
      if (n < 1 || n > 31) {
        return Error(absl::StrCat("value ", n, " in \"", Av(item), "\" out of range 1-31"));
      }
      f_->dom_nearest |= uint32_t{1} << n;
      return true;
    }
    if (up.find('L') != std::string::npos || up.find('W') != std::string::npos) {
      return Error(absl::StrCat("invalid use of L/W in \"", Av(item),
                                "\" (expected L, L-n, LW or nW, not in a range or step)"));
    }
    if (up.find('#') != std::string::npos) {
      return Error(absl::StrCat("\"#\" in \"", Av(item), "\" is only allowed in day of week"));
    }
    return false;
  }

  // Day-of-week extensions: wL / w#L (last weekday w of the month), w#k. w is 0-7 or a name.
  absl::StatusOr<bool> ParseDowSpecial(std::string_view item) {
    const std::string up = Upper(item);
    if (const size_t hash = up.find('#'); hash != std::string::npos) {
      const std::string_view day = item.substr(0, hash), nth = item.substr(hash + 1);
      if (day.empty() || nth.empty()) {
        return Error(absl::StrCat("incomplete \"#\" in \"", Av(item), "\" (expected e.g. MON#2)"));
      }
      if (day.find_first_of("-/*") != std::string_view::npos) {
        return Error(absl::StrCat("\"#\" in \"", Av(item),
                                  "\" needs a single weekday before it (e.g. MON#2)"));
      }
      HG_ASSIGN_OR_RETURN(int w, Value(day, item));
      w %= 7;
      if (nth == "L" || nth == "l") {
        f_->dow_last |= uint8_t(1u << w);
        return true;
      }
      HG_ASSIGN_OR_RETURN(int k, Number(nth, item, "occurrence"));
      if (k < 1 || k > 5) {
        return Error(absl::StrCat("occurrence #", k, " in \"", Av(item), "\" out of range 1-5"));
      }
      f_->dow_nth[w] |= uint8_t(1u << k);
      return true;
    }
    if (up == "L") {
      return Error(
          "\"L\" alone is ambiguous in day of week; write e.g. 5L or FRIL for the last "
          "Friday of the month");
    }
    if (up.size() > 1 && up.back() == 'L') {
      const std::string_view day = item.substr(0, item.size() - 1);
      if (day.find_first_of("-/,*") != std::string_view::npos) {
        return Error(absl::StrCat("invalid use of L in \"", Av(item),
                                  "\" (expected one weekday, e.g. 5L or FRIL)"));
      }
      HG_ASSIGN_OR_RETURN(int w, Value(day, item));
      f_->dow_last |= uint8_t(1u << (w % 7));
      return true;
    }
    return false;
  }

  bool IsName(std::string_view upper) const {
    if (index_ == kMonth) {
      for (std::string_view n : kMonthNames) {
        if (upper == n) return true;
      }
    }
    if (index_ == kDayOfWeek) {
      for (std::string_view n : kDayNames) {
        if (upper == n) return true;
      }
    }
    return false;
  }

  static std::string Upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
  }

  // A decimal number (digits only). `what` names it in messages ("step", "value").
  absl::StatusOr<int> Number(std::string_view text, std::string_view item,
                             std::string_view what) const {
    if (text.empty()) return Error(absl::StrCat("missing ", Av(what), " in \"", Av(item), "\""));
    for (char c : text) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return Error(absl::StrCat("invalid ", Av(what), " \"", Av(text), "\" in \"", Av(item),
                                  "\" (expected a number)"));
      }
    }
    if (text.size() > 6) {
      return Error(absl::StrCat(Av(what), " ", Av(text), " in \"", Av(item), "\" is too large"));
    }
    int v = 0;
    for (char c : text) v = v * 10 + (c - '0');
    return v;
  }

  // One value of the field: a number within range, or a month/weekday name.
  absl::StatusOr<int> Value(std::string_view text, std::string_view item) const {
    const Spec& spec = kSpecs[index_];
    if (!text.empty() && std::isalpha(static_cast<unsigned char>(text[0]))) {
      const std::string up = Upper(text);
      if (index_ == kMonth) {
        for (int i = 0; i < 12; ++i) {
          if (up == kMonthNames[i]) return i + 1;
        }
      } else if (index_ == kDayOfWeek) {
        for (int i = 0; i < 7; ++i) {
          if (up == kDayNames[i]) return i;
        }
      } else {
        return Error(absl::StrCat("invalid value \"", Av(text), "\" in \"", Av(item),
                                  "\" (names are only allowed in month and day of week)"));
      }
      return Error(absl::StrCat("unknown name \"", Av(text), "\" (expected ",
                                index_ == kMonth ? "JAN-DEC" : "SUN-SAT", ")"));
    }
    HG_ASSIGN_OR_RETURN(int v, Number(text, item, "value"));
    if (v < spec.min || v > spec.max) {
      return Error(absl::StrCat("value ", Av(text), " out of range ", spec.min, "-", spec.max));
    }
    return v;
  }

  int index_;
  int ordinal_;
  Fields* f_;
};

}  // namespace

std::vector<std::string_view> SplitWords(std::string_view text) {
  std::vector<std::string_view> words;
  for (size_t i = 0; i < text.size();) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j > i) words.push_back(text.substr(i, j - i));
    i = j;
  }
  return words;
}

std::string_view FieldName(int index) { return kSpecs[index].name; }

absl::StatusOr<Fields> ParseFields(std::string_view text, int count,
                                   std::array<std::string, kFieldCount>* texts) {
  std::vector<std::string_view> words = SplitWords(text);
  if (static_cast<int>(words.size()) != count) {
    return absl::InvalidArgumentError(
        absl::StrCat("cron: expected ", count, " fields, got ", words.size()));
  }
  if (count == 5) words.insert(words.begin(), "0");
  Fields f;
  uint64_t bits[kFieldCount] = {};
  for (int i = 0; i < kFieldCount; ++i) {
    (*texts)[i] = std::string(words[i]);
    const int ordinal = count == 6 ? i + 1 : i;
    if (count == 5 && i == kSecond) {
      bits[i] = 1;
      continue;
    }
    FieldParser parser(i, ordinal, &f);
    HG_RETURN_IF_ERROR(parser.Parse(words[i], &bits[i]));
  }
  f.second = bits[kSecond];
  f.minute = bits[kMinute];
  f.hour = static_cast<uint32_t>(bits[kHour]);
  f.dom = static_cast<uint32_t>(bits[kDayOfMonth]);
  f.month = static_cast<uint16_t>(bits[kMonth]);
  f.dow = static_cast<uint8_t>(bits[kDayOfWeek]);
  auto wildcard = [](std::string_view w) { return w == "*" || w == "?"; };
  f.dom_restricted = !wildcard(words[kDayOfMonth]);
  f.dow_restricted = !wildcard(words[kDayOfWeek]);
  f.hour_wildcard = words[kHour] == "*";
  for (int w1 = 0; w1 < 7; ++w1) {
    for (int d = 1; d <= 31; ++d) {
      if (f.dow & (1u << ((w1 + d - 1) % 7))) f.dow_days[w1] |= uint32_t{1} << d;
    }
  }

  // Reject what can never fire when only day of month decides: e.g. "0 0 0 30 2 *".
  if (f.dom_restricted && !f.dow_restricted) {
    bool possible = f.dom_last_weekday;
    for (int m = 1; m <= 12 && !possible; ++m) {
      if (!(f.month & (1u << m))) continue;
      const int max_days = DaysInMonth(2000, m);  // a leap year: February has 29
      const uint32_t days = ((uint32_t{1} << max_days) - 1) << 1;
      possible = (f.dom & days) || (f.dom_nearest & days) ||
                 (f.dom_last & ((uint32_t{1} << max_days) - 1));
    }
    if (!possible) {
      const int ordinal = count == 6 ? 4 : 3;
      return absl::InvalidArgumentError(
          absl::StrCat("cron: field \"day of month\" (", Av(Ordinal(ordinal)), "): \"",
                       Av(words[kDayOfMonth]), "\" names no day that exists in month \"",
                       Av(words[kMonth]), "\": the expression can never fire"));
    }
  }
  return f;
}

}  // namespace hg::cron::internal
