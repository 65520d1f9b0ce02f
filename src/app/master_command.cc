// `hourglass master` (etcd) and `hourglass dev` (SQLite, with an in-process worker): flags and
// wiring only; the parts are MasterNode, WorkerNode and the store.
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/commands.h"
#include "app/executor_settings.h"
#include "app/master_node.h"
#include "app/process.h"
#include "app/settings.h"
#include "app/version.h"
#include "app/worker_node.h"
#include "auth/mode.h"
#include "common/logging.h"
#include "store/local/sqlite_kv.h"
#include "telemetry/metrics.h"
#include "telemetry/otlp_exporter.h"
#include "telemetry/stats_publisher.h"
#include "tls/mtls.h"

namespace hg::app {
namespace {

struct MasterFlags {
  bool dev = false;
  Settings settings;
  EtcdSettings etcd;
  ExecutorFlags executor;  // dev only
  GrpcTlsSettings grpc_tls;
  std::string http, id, election_ttl, compact_retention, fire_ahead, prefix, ui_dir, data,
      log_level, log_format, capacity, metrics_job_label, otlp_endpoint, secret_headers,
      cors_origin, tls_cert, tls_key;
  std::string auth, insecure_no_auth, bootstrap_token, bootstrap_token_file, rate_limit,
      audit_retention, health_auth;
};

// --auth and friends -> MasterAuthOptions (refuses an unauthenticated API beyond loopback).
absl::Status ResolveAuth(const MasterFlags& f, MasterAuthOptions* out) {
  auto mode = auth::ParseAuthMode(f.auth);
  if (!mode.ok()) return mode.status();
  auto insecure = ParseSettingBool(f.insecure_no_auth, "--insecure-no-auth");
  if (!insecure.ok()) return insecure.status();
  auto decision = auth::DecideAuth(f.http, *mode, *insecure);
  if (!decision.ok()) return decision.status();
  out->required = decision->required;
  out->insecure_no_auth = decision->insecure_no_auth;
  if (!decision->notice.empty()) {
    if (*insecure) {
      log::Logger("auth").Warn(decision->notice);
    } else {
      log::Logger("auth").Info(decision->notice);
    }
  }
  if (!f.bootstrap_token.empty()) out->bootstrap_token = f.bootstrap_token;
  out->bootstrap_token_file = f.bootstrap_token_file;
  auto rate = ParseSettingInt(f.rate_limit, "--rate-limit", 0, 1'000'000);
  if (!rate.ok()) return rate.status();
  out->rate_limit.per_second = *rate;
  out->rate_limit.burst = 2.0 * *rate;
  auto retention = ParseSettingDuration(f.audit_retention, "--audit-retention");
  if (!retention.ok()) return retention.status();
  if (*retention < absl::Hours(1)) {
    return absl::InvalidArgumentError("--audit-retention: at least 1h");
  }
  out->audit.retention = *retention;
  auto health = ParseSettingBool(f.health_auth, "--health-auth");
  if (!health.ok()) return health.status();
  out->health_access = *health ? auth::Access::kView : auth::Access::kOpen;
  return absl::OkStatus();
}

int Fail(const char* cmd, const absl::Status& st) {
  std::cerr << "hourglass " << cmd << ": " << st.message() << "\n";
  return 2;
}

// The UI's built files: --ui-dir, else web/dist next to the source tree the binary was built
// from, else <prefix>/share/hourglass/ui. Empty when none exists (the API still works).
std::string FindUiDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  for (const std::string& candidate : {std::string(HG_SOURCE_DIR) + "/web/dist",
                                       std::string(HG_INSTALL_PREFIX) + "/share/hourglass/ui"}) {
    if (std::filesystem::exists(candidate + "/index.html")) return candidate;
  }
  return "";
}

int RunMaster(MasterFlags& f) {
  const char* cmd = f.dev ? "dev" : "master";
  if (auto st = f.settings.Resolve(); !st.ok()) return Fail(cmd, st);
  if (auto st = log::ConfigureFromStrings(f.log_level, f.log_format); !st.ok())
    return Fail(cmd, st);
  auto ttl = ParseSettingDuration(f.election_ttl, "--election-ttl");
  if (!ttl.ok()) return Fail(cmd, ttl.status());
  if (*ttl < absl::Seconds(2)) {
    return Fail(cmd, absl::InvalidArgumentError("--election-ttl: minimum 2s"));
  }
  auto compact_retention = ParseSettingDuration(f.compact_retention, "--compact-retention");
  if (!compact_retention.ok()) return Fail(cmd, compact_retention.status());
  if (*compact_retention > absl::ZeroDuration() && *compact_retention < absl::Seconds(1)) {
    return Fail(cmd, absl::InvalidArgumentError("--compact-retention: 0 (off) or at least 1s"));
  }
  if (*compact_retention == absl::ZeroDuration() && !f.dev) {
    log::Logger("master").Warn(
        "store compaction is off (--compact-retention 0): etcd must compact itself "
        "(--auto-compaction-retention), or its database grows until it hits its quota");
  }
  auto fire_ahead = ParseSettingDuration(f.fire_ahead, "--fire-ahead");
  if (!fire_ahead.ok()) return Fail(cmd, fire_ahead.status());
  if (*fire_ahead > absl::Seconds(10)) {
    return Fail(cmd, absl::InvalidArgumentError("--fire-ahead: at most 10s"));
  }
  MasterNodeOptions o;
  if (auto st = ResolveAuth(f, &o.auth); !st.ok()) return Fail(cmd, st);
  auto cors = api::ParseCorsOrigins(f.cors_origin);
  if (!cors.ok()) return Fail(cmd, cors.status());
  o.cors = *cors;
  o.http_listen = f.http;
  o.master.compactor.retention = *compact_retention;
  o.master.scheduler.fire_ahead = *fire_ahead;
  o.ui_dir = FindUiDir(f.ui_dir);
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    return Fail(cmd, absl::InvalidArgumentError("HTTPS needs both --tls-cert and --tls-key"));
  }
  o.tls_cert_file = f.tls_cert;
  o.tls_key_file = f.tls_key;
  o.master.id = f.id.empty() ? DefaultNodeId("master") : f.id;
  o.master.address = f.http;
  o.master.election_ttl_seconds = absl::ToInt64Seconds(*ttl);
  auto per_job = ParseSettingBool(f.metrics_job_label, "--metrics-job-label");
  if (!per_job.ok()) return Fail(cmd, per_job.status());
  o.per_job_metrics = *per_job;
  // One registry per process: `hourglass dev` serves master and worker metrics on --http.
  telemetry::Metrics metrics({.per_job_labels = o.per_job_metrics, .version = kVersion});
  o.metrics = &metrics;
  const model::Keys keys(f.prefix);

  BlockShutdownSignals();
  // Traces: --otlp-endpoint or the OTEL_* variables; off without an endpoint. Started after
  // the signal mask: the exporter's thread must not take SIGTERM.
  auto tracing = telemetry::StartTracing(
      metrics, f.otlp_endpoint, f.dev ? "hourglass-dev" : "hourglass-master", RealClock::Get());
  if (!tracing.ok()) return Fail(cmd, tracing.status());
  o.tracer = (*tracing)->tracer.get();
  std::unique_ptr<store::Kv> kv;
  if (f.dev) {
    std::error_code ec;
    std::filesystem::create_directories(f.data, ec);
    if (ec) return Fail(cmd, absl::InvalidArgumentError("--data " + f.data + ": " + ec.message()));
    auto sqlite = store::SqliteKv::Open(f.data + "/hourglass.db", RealClock::Get());
    if (!sqlite.ok()) return Fail(cmd, sqlite.status());
    kv = *std::move(sqlite);
  } else {
    if (f.etcd.endpoints.empty())
      return Fail(cmd, absl::InvalidArgumentError("--etcd is required"));
    auto etcd = OpenEtcd(f.etcd);
    if (!etcd.ok()) return Fail(cmd, etcd.status());
    kv = *std::move(etcd);
  }

  // hourglass dev: the worker lives in this process and is reached by direct calls.
  std::unique_ptr<WorkerNode> worker;
  std::unique_ptr<dispatch::WorkerClient> client;
  std::string shell_warning;
  if (f.dev) {
    WorkerNodeOptions w;
    w.version = kVersion;
    w.service.worker_id = "dev-worker";
    w.service.address = "in-process";
    auto capacity = ParseSettingInt(f.capacity, "--capacity", 1, 100000);
    if (!capacity.ok()) return Fail(cmd, capacity.status());
    w.service.capacity = *capacity;
    w.service.spool_path = f.data + "/worker-spool.jsonl";
    auto secret_headers = ParseSecretHeaders(f.secret_headers);
    if (!secret_headers.ok()) return Fail(cmd, secret_headers.status());
    w.service.secret_headers = *secret_headers;
    if (auto st = ResolveExecutorSettings(f.executor, &w.shell, &w.http); !st.ok()) {
      return Fail(cmd, st);
    }
    shell_warning = ShellIdentityWarning(w.shell);
    if (!shell_warning.empty()) log::Logger("master").Warn(shell_warning);
    w.session_ttl_seconds = o.master.election_ttl_seconds;
    w.metrics = &metrics;
    w.tracer = o.tracer;
    worker = std::make_unique<WorkerNode>(*kv, RealClock::Get(), keys, w);
    if (auto st = worker->Start(); !st.ok()) return Fail(cmd, st);
    client = std::make_unique<InProcessWorkerClient>(worker->service());
  } else {
    // mTLS to the workers, or plaintext to loopback workers only unless --insecure-no-tls.
    auto insecure = ParseSettingBool(f.grpc_tls.insecure, "--insecure-no-tls");
    if (!insecure.ok()) return Fail(cmd, insecure.status());
    dispatch::GrpcWorkerClient::Options co{.insecure = *insecure};
    const tls::MtlsFiles tls_files{f.grpc_tls.ca_file, f.grpc_tls.cert_file, f.grpc_tls.key_file};
    if (!tls_files.empty()) {
      auto id = tls::LoadMtls(tls_files, tls::kMasterRole);
      if (!id.ok()) return Fail(cmd, id.status());
      co.credentials = tls::MasterChannelCredentials(*id);
    } else if (*insecure) {
      log::Logger("master").Warn(
          "--insecure-no-tls: plaintext gRPC to workers beyond loopback; the network can read "
          "and forge what masters send");
    }
    client = std::make_unique<dispatch::GrpcWorkerClient>(std::move(co));
  }

  MasterNode node(*kv, RealClock::Get(), keys, *client, o);
  if (auto st = node.Start(); !st.ok()) return Fail(cmd, st);
  // This process's run counts (master and, in dev, worker) for GET /stats.
  telemetry::StatsPublisher stats(*kv, RealClock::Get(), keys, o.master.id, metrics.run_stats(),
                                  {});
  stats.Start();
  log::Logger("master").Info(f.dev ? "hourglass dev ready" : "master ready",
                             {{"url", node.base_url()},
                              {"ui", o.ui_dir.empty() ? "(not built)" : o.ui_dir},
                              {"version", kVersion}});
  if (f.dev) {
    std::cerr << "\nHourglass is running: API http://" << node.http_address()
              << "/jobs/  UI http://" << node.http_address() << "/ui/  (Ctrl-C stops)\n";
    if (!shell_warning.empty()) std::cerr << "Note: " << shell_warning << "\n";
    std::cerr << "\n";
  }
  // SIGHUP: new HTTPS connections get the certificate files as they are now.
  const int sig = WaitForShutdownSignal([&node] {
    if (auto st = node.ReloadTls(); !st.ok()) {
      log::Logger("master").Error("HTTPS certificate not reloaded; serving the previous one",
                                  {{"error", std::string(st.message())}});
    }
  });
  log::Logger("master").Info("shutting down", {{"signal", sig}});
  node.Stop();  // resigns first: a standby takes over at once
  if (worker) worker->Stop();
  stats.Stop();  // after the runs ended: their counts are in the last value
  return 0;
}

void AddCommonSettings(MasterFlags& f) {
  Settings& s = f.settings;
  s.Add("http", "127.0.0.1:8080", "HTTP listen address: API, UI and /metrics", &f.http);
  s.Add("tls-cert", "",
        "HTTPS certificate (PEM, chain after the leaf) for --http; reloaded on SIGHUP",
        &f.tls_cert);
  s.Add("tls-key", "", "private key of --tls-cert", &f.tls_key);
  s.Add("id", "", "master id (default: <hostname>-master-<pid>)", &f.id);
  s.Add("election-ttl", "10s", "leader lease TTL (minimum 2s): bounds failover time",
        &f.election_ttl);
  s.Add("compact-retention", "5m",
        "store history the leader keeps when it compacts the store (etcd's revisions; "
        "0: never compact, etcd must then run with --auto-compaction-retention)",
        &f.compact_retention);
  s.Add("fire-ahead", "500ms",
        "the leader fires instants this long before they are due (record, dispatch, claim "
        "ahead; the worker starts the run at its instant); 0: at the instant",
        &f.fire_ahead);
  s.Add("prefix", "/hourglass/", "store key prefix", &f.prefix);
  s.Add("ui-dir", "",
        "built web UI (default: web/dist of the source tree, then share/hourglass/ui)", &f.ui_dir);
  s.Add("metrics-job-label", "true",
        "per-job labels on execution metrics (false for huge clusters)", &f.metrics_job_label);
  s.Add("otlp-endpoint", "",
        "OTLP/HTTP collector for traces, e.g. http://127.0.0.1:4318 (default: "
        "OTEL_EXPORTER_OTLP_ENDPOINT; empty: no export)",
        &f.otlp_endpoint);
  s.Add("auth", "auto",
        "API tokens: on | off (loopback only) | auto (on unless --http is a loopback address)",
        &f.auth);
  s.AddBool("insecure-no-auth", false,
            "serve the API without tokens even beyond loopback (anyone who reaches it can run "
            "commands); logged and shown in /cluster and the UI",
            &f.insecure_no_auth);
  s.Add("bootstrap-token", "",
        "admin token to create on first start (hg_<name>.<64 hex>; prefer the environment "
        "variable or --bootstrap-token-file)",
        &f.bootstrap_token);
  s.Add("bootstrap-token-file", "",
        "file with the admin token to create on first start; when it does not exist and the "
        "store has no token, a new admin token is written to it (mode 0600) instead of printed",
        &f.bootstrap_token_file);
  s.Add("rate-limit", "50", "API requests per second per caller (burst twice that); 0: none",
        &f.rate_limit);
  s.Add("audit-retention", "720h", "how long audit entries are kept (at most 100,000)",
        &f.audit_retention);
  s.AddBool("health-auth", false, "require a viewer token on /healthz, /readyz and /metrics",
            &f.health_auth);
  s.AddList("cors-origin", "",
            "browser origins allowed to call the API besides the UI it serves, e.g. "
            "http://localhost:3000 for the v1 UI's dev server (comma-separated or repeated; "
            "\"*\" only with token auth; empty: same-origin only)",
            &f.cors_origin);
  s.Add("log-level", "info", "debug|info|warn|error", &f.log_level);
  s.Add("log-format", "auto", "json|text|auto", &f.log_format);
}

}  // namespace

void RegisterMasterCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("master", "Run a master: HTTP API + UI; schedules when elected");
  auto f = std::make_shared<MasterFlags>();
  AddCommonSettings(*f);
  Settings& s = f->settings;
  AddEtcdSettings(s, &f->etcd);
  AddGrpcTlsSettings(s, &f->grpc_tls,
                     "the masters' client certificate for workers (URI SAN hourglass:master)");
  s.Register(*cmd);
  cmd->callback([f] {
    if (const int rc = RunMaster(*f); rc != 0) throw CLI::RuntimeError(rc);
  });
}

void RegisterDevCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "dev", "Single-node Hourglass: API, UI, scheduler and worker in one process on SQLite");
  auto f = std::make_shared<MasterFlags>();
  f->dev = true;
  AddCommonSettings(*f);
  f->settings.Add("data", "./hourglass-data", "directory of the SQLite store and worker spool",
                  &f->data);
  f->settings.Add("capacity", "16", "concurrent runs of the in-process worker", &f->capacity);
  AddSecretHeadersSetting(f->settings, &f->secret_headers);
  AddExecutorSettings(f->settings, {.http_allow = "127.0.0.0/8,::1", .allow_root = "true"},
                      &f->executor);
  f->settings.Register(*cmd);
  cmd->callback([f] {
    if (const int rc = RunMaster(*f); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace hg::app
