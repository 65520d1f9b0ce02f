// SqliteKv: the Kv interface (etcd v3 semantics) inside one process, durable in one SQLite file.
// Used by `hourglass dev` and by tests; passes the shared conformance suite
// (tests/store/kv_conformance.h) like EtcdKv.
//
// Storage (one file, WAL journal, exclusive lock: one process at a time):
//   meta(name, value)        the compaction point, and a floor of the revision (the revision
//                            itself is the newest history row, so a write touches no meta row)
//   kv(key PRIMARY KEY, ...) the current value of every key (create/mod revision, version, lease)
//   history(rev, sub, ...)   one row per event of the last `history_revisions` revisions, with
//                            the previous value: serves Range at an old revision (current state
//                            with newer events undone) and Watch from a past revision.
// Every write (Put, Delete that deletes something, Txn with a write, lease revocation/expiry
// with attached keys) is one SQLite transaction that advances the revision by one. With
// Options::synchronous = kFull (the default) a write is fsynced to the WAL before it returns,
// so acknowledged writes survive kill -9 and power loss; kNormal survives kill -9 only.
//
// History is bounded: revisions older than `history_revisions` behind the current one are
// compacted (Range at such a revision, or Watch from it, fails with CompactedError), like etcd's
// auto-compaction. Compact(rev) compacts explicitly (etcd's Compact). Status() reports the
// revision, the compaction point and the file's size from SQLite's page counts.
//
// Requests are checked as a default etcd checks them (store/request_checks.h), so `hourglass
// dev` and tests refuse what production would: at most Options::max_txn_ops (128) ops per txn
// level with etcd's nested rule, etcd's duplicate-key rules across nested txns, and at most
// Options::max_request_bytes (1.5 MiB) per Put/Delete/writing Txn, measured as the request's
// exact protobuf encoding inside etcd's raft entry. Nested txns run as etcd runs them: every
// compare on the path is read before the first op writes, then the ops apply in order, all in
// one SQLite transaction and one revision.
//
// Leases live in memory and expire by the injected Clock (FakeClock in tests). Expiry or revoke
// deletes the lease's keys in one revision, emitting delete events, as etcd does. Because
// leases do not survive the process, Open() deletes every key still attached to a lease of a
// previous process (one revision per old lease): the lease's holder is gone, so etcd would have
// expired it too. Lease ids are random positive 63-bit numbers.
//
// Thread safety: every method may be called concurrently; one mutex serializes all access to
// the database (writes are serialized; reads wait for an in-flight write's fsync). Each watch
// runs its handler on its own thread, owned by the store; handlers may call back into the store.
// Destroying the SqliteKv stops and joins every watch and the lease thread; a Watch handle that
// outlives its store is inert.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "store/kv.h"
#include "store/request_checks.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hg::store {

class SqliteKv final : public Kv {
 public:
  enum class Synchronous { kFull, kNormal };

  struct Options {
    // Revisions of history kept for Range at an old revision and Watch from a past revision.
    int64_t history_revisions = 10'000;
    Synchronous synchronous = Synchronous::kFull;
    // etcd's request limits (--max-txn-ops, --max-request-bytes), enforced as a default etcd
    // does so that a batch etcd would refuse is refused here too (store/request_checks.h: the
    // size is the request's exact protobuf encoding in etcd's raft entry).
    int max_txn_ops = 128;
    int64_t max_request_bytes = 3 * 1024 * 512;  // 1.5 MiB
  };

  // Opens (creating if needed) the store at `path`; ":memory:" gives a private in-memory store
  // (no durability; for tests). `clock` must outlive the store. Fails with kFailedPrecondition
  // when another process holds the file, kInternal/kUnavailable on SQLite errors.
  static absl::StatusOr<std::unique_ptr<SqliteKv>> Open(const std::string& path, Clock& clock,
                                                        Options options);
  static absl::StatusOr<std::unique_ptr<SqliteKv>> Open(const std::string& path, Clock& clock) {
    return Open(path, clock, Options{});
  }

  ~SqliteKv() override;
  SqliteKv(const SqliteKv&) = delete;
  SqliteKv& operator=(const SqliteKv&) = delete;

  absl::StatusOr<RangeResponse> Range(const RangeRequest& req) override;
  absl::StatusOr<PutResponse> Put(const PutRequest& req) override;
  absl::StatusOr<DeleteResponse> Delete(const DeleteRequest& req) override;
  absl::StatusOr<TxnResponse> Txn(const TxnRequest& req) override;

  absl::StatusOr<LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds) override;
  absl::StatusOr<int64_t> LeaseKeepAliveOnce(LeaseId id) override;
  absl::Status LeaseRevoke(LeaseId id) override;
  absl::StatusOr<LeaseTimeToLiveResponse> LeaseTimeToLive(LeaseId id, bool keys) override;

  absl::StatusOr<std::unique_ptr<Watch>> StartWatch(const WatchRequest& req,
                                                    WatchHandler handler) override;

  // etcd's Compact: afterwards Range below `rev` and Watch from `rev` or below fail with
  // CompactedError; Range at `rev` still works. kOutOfRange if `rev` is in the future. The
  // history rows go at once; their pages are reused by later writes (the file does not shrink).
  absl::Status Compact(Revision rev) override;

  // revision; compact_revision = max(explicit Compact, revision - history_revisions), exact;
  // db_size = page_count * page_size; db_size_in_use = (page_count - freelist_count) *
  // page_size. For ":memory:" the sizes are of the in-memory database.
  absl::StatusOr<StoreStatus> Status() override;

  // The oldest revision Range can still read (history before it is gone).
  Revision OldestRangeRevision() const;

  // The SQL that serves a prefix Range at the latest revision (tests run EXPLAIN QUERY PLAN on
  // it to show it searches the primary key instead of scanning the table).
  static std::string PrefixRangeSqlForTest();

  struct WatchState;

 private:
  struct Lease {
    int64_t ttl = 0;
    SteadyTime expiry;
    std::set<std::string> keys;
  };
  struct WriteCtx;
  class Stmt;

  SqliteKv(sqlite3* db, Clock& clock, Options options);

  absl::Status Init() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<sqlite3_stmt*> Prepare(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SqlError(int rc, const std::string& what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Write transactions: Begin, the ops (each with ctx), then Finish (commit or roll back).
  absl::Status BeginWrite(WriteCtx& ctx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status FinishWrite(WriteCtx& ctx, absl::Status body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<RangeResponse> RangeLocked(const RangeRequest& req, const WriteCtx* ctx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<PutResponse> PutLocked(const PutRequest& req, WriteCtx& ctx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<DeleteResponse> DeleteLocked(const DeleteRequest& req, WriteCtx& ctx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> CompareLocked(const Compare& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // etcd's compareToPath: the branch every txn on the path takes (pre-order: the txn, then its
  // nested txns in op order), with every compare read before anything is written.
  absl::Status TxnPathLocked(const TxnRequest& req, std::vector<bool>* path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the ops of the branches `path` chose, from path[*next] on, advancing *next.
  absl::StatusOr<TxnResponse> ApplyTxnLocked(const TxnRequest& req, const std::vector<bool>& path,
                                             size_t* next, WriteCtx& ctx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<KeyValue>> ScanLocked(const std::string& key,
                                                   const std::string& range_end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes `keys` in one revision (lease revoke/expiry, stale leases at Open).
  absl::Status DeleteKeysLocked(const std::vector<std::string>& keys)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RevokeLocked(LeaseId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Revision CompactRevLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes history <= `compact` and records both numbers in meta (inside a transaction).
  absl::Status PruneLocked(Revision compact, Revision revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void LeaseLoop();
  void WatchLoop(const std::shared_ptr<WatchState>& w);
  // Reads the events of revisions [from, to] under `w`'s range; false on a database error.
  absl::StatusOr<std::vector<WatchResponse>> ReadEventsLocked(const WatchState& w, Revision from,
                                                              Revision to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelWatch(WatchState& w);

  Clock& clock_;
  const Options options_;
  const RequestLimits limits_;

  mutable absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, sqlite3_stmt*> stmts_ ABSL_GUARDED_BY(mu_);
  Revision rev_ ABSL_GUARDED_BY(mu_) = 1;
  // History rows <= compact_rev_ are deleted (persisted). The effective compaction point is
  // max(compact_rev_, rev_ - history_revisions) (CompactRevLocked).
  Revision compact_rev_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<LeaseId, Lease> leases_ ABSL_GUARDED_BY(mu_);
  uint64_t lease_gen_ ABSL_GUARDED_BY(mu_) = 0;  // bumped on every lease change
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::shared_ptr<WatchState>> watches_ ABSL_GUARDED_BY(mu_);
  std::thread lease_thread_;

  friend class SqliteWatch;
};

}  // namespace hg::store
