#include "master/compactor.h"

#include <algorithm>
#include <string>

#include "common/status.h"

namespace hg::master {

absl::Duration Compactor::IntervalFor(absl::Duration retention) {
  return std::max(retention / 10, absl::Seconds(1));
}

Compactor::Compactor(store::Kv& kv, Clock& clock, Options options, CompactorProbe probe)
    : kv_(kv),
      clock_(clock),
      options_(options),
      interval_(options.interval > absl::ZeroDuration() ? options.interval
                                                        : IntervalFor(options.retention)),
      probe_(std::move(probe)),
      window_(options.retention) {}

void Compactor::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
}

int64_t Compactor::rounds() const {
  absl::MutexLock lock(&mu_);
  return rounds_;
}

int64_t Compactor::compactions() const {
  absl::MutexLock lock(&mu_);
  return compactions_;
}

absl::StatusOr<std::optional<store::Revision>> Compactor::Step() {
  const SteadyTime now = clock_.SteadyNow();
  HG_ASSIGN_OR_RETURN(store::StoreStatus status, kv_.Status());
  // A store whose revision is below what was compacted is not the store compacted before.
  if (status.revision < compacted_) compacted_ = 0;
  compacted_ = std::max(compacted_, status.compact_revision);
  status.compact_revision = compacted_;  // etcd reports only what this client compacted
  if (probe_.status) probe_.status(status);
  window_.Sample(now, status.revision);
  const std::optional<store::Revision> target = window_.Target(now, status.revision, compacted_);
  if (!target) return std::nullopt;
  absl::Status st = kv_.Compact(*target);
  if (store::IsCompacted(st)) {
    // Compacted further already (the store's own auto-compaction, an earlier leader).
    log_.Debug("store already compacted past the target", {{"revision", *target}});
    compacted_ = *target;
    return std::nullopt;
  }
  HG_RETURN_IF_ERROR(st);
  compacted_ = *target;
  {
    absl::MutexLock lock(&mu_);
    ++compactions_;
  }
  if (probe_.compacted) probe_.compacted(*target);
  log_.Info("compacted the store", {{"revision", *target},
                                    {"store_revision", status.revision},
                                    {"db_size", status.db_size},
                                    {"db_size_in_use", status.db_size_in_use}});
  return target;
}

void Compactor::RunAsLeader() {
  if (!enabled()) return;
  log_.Info("store compaction on", {{"retention", absl::FormatDuration(options_.retention)},
                                    {"interval", absl::FormatDuration(interval_)}});
  while (true) {
    // The deadline is fixed before the round is counted (see rounds()).
    const absl::Time next = clock_.Now() + interval_;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    absl::StatusOr<std::optional<store::Revision>> done = Step();
    if (!done.ok()) {
      log_.Warn("store compaction failed; retrying next interval",
                {{"error", std::string(done.status().message())}});
    }
    absl::MutexLock lock(&mu_);
    ++rounds_;
    clock_.WaitUntil(mu_, next, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; });
    if (stop_) return;
  }
}

}  // namespace hg::master
