// The schedule ledger (issue #6 section 4, docs/design/api.md "Schedule ledger"): every
// expected cron instant of a job in a window, joined with the execution records by scheduled
// time, each with exactly one outcome:
//
//   success | failed | timeout | killed | running | scheduled | skipped | missed
//               the record of the instant (its status)
//   no_worker   a `failed` record with reason no_worker (the dispatcher found no worker)
//   missed      also an instant with no record inside a run of missed instants that the
//               scheduler counted but did not list (the next record says so)
//   paused      no record, accounted by the scheduler (at or before the cursor) while the job
//               is paused now, at or after its last update (when the pause happened)
//   pruned      no record, older than the oldest record retained (history_limit)
//   no_record   no record, accounted by the scheduler (at or before the cursor): the job was
//               paused then (pauses are not recorded), or the record was deleted
//   pending     not due yet, or due less than `grace` ago and not yet accounted
//   unaccounted due more than `grace` ago and the scheduler has not accounted for it (cursor
//               before it): no leader, or a stuck scheduler — the alarm
//
// Instants before the job's created_at are not expected and not listed. Instants come from the
// job's current definition (cron_expr, timezone): after a schedule change, instants of the old
// schedule are not listed (their records are in history) and new instants before the change
// show as no_record/pruned. Manual triggers are not instants and are not joined.
// Pure functions; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "model/execution.h"
#include "model/job.h"
#include "model/json.h"

namespace hg::api {

struct LedgerEntry {
  absl::Time instant;
  std::string outcome;
  std::optional<model::Execution> execution;  // the record joined with the instant
};

struct Ledger {
  model::JobName job;
  absl::Time from;
  absl::Time to;
  absl::Time now;
  std::optional<absl::Time> cursor;  // cursor/<name>: accounted up to here
  // The scheduled time of the oldest retained record when it is not older than `from`; null
  // when there is no record or `history_before_window` (records older than the window exist:
  // no instant of the window was pruned). Finding the exact oldest would cost a read of the
  // whole history (api/history_reads.h).
  std::optional<absl::Time> oldest_record;
  bool history_before_window = false;
  std::vector<LedgerEntry> entries;  // ascending instants
};

struct LedgerInputs {
  const model::Job* job = nullptr;
  std::vector<absl::Time> instants;             // ascending, all within [from, to]
  std::vector<model::Execution> records;        // records scheduled within [from, to]
  std::optional<model::Execution> next_record;  // first record after `to` (missed counting)
  std::optional<absl::Time> cursor;
  std::optional<absl::Time> oldest_record;  // as Ledger's
  bool history_before_window = false;
  absl::Time from, to, now;
  absl::Duration grace = absl::Seconds(30);
};

Ledger JoinLedger(const LedgerInputs& in);

// {"job","from","to","now","cursor","oldest_record","counts":{outcome:n},
//  "instants":[{"instant","outcome","execution": summary | null}]}
model::Json EncodeLedger(const Ledger& ledger);

}  // namespace hg::api
