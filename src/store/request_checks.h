// etcd's checks of a write request before it runs, as pure functions: what etcd 3.4 rejects with
// InvalidArgument before applying anything. SqliteKv runs them so that `hourglass dev` and tests
// refuse exactly the requests a default etcd refuses; callers that batch changes (GroupCommit)
// may use them to size a batch. Verified against etcd 3.4.23 (tests/store_etcd runs the
// conformance cases that exercise them; TxnRequest in kv.h states the rules).
//
//   CheckTxn   etcd's v3rpc checkTxnRequest (op counts, recursively; empty keys) and
//              checkIntervals (duplicate keys across branches and nested txns), then the
//              request size check of a txn that writes.
//   CheckPut / CheckDelete   empty key, request size.
//
// Request size is what etcd compares with --max-request-bytes: the protobuf encoding of the
// request (computed exactly, field by field, as EtcdKv encodes it) inside etcd's raft entry,
// which adds a request header of 13 or 14 bytes (the request id takes 9 or 10 bytes, depending
// on the member id) plus the request's field tag and length. We count 14: measured against
// etcd 3.4.23 the result is exact or one byte stricter (with auth, etcd's header also holds the
// user name, so etcd is stricter by its length).
//
// Pure and thread-compatible.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "store/kv.h"

namespace hg::store {

struct RequestLimits {
  int max_txn_ops = 128;                       // etcd --max-txn-ops default
  int64_t max_request_bytes = 3 * 1024 * 512;  // etcd --max-request-bytes default: 1.5 MiB
};

// kInvalidArgument with etcd's message ("too many operations in txn request", "duplicate key
// given in txn request", "request is too large", "empty key") or OK.
absl::Status CheckTxn(const TxnRequest& req, const RequestLimits& limits);
absl::Status CheckPut(const PutRequest& req, const RequestLimits& limits);
absl::Status CheckDelete(const DeleteRequest& req, const RequestLimits& limits);

// The size etcd checks against --max-request-bytes (see the header comment).
int64_t RequestBytes(const PutRequest& req);
int64_t RequestBytes(const DeleteRequest& req);
int64_t RequestBytes(const TxnRequest& req);

// etcd's !isTxnReadonly: some op of either branch is not a Range (a nested txn counts as a
// write). etcd serves other txns without the raft size check.
bool TxnMayWrite(const TxnRequest& req);

}  // namespace hg::store
