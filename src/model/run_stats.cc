#include "model/run_stats.h"

#include <algorithm>
#include <set>

#include "common/status.h"
#include "model/field_errors.h"
#include "model/json.h"
#include "model/json_reader.h"

namespace hg::model {
namespace {

constexpr std::array<std::string_view, kRunOutcomeCount> kOutcomeNames = {
    "succeeded", "failed", "timeout", "killed", "skipped", "missed", "lost"};

size_t Index(RunOutcome outcome) { return static_cast<size_t>(outcome); }

void Tally(std::map<std::string, JobTally>& tallies, std::string_view job, absl::Time at,
           int64_t n) {
  auto it = tallies.find(std::string(job));
  if (it == tallies.end()) {
    if (tallies.size() >= MinuteStats::kMaxJobs) return;
    it = tallies.emplace(std::string(job), JobTally{}).first;
  }
  it->second.count += n;
  it->second.last = std::max(it->second.last, at);
}

void MergeTallies(std::map<std::string, JobTally>& into,
                  const std::map<std::string, JobTally>& from) {
  for (const auto& [job, t] : from) {
    JobTally& mine = into[job];  // merged views are not bounded: only stored values are
    mine.count += t.count;
    mine.last = std::max(mine.last, t.last);
  }
}

Json EncodeTallies(const std::map<std::string, JobTally>& tallies) {
  Json out = Json::object();
  for (const auto& [job, t] : tallies) {
    out[job] = Json{{"n", t.count}, {"last", FormatRfc3339(t.last)}};
  }
  return out;
}

void DecodeTallies(ObjectReader& r, std::string_view key, std::map<std::string, JobTally>* out,
                   std::vector<FieldError>* errors) {
  const Json* object = r.Object(key);
  if (object == nullptr) return;
  for (const auto& [job, value] : object->items()) {
    if (!value.is_object()) {
      errors->push_back({r.Path(key) + "." + job, "must be an object"});
      continue;
    }
    ObjectReader t(value, r.Path(key) + "." + job, errors);
    JobTally tally;
    tally.count = t.Int("n").value_or(0);
    tally.last = t.Time("last").value_or(absl::InfinitePast());
    (*out)[job] = tally;
  }
}

std::vector<JobCount> Top(const std::map<std::string, JobTally>& tallies) {
  std::vector<JobCount> out;
  out.reserve(tallies.size());
  for (const auto& [job, t] : tallies) {
    if (t.count > 0) out.push_back({.name = job, .count = t.count, .last = t.last});
  }
  std::sort(out.begin(), out.end(), [](const JobCount& a, const JobCount& b) {
    return a.count != b.count ? a.count > b.count : a.name < b.name;
  });
  if (out.size() > StatsWindow::kTopJobs) out.resize(StatsWindow::kTopJobs);
  return out;
}

}  // namespace

std::string_view ToString(RunOutcome outcome) { return kOutcomeNames[Index(outcome)]; }

std::optional<RunOutcome> OutcomeOf(ExecutionStatus status) {
  switch (status) {
    case ExecutionStatus::kSuccess:
      return RunOutcome::kSucceeded;
    case ExecutionStatus::kFailed:
      return RunOutcome::kFailed;
    case ExecutionStatus::kTimeout:
      return RunOutcome::kTimeout;
    case ExecutionStatus::kKilled:
      return RunOutcome::kKilled;
    case ExecutionStatus::kSkipped:
      return RunOutcome::kSkipped;
    case ExecutionStatus::kMissed:
      return RunOutcome::kMissed;
    case ExecutionStatus::kScheduled:
    case ExecutionStatus::kRunning:
      return std::nullopt;
  }
  return std::nullopt;
}

void MinuteStats::Count(RunOutcome outcome, std::string_view job, absl::Time at, int64_t n) {
  if (n <= 0) return;
  counts[Index(outcome)] += n;
  if (job.empty()) return;
  if (outcome == RunOutcome::kFailed || outcome == RunOutcome::kTimeout) {
    Tally(failures, job, at, n);
  } else if (outcome == RunOutcome::kMissed) {
    Tally(missed, job, at, n);
  }
}

void MinuteStats::Lag(absl::Duration lag) {
  const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(lag));
  const auto* bound = std::lower_bound(kLagBoundsMs.begin(), kLagBoundsMs.end(), ms);
  ++this->lag[static_cast<size_t>(bound - kLagBoundsMs.begin())];
  lag_max_ms = std::max(lag_max_ms, ms);
}

void MinuteStats::Merge(const MinuteStats& other) {
  for (size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  for (size_t i = 0; i < lag.size(); ++i) lag[i] += other.lag[i];
  lag_max_ms = std::max(lag_max_ms, other.lag_max_ms);
  MergeTallies(failures, other.failures);
  MergeTallies(missed, other.missed);
}

int64_t MinuteStats::lag_count() const {
  int64_t n = 0;
  for (int64_t c : lag) n += c;
  return n;
}

bool MinuteStats::empty() const { return *this == MinuteStats{}; }

std::string SerializeNodeMinute(const NodeMinute& value) {
  const MinuteStats& s = value.stats;
  Json counts = Json::object();
  for (size_t i = 0; i < kRunOutcomeCount; ++i) counts[std::string(kOutcomeNames[i])] = s.counts[i];
  Json j = Json::object();
  j["node"] = value.node;
  j["minute"] = FormatRfc3339(value.minute);
  j["published_at"] = FormatRfc3339(value.published_at);
  j["final"] = value.final;
  j["stopped"] = value.stopped;
  j["counts"] = std::move(counts);
  j["lag_ms"] = Json{{"buckets", s.lag}, {"max", s.lag_max_ms}};
  j["failures"] = EncodeTallies(s.failures);
  j["missed"] = EncodeTallies(s.missed);
  return DumpJson(j);
}

absl::StatusOr<NodeMinute> ParseNodeMinute(std::string_view text) {
  HG_ASSIGN_OR_RETURN(Json json, ParseJson(text));
  if (!json.is_object()) {
    return InvalidFieldsError("invalid stats value", {{"", "must be a JSON object"}});
  }
  std::vector<FieldError> errors;
  ObjectReader r(json, "", &errors);
  NodeMinute v;
  v.node = r.String("node").value_or("");
  if (auto minute = r.Time("minute")) {
    v.minute = *minute;
  } else {
    errors.push_back({"minute", "is required"});
  }
  v.published_at = r.Time("published_at").value_or(absl::UnixEpoch());
  v.final = r.Bool("final").value_or(false);
  v.stopped = r.Bool("stopped").value_or(false);
  if (const Json* counts = r.Object("counts")) {
    ObjectReader c(*counts, "counts", &errors);
    for (size_t i = 0; i < kRunOutcomeCount; ++i) {
      v.stats.counts[i] = c.Int(kOutcomeNames[i]).value_or(0);
    }
  }
  if (const Json* lag = r.Object("lag_ms")) {
    ObjectReader l(*lag, "lag_ms", &errors);
    if (const Json* buckets = l.Array("buckets")) {
      if (buckets->size() != v.stats.lag.size()) {
        errors.push_back({"lag_ms.buckets", "must have one count per lag bucket"});
      } else {
        for (size_t i = 0; i < v.stats.lag.size(); ++i) {
          const Json& n = (*buckets)[i];
          if (!n.is_number_integer()) {
            errors.push_back({"lag_ms.buckets", "must hold integers"});
            break;
          }
          v.stats.lag[i] = n.get<int64_t>();
        }
      }
    }
    v.stats.lag_max_ms = l.Int("max").value_or(0);
  }
  DecodeTallies(r, "failures", &v.stats.failures, &errors);
  DecodeTallies(r, "missed", &v.stats.missed, &errors);
  if (!errors.empty()) return InvalidFieldsError("invalid stats value", errors);
  return v;
}

absl::Time MinuteStart(absl::Time t) {
  const int64_t s = absl::ToUnixSeconds(t);  // floor
  return absl::FromUnixSeconds(s - ((s % 60) + 60) % 60);
}

LagSummary SummarizeLag(const MinuteStats& stats) {
  LagSummary out;
  const int64_t total = stats.lag_count();
  if (total == 0) return out;
  const double max = static_cast<double>(stats.lag_max_ms);
  out.max = max;
  auto quantile = [&](double q) {
    const double rank = q * static_cast<double>(total);
    int64_t below = 0;
    for (size_t i = 0; i < stats.lag.size(); ++i) {
      const int64_t in = stats.lag[i];
      if (in > 0 && static_cast<double>(below + in) >= rank) {
        const double lo = i == 0 ? 0.0 : static_cast<double>(kLagBoundsMs[i - 1]);
        const double hi = i < kLagBoundsMs.size() ? static_cast<double>(kLagBoundsMs[i]) : max;
        const double v =
            lo + (hi - lo) * (rank - static_cast<double>(below)) / static_cast<double>(in);
        return std::min(v, max);
      }
      below += in;
    }
    return max;
  };
  out.p50 = quantile(0.5);
  out.p90 = quantile(0.9);
  out.p99 = quantile(0.99);
  return out;
}

StatsWindow MergeWindow(const std::vector<NodeMinute>& values, absl::Time first_minute, int minutes,
                        absl::Time now) {
  StatsWindow w;
  first_minute = MinuteStart(first_minute);
  const absl::Time end = first_minute + absl::Minutes(minutes);
  w.per_minute.resize(static_cast<size_t>(std::max(minutes, 0)));
  for (int i = 0; i < minutes; ++i) {
    w.per_minute[static_cast<size_t>(i)].start = first_minute + absl::Minutes(i);
  }
  // Each node's values by minute, for completeness.
  std::map<std::string, std::map<absl::Time, const NodeMinute*>> by_node;
  for (const NodeMinute& v : values) {
    if (v.minute < first_minute || v.minute >= end) continue;
    const auto i = static_cast<size_t>((v.minute - first_minute) / absl::Minutes(1));
    for (size_t k = 0; k < kRunOutcomeCount; ++k) w.per_minute[i].counts[k] += v.stats.counts[k];
    w.total.Merge(v.stats);
    by_node[v.node][v.minute] = &v;
  }
  for (size_t k = 0; k < kRunOutcomeCount; ++k) {
    if (k != static_cast<size_t>(RunOutcome::kLost)) w.runs += w.total.counts[k];
  }
  w.failing = Top(w.total.failures);
  w.missed = Top(w.total.missed);
  const absl::Time previous_minute =
      MinuteStart(now - 3 * kStatsPublishInterval) - absl::Minutes(1);
  for (const auto& [node, mins] : by_node) {
    bool ok = true;
    const NodeMinute* before = nullptr;
    for (const auto& [minute, v] : mins) {
      if (before != nullptr && !before->stopped && minute - before->minute > absl::Minutes(1)) {
        ok = false;
      }
      before = v;
    }
    if (before != nullptr && !before->stopped && before->minute < previous_minute) ok = false;
    if (!ok) {
      w.complete = false;
      w.incomplete_nodes.push_back(node);
    }
  }
  return w;
}

}  // namespace hg::model
