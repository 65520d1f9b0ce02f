#include "telemetry/hooks.h"

namespace hg::telemetry {

api::ApiProbe ApiHooks(ApiProbe& probe) {
  api::ApiProbe hooks;
  hooks.request = [&probe](std::string_view pattern, std::string_view method, int status,
                           absl::Duration elapsed) {
    probe.Request(ApiProbe::RouteTemplate(pattern), method, status, elapsed);
  };
  hooks.unrouted = [&probe](std::string_view method, int status) {
    probe.Unrouted(method, status);
  };
  return hooks;
}

scheduler::SchedulerProbe SchedulerHooks(FireProbe& fires) {
  scheduler::SchedulerProbe hooks;
  hooks.fires = [&fires](std::string_view outcome, int64_t n) { fires.Fires(outcome, n); };
  hooks.missed = [&fires](const std::string& job, int64_t n) { fires.Missed(job, n); };
  return hooks;
}

dispatch::DispatcherProbe DispatcherHooks(DispatchProbe& dispatch, FireProbe& fires) {
  dispatch::DispatcherProbe hooks;
  hooks.dispatch_error = [&dispatch](std::string_view reason) { dispatch.DispatchError(reason); };
  hooks.no_worker = [&fires](const std::string& job) { fires.NoWorker(job); };
  hooks.run_lost = [&dispatch](const std::string& job, std::string_view outcome) {
    dispatch.RunLost(job, outcome);
  };
  hooks.workers = [&dispatch](size_t live) { dispatch.Workers(live); };
  return hooks;
}

master::MasterProbe MasterHooks(LeaderProbe& leader) {
  master::MasterProbe hooks;
  hooks.leadership = [&leader](bool is_leader, int64_t term) {
    leader.Leadership(is_leader, term);
  };
  return hooks;
}

master::CompactorProbe CompactorHooks(CompactionProbe& compaction) {
  master::CompactorProbe hooks;
  hooks.status = [&compaction](const store::StoreStatus& s) {
    compaction.StoreStatus(s.revision, s.compact_revision, s.db_size, s.db_size_in_use);
  };
  hooks.compacted = [&compaction](store::Revision revision) { compaction.Compacted(revision); };
  return hooks;
}

worker::WorkerProbe WorkerHooks(WorkerProbe& worker, FireProbe& fires) {
  worker::WorkerProbe hooks;
  hooks.execution_finished = [&worker, &fires](std::string_view job, std::string_view status,
                                               absl::Duration duration) {
    worker.ExecutionFinished(job, status, duration);
    if (status == "skipped") fires.Fires("skipped", 1);
  };
  hooks.execution_started = [&worker](absl::Duration lag) { worker.ExecutionStarted(lag); };
  hooks.running = [&worker](size_t n) { worker.Running(n); };
  return hooks;
}

}  // namespace hg::telemetry
