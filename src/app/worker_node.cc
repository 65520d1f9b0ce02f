#include "app/worker_node.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "coord/registry.h"
#include "coord/session.h"
#include "model/json.h"
#include "telemetry/hooks.h"
#include "telemetry/instrumented_kv.h"
#include "telemetry/metrics.h"
#include "telemetry/metrics_server.h"

namespace hg::app {

struct WorkerNode::Telemetry {
  Telemetry(telemetry::Metrics* shared, bool per_job, store::Kv& inner, const Clock& clock)
      : own(shared ? nullptr
                   : std::make_unique<telemetry::Metrics>(
                         telemetry::Metrics::Options{.per_job_labels = per_job})),
        metrics(shared ? *shared : *own),
        worker(metrics),
        fires(metrics),
        store(metrics),
        kv(inner, store, clock) {}
  std::unique_ptr<telemetry::Metrics> own;
  telemetry::Metrics& metrics;
  telemetry::WorkerProbe worker;
  telemetry::FireProbe fires;
  telemetry::StoreProbe store;
  telemetry::InstrumentedKv kv;
  std::unique_ptr<telemetry::MetricsServer> server;
};

WorkerNode::WorkerNode(store::Kv& kv, Clock& clock, model::Keys keys, WorkerNodeOptions options)
    : kv_(kv), clock_(clock), keys_(std::move(keys)), options_(std::move(options)) {}

WorkerNode::~WorkerNode() { Stop(); }

store::Kv& WorkerNode::Store() {
  return telemetry_ ? static_cast<store::Kv&>(telemetry_->kv) : kv_;
}

int WorkerNode::metrics_port() const {
  return telemetry_ && telemetry_->server ? telemetry_->server->port() : 0;
}

absl::Status WorkerNode::Start() {
  telemetry_ = std::make_unique<Telemetry>(options_.metrics, options_.per_job_metrics, kv_, clock_);
  if (!options_.service.probe.execution_finished) {
    options_.service.probe = telemetry::WorkerHooks(telemetry_->worker, telemetry_->fires);
  }
  if (options_.service.probe.tracer == nullptr) options_.service.probe.tracer = options_.tracer;
  if (!options_.metrics_listen.empty()) {
    telemetry_->server = std::make_unique<telemetry::MetricsServer>(telemetry_->metrics);
    HG_RETURN_IF_ERROR(telemetry_->server->Start(options_.metrics_listen));
  }
  HG_ASSIGN_OR_RETURN(shell_, executor::ShellExecutor::Create(options_.shell, clock_));
  HG_ASSIGN_OR_RETURN(http_, executor::HttpExecutor::Create(options_.http, clock_));
  service_ = std::make_unique<worker::WorkerService>(
      Store(), clock_, keys_, worker::Executors{.shell = shell_.get(), .http = http_.get()},
      options_.service);
  HG_RETURN_IF_ERROR(service_->Start());
  if (!options_.grpc_listen.empty()) {
    server_ = std::make_unique<worker::GrpcWorkerServer>(*service_);
    HG_ASSIGN_OR_RETURN(grpc_port_,
                        server_->Start(options_.grpc_listen, options_.grpc_credentials));
  }
  session_thread_ = std::jthread([this](std::stop_token stop) { SessionLoop(stop); });
  return absl::OkStatus();
}

void WorkerNode::SessionLoop(std::stop_token stop) {
  coord::Registry registry(Store(), clock_, keys_.WorkersName());
  model::Json meta;
  meta["id"] = options_.service.worker_id;
  // Listening on port 0: advertise the port the server really bound.
  std::string address = options_.service.address;
  if (grpc_port_ != 0 && address.size() > 2 && address.substr(address.size() - 2) == ":0") {
    address = absl::StrCat(address.substr(0, address.size() - 1), grpc_port_);
  }
  meta["address"] = address;
  meta["labels"] = options_.service.labels;
  meta["capacity"] = options_.service.capacity;
  meta["version"] = options_.version;
  // How masters reach it (docs/design/security.md), shown in /cluster.
  meta["transport"] = options_.grpc_listen.empty() ? "in-process"
                      : options_.grpc_mtls         ? "mtls"
                                                   : "plaintext";
  const std::string metadata = model::DumpJson(meta);
  absl::Duration backoff = absl::Milliseconds(100);
  absl::Mutex mu;
  while (!stop.stop_requested()) {
    auto session = std::make_unique<coord::Session>(
        Store(), clock_, coord::SessionOptions{.ttl_seconds = options_.session_ttl_seconds});
    absl::Status st = session->Start();
    if (st.ok()) st = registry.Register(*session, options_.service.worker_id, metadata);
    if (!st.ok()) {
      log_.Warn("cannot register; retrying", {{"error", std::string(st.message())}});
      session->Stop();
      absl::MutexLock lock(&mu);
      clock_.WaitUntil(mu, clock_.Now() + backoff, [&] { return stop.stop_requested(); });
      backoff = std::min(backoff * 2, absl::Seconds(2));
      continue;
    }
    backoff = absl::Milliseconds(100);
    coord::Session* s = session.get();
    service_->AttachSession(s->lease(), [s] { return s->IsAlive(); });
    // Kill runs the moment the session cannot be proven alive (DESIGN.md guard 3).
    const auto listener = s->AddLostListener([this, s](const absl::Status& why) {
      if (!s->status().ok() && !absl::StrContains(why.message(), "closed")) {
        service_->SessionLost(std::string(why.message()));
      }
    });
    log_.Info("registered", {{"worker", options_.service.worker_id}, {"lease", s->lease()}});
    {
      absl::MutexLock lock(&mu);
      while (!stop.stop_requested() && s->IsAlive()) {
        clock_.WaitUntil(mu, clock_.Now() + absl::Milliseconds(200),
                         [&] { return stop.stop_requested(); });
      }
    }
    s->RemoveLostListener(listener);
    if (stop.stop_requested()) {
      // Drain first (runs keep their lease-backed keys while they finish), then leave.
      (void)registry.Deregister(*session, options_.service.worker_id);
      service_->Stop();
      (void)session->Close();
      return;
    }
    log_.Warn("session lost; killing runs and registering again",
              {{"error", std::string(s->status().message())}});
    // Also here: the loop may see the loss before the session's listeners ran.
    service_->SessionLost(std::string(s->status().message()));
    session->Stop();
  }
}

void WorkerNode::Stop() {
  if (server_) server_->Stop();  // no RPC reaches a draining service
  if (session_thread_.joinable()) {
    session_thread_.request_stop();
    session_thread_.join();  // drains the service, then leaves the registry
  }
  if (service_) service_->Stop();
  if (shell_) shell_->Stop();
  if (http_) http_->Stop();
  if (telemetry_ && telemetry_->server) telemetry_->server->Stop();
}

}  // namespace hg::app
