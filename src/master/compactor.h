// Compactor: the leader's store compactor, a housekeeping duty of each term next to
// HistoryRetention (docs/design/storage.md "Compaction"). Without it etcd keeps every revision
// of every key forever and its database grows until it hits its quota (2 GB by default), after
// which every write — and so all scheduling — fails.
//
// Every `interval` it reads the store's Status (revision, compaction point, database size),
// samples the revision into a CompactionWindow, and compacts the store to the newest sample
// that is at least `retention` old (etcd's periodic compactor, run by Hourglass itself): the
// store always keeps at least `retention` of history, never less. A compaction that finds the
// store already compacted further (etcd's own --auto-compaction, SqliteKv's bounded history,
// an earlier leader) counts as done. A store error is logged and tried again next interval;
// it never ends the term. A new leader starts sampling afresh, so its first compaction comes
// `retention` after the term starts.
//
// Why it is safe: every watch Hourglass keeps recovers from a compaction by re-listing
// (coord::PrefixWatch, the scheduler's jobs watch, the worker's kill watch, the election's
// wait), and every Range at a past revision is a snapshot read made milliseconds after the
// revision was current; `retention` only makes those re-lists rare.
//
// Threading: RunAsLeader() blocks on the caller's thread until Stop(); Stop() and the
// accessors may be called from any thread. Step() is the loop's body, public for tests.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/logging.h"
#include "master/compaction_window.h"
#include "store/kv.h"

namespace hg::master {

// Hooks for metrics (telemetry::CompactionProbe); each optional.
struct CompactorProbe {
  // The store's status as the compactor read it (every interval); compact_revision is the
  // newest compaction it knows of (etcd's Status does not report one).
  std::function<void(const store::StoreStatus& status)> status;
  // A compaction to `revision` was applied by this compactor.
  std::function<void(store::Revision revision)> compacted;
};

class Compactor {
 public:
  struct Options {
    // History the store always keeps. Zero or negative: never compact (then the store must
    // compact itself, e.g. etcd's --auto-compaction-retention, or it grows without bound).
    absl::Duration retention = absl::Minutes(5);
    // How often the revision is sampled and a compaction considered. Zero: IntervalFor().
    absl::Duration interval = absl::ZeroDuration();
  };

  // retention / 10, at least one second (etcd's periodic compactor samples at retention / 10).
  static absl::Duration IntervalFor(absl::Duration retention);

  // `kv` and `clock` must outlive the compactor.
  Compactor(store::Kv& kv, Clock& clock, Options options, CompactorProbe probe = {});

  // Samples and compacts every interval until Stop(). Returns at once when retention <= 0.
  void RunAsLeader();
  void Stop();

  // One round: read Status, sample, compact when a revision is due. Returns the revision
  // compacted to (nullopt: nothing due) or the store's error.
  absl::StatusOr<std::optional<store::Revision>> Step();

  bool enabled() const { return options_.retention > absl::ZeroDuration(); }
  absl::Duration interval() const { return interval_; }
  // Rounds finished by RunAsLeader; a test that sees n knows the loop's next deadline is set.
  int64_t rounds() const;
  // Compactions this compactor applied.
  int64_t compactions() const;

 private:
  store::Kv& kv_;
  Clock& clock_;
  const Options options_;
  const absl::Duration interval_;
  const CompactorProbe probe_;
  log::Logger log_{"compactor"};

  // Step()'s state: only RunAsLeader's thread (or a test) calls Step().
  CompactionWindow window_;
  store::Revision compacted_ = 0;  // newest compaction point known

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t rounds_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t compactions_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hg::master
