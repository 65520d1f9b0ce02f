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
//                       twice: etcd's "duplicate key given in txn request")
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

using TxnOp = std::variant<RangeRequest, PutRequest, DeleteRequest>;
using TxnOpResponse = std::variant<RangeResponse, PutResponse, DeleteResponse>;

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
};

// Convenience wrappers.
absl::StatusOr<std::optional<KeyValue>> Get(Kv& kv, const std::string& key);

// Compacted-revision errors (kOutOfRange with this marker) from Range or Watch.
absl::Status CompactedError(Revision requested, Revision compact_revision);
bool IsCompacted(const absl::Status& status);

}  // namespace hg::store
