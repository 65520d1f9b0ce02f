#include "app/master_node.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "api/job_service.h"
#include "api/server.h"
#include "common/logging.h"
#include "common/status.h"
#include "telemetry/hooks.h"
#include "telemetry/instrumented_kv.h"
#include "telemetry/metrics.h"

namespace hg::app {

// The node's probes and its store wrapped to time every call (hourglass_store_*).
struct MasterNode::Telemetry {
  Telemetry(telemetry::Metrics* shared, bool per_job, store::Kv& inner, const Clock& clock)
      : own(shared ? nullptr
                   : std::make_unique<telemetry::Metrics>(
                         telemetry::Metrics::Options{.per_job_labels = per_job})),
        metrics(shared ? *shared : *own),
        api(metrics),
        fires(metrics),
        leader(metrics),
        dispatch(metrics),
        compaction(metrics),
        store(metrics),
        kv(inner, store, clock) {}
  std::unique_ptr<telemetry::Metrics> own;
  telemetry::Metrics& metrics;
  telemetry::ApiProbe api;
  telemetry::FireProbe fires;
  telemetry::LeaderProbe leader;
  telemetry::DispatchProbe dispatch;
  telemetry::CompactionProbe compaction;
  telemetry::StoreProbe store;
  telemetry::InstrumentedKv kv;
};

MasterNode::MasterNode(store::Kv& kv, Clock& clock, model::Keys keys,
                       dispatch::WorkerClient& workers, MasterNodeOptions options)
    : kv_(kv),
      clock_(clock),
      keys_(std::move(keys)),
      workers_(workers),
      options_(std::move(options)) {}

MasterNode::~MasterNode() { Stop(); }

absl::Status MasterNode::Start() {
  telemetry_ = std::make_unique<Telemetry>(options_.metrics, options_.per_job_metrics, kv_, clock_);
  store::Kv& kv = telemetry_->kv;
  jobs_ = std::make_unique<api::JobService>(kv, clock_,
                                            api::JobService::Options{.prefix = keys_.prefix()});
  api::ApiServer::Options api_options;
  api_options.probe = telemetry::ApiHooks(telemetry_->api);
  api_options.probe.tracer = options_.tracer;
  server_ = std::make_unique<api::ApiServer>(*jobs_, api_options);
  server_->Handle(
      "GET", "/metrics",
      [&metrics = telemetry_->metrics](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics.Serialize(), telemetry::Metrics::kContentType);
      });
  if (!options_.ui_dir.empty()) {
    HG_RETURN_IF_ERROR(server_->MountStatic("/ui/", options_.ui_dir));
  }
  HG_RETURN_IF_ERROR(server_->Start(options_.http_listen));
  port_ = server_->port();
  // Announce the address clients can use (the bound port when listening on port 0).
  master::Master::Options mo = options_.master;
  if (mo.address.size() > 2 && mo.address.substr(mo.address.size() - 2) == ":0") {
    mo.address = absl::StrCat(mo.address.substr(0, mo.address.size() - 1), port_);
  }
  if (!mo.scheduler_probe.fires) mo.scheduler_probe = telemetry::SchedulerHooks(telemetry_->fires);
  if (!mo.dispatcher_probe.dispatch_error && !mo.dispatcher_probe.workers) {
    mo.dispatcher_probe = telemetry::DispatcherHooks(telemetry_->dispatch, telemetry_->fires);
  }
  if (!mo.probe.leadership) mo.probe = telemetry::MasterHooks(telemetry_->leader);
  if (!mo.compactor_probe.status && !mo.compactor_probe.compacted) {
    mo.compactor_probe = telemetry::CompactorHooks(telemetry_->compaction);
  }
  if (mo.scheduler_probe.tracer == nullptr) mo.scheduler_probe.tracer = options_.tracer;
  if (mo.dispatcher_probe.tracer == nullptr) mo.dispatcher_probe.tracer = options_.tracer;
  master_ = std::make_unique<master::Master>(kv, clock_, keys_, workers_, mo);
  master_->Start();
  return absl::OkStatus();
}

void MasterNode::Stop() {
  if (master_) master_->Stop();  // resign first: a standby takes over at once
  if (server_) server_->Stop();
}

std::string MasterNode::http_address() const {
  const std::string& l = options_.http_listen;
  const size_t colon = l.rfind(':');
  return absl::StrCat(colon == std::string::npos ? l : l.substr(0, colon), ":", port_);
}

}  // namespace hg::app
