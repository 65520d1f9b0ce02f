#include "telemetry/stats_publisher.h"

#include <algorithm>
#include <map>

#include "common/logging.h"

namespace hg::telemetry {
namespace {

const log::Logger& Log() {
  static const log::Logger* logger = new log::Logger("stats");
  return *logger;
}

}  // namespace

StatsPublisher::StatsPublisher(store::Kv& kv, const Clock& clock, model::Keys keys,
                               std::string node, RunStats& stats, Options options)
    : kv_(kv),
      clock_(clock),
      keys_(std::move(keys)),
      node_(std::move(node)),
      stats_(stats),
      options_(options) {}

StatsPublisher::~StatsPublisher() { Stop(); }

void StatsPublisher::Start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void StatsPublisher::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock lock(&publish_mu_);
    // The store did not answer the last publish: do not hold up shutdown for another timeout
    // (the missing `stopped` value makes the window report incomplete, which it is).
    if (failing_) return;
  }
  if (absl::Status s = PublishOnce(/*stopping=*/true); !s.ok()) {
    Log().Warn("last stats not written", {{"error", std::string(s.message())}});
  }
}

void StatsPublisher::Loop() {
  bool failing = false;
  while (true) {
    const absl::Status s = PublishOnce();
    if (!s.ok() && !failing) {
      Log().Warn("stats not written; retrying", {{"error", std::string(s.message())}});
    }
    failing = !s.ok();
    absl::MutexLock lock(&mu_);
    if (clock_.WaitUntil(mu_, clock_.Now() + options_.interval,
                         [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; })) {
      return;
    }
  }
}

absl::Status StatsPublisher::PublishOnce(bool stopping) {
  absl::MutexLock lock(&publish_mu_);
  const absl::Time now = clock_.Now();
  const absl::Time oldest = model::MinuteStart(now - model::kStatsRetention);
  // Newest value per minute: a minute's later snapshot includes everything of an earlier one.
  std::map<absl::Time, model::NodeMinute> due;
  for (model::NodeMinute& v : unsent_) due[v.minute] = std::move(v);
  for (model::NodeMinute& v : stats_.Collect(node_, stopping)) due[v.minute] = std::move(v);
  unsent_.clear();
  std::vector<model::NodeMinute> values;
  for (auto& [minute, v] : due) {
    if (minute >= oldest) values.push_back(std::move(v));
  }
  const absl::Time minute = model::MinuteStart(now);
  bool prune = pruned_minute_ < minute;
  absl::Status result;
  size_t i = 0;
  while (i < values.size() || prune) {
    store::TxnRequest txn;
    if (prune) {
      txn.success.emplace_back(
          std::in_place_type<store::DeleteRequest>,
          store::DeleteRequest{.key = keys_.StatsPrefix(), .range_end = keys_.StatsMinute(oldest)});
    }
    const size_t end = std::min(values.size(), i + options_.values_per_txn);
    for (size_t k = i; k < end; ++k) {
      txn.success.emplace_back(std::in_place_type<store::PutRequest>,
                               store::PutRequest{.key = keys_.Stats(values[k].minute, node_),
                                                 .value = model::SerializeNodeMinute(values[k])});
    }
    absl::StatusOr<store::TxnResponse> r = kv_.Txn(txn);
    if (!r.ok()) {
      result = r.status();
      break;
    }
    if (prune) pruned_minute_ = minute;
    prune = false;
    i = end;
  }
  unsent_.assign(std::make_move_iterator(values.begin() + static_cast<long>(i)),
                 std::make_move_iterator(values.end()));
  failing_ = !result.ok();
  return result;
}

}  // namespace hg::telemetry
