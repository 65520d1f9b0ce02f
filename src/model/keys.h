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
//
// Every "...Prefix()" ends with '/', so a Range/Watch over it never matches a sibling whose
// name merely starts the same way (jobs/a/ vs jobs/ab). Immutable; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "model/ids.h"

namespace hg::model {

class Keys {
 public:
  static constexpr std::string_view kDefaultPrefix = "/hourglass/";

  // `prefix` gets a trailing '/' appended when missing; an empty prefix means the default.
  explicit Keys(std::string_view prefix = kDefaultPrefix);

  const std::string& prefix() const { return prefix_; }

  std::string JobsPrefix() const { return prefix_ + "jobs/"; }
  std::string Job(const JobName& name) const { return JobsPrefix() + name.str(); }

  std::string CursorPrefix() const { return prefix_ + "cursor/"; }
  std::string Cursor(const JobName& name) const { return CursorPrefix() + name.str(); }

  // All executions of all jobs / of one job / one record.
  std::string ExecRoot() const { return prefix_ + "exec/"; }
  std::string ExecPrefix(const JobName& name) const { return ExecRoot() + name.str() + "/"; }
  std::string Exec(const ExecutionId& id) const {
    return ExecPrefix(id.job()) + std::string(id.suffix());
  }

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
  std::string LockPrefix(const JobName& name) const { return LocksRoot() + name.str() + "/"; }

  std::string KillPrefix() const { return prefix_ + "kill/"; }
  std::string Kill(const ExecutionId& id) const { return KillPrefix() + id.str(); }

  // Execution protocol keys (docs/design/execution.md), all keyed by the full execution id.
  std::string PendingPrefix() const { return prefix_ + "pending/"; }
  std::string Pending(const ExecutionId& id) const { return PendingPrefix() + id.str(); }
  std::string InflightPrefix() const { return prefix_ + "inflight/"; }
  std::string Inflight(const ExecutionId& id) const { return InflightPrefix() + id.str(); }
  std::string RunningPrefix() const { return prefix_ + "running/"; }
  std::string Running(const ExecutionId& id) const { return RunningPrefix() + id.str(); }
  // running/ keys of one job's executions ("<job>@" never matches another job's ids).
  std::string RunningJobPrefix(const JobName& name) const {
    return RunningPrefix() + name.str() + "@";
  }
  // API tokens and the audit log (auth/). Token names are [A-Za-z0-9_-] (auth/token.h).
  std::string TokensPrefix() const { return prefix_ + "auth/tokens/"; }
  std::string Token(std::string_view token_name) const {
    return TokensPrefix() + std::string(token_name);
  }
  std::string AuditPrefix() const { return prefix_ + "audit/"; }

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
