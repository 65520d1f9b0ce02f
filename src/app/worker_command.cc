// `hourglass worker`: registers in etcd and runs what the leader sends over gRPC.
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/commands.h"
#include "app/executor_settings.h"
#include "app/process.h"
#include "app/settings.h"
#include "app/version.h"
#include "app/worker_node.h"
#include "common/address.h"
#include "common/logging.h"
#include "telemetry/metrics.h"
#include "telemetry/otlp_exporter.h"
#include "telemetry/stats_publisher.h"
#include "tls/mtls.h"

namespace hg::app {
namespace {

struct WorkerFlags {
  Settings settings;
  EtcdSettings etcd;
  ExecutorFlags executor;
  GrpcTlsSettings grpc_tls;
  std::string grpc, advertise, id, labels, capacity, session_ttl, shutdown_grace, kill_grace,
      output_cap_kib, data, spool, prefix, log_level, log_format, metrics, metrics_job_label,
      otlp_endpoint, secret_headers;
};

int RunWorker(WorkerFlags& f) {
  if (auto st = f.settings.Resolve(); !st.ok()) {
    std::cerr << "hourglass worker: " << st.message() << "\n";
    return 2;
  }
  auto fail = [](const absl::Status& st) {
    std::cerr << "hourglass worker: " << st.message() << "\n";
    return 2;
  };
  if (auto st = log::ConfigureFromStrings(f.log_level, f.log_format); !st.ok()) return fail(st);
  if (f.etcd.endpoints.empty()) return fail(absl::InvalidArgumentError("--etcd is required"));
  WorkerNodeOptions o;
  o.version = kVersion;
  o.grpc_listen = f.grpc;
  o.service.worker_id = f.id.empty() ? DefaultNodeId("worker") : f.id;
  auto labels = ParseLabels(f.labels, "--labels");
  if (!labels.ok()) return fail(labels.status());
  o.service.labels = *labels;
  auto capacity = ParseSettingInt(f.capacity, "--capacity", 1, 100000);
  if (!capacity.ok()) return fail(capacity.status());
  o.service.capacity = *capacity;
  auto ttl = ParseSettingDuration(f.session_ttl, "--session-ttl");
  if (!ttl.ok()) return fail(ttl.status());
  if (*ttl < absl::Seconds(2)) return fail(absl::InvalidArgumentError("--session-ttl: minimum 2s"));
  o.session_ttl_seconds = absl::ToInt64Seconds(*ttl);
  auto shutdown = ParseSettingDuration(f.shutdown_grace, "--shutdown-grace");
  if (!shutdown.ok()) return fail(shutdown.status());
  o.service.shutdown_grace = *shutdown;
  auto kill = ParseSettingDuration(f.kill_grace, "--kill-grace");
  if (!kill.ok()) return fail(kill.status());
  o.service.kill_grace = *kill;
  auto cap = ParseSettingInt(f.output_cap_kib, "--output-cap-kib", 1, 1 << 20);
  if (!cap.ok()) return fail(cap.status());
  o.service.output_cap = static_cast<size_t>(*cap) * 1024;
  // Results are spooled by default (a worker restarted while the store was unreachable still
  // delivers them): <data>/result-spool.jsonl, or --spool; "off" keeps them in memory only.
  if (f.spool == "off") {
    o.service.spool_path.clear();
  } else if (!f.spool.empty()) {
    o.service.spool_path = f.spool;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(f.data, ec);
    if (ec) return fail(absl::InvalidArgumentError("--data " + f.data + ": " + ec.message()));
    o.service.spool_path = f.data + "/result-spool.jsonl";
  }
  if (auto st = ResolveExecutorSettings(f.executor, &o.shell, &o.http); !st.ok()) return fail(st);
  auto secret_headers = ParseSecretHeaders(f.secret_headers);
  if (!secret_headers.ok()) return fail(secret_headers.status());
  o.service.secret_headers = *secret_headers;
  auto per_job = ParseSettingBool(f.metrics_job_label, "--metrics-job-label");
  if (!per_job.ok()) return fail(per_job.status());
  o.per_job_metrics = *per_job;
  o.metrics_listen = f.metrics;
  // mTLS with the masters, or plaintext: on loopback only unless --insecure-no-tls.
  auto insecure = ParseSettingBool(f.grpc_tls.insecure, "--insecure-no-tls");
  if (!insecure.ok()) return fail(insecure.status());
  const tls::MtlsFiles tls_files{f.grpc_tls.ca_file, f.grpc_tls.cert_file, f.grpc_tls.key_file};
  if (!tls_files.empty()) {
    auto id = tls::LoadMtls(tls_files, tls::kWorkerRole);
    if (!id.ok()) return fail(id.status());
    o.grpc_credentials = tls::WorkerServerCredentials(*id);
    o.grpc_mtls = true;
    // The usual mistake: a certificate that does not name the address masters dial.
    if (auto st = tls::CheckNamesAddress(id->own.info, f.advertise.empty() ? f.grpc : f.advertise);
        !st.ok()) {
      log::Logger("worker").Warn("masters will refuse this worker's certificate",
                                 {{"error", std::string(st.message())}});
    }
  } else {
    if (auto st = tls::CheckPlaintextAllowed(f.grpc, *insecure, "--grpc"); !st.ok()) {
      return fail(st);
    }
    if (!IsLoopbackAddress(f.grpc)) {
      log::Logger("worker").Warn(
          "--insecure-no-tls: plaintext gRPC beyond loopback; anyone who reaches this port can "
          "run and kill jobs",
          {{"grpc", f.grpc}});
    }
  }
  telemetry::Metrics metrics({.per_job_labels = o.per_job_metrics, .version = kVersion});
  o.metrics = &metrics;

  BlockShutdownSignals();
  // After the signal mask: the exporter's thread must not take SIGTERM.
  auto tracing =
      telemetry::StartTracing(metrics, f.otlp_endpoint, "hourglass-worker", RealClock::Get());
  if (!tracing.ok()) return fail(tracing.status());
  o.tracer = (*tracing)->tracer.get();
  auto kv = OpenEtcd(f.etcd);
  if (!kv.ok()) return fail(kv.status());
  // The address masters dial; default: the listen address.
  o.service.address = f.advertise.empty() ? f.grpc : f.advertise;
  WorkerNode node(**kv, RealClock::Get(), model::Keys(f.prefix), o);
  if (auto st = node.Start(); !st.ok()) return fail(st);
  // This worker's run counts for GET /stats.
  telemetry::StatsPublisher stats(**kv, RealClock::Get(), model::Keys(f.prefix),
                                  o.service.worker_id, metrics.run_stats(), {});
  stats.Start();
  const std::string shell_warning = ShellIdentityWarning(o.shell);
  if (!shell_warning.empty()) log::Logger("worker").Warn(shell_warning);
  log::Logger("worker").Info("worker started",
                             {{"worker", o.service.worker_id},
                              {"grpc_port", node.grpc_port()},
                              {"metrics_port", node.metrics_port()},
                              {"shell", shell_warning.empty() ? "ok" : shell_warning},
                              // cgroup v2 limits are not implemented
                              {"limits", "setrlimit, per process"}});
  const int sig = WaitForShutdownSignal();
  log::Logger("worker").Info("shutting down", {{"signal", sig}});
  node.Stop();
  stats.Stop();  // after the runs ended: their counts are in the last value
  return 0;
}

}  // namespace

void RegisterWorkerCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("worker", "Run a worker: executes runs sent by the leader");
  auto f = std::make_shared<WorkerFlags>();
  Settings& s = f->settings;
  AddEtcdSettings(s, &f->etcd);
  AddGrpcTlsSettings(s, &f->grpc_tls,
                     "this worker's server certificate (URI SAN hourglass:worker, IP/DNS SANs of "
                     "the address masters dial)");
  s.Add("grpc", "127.0.0.1:7070", "gRPC listen address (host:port; port 0 = any)", &f->grpc);
  s.Add("advertise", "", "gRPC address masters dial (default: the listen address)", &f->advertise);
  s.Add("id", "", "worker id (default: <hostname>-worker-<pid>)", &f->id);
  s.Add("labels", "", "labels k=v,k2=v2 matched by job selectors", &f->labels);
  s.Add("capacity", "16", "concurrent runs before refusing work", &f->capacity);
  s.Add("session-ttl", "10s", "lease TTL: a dead worker vanishes within it", &f->session_ttl);
  s.Add("shutdown-grace", "30s", "SIGTERM: how long running jobs may finish", &f->shutdown_grace);
  s.Add("kill-grace", "5s", "SIGTERM -> SIGKILL delay when a job is killed", &f->kill_grace);
  s.Add("output-cap-kib", "64", "output kept per run (first and last halves)", &f->output_cap_kib);
  s.Add("data", "./hourglass-worker-data", "directory of the worker's result spool", &f->data);
  s.Add("spool", "",
        "file keeping results while etcd is unreachable (default <data>/result-spool.jsonl; "
        "off: memory only)",
        &f->spool);
  AddExecutorSettings(s, {}, &f->executor);
  AddSecretHeadersSetting(s, &f->secret_headers);
  s.Add("prefix", "/hourglass/", "etcd key prefix", &f->prefix);
  s.Add("metrics", "127.0.0.1:9464", "HTTP listen address of GET /metrics (empty: no server)",
        &f->metrics);
  s.Add("otlp-endpoint", "",
        "OTLP/HTTP collector for traces, e.g. http://127.0.0.1:4318 (default: "
        "OTEL_EXPORTER_OTLP_ENDPOINT; empty: no export)",
        &f->otlp_endpoint);
  s.Add("metrics-job-label", "true",
        "per-job labels on execution metrics (false for huge clusters)", &f->metrics_job_label);
  s.Add("log-level", "info", "debug|info|warn|error", &f->log_level);
  s.Add("log-format", "auto", "json|text|auto", &f->log_format);
  s.Register(*cmd);
  cmd->callback([f] {
    if (const int rc = RunWorker(*f); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace hg::app
