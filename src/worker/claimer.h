// Claimer: the worker's half of the claim (docs/design/execution.md "Claim"). For a batch of
// execution ids it claims each one with runs::Claim, group-committed with every other write of
// this worker. With the leader's hint (pending and job revisions, attempt, Forbid) a claim is
// one round trip: its compares pin the hint, its reads return the record and the job. A claim
// without a hint, or whose compare failed, is decided from what the store shows: one snapshot
// of record, pending entry, inflight entry, kill request, job and Forbid lock holder
// (read-only transactions: no raft proposal), runs::DecideClaim, then the claim or an early end
// (Forbid skip, kill before start, job deleted).
//
// What runs comes from the store only; the caller passes ids. Thread-safe (no state besides its
// references).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/logging.h"
#include "model/execution.h"
#include "model/ids.h"
#include "model/job.h"
#include "model/keys.h"
#include "runs/group_commit.h"
#include "runs/transitions.h"
#include "store/kv.h"

namespace hg::worker {

class Claimer {
 public:
  struct Request {
    model::ExecutionId id;
    std::string trace_id;  // the record's trace id while it runs ("" = keep the record's)
    std::optional<runs::ClaimHint> hint;
  };

  enum class Outcome {
    kStarted,         // claimed: start it
    kAlreadyClaimed,  // running here or elsewhere
    kSkipped,         // recorded `skipped` (Forbid lock held)
    kFinished,        // already final
    kKilled,          // recorded `killed` before start (kill requested, or job deleted)
    kNotQueued,       // `scheduled` but not queued (no pending entry)
    kRefused,         // not decided now: see `status`
  };

  struct Result {
    Outcome outcome = Outcome::kRefused;
    // kRefused: kUnavailable/kDeadlineExceeded (store), kInternal (unreadable), kAborted (kept
    // changing). `claim_fate_unknown`: the store failed after a claim was sent; it may have
    // committed (the caller settles it).
    absl::Status status;
    bool claim_fate_unknown = false;
    std::string message;  // one line for the RPC answer and logs
    // kStarted (and claim_fate_unknown):
    runs::Claimed claimed;
    store::Revision revision = 0;         // the claim's revision (its inflight entry's)
    model::Execution running;             // the record to show while it runs (not written)
    store::Revision record_revision = 0;  // the record's mod revision (unchanged by the claim)
    model::Job job;
    std::string problem;  // kStarted with a record or job that does not decode: fail the run
  };

  Claimer(store::Kv& kv, const Clock& clock, const model::Keys& keys, runs::GroupCommit& commits,
          std::string worker_id);

  // One result per request, same order.
  std::vector<Result> ClaimAll(const std::vector<Request>& requests, store::LeaseId lease);

 private:
  // Reads the views of `ids` (one read transaction per chunk).
  absl::StatusOr<std::vector<runs::ClaimView>> Read(const std::vector<model::ExecutionId>& ids);
  // Fills a started result from what the claim read back.
  void Started(const Request& request, const runs::GroupCommit::Result& committed, Result& r);

  store::Kv& kv_;
  const Clock& clock_;
  const model::Keys keys_;
  runs::GroupCommit& commits_;
  const std::string worker_id_;
  const log::Logger log_{"worker"};
};

}  // namespace hg::worker
