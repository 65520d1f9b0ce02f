// AuditLog: who changed what (docs/design/security.md "Audit"). Every mutating API call, allowed
// or refused, becomes one entry in the store (<prefix>audit/<newest-first key>) and one log line
// (logger "audit"). Entries older than `retention`, and the oldest beyond `max_entries`, are
// deleted by range at most once per `prune_interval`. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "model/json.h"
#include "model/keys.h"
#include "store/kv.h"

namespace hg::auth {

struct AuditEntry {
  absl::Time time = absl::UnixEpoch();
  std::string actor;   // token name; "anonymous" without one (auth off, or refused)
  std::string role;    // the actor's role; empty when unknown
  std::string method;  // "POST"
  std::string route;   // the route template: "/jobs/{name}/trigger"
  std::string target;  // the job, execution or token the call named; empty for none
  int status = 0;      // the HTTP status answered
  std::string remote;  // the caller's address
};

// The entry as JSON: the stored value and the API's answer are the same object.
model::Json AuditEntryJson(const AuditEntry& entry);
// The codec of the stored value (JSON). Decode: InvalidArgument naming what is wrong.
std::string EncodeAuditEntry(const AuditEntry& entry);
absl::StatusOr<AuditEntry> DecodeAuditEntry(std::string_view text);

class AuditLog {
 public:
  struct Options {
    absl::Duration retention = absl::Hours(24 * 30);
    int64_t max_entries = 100'000;
    absl::Duration prune_interval = absl::Minutes(1);
  };
  AuditLog(store::Kv& kv, const Clock& clock, model::Keys keys, Options options);

  // Writes `entry` (its time is set from the clock) and its log line. A store error is
  // returned (and logged); the API answers the call anyway — the log line remains.
  absl::Status Record(AuditEntry entry);

  struct Page {
    std::vector<AuditEntry> entries;  // newest first
    std::string next_cursor;          // empty on the last page
  };
  // `limit` 1..1000; `cursor` from a previous page (InvalidArgument when malformed).
  absl::StatusOr<Page> List(int limit, std::string_view cursor);

 private:
  std::string KeyFor(absl::Time t) const;  // newest first: an inverted, fixed-width time
  absl::Status PruneIfDue();

  store::Kv& kv_;
  const Clock& clock_;
  const model::Keys keys_;
  const Options options_;
  absl::Mutex mu_;
  std::optional<SteadyTime> last_prune_ ABSL_GUARDED_BY(mu_);
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  absl::BitGen gen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hg::auth
