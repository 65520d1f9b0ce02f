// EtcdKv: the Kv interface (store/kv.h) on a real etcd v3 cluster, over gRPC with our own
// minimal proto (proto/etcd/*.proto). See README.md in this folder for the behaviour in short.
//
// Connections: one gRPC channel per endpoint, created up front, connecting lazily, with short
// reconnect backoff (100 ms .. 2 s) so a restarted etcd is reached again within ~0.1-2 s. Every
// unary call carries a deadline (request_timeout). With one endpoint, calls also set
// wait_for_ready, so a call made while etcd restarts waits for it instead of failing at once;
// with several, a call goes only to an endpoint that is connected and fails fast otherwise.
//
// Fail-over: calls go to a preferred endpoint; one that is not connected (or refuses) is skipped
// for the next. Reads (Range, a Txn of Ranges only, LeaseTimeToLive, LeaseKeepAliveOnce,
// LeaseRevoke, Status, and Compact, whose repeat only answers "compacted") are retried on
// another endpoint after any UNAVAILABLE. Writes (Put, Delete, a Txn with a Put, Delete or
// nested txn, LeaseGrant) are retried elsewhere only when they were never sent; once sent, a
// transport failure returns kUnavailable to the caller, because the write may have been applied
// (same rule as etcd's clientv3).
//
// Auth: with a username, Authenticate runs on first use and its token goes in the "token"
// metadata of every call; an "invalid auth token" answer (e.g. after an etcd restart) triggers
// one re-authentication and one retry. A wrong password is kUnauthenticated with etcd's message.
//
// Errors: gRPC codes map one to one onto absl codes, with etcd's specifics on top:
//   "required revision has been compacted"  -> CompactedError (kOutOfRange, IsCompacted() true)
//   "requested lease not found"             -> kNotFound for lease calls, kFailedPrecondition
//                                              for a Put/Txn that names the lease
//   LeaseKeepAliveOnce answered with TTL <= 0 -> kNotFound (expired)
//   LeaseTimeToLive of an unknown/expired lease -> OK with ttl -1 (as etcd)
//   an empty key with a range_end               -> sent as "\0" (etcd's "from the first key")
//
// Watch: one bidi Watch stream per watch, read by a thread the watch owns. On a broken stream it
// reconnects by itself (any endpoint, backoff 50 ms .. 1 s) and re-creates the watch from the
// last delivered revision + 1, dropping anything older, so no event is lost or delivered twice.
// Fragmented responses are reassembled; progress notifications only advance the resume point.
// A compacted start revision ends the watch with one final response whose status IsCompacted.
// Cancel() (or the destructor) stops the stream and joins the thread.
//
// Thread safety: every method may be called from any thread concurrently (Kv contract).
// Watches and the EtcdKv share their connections: a Watch may outlive its EtcdKv.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "store/kv.h"

namespace hg::store {

struct EtcdKvOptions {
  // "host:port", "http://host:port" or "https://host:port" (https implies TLS). Required.
  std::vector<std::string> endpoints;
  // Longest wait for one endpoint to connect before trying the next (several endpoints only).
  absl::Duration dial_timeout = absl::Seconds(2);
  // Deadline of every unary call, fail-over included.
  absl::Duration request_timeout = absl::Seconds(5);
  // etcd user; empty = no auth.
  std::string username;
  std::string password;
  // TLS: used when `tls` is set or an endpoint is https://. Empty ca_file = system roots;
  // cert_file + key_file = client certificate (etcd --client-cert-auth).
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name_override;  // tests: certificate name when it differs from the host
  // gRPC keepalive pings on busy connections (watch streams) to notice a hung server.
  absl::Duration keepalive_time = absl::Seconds(10);
  absl::Duration keepalive_timeout = absl::Seconds(5);
};

class EtcdKv final : public Kv {
 public:
  // Validates options and reads TLS files; does not connect (the first call does). Errors:
  // kInvalidArgument (no endpoints, bad endpoint), kNotFound/kInternal (unreadable TLS file).
  // `clock` is used for waits between watch reconnects; it must outlive the EtcdKv and watches.
  static absl::StatusOr<std::unique_ptr<EtcdKv>> Create(EtcdKvOptions options,
                                                        Clock& clock = RealClock::Get());
  ~EtcdKv() override;

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

  // etcd's Compact with physical = false: returns once etcd has applied it (older revisions
  // are unreadable from then on), not after the backend has freed the space.
  absl::Status Compact(Revision revision) override;

  // Maintenance.Status of the member that answers (the preferred endpoint): its revision, db
  // size and db size in use (etcd >= 3.4). compact_revision: the newest compaction this client
  // knows of (its own Compact calls, a watch that met a compaction), 0 if none.
  absl::StatusOr<StoreStatus> Status() override;

  class Core;  // shared connection state (etcd_kv.cc)

 private:
  explicit EtcdKv(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  std::shared_ptr<Core> core_;
};

}  // namespace hg::store
