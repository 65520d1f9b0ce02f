// Dispatcher: the leader-only half of "one run, end to end" after the fire (DESIGN.md step 4,
// docs/design/execution.md "Dispatch" and "Lost").
//
// While leader it
//  - watches pending/ (after ranging it) and sends each execution to a live worker that matches
//    the job's selector, least in-flight first, trying the next worker on failure; when none can
//    take it the record ends `failed` ("no worker available") — except while no worker at all
//    is registered (right after a takeover or an etcd outage, workers re-register within their
//    session TTL), or while every matching worker refuses for a passing reason (no live session
//    yet, at capacity, slow): then the entry is parked and tried again until the instant's
//    starting_deadline has passed;
//  - watches running/ and, when a worker's lease vanishes with a run still in flight, puts the
//    execution back to `scheduled` for its next attempt or ends it `failed` ("worker lost").
// Every write carries the term guard, so a deposed leader writes nothing.
//
// Threading: RunAsLeader() blocks on the caller's thread and runs `dispatch_threads` senders;
// Stop() may be called from any thread.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/logging.h"
#include "dispatch/worker_client.h"
#include "model/keys.h"
#include "scheduler/scheduler.h"
#include "store/kv.h"

namespace hg::trace {
class Tracer;
}  // namespace hg::trace

namespace hg::dispatch {

struct WorkerInfo {
  std::string id;
  std::string address;
  std::map<std::string, std::string> labels;
  int capacity = 0;
};

struct DispatcherProbe {
  std::function<void(std::string_view reason)> dispatch_error;  // no_worker|unavailable|...
  std::function<void(size_t live)> workers;
  // A span per dispatch, child of the envelope's traceparent; the worker receives the span's
  // context (RunRequest.traceparent, gRPC metadata). Null: the envelope's context passes
  // through unchanged. Not owned.
  const trace::Tracer* tracer = nullptr;
};

class Dispatcher {
 public:
  struct Options {
    int dispatch_threads = 4;
    absl::Duration rpc_deadline = absl::Seconds(5);
    // When every matching worker refused for a passing reason (UNAVAILABLE, RESOURCE_EXHAUSTED,
    // DEADLINE_EXCEEDED), the entry is tried again after this, until its starting deadline.
    absl::Duration busy_retry = absl::Milliseconds(500);
  };

  Dispatcher(store::Kv& kv, Clock& clock, model::Keys keys, WorkerClient& client, Options options,
             DispatcherProbe probe = {});
  ~Dispatcher();

  absl::Status RunAsLeader(const scheduler::LeaderTerm& term);
  void Stop();

  std::vector<WorkerInfo> Workers() const;

 private:
  void SenderLoop(const scheduler::LeaderTerm& term);
  // False when the entry was parked (no worker registered yet, or every worker refused for a
  // passing reason) instead of dispatched or failed.
  bool DispatchOne(const scheduler::LeaderTerm& term, const std::string& pending_key,
                   const std::string& envelope);
  // Moves parked entries back to the queue: all of them, or those whose wait is over.
  void UnparkLocked(bool all) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleLost(const scheduler::LeaderTerm& term, const std::string& id);
  absl::Status LoadWorkers(store::Revision* revision);
  void ApplyWorker(const store::WatchEvent& ev);
  void ApplyRunning(const scheduler::LeaderTerm& term, const store::WatchEvent& ev);

  store::Kv& kv_;
  Clock& clock_;
  const model::Keys keys_;
  WorkerClient& client_;
  const Options options_;
  const DispatcherProbe probe_;
  log::Logger log_{"dispatch"};

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, WorkerInfo> workers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);        // worker id -> running runs
  std::map<std::string, std::string> running_ ABSL_GUARDED_BY(mu_);  // running key -> worker
  std::deque<std::pair<std::string, std::string>> queue_ ABSL_GUARDED_BY(mu_);  // key, envelope
  std::set<std::string> queued_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> lost_ ABSL_GUARDED_BY(mu_);  // execution ids to check
  struct Parked {
    absl::Time until;  // when to look again: a worker registers, or this time passes
    std::string key, envelope;
  };
  std::vector<Parked> parked_ ABSL_GUARDED_BY(mu_);  // waiting for a worker to take them
};

}  // namespace hg::dispatch
