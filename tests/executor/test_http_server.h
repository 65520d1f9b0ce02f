// A local HTTP(S) server for executor tests and benchmarks (cpp-httplib on 127.0.0.1, port 0).
//
// Routes: /hello (200 "ok"), /status/<code>, /sleep/<ms>, /bytes/<n> (n x 'a'),
// /redirect/<n> (302 chain ending at /redirect/0 = 200 "done"), /goto?url=<u> (302 to u), /echo
// (any method: the method, every request header as "name: value" lines, a blank line, then the
// body).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace hg::executor::testing {

class TestHttpServer {
 public:
  // Plain HTTP.
  TestHttpServer() : server_(std::make_unique<httplib::Server>()) { Serve(); }
  // HTTPS with the given PEM certificate and key.
  TestHttpServer(const std::string& cert, const std::string& key)
      : server_(std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str())), tls_(true) {
    Serve();
  }
  ~TestHttpServer() {
    stopping_ = true;
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  bool ok() const { return port_ > 0 && server_->is_running(); }
  std::string Url(const std::string& path) const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  void Serve() {
    httplib::Server& s = *server_;
    // A thread serves one keep-alive connection at a time, so concurrency tests need more
    // threads than they have connections open.
    s.new_task_queue = [] { return new httplib::ThreadPool(32); };
    s.set_keep_alive_max_count(1'000'000);  // reconnecting would measure the backlog, not us
    s.set_tcp_nodelay(true);  // headers and body are separate writes: no 40 ms Nagle stall
    s.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    s.Get(R"(/status/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      res.status = std::stoi(req.matches[1]);
      res.set_content("status body", "text/plain");
    });
    s.Get(R"(/sleep/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      const auto until =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(std::stoi(req.matches[1]));
      while (!stopping_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      res.set_content("slept", "text/plain");
    });
    s.Get(R"(/bytes/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::string(std::stoul(req.matches[1]), 'a'), "text/plain");
    });
    s.Get(R"(/redirect/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      const int n = std::stoi(req.matches[1]);
      if (n == 0) {
        res.set_content("done", "text/plain");
      } else {
        res.set_redirect("/redirect/" + std::to_string(n - 1));
      }
    });
    s.Get("/goto", [](const httplib::Request& req, httplib::Response& res) {
      res.set_redirect(req.get_param_value("url"));
    });
    const auto echo = [](const httplib::Request& req, httplib::Response& res) {
      std::string out = req.method + "\n";
      for (const auto& [name, value] : req.headers) out += name + ": " + value + "\n";
      out += "\n" + req.body;
      res.set_content(out, "text/plain");
    };
    s.Get("/echo", echo);
    s.Post("/echo", echo);
    s.Put("/echo", echo);
    s.Patch("/echo", echo);
    s.Delete("/echo", echo);
    port_ = s.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return;
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    for (int i = 0; i < 500 && !server_->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::unique_ptr<httplib::Server> server_;
  bool tls_ = false;
  int port_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace hg::executor::testing
