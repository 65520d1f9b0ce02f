#include "telemetry/otlp_exporter.h"

#include <curl/curl.h>

#include <cstdlib>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "common/strings.h"

namespace hg::telemetry {
namespace {

using nlohmann::json;

const log::Logger& Log() {
  static const log::Logger* logger = new log::Logger("telemetry");
  return *logger;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const std::string hex(s.substr(i + 1, 2));
      char* end = nullptr;
      const long v = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// "k1=v1,k2=v2" (W3C Baggage-like, as the OTEL_* variables use); bad members are skipped.
std::vector<std::pair<std::string, std::string>> ParseKeyValues(std::string_view text,
                                                                std::vector<std::string>* warnings,
                                                                std::string_view what) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view member : absl::StrSplit(Av(text), ',', absl::SkipWhitespace())) {
    const size_t eq = member.find('=');
    std::string key(absl::StripAsciiWhitespace(member.substr(0, eq)));
    if (eq == absl::string_view::npos || key.empty()) {
      warnings->push_back(absl::StrCat("ignored malformed ", Av(what), " entry \"", member, "\""));
      continue;
    }
    out.emplace_back(PercentDecode(Sv(absl::StripAsciiWhitespace(Av(key)))),
                     PercentDecode(Sv(absl::StripAsciiWhitespace(member.substr(eq + 1)))));
  }
  return out;
}

json StringAttr(const std::string& key, const std::string& value) {
  return json{{"key", key}, {"value", {{"stringValue", value}}}};
}

json EncodeValue(const trace::AttributeValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return json{{"stringValue", *s}};
  if (const auto* i = std::get_if<int64_t>(&v)) return json{{"intValue", std::to_string(*i)}};
  if (const auto* d = std::get_if<double>(&v)) return json{{"doubleValue", *d}};
  return json{{"boolValue", std::get<bool>(v)}};
}

std::string UnixNanos(absl::Time t) {
  return std::to_string(static_cast<uint64_t>(absl::ToUnixNanos(t)));
}

size_t DiscardBody(char*, size_t size, size_t nmemb, void*) { return size * nmemb; }

}  // namespace

EnvLookup ProcessEnv() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

absl::StatusOr<OtlpConfig> OtlpConfigFromEnv(std::string_view flag_endpoint,
                                             std::string_view default_service,
                                             const EnvLookup& env) {
  OtlpConfig config;
  auto get = [&](const char* name) { return env(name).value_or(""); };
  const std::string disabled = absl::AsciiStrToLower(get("OTEL_SDK_DISABLED"));
  const std::string exporter = absl::AsciiStrToLower(get("OTEL_TRACES_EXPORTER"));
  config.service_name = get("OTEL_SERVICE_NAME");
  config.resource_attributes =
      ParseKeyValues(get("OTEL_RESOURCE_ATTRIBUTES"), &config.warnings, "OTEL_RESOURCE_ATTRIBUTES");
  for (auto it = config.resource_attributes.begin(); it != config.resource_attributes.end();) {
    // OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES.
    if (it->first == "service.name") {
      if (config.service_name.empty()) config.service_name = it->second;
      it = config.resource_attributes.erase(it);
    } else {
      ++it;
    }
  }
  if (config.service_name.empty()) config.service_name = std::string(default_service);
  config.headers = ParseKeyValues(get("OTEL_EXPORTER_OTLP_HEADERS"), &config.warnings,
                                  "OTEL_EXPORTER_OTLP_HEADERS");
  for (auto& [k, v] : ParseKeyValues(get("OTEL_EXPORTER_OTLP_TRACES_HEADERS"), &config.warnings,
                                     "OTEL_EXPORTER_OTLP_TRACES_HEADERS")) {
    config.headers.emplace_back(std::move(k), std::move(v));
  }
  std::string protocol = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
  if (protocol.empty()) protocol = get("OTEL_EXPORTER_OTLP_PROTOCOL");
  if (!protocol.empty() && protocol != "http/json") {
    config.warnings.push_back(absl::StrCat("OTEL_EXPORTER_OTLP_PROTOCOL=", protocol,
                                           " is not supported; sending http/json"));
  }

  std::string url;
  if (!flag_endpoint.empty()) {
    url = absl::StrCat(absl::StripSuffix(Av(flag_endpoint), "/"), "/v1/traces");
    // A flag that already names the traces path is taken as is.
    if (absl::EndsWith(Av(flag_endpoint), "/v1/traces")) url = std::string(flag_endpoint);
  } else if (std::string traces = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); !traces.empty()) {
    url = traces;
  } else if (std::string base = get("OTEL_EXPORTER_OTLP_ENDPOINT"); !base.empty()) {
    url = absl::StrCat(absl::StripSuffix(base, "/"), "/v1/traces");
  }
  if (url.empty() || disabled == "true" || exporter == "none") {
    config.traces_url.clear();
    return config;
  }
  if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("OTLP endpoint \"", url,
                     "\" must be an http:// or https:// URL (e.g. http://127.0.0.1:4318)"));
  }
  config.traces_url = url;
  return config;
}

nlohmann::json EncodeOtlpJson(const std::vector<trace::SpanData>& spans, const OtlpConfig& config) {
  json resource_attrs = json::array();
  resource_attrs.push_back(StringAttr("service.name", config.service_name));
  for (const auto& [k, v] : config.resource_attributes) resource_attrs.push_back(StringAttr(k, v));
  json out_spans = json::array();
  for (const trace::SpanData& s : spans) {
    json span = {
        {"traceId", trace::ToHex(s.trace_id.data(), s.trace_id.size())},
        {"spanId", trace::ToHex(s.span_id.data(), s.span_id.size())},
        {"name", s.name},
        {"kind", static_cast<int>(s.kind)},
        {"startTimeUnixNano", UnixNanos(s.start)},
        {"endTimeUnixNano", UnixNanos(s.end)},
    };
    if (s.parent_span_id) {
      span["parentSpanId"] = trace::ToHex(s.parent_span_id->data(), s.parent_span_id->size());
    }
    if (!s.tracestate.empty()) span["traceState"] = s.tracestate;
    json attrs = json::array();
    for (const auto& [k, v] : s.attributes)
      attrs.push_back(json{{"key", k}, {"value", EncodeValue(v)}});
    if (!attrs.empty()) span["attributes"] = std::move(attrs);
    if (s.status != trace::SpanStatus::kUnset) {
      json status = {{"code", static_cast<int>(s.status)}};
      if (!s.status_message.empty()) status["message"] = s.status_message;
      span["status"] = std::move(status);
    }
    out_spans.push_back(std::move(span));
  }
  return json{
      {"resourceSpans",
       json::array({json{{"resource", {{"attributes", std::move(resource_attrs)}}},
                         {"scopeSpans", json::array({json{{"scope", {{"name", "hourglass"}}},
                                                          {"spans", std::move(out_spans)}}})}}})}};
}

OtlpExporter::OtlpExporter(OtlpConfig config, const Clock& clock, Hooks hooks)
    : config_(std::move(config)), clock_(clock), hooks_(std::move(hooks)) {
  static std::once_flag init_once;
  std::call_once(init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  thread_ = std::thread([this] { Loop(); });
}

OtlpExporter::~OtlpExporter() { Stop(); }

void OtlpExporter::Submit(trace::SpanData span) {
  bool dropped = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || queue_.size() >= config_.max_queue) {
      ++counters_.dropped;
      dropped = true;
    } else {
      queue_.push_back(std::move(span));
    }
  }
  if (dropped && hooks_.dropped) hooks_.dropped(1);
}

bool OtlpExporter::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  ++flush_requests_;
  return clock_.WaitUntil(mu_, clock_.Now() + timeout, [&] { return queue_.empty() && !sending_; });
}

void OtlpExporter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

OtlpExporter::Counters OtlpExporter::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void OtlpExporter::Loop() {
  int64_t seen_flush = 0;
  std::optional<absl::Time> shutdown_deadline;
  while (true) {
    std::vector<trace::SpanData> batch;
    int64_t abandoned = 0;
    {
      absl::MutexLock lock(&mu_);
      clock_.WaitUntil(mu_, clock_.Now() + config_.flush_interval, [&] {
        return stopping_ || queue_.size() >= config_.max_batch || flush_requests_ != seen_flush;
      });
      // A flush request stays in force until the queue has been emptied.
      if (queue_.empty()) seen_flush = flush_requests_;
      if (stopping_ && !shutdown_deadline)
        shutdown_deadline = clock_.Now() + config_.shutdown_timeout;
      if (shutdown_deadline && clock_.Now() >= *shutdown_deadline) {
        abandoned = static_cast<int64_t>(queue_.size());
        counters_.failed += abandoned;
        queue_.clear();
      }
      if (queue_.empty()) {
        if (stopping_) {
          if (abandoned > 0 && hooks_.failed) hooks_.failed(abandoned);
          return;
        }
        continue;
      }
      const size_t n = std::min(queue_.size(), config_.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (queue_.empty()) seen_flush = flush_requests_;
      sending_ = true;
    }
    const bool ok = Send(batch);
    const auto n = static_cast<int64_t>(batch.size());
    {
      absl::MutexLock lock(&mu_);
      sending_ = false;
      (ok ? counters_.exported : counters_.failed) += n;
    }
    if (ok && hooks_.exported) hooks_.exported(n);
    if (!ok && hooks_.failed) hooks_.failed(n);
  }
}

bool OtlpExporter::Send(const std::vector<trace::SpanData>& batch) {
  const std::string body = EncodeOtlpJson(batch, config_).dump();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return false;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  for (const auto& [k, v] : config_.headers) {
    headers = curl_slist_append(headers, absl::StrCat(k, ": ", v).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, config_.traces_url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(config_.request_timeout)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(config_.request_timeout)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &DiscardBody);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (code != CURLE_OK || status < 200 || status >= 300) {
    // Rate-limited by nature: at most one line per batch interval.
    Log().Warn("span export failed", {{"url", config_.traces_url},
                                      {"spans", batch.size()},
                                      {"error", code != CURLE_OK ? curl_easy_strerror(code) : ""},
                                      {"http_status", status}});
    return false;
  }
  return true;
}

}  // namespace hg::telemetry

namespace hg::telemetry {

Tracing::~Tracing() {
  tracer.reset();
  if (exporter) exporter->Stop();
}

absl::StatusOr<std::unique_ptr<Tracing>> StartTracing(Metrics& metrics,
                                                      std::string_view flag_endpoint,
                                                      std::string_view default_service,
                                                      const Clock& clock) {
  absl::StatusOr<OtlpConfig> config =
      OtlpConfigFromEnv(flag_endpoint, default_service, ProcessEnv());
  if (!config.ok()) return config.status();
  for (const std::string& warning : config->warnings) Log().Warn(warning);
  auto tracing = std::make_unique<Tracing>();
  tracing->probe = std::make_unique<TraceProbe>(metrics);
  if (config->enabled()) {
    TraceProbe* probe = tracing->probe.get();
    tracing->exporter = std::make_unique<OtlpExporter>(
        *config, clock,
        OtlpExporter::Hooks{
            .dropped = [probe](int64_t n) { probe->Spans("dropped", n); },
            .exported = [probe](int64_t n) { probe->Spans("exported", n); },
            .failed = [probe](int64_t n) { probe->Spans("failed", n); },
        });
    Log().Info("exporting traces",
               {{"url", config->traces_url}, {"service", config->service_name}});
  }
  tracing->tracer = std::make_unique<trace::Tracer>(clock, tracing->exporter.get());
  return tracing;
}

}  // namespace hg::telemetry
