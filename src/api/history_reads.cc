#include "api/history_reads.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "common/status.h"

namespace hg::api {
namespace {

constexpr absl::Duration kFirstWindow = absl::Minutes(1);
constexpr int64_t kGrowth = 8;

store::RangeRequest WindowRange(const RecordWindow& w, int64_t limit, bool keys_only,
                                store::SortOrder order) {
  store::RangeRequest r;
  r.key = w.lower;
  r.range_end = w.upper;
  r.limit = limit;
  r.keys_only = keys_only;
  r.sort_order = order;
  r.sort_target = store::SortTarget::kKey;
  return r;
}

// The time `upper` stands for: the milliseconds after `prefix` in a key; anything else
// (PrefixEnd) stands for `now`.
absl::Time TopOf(const std::string& prefix, const std::string& upper, absl::Time now) {
  constexpr size_t kDigits = model::ExecutionId::kMillisDigits;
  if (upper.size() < prefix.size() + kDigits || upper.compare(0, prefix.size(), prefix) != 0) {
    return now;
  }
  int64_t ms = 0;
  for (size_t i = prefix.size(); i < prefix.size() + kDigits; ++i) {
    if (upper[i] < '0' || upper[i] > '9') return now;
    ms = ms * 10 + (upper[i] - '0');
  }
  return absl::FromUnixMillis(ms);
}

}  // namespace

std::vector<RecordWindow> NewestFirstWindows(const std::string& prefix, const std::string& upper,
                                             absl::Time now) {
  std::vector<RecordWindow> out;
  std::string hi = upper;
  const int64_t top_ms = absl::ToUnixMillis(TopOf(prefix, upper, now));
  int64_t span_ms = absl::ToInt64Milliseconds(kFirstWindow);
  while (true) {
    const int64_t lo_ms = top_ms - span_ms;
    if (lo_ms <= 0) {
      out.push_back({prefix, hi});
      return out;
    }
    std::string lo = model::Keys::TimeBound(prefix, lo_ms);
    if (lo < hi) out.push_back({lo, hi});
    hi = std::move(lo);
    span_ms *= kGrowth;
  }
}

std::vector<RecordWindow> OldestFirstWindows(const std::string& prefix, const std::string& lower,
                                             absl::Time now) {
  std::vector<RecordWindow> out;
  std::string lo = lower;
  const int64_t end_ms = absl::ToUnixMillis(now + absl::Hours(24));
  int64_t hi_ms = absl::ToUnixMillis(TopOf(prefix, lower, now));
  int64_t span_ms = absl::ToInt64Milliseconds(kFirstWindow);
  while (true) {
    hi_ms += span_ms;
    if (hi_ms >= end_ms) {
      out.push_back({lo, store::PrefixEnd(prefix)});
      return out;
    }
    std::string hi = model::Keys::TimeBound(prefix, hi_ms);
    if (lo < hi) out.push_back({lo, hi});
    lo = std::max(lo, std::move(hi));
    span_ms *= kGrowth;
  }
}

absl::StatusOr<std::optional<store::KeyValue>> ReadOldestRecordFrom(store::Kv& kv,
                                                                    const std::string& prefix,
                                                                    const std::string& lower,
                                                                    absl::Time now) {
  for (const RecordWindow& w : OldestFirstWindows(prefix, lower, now)) {
    HG_ASSIGN_OR_RETURN(store::RangeResponse resp,
                        kv.Range(WindowRange(w, 1, false, store::SortOrder::kAscend)));
    if (!resp.kvs.empty()) return std::move(resp.kvs.front());
  }
  return std::nullopt;
}

absl::StatusOr<RecordRun> ReadNewestRecords(store::Kv& kv, const std::string& prefix,
                                            const std::string& upper, absl::Time now, int64_t limit,
                                            bool keys_only) {
  RecordRun run;
  // One more than asked: whether older records exist comes with the page.
  const int64_t want = limit + 1;
  for (const RecordWindow& w : NewestFirstWindows(prefix, upper, now)) {
    const int64_t need = want - static_cast<int64_t>(run.kvs.size());
    HG_ASSIGN_OR_RETURN(store::RangeResponse resp,
                        kv.Range(WindowRange(w, need, keys_only, store::SortOrder::kDescend)));
    for (auto& kv_item : resp.kvs) run.kvs.push_back(std::move(kv_item));
    if (static_cast<int64_t>(run.kvs.size()) >= want) break;
  }
  if (static_cast<int64_t>(run.kvs.size()) > limit) {
    run.kvs.resize(static_cast<size_t>(limit));
    run.more = true;
  }
  return run;
}

absl::StatusOr<std::vector<std::optional<store::KeyValue>>> ReadNewestRecordOfEach(
    store::Kv& kv, const model::Keys& keys, const std::vector<model::JobName>& names,
    absl::Time now, size_t ops_per_txn) {
  std::vector<std::optional<store::KeyValue>> out(names.size());
  // Coarser steps than a page's (the last hour, the last 32 days, the rest): one read per step
  // for a whole list page, and a new job (no record at all) answers after three.
  std::vector<std::vector<RecordWindow>> windows;
  windows.reserve(names.size());
  const int64_t now_ms = absl::ToUnixMillis(now);
  for (const auto& name : names) {
    const std::string prefix = keys.ExecPrefix(name);
    const std::string hour = model::Keys::TimeBound(prefix, now_ms - 3'600'000);
    const std::string month = model::Keys::TimeBound(prefix, now_ms - 32 * 86'400'000LL);
    windows.push_back({{hour, store::PrefixEnd(prefix)}, {month, hour}, {prefix, month}});
  }
  std::vector<size_t> open(names.size());
  for (size_t i = 0; i < open.size(); ++i) open[i] = i;
  for (size_t step = 0; !open.empty(); ++step) {
    std::vector<size_t> still_open;
    // Jobs whose windows are exhausted have no record at all.
    std::erase_if(open, [&](size_t i) { return step >= windows[i].size(); });
    for (size_t begin = 0; begin < open.size(); begin += ops_per_txn) {
      const size_t end = std::min(open.size(), begin + ops_per_txn);
      store::TxnRequest txn;
      for (size_t k = begin; k < end; ++k) {
        txn.success.emplace_back(
            std::in_place_type<store::RangeRequest>,
            WindowRange(windows[open[k]][step], 1, false, store::SortOrder::kDescend));
      }
      HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv.Txn(txn));
      for (size_t k = begin; k < end; ++k) {
        const size_t r = k - begin;
        const auto* range = r < resp.responses.size()
                                ? std::get_if<store::RangeResponse>(&resp.responses[r])
                                : nullptr;
        if (range != nullptr && !range->kvs.empty()) {
          out[open[k]] = range->kvs.front();
        } else {
          still_open.push_back(open[k]);
        }
      }
    }
    open = std::move(still_open);
  }
  return out;
}

}  // namespace hg::api
