// Kv: the one storage interface of Hourglass, shaped exactly like etcd v3 (DESIGN.md "The store").
//
// Two implementations pass one shared conformance suite (tests/store/kv_conformance.h):
//   EtcdKv   (store/etcd/)  — etcd v3 over gRPC, for real deployments.
//   SqliteKv (store/local/) — the same semantics in one process, for `hourglass dev` and tests.
//
// Semantics follow etcd: one store-wide revision that every write (Put, DeleteRange, a Txn with
// at least one write) advances by exactly one; a fresh store is at revision 1. Each key carries
// create_revision, mod_revision, version (1 on create, +1 per put, gone on delete) and its lease.
// Ranges use [key, range_end): empty range_end = the single key; PrefixEnd(p) = every key under
// p; range_end "\0" = every key >= key. An empty key with a non-empty range_end starts at the
// first key (so Prefix("") is every key; etcd clients send key "\0" for it: EtcdKv translates).
//
// Errors (absl::Status) callers can act on:
//   kUnavailable        store unreachable (retry, maybe elsewhere)
//   kDeadlineExceeded   the call's deadline passed (outcome unknown for writes)
//   kFailedPrecondition a txn/put referred to a missing lease, or a similar request error
//   kNotFound           lease not found / expired (KeepAliveOnce, Revoke); TimeToLive instead
//                       answers OK with ttl -1, as etcd does
//   kOutOfRange         revision compacted (IsCompacted) or in the future
//   kInvalidArgument    malformed request (empty key, bad range, a txn branch writing one key
//                       twice: etcd's "duplicate key given in txn request"), a txn over etcd's
//                       op-count limit ("too many operations in txn request") or a write over
//                       its request size limit ("request is too large"): see TxnRequest
//
// Thread safety: every method may be called from any thread concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hg::store {

using Revision = int64_t;
using LeaseId = int64_t;  // 0 = no lease

struct KeyValue {
  std::string key;
  std::string value;
  Revision create_revision = 0;
  Revision mod_revision = 0;
  int64_t version = 0;
  LeaseId lease = 0;
  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

// etcd's GetPrefixRangeEnd: the smallest key greater than every key starting with `prefix`.
std::string PrefixEnd(const std::string& prefix);

// Sort order of a Range result (etcd RangeRequest.SortOrder/SortTarget subset).
enum class SortOrder { kNone, kAscend, kDescend };
enum class SortTarget { kKey, kCreateRevision, kModRevision };

struct RangeRequest {
  std::string key;
  std::string range_end;  // see header comment
  Revision revision = 0;  // 0 = latest
  int64_t limit = 0;      // 0 = no limit
  bool keys_only = false;
  bool count_only = false;
  SortOrder sort_order = SortOrder::kNone;  // kNone = by key, ascending
  SortTarget sort_target = SortTarget::kKey;

  static RangeRequest Key(std::string key) { return {.key = std::move(key)}; }
  static RangeRequest Prefix(const std::string& prefix) {
    return {.key = prefix, .range_end = PrefixEnd(prefix)};
  }
};

struct RangeResponse {
  std::vector<KeyValue> kvs;
  int64_t count = 0;  // number of keys in the range (before limit)
  bool more = false;  // true when limit cut the result
  Revision revision = 0;
};

struct PutRequest {
  std::string key;
  std::string value;
  LeaseId lease = 0;
  bool prev_kv = false;
};

struct PutResponse {
  Revision revision = 0;
  std::optional<KeyValue> prev_kv;
};

struct DeleteRequest {
  std::string key;
  std::string range_end;
  bool prev_kv = false;

  static DeleteRequest Key(std::string key) { return {.key = std::move(key)}; }
  static DeleteRequest Prefix(const std::string& prefix) {
    return {.key = prefix, .range_end = PrefixEnd(prefix)};
  }
};

struct DeleteResponse {
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
  Revision revision = 0;
};

// A txn guard, as etcd's Compare. For a missing key, version/create/mod revision compare as 0
// and a value compare is false (etcd semantics). With range_end set, every key in the range
// must satisfy it.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Result { kEqual, kGreater, kLess, kNotEqual };
  std::string key;
  std::string range_end;
  Target target = Target::kVersion;
  Result result = Result::kEqual;
  int64_t number = 0;  // version / revision / lease targets
  std::string value;   // value target

  static Compare Version(std::string key, Result r, int64_t v) {
    return {.key = std::move(key), .target = Target::kVersion, .result = r, .number = v};
  }
  static Compare CreateRevision(std::string key, Result r, Revision v) {
    return {.key = std::move(key), .target = Target::kCreateRevision, .result = r, .number = v};
  }
  static Compare ModRevision(std::string key, Result r, Revision v) {
    return {.key = std::move(key), .target = Target::kModRevision, .result = r, .number = v};
  }
  static Compare Value(std::string key, Result r, std::string v) {
    return {.key = std::move(key), .target = Target::kValue, .result = r, .value = std::move(v)};
  }
  static Compare Lease(std::string key, Result r, LeaseId v) {
    return {.key = std::move(key), .target = Target::kLease, .result = r, .number = v};
  }
};

struct TxnRequest;
struct TxnResponse;

// A T held out of line with value semantics (copies are deep), as C++26's std::indirect: lets a
// variant hold the still-incomplete TxnRequest / TxnResponse. Only assign to or destroy a
// moved-from one.
template <typename T>
class Indirect {
 public:
  explicit Indirect(std::unique_ptr<T> value) : value_(std::move(value)) {}
  Indirect(const Indirect& other) : value_(std::make_unique<T>(*other.value_)) {}
  Indirect& operator=(const Indirect& other) {
    if (this != &other) value_ = std::make_unique<T>(*other.value_);
    return *this;
  }
  Indirect(Indirect&&) noexcept = default;
  Indirect& operator=(Indirect&&) noexcept = default;
  ~Indirect() = default;

  const T& operator*() const { return *value_; }
  T& operator*() { return *value_; }

 private:
  std::unique_ptr<T> value_;
};

// A txn inside a txn's branch (etcd >= 3.3, RequestOp.request_txn); build one with Nested().
// Copies are deep; moves are cheap.
class NestedTxn {
 public:
  explicit NestedTxn(TxnRequest txn);
  const TxnRequest& txn() const { return *txn_; }
  TxnRequest& txn() { return *txn_; }

 private:
  Indirect<TxnRequest> txn_;
};

// The answer to a NestedTxn: which branch it took and one response per op of that branch.
// Read it with NestedResponse().
class NestedTxnResponse {
 public:
  explicit NestedTxnResponse(TxnResponse response);
  const TxnResponse& response() const { return *response_; }
  TxnResponse& response() { return *response_; }

 private:
  Indirect<TxnResponse> response_;
};

using TxnOp = std::variant<RangeRequest, PutRequest, DeleteRequest, NestedTxn>;
using TxnOpResponse = std::variant<RangeResponse, PutResponse, DeleteResponse, NestedTxnResponse>;

// etcd's Txn: if every compare holds, the success ops run in order, else the failure ops.
//
// Nested txns (a NestedTxn op) follow etcd 3.4 exactly:
//  - EVERY compare of the request, nested ones included, is evaluated against the store as it
//    was BEFORE the outer txn: a nested compare does not see the writes of earlier ops in the
//    same txn (etcd picks the whole path of branches before applying any op). Ops, nested ones
//    included, then apply in order, and a Range op does see the earlier writes.
//  - All writes of the outer txn, at any depth, are ONE revision: the revision advances by one
//    if any op anywhere wrote something. Their watch events share that revision, in op order
//    (depth first).
//  - A nested response's `revision` is the outer txn's revision.
//
// Checks before anything runs, each failing the whole request with kInvalidArgument:
//  - Op count (etcd's checkTxnRequest): a request's own count is max(compares, success ops,
//    failure ops) and must be <= max_txn_ops (etcd's --max-txn-ops, default 128): "too many
//    operations in txn request". Each NestedTxn in either branch is checked the same way
//    against max_txn_ops minus its parent's count, recursively. The limit is not on the total:
//    100 ops holding two nested txns of 28 ops each pass; one of 29 fails.
//  - Duplicate keys (etcd's checkIntervals, run on the success and on the failure branch of the
//    outer txn separately), "duplicate key given in txn request":
//      * a key may be Put at most once on one branch, nested txns included, except that the
//        success and failure branches of ONE nested txn may both Put it (only one runs);
//      * a Put may not fall in a Delete's range on the same branch, nested txns included, in
//        either order, except when the Put is in a nested txn and the Delete in a LATER
//        nested txn (etcd's check is one-sided there: accepted, and applied in order), or the
//        two are on the two branches of one nested txn;
//      * a Delete whose range_end is "\0" (every key >= key) never conflicts (etcd's interval
//        check reads "\0" as a literal end).
//  - Size: a request with any Put/Delete/NestedTxn whose encoded size is over etcd's
//    --max-request-bytes (default 1.5 MiB): "request is too large". etcd serves a txn of
//    Ranges only without that check.
struct TxnRequest {
  std::vector<Compare> compare;
  std::vector<TxnOp> success;
  std::vector<TxnOp> failure;
};

struct TxnResponse {
  bool succeeded = false;
  std::vector<TxnOpResponse> responses;  // one per op of the branch taken
  Revision revision = 0;
};

// Wraps `txn` as an op of another txn's branch:
//   kv.Txn({.compare = {guard},
//           .success = {store::Nested({.compare = {...}, .success = {...}, .failure = {...}}),
//                       store::Nested(other_change)}});
NestedTxn Nested(TxnRequest txn);

// The nested TxnResponse in `r`, or nullptr when `r` answers a Range, Put or Delete.
const TxnResponse* NestedResponse(const TxnOpResponse& r);

// Kv::Status(): cheap facts about the store, for keeping its size bounded (Compact).
struct StoreStatus {
  Revision revision = 0;          // the current store revision
  Revision compact_revision = 0;  // the newest compaction known (see Kv::Status), 0 = unknown
  int64_t db_size = 0;            // bytes of the backend file (etcd dbSize)
  int64_t db_size_in_use = 0;     // bytes of it holding data (etcd dbSizeInUse; the rest is
                                  // free pages a defragmentation / VACUUM would return)
};

struct LeaseGrantResponse {
  LeaseId id = 0;
  int64_t ttl = 0;  // seconds
};

struct LeaseTimeToLiveResponse {
  LeaseId id = 0;
  int64_t ttl = 0;  // seconds remaining; -1 if expired
  int64_t granted_ttl = 0;
  std::vector<std::string> keys;
};

enum class EventType { kPut, kDelete };

struct WatchEvent {
  EventType type = EventType::kPut;
  KeyValue kv;  // for kDelete: key and mod_revision (the delete's revision) only
  std::optional<KeyValue> prev_kv;
};

struct WatchRequest {
  std::string key;
  std::string range_end;
  Revision start_revision = 0;  // 0 = from now (events after the current revision)
  bool prev_kv = false;

  static WatchRequest Prefix(const std::string& prefix, Revision from = 0) {
    return {.key = prefix, .range_end = PrefixEnd(prefix), .start_revision = from};
  }
};

// One delivery to a watch handler. Events are in revision order; all events of one revision
// arrive in the same batch. `revision` is the store revision this batch brings the watcher to.
// A non-OK status is final (e.g. IsCompacted: re-list, then watch again); no call follows it.
struct WatchResponse {
  std::vector<WatchEvent> events;
  Revision revision = 0;
  absl::Status status;
};

using WatchHandler = std::function<void(const WatchResponse&)>;

// A live watch. Destroying it (or Cancel()) stops deliveries; after Cancel() returns the handler
// is not running and will not be called again. Must not be destroyed from inside the handler.
class Watch {
 public:
  virtual ~Watch() = default;
  virtual void Cancel() = 0;
};

class Kv {
 public:
  virtual ~Kv() = default;

  virtual absl::StatusOr<RangeResponse> Range(const RangeRequest& req) = 0;
  // Put, Delete and a Txn that writes are refused over etcd's request size limit (kInvalidArgument
  // "request is too large"; default 1.5 MiB of encoded request, SqliteKv::Options). Txn: see
  // TxnRequest for nested txns and etcd's op-count and duplicate-key checks.
  virtual absl::StatusOr<PutResponse> Put(const PutRequest& req) = 0;
  virtual absl::StatusOr<DeleteResponse> Delete(const DeleteRequest& req) = 0;
  virtual absl::StatusOr<TxnResponse> Txn(const TxnRequest& req) = 0;

  virtual absl::StatusOr<LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds) = 0;
  // Renews the lease once; returns the new TTL. kNotFound when the lease has expired.
  virtual absl::StatusOr<int64_t> LeaseKeepAliveOnce(LeaseId id) = 0;
  virtual absl::Status LeaseRevoke(LeaseId id) = 0;
  virtual absl::StatusOr<LeaseTimeToLiveResponse> LeaseTimeToLive(LeaseId id, bool keys) = 0;

  // Starts a watch; the handler runs on a thread owned by the store, one call at a time.
  // A watch survives transient store unavailability by itself (it resumes after the last
  // delivered revision: nothing lost, nothing twice). A compacted start_revision is reported
  // either here or as the watch's one final response (IsCompacted either way).
  virtual absl::StatusOr<std::unique_ptr<Watch>> StartWatch(const WatchRequest& req,
                                                            WatchHandler handler) = 0;

  // etcd's Compact (physical = false): drops the history before `revision`. When it returns,
  // Range at a revision < `revision` and a Watch from one fail with IsCompacted; Range at
  // `revision` or later works. Errors: IsCompacted if `revision` is not newer than an earlier
  // compaction; kOutOfRange (not IsCompacted) if it is in the future. Keys and their current
  // values are untouched; the space history used is reused by later writes (etcd's file only
  // shrinks with a defragmentation).
  virtual absl::Status Compact(Revision revision) = 0;

  // Cheap facts about the store: one small RPC on etcd (Maintenance.Status of the member that
  // answers), a few pragmas on SQLite. compact_revision is exact on SqliteKv; on etcd it is the
  // newest revision this client compacted (etcd's Status does not report it), 0 if none.
  virtual absl::StatusOr<StoreStatus> Status() = 0;
};

// Convenience wrappers.
absl::StatusOr<std::optional<KeyValue>> Get(Kv& kv, const std::string& key);

// Compacted-revision errors (kOutOfRange with this marker) from Range or Watch.
absl::Status CompactedError(Revision requested, Revision compact_revision);
bool IsCompacted(const absl::Status& status);

}  // namespace hg::store
