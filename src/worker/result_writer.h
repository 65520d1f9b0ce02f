// ResultWriter: gets every final record of this worker into the store (DESIGN.md "Results are
// never lost"; docs/design/worker.md "Results").
//
// Write() commits the Finish (runs::Finish) group-committed with the other finishes, claims and
// attempt updates of this worker. When the store is unreachable the entry goes to the spool file
// (fsync'd) and a background thread retries it with backoff, also after a restart (Start()
// reloads the spool). A Finish whose compare fails is settled by what the store shows:
//  - the record and inflight entry are still this run's (our own write whose answer was lost):
//    adopt their revisions and write again;
//  - the leader moved on (it found the worker lost and retried the execution, or ended it
//    worker_lost): the attempt is recorded anyway (runs::MergeLateResult), so the record shows
//    every attempt that really ran;
//  - the record is gone (purged): nothing to write.
//
// Thread-safe. Start() once, Stop() once (idempotent); Write() between them.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/logging.h"
#include "model/keys.h"
#include "runs/group_commit.h"
#include "store/kv.h"
#include "worker/spool.h"

namespace hg::worker {

class ResultWriter {
 public:
  struct Options {
    std::string spool_path;  // empty: memory only (results are lost if the worker dies)
    absl::Duration retry_initial = absl::Milliseconds(100);
    absl::Duration retry_max = absl::Seconds(5);
  };

  ResultWriter(store::Kv& kv, const Clock& clock, const model::Keys& keys,
               runs::GroupCommit& commits, Options options);
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  // Opens the spool (what a previous process left is queued) and starts the retry thread.
  // Error: the spool file cannot be opened.
  absl::Status Start();
  // One last attempt for every queued result; what still fails stays in the spool. Joins.
  void Stop();

  // Writes `entry` now. OK: settled (written, merged as a late result, or nothing left to
  // write). Otherwise the entry is spooled and retried in the background, and the store's error
  // is returned (for logging).
  absl::Status Write(FinishEntry entry);

  // Results waiting to be written.
  size_t Pending() const;

 private:
  struct Queued {
    FinishEntry entry;
    absl::Time next_try;
    absl::Duration backoff;
  };
  // One settling attempt; an error means "try again later".
  absl::Status Settle(FinishEntry& entry);
  void Queue(FinishEntry entry);
  void Loop();
  void FlushDue(bool all);

  store::Kv& kv_;
  const Clock& clock_;
  const model::Keys keys_;
  runs::GroupCommit& commits_;
  const Options options_;
  const log::Logger log_{"worker"};

  std::unique_ptr<ResultSpool> spool_;
  mutable absl::Mutex mu_;
  std::vector<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t settling_ ABSL_GUARDED_BY(mu_) = 0;  // taken off queue_ by FlushDue, not yet settled
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t wake_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace hg::worker
