#include "scheduler/history_retention.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "model/execution.h"
#include "model/job.h"

namespace hg::scheduler {
namespace {
// Records read per round; a limit lowered from 10000 to 1 is worked off over several rounds.
constexpr int64_t kMaxReadPerRound = 1000;
constexpr int kMaxRounds = 20;
}  // namespace

HistoryRetention::HistoryRetention(store::Kv& kv, Clock& clock, model::Keys keys, Options options,
                                   PrunedProbe probe)
    : kv_(kv), clock_(clock), keys_(std::move(keys)), options_(options), probe_(std::move(probe)) {}

void HistoryRetention::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
}

int64_t HistoryRetention::sweeps() const {
  absl::MutexLock lock(&mu_);
  return sweeps_;
}

void HistoryRetention::MarkDirty(std::string job) {
  absl::MutexLock lock(&mu_);
  dirty_.insert(std::move(job));
}

absl::StatusOr<int64_t> HistoryRetention::PruneJob(const model::JobName& job, int limit) {
  const std::string prefix = keys_.ExecPrefix(job);
  int64_t deleted = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    auto count_req = store::RangeRequest::Prefix(prefix);
    count_req.count_only = true;
    HG_ASSIGN_OR_RETURN(store::RangeResponse counted, kv_.Range(count_req));
    const int64_t excess = counted.count - std::max(limit, 0);
    if (excess <= 0) break;
    // Keys sort by scheduled time within a job (model/ids.h), so the first keys are the oldest.
    auto oldest_req = store::RangeRequest::Prefix(prefix);
    oldest_req.limit = std::min(excess, kMaxReadPerRound);
    HG_ASSIGN_OR_RETURN(store::RangeResponse oldest, kv_.Range(oldest_req));
    std::vector<const store::KeyValue*> doomed;
    for (const store::KeyValue& kv : oldest.kvs) {
      auto rec = model::ParseExecution(kv.value);
      if (rec.ok() && model::IsFinal(rec->status)) doomed.push_back(&kv);
    }
    if (doomed.empty()) break;  // the oldest are all live runs: keep them, try next sweep
    bool conflict = false;
    const size_t per_txn = static_cast<size_t>(std::max(1, options_.max_txn_ops));
    for (size_t i = 0; i < doomed.size(); i += per_txn) {
      store::TxnRequest txn;
      const size_t end = std::min(doomed.size(), i + per_txn);
      for (size_t j = i; j < end; ++j) {
        txn.compare.push_back(store::Compare::ModRevision(
            doomed[j]->key, store::Compare::Result::kEqual, doomed[j]->mod_revision));
        txn.success.push_back(store::DeleteRequest::Key(doomed[j]->key));
      }
      HG_ASSIGN_OR_RETURN(store::TxnResponse resp, kv_.Txn(txn));
      if (resp.succeeded) {
        deleted += static_cast<int64_t>(end - i);
      } else {
        conflict = true;  // one of them changed (or went): re-read in the next round
      }
    }
    // Some of the oldest were live and the rest is done: nothing more to gain this sweep.
    if (!conflict && doomed.size() < oldest.kvs.size()) break;
  }
  if (deleted > 0 && probe_) probe_(deleted);
  return deleted;
}

void HistoryRetention::Sweep(std::set<std::string> names, bool all) {
  std::vector<std::pair<model::JobName, int>> targets;
  if (all) {
    auto jobs = kv_.Range(store::RangeRequest::Prefix(keys_.JobsPrefix()));
    if (!jobs.ok()) {
      log_.Warn("retention sweep cannot list jobs; will retry",
                {{"error", std::string(jobs.status().message())}});
      return;
    }
    for (const store::KeyValue& kv : jobs->kvs) {
      auto job = model::ParseStoredJob(kv.value);
      if (job.ok()) targets.emplace_back(job->name, job->history_limit);
    }
  } else {
    for (const std::string& n : names) {
      auto name = model::JobName::Parse(n);
      if (!name.ok()) continue;
      auto kv = store::Get(kv_, keys_.Job(*name));
      if (!kv.ok()) {
        MarkDirty(n);  // store trouble: try again next sweep
        continue;
      }
      if (!kv->has_value()) continue;  // deleted meanwhile
      auto job = model::ParseStoredJob((*kv)->value);
      if (job.ok()) targets.emplace_back(job->name, job->history_limit);
    }
  }
  for (const auto& [name, limit] : targets) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    auto deleted = PruneJob(name, limit);
    if (!deleted.ok()) {
      log_.Warn("cannot prune history; will retry",
                {{"job", name.str()}, {"error", std::string(deleted.status().message())}});
      MarkDirty(name.str());
    } else if (*deleted > 0) {
      log_.Debug("pruned history", {{"job", name.str()}, {"records", *deleted}, {"limit", limit}});
    }
  }
}

void HistoryRetention::RunAsLeader() {
  absl::Time next_full = clock_.Now();
  while (true) {
    std::set<std::string> dirty;
    bool all = false;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      dirty.swap(dirty_);
      all = clock_.Now() >= next_full;
    }
    if (all) next_full = clock_.Now() + options_.full_sweep_interval;
    Sweep(std::move(dirty), all);
    absl::MutexLock lock(&mu_);
    ++sweeps_;
    clock_.WaitUntil(mu_, clock_.Now() + options_.sweep_interval,
                     [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; });
  }
}

}  // namespace hg::scheduler
