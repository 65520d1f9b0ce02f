// MasterNode: what one master process runs, wired together — the HTTP API (+ UI and /metrics)
// served by every master, and the Master election loop that schedules while leader.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "api/cors.h"
#include "auth/audit.h"
#include "auth/rate_limiter.h"
#include "auth/role.h"
#include "auth/token_store.h"
#include "common/clock.h"
#include "dispatch/worker_client.h"
#include "master/master.h"
#include "model/keys.h"
#include "store/kv.h"

namespace hg::telemetry {
class Metrics;
}  // namespace hg::telemetry
namespace hg::trace {
class Tracer;
}  // namespace hg::trace

namespace hg::api {
class JobService;
class ApiServer;
class StatsService;
}  // namespace hg::api
namespace hg::tls {
class ServerCertificate;
}  // namespace hg::tls

namespace hg::app {

// API authentication (docs/design/security.md); see auth::DecideAuth for `required`.
struct MasterAuthOptions {
  bool required = false;
  bool insecure_no_auth = false;
  // First start with tokens required: an admin token given as text (file / environment), or,
  // when empty, generated if the store has no token and shown once (written to
  // `bootstrap_token_file` when that names a file that does not exist yet, else printed).
  std::optional<std::string> bootstrap_token;
  std::string bootstrap_token_file;
  auth::RateLimiter::Options rate_limit;
  auth::AuditLog::Options audit;
  auth::Access health_access = auth::Access::kOpen;  // of /healthz, /readyz, /metrics
};

struct MasterNodeOptions {
  std::string http_listen = "127.0.0.1:8080";
  std::string ui_dir;  // empty: no UI
  // HTTPS with these files (both or neither); ReloadTls() reads them again.
  std::string tls_cert_file;
  std::string tls_key_file;
  bool per_job_metrics = true;
  // Shared with an in-process worker (hourglass dev); not owned. Null: the node keeps its own
  // (with per_job_metrics). Served on GET /metrics.
  telemetry::Metrics* metrics = nullptr;
  // Spans of API requests, fires and dispatches; not owned. Null: none (contexts pass through).
  const trace::Tracer* tracer = nullptr;
  master::Master::Options master;
  MasterAuthOptions auth;
  api::CorsPolicy cors;  // browser origins allowed to call the API (--cors-origin)
};

class MasterNode {
 public:
  MasterNode(store::Kv& kv, Clock& clock, model::Keys keys, dispatch::WorkerClient& workers,
             MasterNodeOptions options);
  ~MasterNode();

  absl::Status Start();
  absl::Status Bootstrap();  // MasterAuthOptions::bootstrap_token*
  void Stop();               // resigns leadership first, then stops serving
  std::string http_address() const;
  // "https://host:port" or "http://host:port".
  std::string base_url() const;
  // SIGHUP: reloads the HTTPS certificate and key (new connections get them); on error the old
  // pair stays and the error is returned. OK and nothing done without HTTPS.
  absl::Status ReloadTls();

 private:
  store::Kv& kv_;
  Clock& clock_;
  const model::Keys keys_;
  dispatch::WorkerClient& workers_;
  MasterNodeOptions options_;
  struct Telemetry;  // metrics probes and the instrumented store (master_node.cc)
  std::unique_ptr<Telemetry> telemetry_;
  std::unique_ptr<master::Master> master_;
  std::unique_ptr<tls::ServerCertificate> tls_;  // outlives server_
  std::unique_ptr<api::JobService> jobs_;
  std::unique_ptr<api::StatsService> stats_;
  std::unique_ptr<auth::TokenStore> tokens_;
  std::unique_ptr<auth::RateLimiter> limiter_;
  std::unique_ptr<auth::AuditLog> audit_;
  std::unique_ptr<api::ApiServer> server_;
  int port_ = 0;
};

}  // namespace hg::app
