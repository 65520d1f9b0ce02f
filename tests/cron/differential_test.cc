// Differential test: thousands of random valid expressions (seeded) and random start instants in
// five zones; our next 5 fire times must equal those of the npm packages croner and cron-parser
// (tests/cron/differential/, installed by scripts/setup with `npm ci`).
//
// Excluded classes, each with its reason (docs/design/cron.md "Differential test"):
//  1. Spans containing a UTC-offset transition: both libraries disagree with each other and with
//     our DST rule there (checked with absl::TimeZone::NextTransition over [from, last fire]).
//  2. Syntax a library lacks: cron-parser has no W, LW, L-n or w#L; croner has no "a/n" (without
//     sloppyRanges) and no L-n. Such expressions are compared with the other library only (L-n
//     with neither; the hand-written tests cover it).
//  3. Expressions we reject as never firing ("0 0 0 30 2 *"): the libraries search or throw.
//  4. Expressions with fewer than 5 fires within our 5-year horizon: the libraries search further.
//  5. Never generated, because they are ours alone: @every, CRON_TZ=/TZ= prefixes, "FRI-SUN"
//     ranges ending in a Sunday name, steps larger than the field's range, weekday names in
//     "#"/"L" items (cron-parser only takes numbers there), "a/n" in day of week (runs to
//     Saturday as in robfig/cron; cron-parser runs it to 7).
// Anything else a library rejects or answers differently fails the test loudly, as does a
// missing node or node_modules.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cron/schedule.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace hg::cron {
namespace {

constexpr int kCases = 4000;
constexpr int kFires = 5;
constexpr const char* kZones[] = {"UTC", "America/New_York", "Europe/London", "Asia/Shanghai",
                                  "Australia/Lord_Howe"};

struct Case {
  std::string expr;
  std::string zone;
  int64_t from = 0;
  bool croner = true;       // croner supports every element used
  bool cron_parser = true;  // cron-parser supports every element used
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  Case Next() {
    Case c;
    c.zone = kZones[Int(0, 4)];
    // 2020-01-01 .. 2030-01-01, sometimes on an exact minute (a possible fire time itself).
    c.from = Int(1577836800, 1893456000);
    if (Int(0, 2) == 0) c.from -= c.from % 60;
    if (Int(0, 40) == 0) {
      static const char* kDescriptors[] = {"@yearly", "@monthly", "@weekly", "@daily", "@hourly"};
      c.expr = kDescriptors[Int(0, 4)];
      return c;
    }
    std::vector<std::string> fields;
    const bool seconds = Int(0, 1) == 1;
    if (seconds) fields.push_back(Plain(0, 59, 3, &c));
    fields.push_back(Plain(0, 59, 2, &c));
    fields.push_back(Plain(0, 23, 2, &c));
    fields.push_back(DayOfMonth(&c));
    fields.push_back(Month(&c));
    fields.push_back(DayOfWeek(&c));
    c.expr = absl::StrJoin(fields, " ");
    return c;
  }

 private:
  int64_t Int(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }

  // One list item within lo..hi: value, range and step forms. `names` spells values as names
  // (names[0] is the field's minimum). `last` allows "a/n", which runs to the field's maximum.
  std::string Item(int lo, int hi, int field_lo, const char* const* names, bool whole, bool last,
                   Case* c) {
    auto v = [&](int x) -> std::string {
      if (names && Int(0, 1) == 0) {
        std::string n = names[x - field_lo];
        if (n.size() > 1 && Int(0, 1) == 0) n[1] = static_cast<char>(n[1] - 'A' + 'a');
        return n;
      }
      return absl::StrCat(x);
    };
    switch (Int(0, 5)) {
      case 0:
      case 1:
        return v(static_cast<int>(Int(lo, hi)));
      case 2: {
        const int a = static_cast<int>(Int(lo, hi)), b = static_cast<int>(Int(a, hi));
        return absl::StrCat(v(a), "-", v(b));
      }
      case 3:
        if (whole) return absl::StrCat("*/", Int(1, std::max(1, (hi - lo + 1) / 2)));
        [[fallthrough]];
      case 4: {
        const int a = static_cast<int>(Int(lo, hi)), b = static_cast<int>(Int(a, hi));
        return absl::StrCat(a, "-", b, "/", Int(1, std::max(1, (b - a + 1) / 2)));
      }
      default: {
        if (!last) return v(static_cast<int>(Int(lo, hi)));
        const int a = static_cast<int>(Int(lo, hi));
        c->croner = false;  // croner rejects "a/n" without its sloppyRanges option
        return absl::StrCat(a, "/", Int(1, std::max(1, (hi - a + 1) / 2)));
      }
    }
  }

  // "*" in `star_weight` of 4 draws; otherwise a list of 1-3 items over disjoint sub-ranges
  // (cron-parser rejects lists whose items share a value).
  // `open_step` allows "a/n" as the last item.
  std::string Plain(int lo, int hi, int star_weight, Case* c, const char* const* names = nullptr,
                    bool open_step = true) {
    if (Int(0, 3) < star_weight) return "*";
    std::vector<std::string> items;
    const int n = static_cast<int>(Int(1, 3));
    const int len = hi - lo + 1;
    for (int k = 0; k < n; ++k) {
      const int a = lo + k * len / n, b = lo + (k + 1) * len / n - 1;
      items.push_back(Item(a, b, lo, names, n == 1, open_step && k == n - 1, c));
    }
    return absl::StrJoin(items, ",");
  }

  std::string DayOfMonth(Case* c) {
    switch (Int(0, 9)) {
      case 0:
        return "?";
      case 1:
        return "L";
      case 2:
        c->cron_parser = false;  // no W in cron-parser
        return absl::StrCat(Int(1, 28), "W");
      case 3:
        c->cron_parser = false;
        return "LW";
      case 4:
      case 5:
        return Plain(1, 31, 0, c);
      default:
        return "*";
    }
  }

  std::string Month(Case* c) {
    static const char* kNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    return Plain(1, 12, 3, c, kNames);
  }

  std::string DayOfWeek(Case* c) {
    // Lists are drawn from 1..7 (7 is Sunday); Sunday is never named in a range (croner reads
    // "SUN-SUN" as the whole week). No "a/n": it runs to Saturday as in robfig/cron, where
    // cron-parser runs it to 7 (tests/cron/robfig_test.cc covers it).
    static const char* kNames[] = {"MON", "TUE", "WED", "THU", "FRI", "SAT", "7"};
    switch (Int(0, 9)) {
      case 0:
        return "?";
      case 1:
        return absl::StrCat(Int(0, 6), "#", Int(1, 4));
      case 2:
        return absl::StrCat(Int(0, 6), "L");
      case 3:
        c->cron_parser = false;  // cron-parser rejects "#L"
        return absl::StrCat(Int(0, 6), "#L");
      case 4:
        return absl::StrCat(Int(1, 7));  // 7 is Sunday
      case 5:
      case 6:
        return Plain(1, 7, 0, c, kNames, /*open_step=*/false);
      default:
        return "*";
    }
  }

  std::mt19937_64 rng_;
};

std::string Fmt(int64_t unix_seconds, const std::string& zone) {
  absl::TimeZone tz;
  absl::LoadTimeZone(zone, &tz);
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::FromUnixSeconds(unix_seconds), tz);
}

std::string Describe(const nlohmann::json& fires, const std::string& zone) {
  if (!fires.is_array()) return fires.dump();
  std::vector<std::string> out;
  for (const auto& f : fires) out.push_back(Fmt(f.get<int64_t>(), zone));
  return absl::StrJoin(out, ", ");
}

TEST(CronDifferentialTest, MatchesCronerAndCronParser) {
  const char* source_dir = std::getenv("HG_SOURCE_DIR");
  ASSERT_NE(source_dir, nullptr) << "HG_SOURCE_DIR must point at the source tree (hg_test sets it)";
  const std::filesystem::path dir = std::filesystem::path(source_dir) / "tests/cron/differential";
  ASSERT_TRUE(std::filesystem::exists(dir / "node_modules/croner/package.json") &&
              std::filesystem::exists(dir / "node_modules/cron-parser/package.json"))
      << "npm packages missing in " << dir << ": run scripts/setup (npm ci there)";
  ASSERT_EQ(std::system("node --version >/dev/null 2>&1"), 0)
      << "node is required for the cron differential test (scripts/setup checks its version)";

  Generator gen(20260308);
  std::vector<Case> cases;
  std::vector<std::vector<int64_t>> ours;
  int rejected_never = 0, short_horizon = 0;
  while (static_cast<int>(cases.size()) < kCases) {
    Case c = gen.Next();
    absl::TimeZone tz;
    ASSERT_TRUE(absl::LoadTimeZone(c.zone, &tz));
    absl::StatusOr<Schedule> s = Schedule::Parse(c.expr, tz);
    if (!s.ok()) {
      // Class 3: only "can never fire" may be rejected; anything else is a generator/parser bug.
      ASSERT_NE(std::string(s.status().message()).find("can never fire"), std::string::npos)
          << c.expr << ": " << s.status();
      ++rejected_never;
      continue;
    }
    std::vector<int64_t> fires;
    absl::Time t = absl::FromUnixSeconds(c.from);
    for (int i = 0; i < kFires; ++i) {
      std::optional<absl::Time> next = s->Next(t);
      if (!next) break;
      fires.push_back(absl::ToUnixSeconds(*next));
      t = *next;
    }
    if (static_cast<int>(fires.size()) < kFires) {
      ++short_horizon;  // class 4
      continue;
    }
    cases.push_back(c);
    ours.push_back(fires);
  }

  const std::string tmp = ::testing::TempDir();
  const std::string in_path = tmp + "/cron_differential_cases.jsonl";
  const std::string out_path = tmp + "/cron_differential_results.jsonl";
  {
    std::ofstream in(in_path);
    for (const Case& c : cases) {
      in << nlohmann::json{{"expr", c.expr}, {"zone", c.zone}, {"from", c.from}, {"n", kFires}}
                .dump()
         << "\n";
    }
  }
  const std::string cmd = absl::StrCat("node '", (dir / "reference.mjs").string(), "' '", in_path,
                                       "' '", out_path, "'");
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "failed: " << cmd;

  std::ifstream results(out_path);
  std::string line;
  int index = 0, compared_croner = 0, compared_parser = 0, skipped_dst = 0, failures = 0;
  while (std::getline(results, line)) {
    ASSERT_LT(index, static_cast<int>(cases.size()));
    const Case& c = cases[index];
    const std::vector<int64_t>& mine = ours[index];
    ++index;
    const nlohmann::json r = nlohmann::json::parse(line);
    // Class 1: skip spans with an offset transition in [from, latest fire of anyone].
    int64_t span_end = mine.back();
    for (const char* lib : {"croner", "cronParser"}) {
      if (r[lib].is_array() && !r[lib].empty()) span_end = std::max(span_end, r[lib].back().get<int64_t>());
    }
    absl::TimeZone tz;
    absl::LoadTimeZone(c.zone, &tz);
    absl::TimeZone::CivilTransition tr;
    if (tz.NextTransition(absl::FromUnixSeconds(c.from), &tr)) {
      // tr is the first transition after `from`, so the offset at `from` is the one it ends.
      const int64_t when = (tr.from - absl::CivilSecond(1970)) - tz.At(absl::FromUnixSeconds(c.from)).offset;
      if (when <= span_end) {
        ++skipped_dst;
        continue;
      }
    }
    const nlohmann::json expected = mine;
    auto check = [&](const char* lib, bool supported, int* compared) {
      if (!supported) return;  // class 2
      ++*compared;
      if (r[lib] != expected && failures++ < 20) {
        ADD_FAILURE() << lib << " disagrees on \"" << c.expr << "\" in " << c.zone << " after "
                      << Fmt(c.from, c.zone) << "\n  ours:   " << Describe(expected, c.zone)
                      << "\n  theirs: " << Describe(r[lib], c.zone);
      }
    };
    check("croner", c.croner, &compared_croner);
    check("cronParser", c.cron_parser, &compared_parser);
  }
  EXPECT_EQ(index, static_cast<int>(cases.size())) << "reference.mjs answered too few cases";
  EXPECT_EQ(failures, 0);
  // The comparison must not become vacuous: most cases are compared with each library.
  EXPECT_GE(compared_croner, 2000);
  EXPECT_GE(compared_parser, 2000);
  std::printf("cron differential: %d cases, compared %d with croner and %d with cron-parser; "
              "skipped %d spanning a DST transition, %d never-firing, %d beyond the horizon\n",
              static_cast<int>(cases.size()), compared_croner, compared_parser, skipped_dst,
              rejected_never, short_horizon);
}

}  // namespace
}  // namespace hg::cron
