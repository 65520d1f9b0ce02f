#include "app/master_node.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "api/job_service.h"
#include "api/node_routes.h"
#include "api/server.h"
#include "api/stats.h"
#include "common/logging.h"
#include "common/status.h"
#include "telemetry/hooks.h"
#include "telemetry/instrumented_kv.h"
#include "telemetry/metrics.h"
#include "tls/server_certificate.h"

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
  const MasterAuthOptions& a = options_.auth;
  tokens_ = std::make_unique<auth::TokenStore>(kv, clock_, keys_, auth::TokenStore::Options{});
  limiter_ = std::make_unique<auth::RateLimiter>(clock_, a.rate_limit);
  audit_ = std::make_unique<auth::AuditLog>(kv, clock_, keys_, a.audit);
  if (a.required) HG_RETURN_IF_ERROR(Bootstrap());
  api::ApiServer::Options api_options;
  api_options.security = {.tokens = tokens_.get(),
                          .required = a.required,
                          .insecure_no_auth = a.insecure_no_auth,
                          .limiter = limiter_.get(),
                          .audit = audit_.get()};
  api_options.health_access = a.health_access;
  api_options.probe = telemetry::ApiHooks(telemetry_->api);
  api_options.probe.tracer = options_.tracer;
  api_options.cors = options_.cors;
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    HG_ASSIGN_OR_RETURN(
        tls_, tls::ServerCertificate::Load(options_.tls_cert_file, options_.tls_key_file));
    api_options.tls = tls_.get();
  }
  server_ = std::make_unique<api::ApiServer>(*jobs_, api_options);
  stats_ = std::make_unique<api::StatsService>(kv, clock_, keys_, *jobs_);
  api::RegisterNodeRoutes(
      *server_, *stats_, jobs_->options(),
      [&metrics = telemetry_->metrics](const http::Request&, http::Response& res) {
        res.SetContent(metrics.Serialize(), telemetry::Metrics::kContentType);
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

absl::Status MasterNode::Bootstrap() {
  const MasterAuthOptions& a = options_.auth;
  std::optional<std::string> given = a.bootstrap_token;
  const std::string& file = a.bootstrap_token_file;
  if (!given && !file.empty() && std::filesystem::exists(file)) {
    std::ifstream in(file);
    std::string text;
    std::getline(in, text);
    if (!in && text.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--bootstrap-token-file ", file, ": cannot read it"));
    }
    given = std::string(absl::StripAsciiWhitespace(text));
  }
  absl::StatusOr<std::optional<std::string>> made = absl::UnavailableError("");
  // The store may still be starting (etcd in a fresh cluster): retry for a while.
  for (int attempt = 0; attempt < 30; ++attempt) {
    made = tokens_->Bootstrap(given);
    if (made.ok() || !absl::IsUnavailable(made.status())) break;
    absl::SleepFor(absl::Seconds(1));
  }
  if (!made.ok()) {
    return absl::Status(made.status().code(),
                        absl::StrCat("bootstrap token: ", made.status().message()));
  }
  if (!made->has_value()) return absl::OkStatus();
  const std::string& token = **made;
  if (!file.empty()) {
    // Created only now, readable by this user only.
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      const std::string line = token + "\n";
      const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      ::close(fd);
      if (ok) {
        log::Logger("auth").Warn("bootstrap admin token created",
                                 {{"name", "admin"}, {"file", file}});
        return absl::OkStatus();
      }
    }
  }
  // Shown once, on the terminal only (not as a log field: logs are shipped and kept).
  std::cerr << "\n  Bootstrap admin token (shown once; keep it, then make others with "
               "POST /tokens):\n\n    "
            << token << "\n\n";
  log::Logger("auth").Warn("bootstrap admin token created and printed to stderr once",
                           {{"name", "admin"}});
  return absl::OkStatus();
}

void MasterNode::Stop() {
  if (master_) master_->Stop();  // resign first: a standby takes over at once
  if (server_) server_->Stop();
}

std::string MasterNode::base_url() const {
  return absl::StrCat(tls_ ? "https://" : "http://", http_address());
}

absl::Status MasterNode::ReloadTls() {
  if (!tls_) return absl::OkStatus();
  HG_RETURN_IF_ERROR(tls_->Reload());
  const tls::CertInfo info = tls_->info();
  log::Logger("master").Info("HTTPS certificate reloaded",
                             {{"serial", info.serial_hex}, {"subject", info.subject}});
  return absl::OkStatus();
}

std::string MasterNode::http_address() const {
  const std::string& l = options_.http_listen;
  const size_t colon = l.rfind(':');
  return absl::StrCat(colon == std::string::npos ? l : l.substr(0, colon), ":", port_);
}

}  // namespace hg::app
