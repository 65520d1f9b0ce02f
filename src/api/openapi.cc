#include "api/openapi.h"

#include <cstdlib>
#include <iostream>

#include "api/stats.h"
#include "auth/token.h"
#include "model/ids.h"
#include "model/job.h"

namespace hg::api {
namespace {

// The v1 history page size bound (server.cc HistoryPageSize) and the audit page bound
// (auth/audit.h AuditLog::List).
constexpr int kV1MaxPageSize = 100;
constexpr int kMaxAuditPage = 1000;

model::Json& Schema(model::Json* doc, const char* name) {
  return (*doc)["components"]["schemas"][name];
}
model::Json& Prop(model::Json* doc, const char* schema, const char* prop) {
  return Schema(doc, schema)["properties"][prop];
}

}  // namespace

model::Json ApiLimits(const ApiServer::Options& server, const JobService::Options& service) {
  using model::JobLimits;
  model::Json l = model::Json::object();
  l["job_name_max_chars"] = model::JobName::kMaxLength;
  l["description_max_bytes"] = JobLimits::kMaxDescription;
  l["command_max_bytes"] = JobLimits::kMaxCommand;
  l["url_max_bytes"] = JobLimits::kMaxUrl;
  l["http_body_max_bytes"] = JobLimits::kMaxHttpBody;
  l["map_max_entries"] = JobLimits::kMaxMapEntries;
  l["label_key_max_bytes"] = JobLimits::kMaxLabelKey;
  l["label_value_max_bytes"] = JobLimits::kMaxLabelValue;
  l["header_value_max_bytes"] = JobLimits::kMaxHeaderValue;
  l["env_value_max_bytes"] = JobLimits::kMaxEnvValue;
  l["cwd_max_bytes"] = JobLimits::kMaxCwd;
  l["run_as_max_bytes"] = JobLimits::kMaxUserName;
  l["timezone_max_bytes"] = JobLimits::kMaxTimezone;
  l["max_retries"] = model::RetryPolicy::kMaxRetries;
  l["history_limit_max"] = model::Job::kMaxHistoryLimit;
  l["history_limit_default"] = model::Job::kDefaultHistoryLimit;
  l["request_body_max_bytes"] = server.max_body_bytes;
  l["request_path_max_bytes"] = server.max_path_bytes;
  l["page_size_max"] = service.max_page_size;
  l["history_page_size_default"] = server.default_history_page_size;
  l["v1_page_size_max"] = kV1MaxPageSize;
  l["ledger_max_instants"] = service.max_ledger_instants;
  l["cron_preview_max"] = service.max_preview;
  l["audit_page_max"] = kMaxAuditPage;
  l["token_name_max_bytes"] = auth::kMaxTokenNameBytes;
  l["stats_window_min_seconds"] = absl::ToInt64Seconds(StatsService::kMinWindow);
  l["stats_window_max_seconds"] = absl::ToInt64Seconds(StatsService::kMaxWindow);
  model::Json shell = model::Json::object();
  for (const model::ShellLimits::Bounds& b : model::ShellLimits::kFields) {
    shell[b.name] = model::Json{{"min", b.min}, {"max", b.max}};
  }
  l["shell_limits"] = std::move(shell);
  return l;
}

void ApplyLimits(const model::Json& limits, model::Json* doc) {
  (*doc)["x-hourglass-limits"] = limits;
  Prop(doc, "JobSpec", "name")["maxLength"] = limits["job_name_max_chars"];
  Prop(doc, "JobSpec", "description")["maxLength"] = limits["description_max_bytes"];
  Prop(doc, "JobSpec", "timezone")["maxLength"] = limits["timezone_max_bytes"];
  Prop(doc, "JobSpec", "labels")["maxProperties"] = limits["map_max_entries"];
  Prop(doc, "JobSpec", "selector")["maxProperties"] = limits["map_max_entries"];
  Prop(doc, "JobSpec", "history_limit")["maximum"] = limits["history_limit_max"];
  Prop(doc, "ExecutorSpec", "command")["maxLength"] = limits["command_max_bytes"];
  Prop(doc, "ExecutorSpec", "cwd")["maxLength"] = limits["cwd_max_bytes"];
  Prop(doc, "ExecutorSpec", "run_as")["maxLength"] = limits["run_as_max_bytes"];
  Prop(doc, "ExecutorSpec", "url")["maxLength"] = limits["url_max_bytes"];
  Prop(doc, "ExecutorSpec", "body")["maxLength"] = limits["http_body_max_bytes"];
  Prop(doc, "ExecutorSpec", "env")["maxProperties"] = limits["map_max_entries"];
  Prop(doc, "ExecutorSpec", "headers")["maxProperties"] = limits["map_max_entries"];
  Prop(doc, "RetryPolicy", "max_retries")["maximum"] = limits["max_retries"];
  Prop(doc, "TokenRequest", "name")["maxLength"] = limits["token_name_max_bytes"];
  for (const auto& [field, bounds] : limits["shell_limits"].items()) {
    model::Json& p = Schema(doc, "ShellLimits")["properties"][field];
    p["type"] = "integer";
    p["minimum"] = bounds["min"];
    p["maximum"] = bounds["max"];
  }
}

model::Json OpenApiDocument(const ApiServer::Options& server, const JobService::Options& service) {
  auto doc = model::ParseJson(OpenApiSource());
  if (!doc.ok()) {
    std::cerr << "docs/api/openapi.json compiled in is not JSON: " << doc.status() << "\n";
    std::abort();
  }
  ApplyLimits(ApiLimits(server, service), &*doc);
  return *std::move(doc);
}

}  // namespace hg::api
