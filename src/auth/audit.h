// AuditLog: who changed what (docs/design/security.md "Audit"). Every mutating API call, allowed
// or refused, becomes one log line (logger "audit") at once and one entry in the store
// (<prefix>audit/<newest-first key>) written by a background writer: an API answer never waits
// for the store (during an outage the call is answered, its entry waits in a bounded queue and
// is written when the store is back). Entries older than `retention`, and the oldest beyond
// `max_entries`, are deleted by range at most once per `prune_interval`. Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/audit_entry.h"
#include "common/clock.h"
#include "model/keys.h"
#include "store/kv.h"

namespace hg::auth {

class AuditLog {
 public:
  struct Options {
    absl::Duration retention = absl::Hours(24 * 30);
    int64_t max_entries = 100'000;
    absl::Duration prune_interval = absl::Minutes(1);
    size_t max_queued = 10'000;  // entries waiting for the store; beyond, new ones are dropped
  };
  AuditLog(store::Kv& kv, const Clock& clock, model::Keys keys, Options options);
  ~AuditLog();  // writes what is queued (one attempt), then stops the writer
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Logs `entry` (its time is set from the clock) and queues it for the store. Never waits for
  // the store. ResourceExhausted (and an error log line) when the queue is full: the entry is
  // then only in the log.
  absl::Status Record(AuditEntry entry);

  // Waits until every queued entry is stored, at most `timeout` (real time). False on timeout.
  bool Flush(absl::Duration timeout);

  struct Page {
    std::vector<AuditEntry> entries;  // newest first
    std::string next_cursor;          // empty on the last page
  };
  // `limit` 1..1000; `cursor` from a previous page (InvalidArgument when malformed). Waits up
  // to 2 s for this log's queued entries first, so a caller reads its own calls.
  absl::StatusOr<Page> List(int limit, std::string_view cursor);

 private:
  struct Queued {
    std::string key, value;
  };
  std::string KeyFor(absl::Time t) const;  // newest first: an inverted, fixed-width time
  absl::Status PruneIfDue();
  void WriterLoop();
  // One txn of up to 64 puts; the batch goes back to the queue's front on failure.
  absl::Status WriteBatch(std::vector<Queued>& batch);

  store::Kv& kv_;
  const Clock& clock_;
  const model::Keys keys_;
  const Options options_;
  absl::Mutex mu_;
  std::optional<SteadyTime> last_prune_ ABSL_GUARDED_BY(mu_);
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // a batch taken off the queue is being written
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
};

}  // namespace hg::auth
