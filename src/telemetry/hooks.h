// Adapters from the domain modules' hook structs to the probe classes of metrics.h: what app/
// hands to Master::Options, ApiServer::Options and WorkerOptions. Kept in their own library
// (hg_telemetry_hooks) so that hg_telemetry itself depends on no domain module.
//
//   telemetry::FireProbe fires(metrics);
//   master_options.scheduler_probe = telemetry::SchedulerHooks(fires);
//
// The probes must outlive the hooks (the hooks keep references).
#pragma once

#include "api/server.h"
#include "dispatch/dispatcher.h"
#include "master/master.h"
#include "scheduler/scheduler.h"
#include "telemetry/metrics.h"
#include "worker/worker_service.h"

namespace hg::telemetry {

// Route patterns become templates ("/jobs/([^/]+)/?" -> "/jobs/{name}").
api::ApiProbe ApiHooks(ApiProbe& probe);
scheduler::SchedulerProbe SchedulerHooks(FireProbe& fires);
// Dispatch errors; each run recorded failed for want of a worker counts as a fire with outcome
// no_worker; runs lost with their worker.
dispatch::DispatcherProbe DispatcherHooks(DispatchProbe& dispatch, FireProbe& fires);
master::MasterProbe MasterHooks(LeaderProbe& leader);
master::CompactorProbe CompactorHooks(CompactionProbe& compaction);
// Executions; a run skipped by the Forbid policy also counts as a fire with outcome skipped.
worker::WorkerProbe WorkerHooks(WorkerProbe& worker, FireProbe& fires);

}  // namespace hg::telemetry
