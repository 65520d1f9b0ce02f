// ResultSpool: the worker's append-only file of final results not yet written to the store
// (DESIGN.md "Results are never lost"; docs/design/worker.md "Spool").
//
// Format: JSON lines. A result line is
//   {"op":"result","id":…,"record_revision":…,"inflight_revision":…,"lease":…,"lock_key":…,
//    "worker_id":…,"attempt":…,"claim_unknown":…,"record":"<Execution JSON>"}
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

// Everything needed to write one final record with the Finish transaction (runs::Finish), also
// after a restart. Keys are derived from the id with the worker's key prefix.
struct FinishEntry {
  std::string id;      // execution id
  std::string record;  // final Execution JSON
  // Mod revisions of exec/<id> and inflight/<id> as this worker last wrote them; the Finish
  // compares both. 0 = unknown (a claim whose answer was lost): the entry is then settled by
  // what the store shows (ResultWriter).
  store::Revision record_revision = 0;
  store::Revision inflight_revision = 0;
  store::LeaseId lease = 0;  // the session lease the run was claimed under
  std::string lock_key;      // Forbid: the lock it holds ("" otherwise)
  std::string worker_id;     // who ran it
  int attempt = 1;           // attempt of the final record
  // A claim whose answer was lost: if it turns out to have committed (the inflight entry is this
  // worker's) the claim is given back (runs::ReleaseClaim); otherwise nothing ran, nothing is due.
  bool claim_unknown = false;
};

class ResultSpool {
 public:
  // Opens (creating if needed) the spool at `path`, reading what a previous process left, and
  // locks it (flock) for this process. Errors: the file cannot be created, read or written
  // (kInternal / kPermissionDenied with the path and errno text); another process holds it
  // (kFailedPrecondition).
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
