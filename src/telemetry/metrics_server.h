// MetricsServer: a minimal HTTP server (the project's listener, http/server.h) for processes
// without an API server — workers — that answers GET /metrics with Metrics::Serialize() and
// GET /healthz with "ok"; anything else is 404, another method on those paths 405.
//
//   telemetry::MetricsServer server(metrics);
//   HG_RETURN_IF_ERROR(server.Start("127.0.0.1:9464"));   // port 0 = any free port
//   ... server.port() ...
//   server.Stop();                                         // also done by the destructor
//
// Threading: one I/O thread, two handler threads; Start()/Stop() from one owner thread.
// `metrics` must outlive the server.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "telemetry/metrics.h"

namespace hg::http {
class Server;
}

namespace hg::telemetry {

class MetricsServer {
 public:
  explicit MetricsServer(const Metrics& metrics);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds `address` ("host:port", "[::1]:port"; port 0 = any) and serves; returns once
  // listening. InvalidArgument for a malformed address, Unavailable when it cannot be bound.
  absl::Status Start(std::string_view address);
  int port() const { return port_; }
  void Stop();  // idempotent

 private:
  const Metrics& metrics_;
  std::unique_ptr<http::Server> http_;
  int port_ = 0;
};

}  // namespace hg::telemetry
