// Master: what every `hourglass master` (and `hourglass dev`) runs besides the API — it keeps a
// session, registers under masters/, campaigns for leadership, and while leader runs the
// Scheduler (fires), the Dispatcher (runs to workers), HistoryRetention (prunes history to
// each job's history_limit) and the Compactor (compacts the store's revision history) of that
// term. Retention and compaction are housekeeping: their end never ends the term.
//
// Leadership ends when the session is lost (stop scheduling first: both loops are stopped before
// anything else happens), when a fire transaction finds the term guard failed, or on Stop()
// (which resigns, so a standby takes over at once instead of after the TTL). The loop then
// starts over with a new session and campaigns again.
//
// Threading: Start() starts one election thread; the leader loops get one thread each per term.
// Stop() joins all of them. Status accessors are thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/logging.h"
#include "dispatch/dispatcher.h"
#include "dispatch/worker_client.h"
#include "master/compactor.h"
#include "model/keys.h"
#include "scheduler/history_retention.h"
#include "scheduler/scheduler.h"
#include "store/kv.h"

namespace hg::master {

struct MasterProbe {
  std::function<void(bool leader, int64_t term)> leadership;
};

class Master {
 public:
  struct Options {
    std::string id;       // unique per master (default: hostname-pid)
    std::string address;  // its HTTP address, announced in masters/ and as leader value
    int64_t election_ttl_seconds = 10;
    scheduler::Scheduler::Options scheduler;
    scheduler::HistoryRetention::Options retention;
    Compactor::Options compactor;
    dispatch::Dispatcher::Options dispatcher;
    scheduler::SchedulerProbe scheduler_probe;
    dispatch::DispatcherProbe dispatcher_probe;
    MasterProbe probe;
    CompactorProbe compactor_probe;
  };

  Master(store::Kv& kv, Clock& clock, model::Keys keys, dispatch::WorkerClient& workers,
         Options options);
  ~Master();

  void Start();
  // Resigns if leader, stops the leader loops and the election thread. Idempotent.
  void Stop();

  bool IsLeader() const { return leader_.load(); }
  int64_t term() const { return term_.load(); }

 private:
  void ElectionLoop(std::stop_token stop);
  void LeadOneTerm(std::stop_token stop, class LeaderContext& ctx);

  store::Kv& kv_;
  Clock& clock_;
  const model::Keys keys_;
  dispatch::WorkerClient& workers_;
  const Options options_;
  log::Logger log_{"master"};

  std::atomic<bool> leader_{false};
  std::atomic<int64_t> term_{0};
  std::jthread thread_;
};

}  // namespace hg::master
