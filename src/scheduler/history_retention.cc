#include "scheduler/history_retention.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "model/execution.h"
#include "model/job.h"
#include "runs/group_commit.h"

namespace hg::scheduler {
namespace {
// Records read per round; a limit lowered from 10000 to 1 is worked off over several rounds.
constexpr int64_t kMaxReadPerRound = 1000;
constexpr int kMaxRounds = 20;
// Ranges per read transaction (etcd's default --max-txn-ops is 128).
constexpr size_t kReadsPerTxn = 120;
// A prune change of one job holds per run of final records one guard, one range delete of the
// records and one per status among them (the status index): runs are added while they fit.
constexpr size_t kMaxOpsPerRun = 1 + 1 + std::size(model::kFinalStatuses);
}  // namespace

HistoryRetention::HistoryRetention(store::Kv& kv, Clock& clock, model::Keys keys, Options options,
                                   PrunedProbe probe)
    : kv_(kv),
      clock_(clock),
      keys_(std::move(keys)),
      options_(options),
      probe_(std::move(probe)),
      commits_(kv, runs::GroupCommit::Options{.max_ops = options.max_txn_ops}) {}

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

// One job's part of a prune round: how far beyond its limit it is.
struct HistoryRetention::Target {
  model::JobName name;
  int limit = 0;
  int64_t excess = 0;
  int64_t deleted = 0;
};

absl::StatusOr<int64_t> HistoryRetention::PruneJob(const model::JobName& job, int limit) {
  std::vector<Target> targets = {{.name = job, .limit = limit}};
  HG_RETURN_IF_ERROR(Prune(targets));
  if (targets[0].deleted > 0 && probe_) probe_(targets[0].deleted);
  return targets[0].deleted;
}

absl::Status HistoryRetention::Prune(std::vector<Target>& targets) {
  std::vector<Target*> todo;
  for (Target& t : targets) todo.push_back(&t);
  for (int round = 0; round < kMaxRounds && !todo.empty(); ++round) {
    // How many records each job has: count-only ranges, one read transaction per chunk.
    for (size_t begin = 0; begin < todo.size(); begin += kReadsPerTxn) {
      const size_t end = std::min(todo.size(), begin + kReadsPerTxn);
      store::TxnRequest read;
      for (size_t i = begin; i < end; ++i) {
        store::RangeRequest count = store::RangeRequest::Prefix(keys_.ExecPrefix(todo[i]->name));
        count.count_only = true;
        read.success.push_back(std::move(count));
      }
      HG_ASSIGN_OR_RETURN(store::TxnResponse counted, kv_.Txn(read));
      for (size_t i = begin; i < end; ++i) {
        const auto* r = std::get_if<store::RangeResponse>(&counted.responses.at(i - begin));
        todo[i]->excess = (r ? r->count : 0) - std::max(todo[i]->limit, 0);
      }
    }
    std::erase_if(todo, [](const Target* t) { return t->excess <= 0; });
    // The oldest beyond the limit (keys sort by scheduled time within a job, model/ids.h);
    // only final records go, in runs of consecutive keys, each run one range delete guarded by
    // "nothing in this range changed or appeared since the read". A live run (`scheduled`,
    // `running`) is somebody's state: never deleted, so a job may keep more than its limit.
    std::vector<store::TxnRequest> changes;
    std::vector<std::pair<Target*, int64_t>> change_of;
    std::vector<Target*> next;
    for (Target* t : todo) {
      store::RangeRequest oldest = store::RangeRequest::Prefix(keys_.ExecPrefix(t->name));
      oldest.limit = std::min(t->excess, kMaxReadPerRound);
      HG_ASSIGN_OR_RETURN(store::RangeResponse read, kv_.Range(oldest));
      store::TxnRequest change;
      int64_t doomed = 0;
      // Each record's status (nullopt: live or unreadable, kept).
      std::vector<std::optional<model::ExecutionStatus>> final_status(read.kvs.size());
      for (size_t k = 0; k < read.kvs.size(); ++k) {
        auto rec = model::ParseExecution(read.kvs[k].value);
        if (rec.ok() && model::IsFinal(rec->status)) final_status[k] = rec->status;
      }
      size_t i = 0;
      while (i < read.kvs.size() && change.compare.size() + change.success.size() + kMaxOpsPerRun <=
                                        static_cast<size_t>(options_.max_txn_ops)) {
        if (!final_status[i]) {
          ++i;
          continue;
        }
        std::set<model::ExecutionStatus> statuses = {*final_status[i]};
        size_t j = i;
        while (j + 1 < read.kvs.size() && final_status[j + 1]) statuses.insert(*final_status[++j]);
        const std::string from = read.kvs[i].key;
        const std::string to = read.kvs[j].key + std::string(1, '\0');  // just after the last
        store::Compare unchanged =
            store::Compare::ModRevision(from, store::Compare::Result::kLess, read.revision + 1);
        unchanged.range_end = to;
        change.compare.push_back(std::move(unchanged));
        change.success.push_back(store::DeleteRequest{.key = from, .range_end = to});
        // The status index entries of the same records (model/keys.h): the same suffix range
        // under each status they have (a record's entry is only ever under its own status:
        // runs::PutRecordTo deletes the old one when a final record's status changes).
        const size_t cut = keys_.ExecPrefix(t->name).size();
        for (model::ExecutionStatus s : statuses) {
          const std::string index = keys_.StatusIndexPrefix(t->name, s);
          change.success.push_back(store::DeleteRequest{.key = index + from.substr(cut),
                                                        .range_end = index + to.substr(cut)});
        }
        doomed += static_cast<int64_t>(j - i + 1);
        i = j + 1;
      }
      if (doomed == 0) continue;  // the oldest are all live: keep them, try next sweep
      changes.push_back(std::move(change));
      change_of.emplace_back(t, doomed);
    }
    std::vector<runs::GroupCommit::Result> results = commits_.CommitAll(std::move(changes));
    for (size_t k = 0; k < results.size(); ++k) {
      HG_RETURN_IF_ERROR(results[k].status);
      auto [t, doomed] = change_of[k];
      // A conflict (a record changed or appeared meanwhile) is read again next round; so is a
      // job whose excess was larger than one round reads.
      if (results[k].succeeded) t->deleted += doomed;
      if (!results[k].succeeded || t->excess > doomed) next.push_back(t);
    }
    todo = std::move(next);
  }
  return absl::OkStatus();
}

void HistoryRetention::Sweep(std::set<std::string> names, bool all) {
  std::vector<Target> targets;
  if (all) {
    auto jobs = kv_.Range(store::RangeRequest::Prefix(keys_.JobsPrefix()));
    if (!jobs.ok()) {
      log_.Warn("retention sweep cannot list jobs; will retry",
                {{"error", std::string(jobs.status().message())}});
      return;
    }
    for (const store::KeyValue& kv : jobs->kvs) {
      auto job = model::ParseStoredJob(kv.value);
      if (job.ok()) targets.push_back({.name = job->name, .limit = job->history_limit});
    }
  } else {
    // The reported jobs' limits: their definitions, one read transaction per chunk.
    std::vector<model::JobName> wanted;
    for (const std::string& n : names) {
      if (auto name = model::JobName::Parse(n); name.ok()) wanted.push_back(*name);
    }
    for (size_t begin = 0; begin < wanted.size(); begin += kReadsPerTxn) {
      const size_t end = std::min(wanted.size(), begin + kReadsPerTxn);
      store::TxnRequest read;
      for (size_t i = begin; i < end; ++i) {
        read.success.push_back(store::RangeRequest::Key(keys_.Job(wanted[i])));
      }
      auto resp = kv_.Txn(read);
      if (!resp.ok()) {
        for (size_t i = begin; i < end; ++i) MarkDirty(wanted[i].str());  // next sweep
        continue;
      }
      for (size_t i = begin; i < end; ++i) {
        const auto* r = std::get_if<store::RangeResponse>(&resp->responses.at(i - begin));
        if (r == nullptr || r->kvs.empty()) continue;  // deleted meanwhile
        auto job = model::ParseStoredJob(r->kvs.front().value);
        if (job.ok()) targets.push_back({.name = job->name, .limit = job->history_limit});
      }
    }
  }
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
  }
  absl::Status st = Prune(targets);
  int64_t deleted = 0;
  for (const Target& t : targets) deleted += t.deleted;
  if (deleted > 0 && probe_) probe_(deleted);
  if (!st.ok()) {
    log_.Warn("cannot prune history; will retry", {{"error", std::string(st.message())}});
    for (const Target& t : targets) MarkDirty(t.name.str());
  } else if (deleted > 0) {
    log_.Debug("pruned history", {{"jobs", targets.size()}, {"records", deleted}});
  }
}

absl::StatusOr<int64_t> HistoryRetention::BackfillStatusIndex() {
  HG_ASSIGN_OR_RETURN(store::RangeResponse mark,
                      kv_.Range(store::RangeRequest::Key(keys_.StatusIndexReady())));
  if (!mark.kvs.empty()) return 0;
  int64_t written = 0;
  std::string from = keys_.ExecRoot();
  const std::string end = store::PrefixEnd(keys_.ExecRoot());
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return absl::CancelledError("stopped");
    }
    store::RangeRequest chunk{.key = from, .range_end = end, .limit = kMaxReadPerRound};
    HG_ASSIGN_OR_RETURN(store::RangeResponse read, kv_.Range(chunk));
    std::vector<store::TxnRequest> changes;
    for (const store::KeyValue& kv : read.kvs) {
      auto id = keys_.ExecFromKey(kv.key);
      auto rec = model::ParseExecution(kv.value);
      if (!id || !rec.ok() || !model::IsFinal(rec->status)) continue;
      store::TxnRequest change;
      change.compare.push_back(
          store::Compare::ModRevision(kv.key, store::Compare::Result::kEqual, kv.mod_revision));
      change.success.emplace_back(
          std::in_place_type<store::PutRequest>,
          store::PutRequest{.key = keys_.StatusIndex(*id, rec->status), .value = ""});
      changes.push_back(std::move(change));
    }
    // A record that changed meanwhile was written with its index entry.
    for (const runs::GroupCommit::Result& r : commits_.CommitAll(std::move(changes))) {
      HG_RETURN_IF_ERROR(r.status);
      if (r.succeeded) ++written;
    }
    if (!read.more || read.kvs.empty()) break;
    from = read.kvs.back().key + std::string(1, '\0');
  }
  HG_RETURN_IF_ERROR(
      kv_.Put(store::PutRequest{.key = keys_.StatusIndexReady(), .value = "1"}).status());
  log_.Info("status index complete", {{"indexed", written}});
  return written;
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
    if (!indexed_) {
      auto done = BackfillStatusIndex();
      if (done.ok()) {
        indexed_ = true;
      } else if (!absl::IsCancelled(done.status())) {
        log_.Warn("status index backfill failed; will retry",
                  {{"error", std::string(done.status().message())}});
      }
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
