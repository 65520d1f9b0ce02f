// CompactionWindow: the pure decision of the leader's store compactor (compactor.h) — which
// revision it may compact to. No I/O and no clock: the caller passes every time and revision
// (STYLE.md: pure decisions apart from I/O; tests step it with a FakeClock's steady time).
//
// Like etcd's periodic compactor (server/etcdserver/api/v3compactor/periodic.go), it remembers
// the store revision seen at a few instants ("samples", one per sample interval) and compacts
// to the newest revision that is at least `retention` old:
//
//   Sample(t0, r0)  Sample(t1, r1)  ...  Target(now, current, compacted)
//   -> the newest r_i with t_i <= now - retention, when r_i > compacted (never backwards) and
//      r_i <= current (never past the store's revision); otherwise nothing.
//
// So the store always keeps at least `retention` of history: a watch or a read at a revision
// younger than that is never compacted away by Hourglass.
//
// A sample whose revision is below an earlier one (the store was restored from an older
// backup, or replaced) forgets the earlier samples: their revisions mean nothing any more.
// Only the samples still needed are kept (the newest one at least `retention` old and the
// younger ones), so memory stays at about retention / sample interval + 1 entries.
//
// Times are steady (SteadyTime): a wall-clock jump must not make a young revision look old.
// Thread safety: none (the compactor's loop owns it).
#pragma once

#include <cstddef>
#include <deque>
#include <optional>

#include "absl/time/time.h"
#include "common/clock.h"
#include "store/kv.h"

namespace hg::master {

class CompactionWindow {
 public:
  // `retention` > 0: how much history (by time) compaction always leaves in the store.
  explicit CompactionWindow(absl::Duration retention);

  // Records that the store was at `revision` at `at`. Samples must come in time order.
  void Sample(SteadyTime at, store::Revision revision);

  // The revision to compact to at `now`, given the store's `current` revision and the newest
  // compaction already known (`compacted`, 0 = none): the newest sample taken at least
  // `retention` before `now`, if it is newer than `compacted` and not past `current`.
  std::optional<store::Revision> Target(SteadyTime now, store::Revision current,
                                        store::Revision compacted) const;

  absl::Duration retention() const { return retention_; }
  size_t samples() const { return samples_.size(); }

 private:
  struct Entry {
    SteadyTime at;
    store::Revision revision = 0;
  };

  const absl::Duration retention_;
  std::deque<Entry> samples_;  // oldest first, strictly increasing times
};

}  // namespace hg::master
