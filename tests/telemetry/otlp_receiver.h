// A tiny OTLP/HTTP JSON receiver for tests: collects the spans POSTed to /v1/traces on a
// loopback port (cpp-httplib). Can be told to answer 503 to test failure handling.
#pragma once

#include <httplib.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace hg::telemetry::testing {

struct ReceivedSpan {
  std::string service;
  nlohmann::json span;  // one OTLP JSON span
};

class OtlpReceiver {
 public:
  OtlpReceiver() {
    server_.Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) {
      absl::MutexLock lock(&mu_);
      ++requests_;
      content_types_.push_back(req.get_header_value("Content-Type"));
      if (fail_) {
        res.status = 503;
        return;
      }
      nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      for (const auto& rs : body.value("resourceSpans", nlohmann::json::array())) {
        std::string service;
        for (const auto& a : rs["resource"].value("attributes", nlohmann::json::array())) {
          if (a["key"] == "service.name") service = a["value"]["stringValue"];
        }
        for (const auto& ss : rs.value("scopeSpans", nlohmann::json::array())) {
          for (const auto& s : ss.value("spans", nlohmann::json::array())) {
            spans_.push_back({service, s});
          }
        }
        resources_.push_back(rs["resource"]);
      }
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) absl::SleepFor(absl::Milliseconds(1));
  }
  ~OtlpReceiver() {
    server_.stop();
    thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set_fail(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_ = fail;
  }
  std::vector<ReceivedSpan> spans() {
    absl::MutexLock lock(&mu_);
    return spans_;
  }
  std::vector<nlohmann::json> resources() {
    absl::MutexLock lock(&mu_);
    return resources_;
  }
  int requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  std::vector<std::string> content_types() {
    absl::MutexLock lock(&mu_);
    return content_types_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  absl::Mutex mu_;
  bool fail_ = false;
  int requests_ = 0;
  std::vector<ReceivedSpan> spans_;
  std::vector<nlohmann::json> resources_;
  std::vector<std::string> content_types_;
};

}  // namespace hg::telemetry::testing
