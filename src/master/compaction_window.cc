#include "master/compaction_window.h"

#include <algorithm>

namespace hg::master {

CompactionWindow::CompactionWindow(absl::Duration retention) : retention_(retention) {}

void CompactionWindow::Sample(SteadyTime at, store::Revision revision) {
  // A revision that went backwards: the store is not the one the samples were taken of.
  if (!samples_.empty() && revision < samples_.back().revision) samples_.clear();
  if (!samples_.empty() && at <= samples_.back().at) {
    samples_.back().revision = std::max(samples_.back().revision, revision);
  } else {
    samples_.push_back({.at = at, .revision = revision});
  }
  // The oldest sample is superseded once the next one is old enough too.
  const SteadyTime old_enough = at - absl::ToChronoNanoseconds(retention_);
  while (samples_.size() >= 2 && samples_[1].at <= old_enough) samples_.pop_front();
}

std::optional<store::Revision> CompactionWindow::Target(SteadyTime now, store::Revision current,
                                                        store::Revision compacted) const {
  const SteadyTime old_enough = now - absl::ToChronoNanoseconds(retention_);
  std::optional<store::Revision> target;
  for (const Entry& e : samples_) {
    if (e.at > old_enough) break;
    target = e.revision;
  }
  if (!target || *target <= compacted || *target > current) return std::nullopt;
  return target;
}

}  // namespace hg::master
