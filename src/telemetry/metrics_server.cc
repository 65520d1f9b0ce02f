#include "telemetry/metrics_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/strings.h"

namespace hg::telemetry {

MetricsServer::MetricsServer(const Metrics& metrics)
    : metrics_(metrics), http_(std::make_unique<httplib::Server>()) {
  http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  // Only SO_REUSEADDR: httplib's default SO_REUSEPORT would let two processes share the port.
  http_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.Serialize(), Metrics::kContentType);
  });
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
}

MetricsServer::~MetricsServer() { Stop(); }

absl::Status MetricsServer::Start(std::string_view address) {
  if (thread_.joinable()) return absl::FailedPreconditionError("metrics server already started");
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string_view::npos || !absl::SimpleAtoi(Av(address.substr(colon + 1)), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", Av(address), "\" must be host:port"));
  }
  std::string host(address.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  port_ = port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (port_ <= 0) {
    port_ = 0;
    return absl::UnavailableError(absl::StrCat("cannot listen on ", Av(address), " for /metrics"));
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  // httplib 0.11 has no wait_until_ready(): poll until the accept loop runs.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!http_->is_running()) {
    if (absl::Now() > deadline) {
      Stop();
      return absl::UnavailableError(
          absl::StrCat("metrics server on ", Av(address), " did not start"));
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  log::Logger("telemetry")
      .Info("metrics listening", {{"address", std::string(address)}, {"port", port_}});
  return absl::OkStatus();
}

void MetricsServer::Stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
}

}  // namespace hg::telemetry
