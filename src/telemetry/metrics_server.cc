#include "telemetry/metrics_server.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/strings.h"
#include "http/server.h"

namespace hg::telemetry {

MetricsServer::MetricsServer(const Metrics& metrics) : metrics_(metrics) {
  http::Server::Options options;
  options.threads = 2;
  options.name = "telemetry";
  http_ = std::make_unique<http::Server>(options, [this](http::Request& req, http::Response& res) {
    const bool metrics_path = req.path == "/metrics";
    if (!metrics_path && req.path != "/healthz") {
      res.status = 404;
      res.SetContent("not found\n", "text/plain");
    } else if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.SetHeader("Allow", "GET");
      res.SetContent("method not allowed\n", "text/plain");
    } else if (metrics_path) {
      res.SetContent(metrics_.Serialize(), Metrics::kContentType);
    } else {
      res.SetContent("ok\n", "text/plain");
    }
  });
}

MetricsServer::~MetricsServer() { Stop(); }

absl::Status MetricsServer::Start(std::string_view address) {
  absl::Status st = http_->Start(address);
  if (!st.ok()) {
    if (st.code() == absl::StatusCode::kUnavailable) {
      return absl::UnavailableError(absl::StrCat(st.message(), " for /metrics"));
    }
    if (st.code() == absl::StatusCode::kInvalidArgument) {
      return absl::InvalidArgumentError(absl::StrCat("metrics ", st.message()));
    }
    return st;
  }
  port_ = http_->port();
  log::Logger("telemetry")
      .Info("metrics listening", {{"address", std::string(address)}, {"port", port_}});
  return absl::OkStatus();
}

void MetricsServer::Stop() { http_->Stop(); }

}  // namespace hg::telemetry
