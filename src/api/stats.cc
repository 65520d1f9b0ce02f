#include "api/stats.h"

#include "absl/strings/str_cat.h"
#include "common/duration.h"
#include "common/status.h"
#include "common/strings.h"
#include "model/field_errors.h"

namespace hg::api {
namespace {

model::Json Counts(const std::array<int64_t, model::kRunOutcomeCount>& counts) {
  model::Json out = model::Json::object();
  for (size_t i = 0; i < model::kRunOutcomeCount; ++i) {
    out[std::string(model::ToString(static_cast<model::RunOutcome>(i)))] = counts[i];
  }
  return out;
}

model::Json OrNull(const std::optional<double>& v) {
  return v ? model::Json(*v) : model::Json(nullptr);
}

model::Json Jobs(const std::vector<model::JobCount>& jobs, const char* count, const char* last) {
  model::Json out = model::Json::array();
  for (const model::JobCount& j : jobs) {
    out.push_back(
        model::Json{{"name", j.name}, {count, j.count}, {last, model::FormatRfc3339(j.last)}});
  }
  return out;
}

}  // namespace

StatsService::StatsService(store::Kv& kv, const Clock& clock, model::Keys keys, JobService& jobs)
    : kv_(kv), clock_(clock), keys_(std::move(keys)), jobs_(jobs) {}

absl::StatusOr<absl::Duration> StatsService::ParseWindow(std::string_view text) {
  if (text.empty()) return kDefaultWindow;
  auto window = ParseGoDuration(text);
  if (!window.ok() || *window < kMinWindow || *window > kMaxWindow) {
    return model::InvalidFieldsError(
        "invalid query",
        {{"window", absl::StrCat("must be a duration from 1m to 24h (e.g. 15m, 1h), got \"",
                                 Av(text), "\"")}});
  }
  return absl::Ceil(*window, absl::Minutes(1));
}

absl::StatusOr<StatsView> StatsService::Stats(absl::Duration window) {
  StatsView view;
  view.generated_at = clock_.Now();
  view.window = absl::Ceil(window, absl::Minutes(1));
  const int minutes = static_cast<int>(view.window / absl::Minutes(1));
  const absl::Time current = model::MinuteStart(view.generated_at);
  const absl::Time first = current - absl::Minutes(minutes - 1);
  HG_ASSIGN_OR_RETURN(store::RangeResponse range,
                      kv_.Range({.key = keys_.StatsMinute(first),
                                 .range_end = keys_.StatsMinute(current + absl::Minutes(1))}));
  std::vector<model::NodeMinute> values;
  values.reserve(range.kvs.size());
  bool unreadable = false;
  for (const store::KeyValue& kv : range.kvs) {
    auto v = model::ParseNodeMinute(kv.value);
    if (v.ok()) {
      values.push_back(*std::move(v));
    } else {
      unreadable = true;  // a node's counts we cannot read: say the window is incomplete
    }
  }
  view.stats = model::MergeWindow(values, first, minutes, view.generated_at);
  if (unreadable) view.stats.complete = false;
  HG_ASSIGN_OR_RETURN(ClusterInfo cluster, jobs_.Cluster());
  view.workers.count = static_cast<int>(cluster.workers.size());
  for (const ClusterMember& w : cluster.workers) {
    view.workers.in_flight += w.in_flight;
    if (w.info.is_object() && w.info.contains("capacity") &&
        w.info["capacity"].is_number_integer()) {
      view.workers.capacity += w.info["capacity"].get<int>();
    }
  }
  return view;
}

model::Json EncodeStats(const StatsView& view) {
  const model::StatsWindow& s = view.stats;
  model::Json per_minute = model::Json::array();
  for (const model::StatsWindow::Minute& m : s.per_minute) {
    model::Json entry = model::Json{{"minute", model::FormatRfc3339(m.start)}};
    entry.update(Counts(m.counts));
    per_minute.push_back(std::move(entry));
  }
  model::Json totals = Counts(s.total.counts);
  totals["runs"] = s.runs;
  const model::LagSummary lag = model::SummarizeLag(s.total);
  model::Json out = model::Json::object();
  out["window_seconds"] = absl::ToInt64Seconds(view.window);
  out["generated_at"] = model::FormatRfc3339(view.generated_at);
  out["complete"] = s.complete;
  out["per_minute"] = std::move(per_minute);
  out["totals"] = std::move(totals);
  out["lag_ms"] = model::Json{{"p50", OrNull(lag.p50)},
                              {"p90", OrNull(lag.p90)},
                              {"p99", OrNull(lag.p99)},
                              {"max", OrNull(lag.max)}};
  out["failing_jobs"] = Jobs(s.failing, "failures", "last_failure_at");
  out["missed_jobs"] = Jobs(s.missed, "missed", "last_missed_at");
  out["workers"] = model::Json{{"count", view.workers.count},
                               {"in_flight", view.workers.in_flight},
                               {"capacity", view.workers.capacity}};
  out["incomplete_nodes"] = s.incomplete_nodes;
  return out;
}

}  // namespace hg::api
