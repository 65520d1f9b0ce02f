#include "api/ledger.h"

#include <algorithm>
#include <map>

namespace hg::api {
namespace {

using model::ExecutionStatus;

bool IsScheduleRecord(const model::Execution& e) { return e.trigger != model::Trigger::kManual; }

// The scheduler's missed record after a run of unlisted missed instants (typed reason).
bool CountsUnlistedMisses(const model::Execution& e) {
  return e.status == ExecutionStatus::kMissed && e.reason == model::EndReason::kMissedCounted;
}

std::string OutcomeOf(const model::Execution& e) {
  if (e.status == ExecutionStatus::kFailed && e.reason == model::EndReason::kNoWorker) {
    return "no_worker";
  }
  return std::string(model::ToString(e.status));
}

}  // namespace

Ledger JoinLedger(const LedgerInputs& in) {
  Ledger out;
  out.job = in.job->name;
  out.from = in.from;
  out.to = in.to;
  out.now = in.now;
  out.cursor = in.cursor;
  out.oldest_record = in.oldest_record;
  out.history_before_window = in.history_before_window;

  // Schedule records by their scheduled time (ms, as ids and records carry it).
  std::vector<const model::Execution*> recs;
  for (const model::Execution& e : in.records) {
    if (IsScheduleRecord(e)) recs.push_back(&e);
  }
  if (in.next_record && IsScheduleRecord(*in.next_record)) recs.push_back(&*in.next_record);
  std::stable_sort(recs.begin(), recs.end(), [](const auto* a, const auto* b) {
    return a->scheduled_time < b->scheduled_time;
  });
  const bool paused_now = in.job->paused;
  const absl::Time paused_since =
      in.job->updated_at.value_or(in.job->created_at.value_or(absl::InfinitePast()));

  for (absl::Time instant : in.instants) {
    const int64_t ms = absl::ToUnixMillis(instant);
    LedgerEntry entry{.instant = instant};
    auto it = std::lower_bound(recs.begin(), recs.end(), ms, [](const auto* r, int64_t v) {
      return absl::ToUnixMillis(r->scheduled_time) < v;
    });
    if (it != recs.end() && absl::ToUnixMillis((*it)->scheduled_time) == ms) {
      entry.outcome = OutcomeOf(**it);
      entry.execution = **it;
    } else if (it != recs.end() && CountsUnlistedMisses(**it) &&
               (it == recs.begin() || (*std::prev(it))->status == ExecutionStatus::kMissed)) {
      entry.outcome = "missed";  // counted by the next record, not listed
    } else if (instant > in.now) {
      entry.outcome = "pending";
    } else if (in.cursor && instant <= *in.cursor) {
      if (in.oldest_record && instant < *in.oldest_record) {
        entry.outcome = "pruned";
      } else if (paused_now && instant >= paused_since) {
        entry.outcome = "paused";
      } else {
        entry.outcome = "no_record";
      }
    } else if (in.now - instant <= in.grace) {
      entry.outcome = "pending";
    } else if (in.oldest_record && instant < *in.oldest_record) {
      // Before every retained record: its record may have been pruned even though the cursor
      // (re-created job, lost cursor) does not show it as accounted.
      entry.outcome = "pruned";
    } else {
      entry.outcome = "unaccounted";
    }
    out.entries.push_back(std::move(entry));
  }
  return out;
}

model::Json EncodeLedger(const Ledger& ledger) {
  auto time_or_null = [](const std::optional<absl::Time>& t) {
    return t ? model::Json(model::FormatRfc3339(*t)) : model::Json(nullptr);
  };
  model::Json out = model::Json::object();
  out["job"] = ledger.job.str();
  out["from"] = model::FormatRfc3339(ledger.from);
  out["to"] = model::FormatRfc3339(ledger.to);
  out["now"] = model::FormatRfc3339(ledger.now);
  out["cursor"] = time_or_null(ledger.cursor);
  out["oldest_record"] = time_or_null(ledger.oldest_record);
  out["history_before_window"] = ledger.history_before_window;
  std::map<std::string, int> counts;
  model::Json instants = model::Json::array();
  for (const LedgerEntry& e : ledger.entries) {
    ++counts[e.outcome];
    instants.push_back({{"instant", model::FormatRfc3339(e.instant)},
                        {"outcome", e.outcome},
                        {"execution", e.execution ? model::EncodeExecutionSummary(*e.execution)
                                                  : model::Json(nullptr)}});
  }
  out["counts"] = model::Json::object();
  for (const auto& [outcome, n] : counts) out["counts"][outcome] = n;
  out["instants"] = std::move(instants);
  return out;
}

}  // namespace hg::api
