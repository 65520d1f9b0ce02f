// The store key layout (DESIGN.md "Key layout", docs/design/storage.md), in one place.
//
//   <prefix>jobs/<name>                 job definition (Job JSON)
//   <prefix>cursor/<name>               last scheduled instant fired or accounted for
//   <prefix>exec/<name>/<ms>-<hex>      one execution record (Execution JSON)
//   <prefix>workers/<worker-id>         worker registry entry (under the worker's lease)
//   <prefix>masters/<master-id>         master registry entry (under the master's lease)
//   <prefix>election/<lease-id>         leader election (etcd concurrency recipe)
//   <prefix>locks/<name>/<lease-id>     Forbid lock of job <name> (etcd concurrency recipe)
//   <prefix>kill/<execution-id>         a kill request for a running execution (workers watch)
//   <prefix>pending/<execution-id>      waiting for dispatch (docs/design/execution.md)
//   <prefix>inflight/<execution-id>     claimed, not final; survives the worker
//   <prefix>running/<execution-id>      claimed by a live worker (under the worker's lease)
//   <prefix>auth/tokens/<token-name>    an API token (auth/token.h TokenRecord; no secret)
//   <prefix>audit/<ms>-<hex>            one audit entry (auth/audit.h), time ordered
//   <prefix>stats/<minute>/<node>       one process's run counts of one minute (run_stats.h);
//                                       <minute> = Unix minute, 10 digits (ordered by time)
//
// Every "...Prefix()" ends with '/', so a Range/Watch over it never matches a sibling whose
// name merely starts the same way (jobs/a/ vs jobs/ab). Immutable; thread-safe.
//
// <name> above is the job name's key segment (NameSegment): the name itself when it is made of
// [A-Za-z0-9._-] (every name of the old alphabet: existing keys need no migration), otherwise
// each byte outside that set as %XX (upper-case hex of its UTF-8), '%' included. A segment thus
// never holds '/', '@' or a control byte, so it cannot leave its prefix, "<name>@" scans never
// match another job's ids, and every name has exactly one segment. <execution-id> in keys is
// IdSegment: NameSegment(job) + "@" + suffix.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "model/ids.h"

namespace hg::model {

enum class ExecutionStatus;  // model/execution.h

class Keys {
 public:
  static constexpr std::string_view kDefaultPrefix = "/hourglass/";

  // `prefix` gets a trailing '/' appended when missing; an empty prefix means the default.
  explicit Keys(std::string_view prefix = kDefaultPrefix);

  const std::string& prefix() const { return prefix_; }

  // The one codec of names and execution ids inside keys (see above). The From* functions
  // accept only the canonical segment of a valid name (nullopt otherwise).
  static std::string NameSegment(const JobName& name);
  // The segment of any name that starts with `name_prefix` starts with this (bytes are encoded
  // one by one): a key range for a name-prefix search.
  static std::string NamePrefixSegment(std::string_view name_prefix);
  static std::optional<JobName> NameFromSegment(std::string_view segment);
  static std::string IdSegment(const ExecutionId& id);
  static std::optional<ExecutionId> IdFromSegment(std::string_view segment);

  std::string JobsPrefix() const { return prefix_ + "jobs/"; }
  std::string Job(const JobName& name) const { return JobsPrefix() + NameSegment(name); }

  std::string CursorPrefix() const { return prefix_ + "cursor/"; }
  std::string Cursor(const JobName& name) const { return CursorPrefix() + NameSegment(name); }

  // All executions of all jobs / of one job / one record.
  std::string ExecRoot() const { return prefix_ + "exec/"; }
  std::string ExecPrefix(const JobName& name) const { return ExecRoot() + NameSegment(name) + "/"; }
  std::string Exec(const ExecutionId& id) const {
    return ExecPrefix(id.job()) + std::string(id.suffix());
  }
  // The lowest key a record of `name` scheduled at `unix_ms` (clamped to 0) can have: record
  // keys sort by scheduled time, so ranges by time are key ranges.
  std::string ExecAt(const JobName& name, int64_t unix_ms) const {
    return TimeBound(ExecPrefix(name), unix_ms);
  }
  // The same bound under any prefix whose keys end in a record suffix (exec/<name>/, a status
  // index prefix): `prefix` + the 13-digit milliseconds of `unix_ms` (clamped to 0).
  static std::string TimeBound(std::string_view prefix, int64_t unix_ms);

  // The status index: one empty key per final record under its job and status
  // (status/<name>/<status>/<ms>-<hex>), written with the record, so a history page filtered by
  // a final status is a key range (docs/design/storage.md). `StatusIndexReady` marks a store
  // whose older records have been indexed too.
  std::string StatusIndexRoot() const { return prefix_ + "status/"; }
  std::string StatusIndexOf(const JobName& name) const {
    return StatusIndexRoot() + NameSegment(name) + "/";
  }
  std::string StatusIndexPrefix(const JobName& name, ExecutionStatus status) const;
  std::string StatusIndex(const ExecutionId& id, ExecutionStatus status) const {
    return StatusIndexPrefix(id.job(), status) + std::string(id.suffix());
  }
  std::string StatusIndexReady() const { return prefix_ + "meta/status-index"; }

  std::string WorkersPrefix() const { return prefix_ + "workers/"; }
  std::string Worker(std::string_view worker_id) const {
    return WorkersPrefix() + std::string(worker_id);
  }

  std::string MastersPrefix() const { return prefix_ + "masters/"; }
  std::string Master(std::string_view master_id) const {
    return MastersPrefix() + std::string(master_id);
  }

  std::string ElectionPrefix() const { return prefix_ + "election/"; }

  // Names for the coord recipes (Election, Registry), which follow etcd's convention of a name
  // without the trailing '/' and add it themselves: ElectionName() + "/" == ElectionPrefix().
  std::string ElectionName() const { return prefix_ + "election"; }
  std::string MastersName() const { return prefix_ + "masters"; }
  std::string WorkersName() const { return prefix_ + "workers"; }
  std::string LocksRoot() const { return prefix_ + "locks/"; }
  std::string LockPrefix(const JobName& name) const {
    return LocksRoot() + NameSegment(name) + "/";
  }

  std::string KillPrefix() const { return prefix_ + "kill/"; }
  std::string Kill(const ExecutionId& id) const { return KillPrefix() + IdSegment(id); }

  // Execution protocol keys (docs/design/execution.md), all keyed by the full execution id.
  std::string PendingPrefix() const { return prefix_ + "pending/"; }
  std::string Pending(const ExecutionId& id) const { return PendingPrefix() + IdSegment(id); }
  std::string InflightPrefix() const { return prefix_ + "inflight/"; }
  std::string Inflight(const ExecutionId& id) const { return InflightPrefix() + IdSegment(id); }
  std::string RunningPrefix() const { return prefix_ + "running/"; }
  std::string Running(const ExecutionId& id) const { return RunningPrefix() + IdSegment(id); }
  // pending/, inflight/, running/ keys of one job's executions ("<segment>@" never matches
  // another job's ids: segments hold no '@').
  std::string PendingJobPrefix(const JobName& name) const {
    return PendingPrefix() + NameSegment(name) + "@";
  }
  std::string InflightJobPrefix(const JobName& name) const {
    return InflightPrefix() + NameSegment(name) + "@";
  }
  std::string RunningJobPrefix(const JobName& name) const {
    return RunningPrefix() + NameSegment(name) + "@";
  }
  // API tokens and the audit log (auth/). Token names are [A-Za-z0-9_-] (auth/token.h).
  std::string TokensPrefix() const { return prefix_ + "auth/tokens/"; }
  std::string Token(std::string_view token_name) const {
    return TokensPrefix() + std::string(token_name);
  }
  std::string AuditPrefix() const { return prefix_ + "audit/"; }
  // Run statistics (model/run_stats.h): a window is one key range, [StatsMinute(first),
  // StatsMinute(end)). <node> is encoded byte by byte like a name prefix (no '/').
  std::string StatsPrefix() const { return prefix_ + "stats/"; }
  std::string StatsMinute(absl::Time minute) const;
  std::string Stats(absl::Time minute, std::string_view node) const {
    return StatsMinute(minute) + NamePrefixSegment(node);
  }

  // The execution id at the end of a pending/, inflight/, running/ or kill/ key.
  std::optional<ExecutionId> IdFromKey(std::string_view key, std::string_view prefix) const;

  // Reverse mapping of keys seen in ranges and watch events; nullopt when `key` is not of that
  // kind (wrong prefix, invalid name, malformed suffix).
  std::optional<JobName> JobFromKey(std::string_view key) const;
  std::optional<JobName> CursorFromKey(std::string_view key) const;
  std::optional<ExecutionId> ExecFromKey(std::string_view key) const;
  std::optional<ExecutionId> KillFromKey(std::string_view key) const;

 private:
  std::string prefix_;
};

}  // namespace hg::model
