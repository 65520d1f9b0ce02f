// ResultSpool: the worker's append-only file of final results not yet written to the store
// (DESIGN.md "Results are never lost"; docs/design/worker.md "Spool").
//
// Format: JSON lines. A result line is
//   {"op":"result","id":…,"exec_key":…,"mod_revision":…,"lease":…,"inflight_key":…,
//    "inflight_value":…,"running_key":…,"lock_key":…,"lock_value":…,"record":"<Execution JSON>"}
// and {"op":"done","id":…} marks that result written (or settled). Every append is fsync()ed
// before Append() returns, so an acknowledged result survives a crash of the worker or the host.
// When no result is outstanding the file is truncated to zero length. On Open() a torn last
// line (crash in the middle of a write) is ignored; the results without a "done" line are
// returned by Loaded() for the worker to flush.
//
// An empty path gives a memory-only spool (Append/MarkDone do nothing): for tests and for
// operators who accept losing results on a crash while the store is down.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "store/kv.h"

namespace hg::worker {

// Everything needed to write one final record with the Finish transaction, also after a restart
// (keys are absolute, so a later change of the key prefix does not misdirect them).
struct FinishEntry {
  std::string id;        // execution id
  std::string exec_key;  // exec/<job>/<suffix>
  // Mod revision of the record as we last wrote it; the Finish txn compares it. 0 = unknown
  // (a write whose answer was lost): the txn then fails its compare and the record is adopted
  // only if it is still visibly ours (see WorkerService).
  store::Revision mod_revision = 0;
  store::LeaseId lease = 0;  // lease the run's running/ and lock keys were put under
  std::string inflight_key;
  std::string inflight_value;
  std::string running_key;
  std::string lock_key;    // empty unless Forbid
  std::string lock_value;  // the execution id stored in the lock key
  std::string record;      // final Execution JSON
  std::string worker_id;   // who wrote it (adoption check)
  int attempt = 1;         // attempt of the final record (adoption check)
};

class ResultSpool {
 public:
  // Opens (creating if needed) the spool at `path`, reading what a previous process left.
  // Errors: the file cannot be created, read or written (kInternal / kPermissionDenied with the
  // path and errno text).
  static absl::StatusOr<std::unique_ptr<ResultSpool>> Open(const std::string& path);
  ~ResultSpool();
  ResultSpool(const ResultSpool&) = delete;
  ResultSpool& operator=(const ResultSpool&) = delete;

  // Results found on Open() without a "done" line, in file order.
  const std::vector<FinishEntry>& loaded() const { return loaded_; }

  // Appends a result line and fsyncs. Error: the write or fsync failed (the result then lives
  // only in memory).
  absl::Status Append(const FinishEntry& entry);
  // Appends a done line for `id` (no fsync needed: losing it only re-sends an idempotent
  // Finish); truncates the file when nothing is outstanding any more.
  absl::Status MarkDone(const std::string& id);

  // Results appended or loaded and not yet marked done.
  size_t outstanding() const;

  static std::string EncodeEntry(const FinishEntry& entry);
  static absl::StatusOr<FinishEntry> DecodeEntry(std::string_view line);

 private:
  ResultSpool(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  absl::Status WriteLocked(const std::string& line, bool sync) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  std::vector<FinishEntry> loaded_;
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;  // -1 = memory only
  absl::flat_hash_set<std::string> outstanding_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hg::worker
