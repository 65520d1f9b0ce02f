// WorkerNode: everything one worker process runs, wired together — executors, the
// WorkerService, its gRPC server, and the session that keeps it registered under workers/<id>.
// When the session is lost the service kills its runs (DESIGN.md guard 3) and the node opens a
// new session and registers again. Used by `hourglass worker` and, in-process, `hourglass dev`.
#pragma once

#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/logging.h"
#include "dispatch/worker_client.h"
#include "executor/http_executor.h"
#include "executor/shell_executor.h"
#include "model/keys.h"
#include "store/kv.h"
#include "worker/grpc_server.h"
#include "worker/worker_service.h"

namespace hg::telemetry {
class Metrics;
}  // namespace hg::telemetry
namespace hg::trace {
class Tracer;
}  // namespace hg::trace

namespace hg::app {

struct WorkerNodeOptions {
  worker::WorkerOptions service;
  executor::ShellConfig shell;
  executor::HttpConfig http;
  int64_t session_ttl_seconds = 10;
  std::string grpc_listen;  // empty: no gRPC server (in-process use only)
  // Null: plaintext (the caller decides whether that is allowed). tls::WorkerServerCredentials.
  std::shared_ptr<grpc::ServerCredentials> grpc_credentials;
  bool grpc_mtls = false;  // shown in the registry entry ("transport")
  std::string version;
  // Shared with the master in `hourglass dev`; not owned. Null: the node keeps its own.
  telemetry::Metrics* metrics = nullptr;
  bool per_job_metrics = true;            // for a Metrics of its own
  std::string metrics_listen;             // GET /metrics server ("host:port"); empty: none
  const trace::Tracer* tracer = nullptr;  // execution and attempt spans; not owned
};

class WorkerNode {
 public:
  WorkerNode(store::Kv& kv, Clock& clock, model::Keys keys, WorkerNodeOptions options);
  ~WorkerNode();

  // Starts executors, service, gRPC server (if any) and the session loop.
  absl::Status Start();
  // Drains: deregisters, lets runs finish up to the shutdown grace, stops everything.
  void Stop();

  worker::WorkerService& service() { return *service_; }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const;  // bound port of the /metrics server; 0 when none

 private:
  void SessionLoop(std::stop_token stop);
  store::Kv& Store();  // kv_ behind the telemetry decorator once started

  store::Kv& kv_;
  Clock& clock_;
  const model::Keys keys_;
  WorkerNodeOptions options_;
  log::Logger log_{"worker"};
  struct Telemetry;  // metrics probes, instrumented store, /metrics server (worker_node.cc)
  std::unique_ptr<Telemetry> telemetry_;
  std::unique_ptr<executor::ShellExecutor> shell_;
  std::unique_ptr<executor::HttpExecutor> http_;
  std::unique_ptr<worker::WorkerService> service_;
  std::unique_ptr<worker::GrpcWorkerServer> server_;
  int grpc_port_ = 0;
  std::jthread session_thread_;
};

// The dispatcher's client for a worker in the same process (hourglass dev): direct calls.
class InProcessWorkerClient final : public dispatch::WorkerClient {
 public:
  explicit InProcessWorkerClient(worker::WorkerService& service) : service_(service) {}
  absl::StatusOr<hourglass::v1::RunResponse> Run(const std::string&,
                                                 const hourglass::v1::RunRequest& req,
                                                 absl::Duration) override {
    return service_.Run(req);
  }
  absl::StatusOr<hourglass::v1::KillResponse> Kill(const std::string&,
                                                   const hourglass::v1::KillRequest& req,
                                                   absl::Duration) override {
    return service_.Kill(req);
  }

 private:
  worker::WorkerService& service_;
};

}  // namespace hg::app
