// The small values the execution protocol stores next to the record (docs/design/execution.md
// "Keys of the protocol"), each with its one codec. Every reader and writer of these keys goes
// through here. Pure; thread-compatible.
//
//   cursor/<job>     RFC 3339 instant: the last scheduled instant fired or accounted for
//   pending/<id>     PendingEntry: waiting for a worker
//   inflight/<id>    InflightEntry: claimed by a worker, not final
//   kill/<id>        the kill reason (plain text), under a lease
//   locks/<job>/<lease-hex>   the holder's execution id (etcd concurrency.Mutex compatible)
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/ids.h"
#include "model/keys.h"
#include "store/kv.h"

namespace hg::runs {

// pending/<id>: an execution waiting to be claimed. Written with the `scheduled` record (fire,
// trigger, retry after a lost worker); deleted by the claim and by every transition that ends
// the execution before it starts. While it exists the record is `scheduled`.
struct PendingEntry {
  int attempt = 1;                   // the attempt the claim starts (1-based)
  store::Revision job_revision = 0;  // mod revision of jobs/<name> it was queued under
  std::string traceparent;           // context of the fire / trigger span ("" = none)
  friend bool operator==(const PendingEntry&, const PendingEntry&) = default;
};
std::string EncodePending(const PendingEntry& entry);
absl::StatusOr<PendingEntry> DecodePending(std::string_view text);

// inflight/<id>: claimed and not final. It survives the worker: once `lease` (the worker's
// session) has expired, the leader decides the run's fate (DESIGN.md guard 3).
struct InflightEntry {
  std::string worker_id;
  store::LeaseId lease = 0;
  int attempt = 1;  // the attempt running now; rewritten before each retry starts
  friend bool operator==(const InflightEntry&, const InflightEntry&) = default;
};
std::string EncodeInflight(const InflightEntry& entry);
absl::StatusOr<InflightEntry> DecodeInflight(std::string_view text);

// cursor/<job>.
std::string EncodeCursor(absl::Time instant);
absl::StatusOr<absl::Time> DecodeCursor(std::string_view text);

// locks/<job>/<lease in lowercase hex>: the key etcd's concurrency.Mutex would use for this
// lease (fmt "%s%x"), so `etcdctl lock` and Hourglass agree on who holds a job's lock.
std::string LockKey(const model::Keys& keys, const model::JobName& job, store::LeaseId lease);

}  // namespace hg::runs
