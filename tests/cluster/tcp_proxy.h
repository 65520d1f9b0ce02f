// TcpProxy: a loopback TCP forwarder that can be cut, for network-partition tests without
// network namespaces. A process told to reach etcd through a proxy can be partitioned from it
// while every other link (HTTP to it, its gRPC to workers) stays up.
//
//   auto p = TcpProxy::Start(etcd_port);   // listen on a free loopback port
//   ... process uses 127.0.0.1:p->port() ...
//   p->SetPartitioned(true);   // nothing passes either way; new connections hang
//   p->SetPartitioned(false);  // connections that were cut are closed (as a reset would after a
//                              // real partition); new ones forward again
//
//   p->SetLoseAnswers(true);   // requests still reach the server, but every connection that
//                              // gets an answer meanwhile is closed 200 ms later without passing
//                              // it on: the server did the work, the client sees a reset (as
//                              // when a server dies right after committing)
//
// Thread-safe. One thread accepts, one thread per connection forwards (poll, 50 ms ticks). The
// destructor closes every socket and joins every thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace hg::testing {

class TcpProxy {
 public:
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(int upstream_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void SetPartitioned(bool on) { partitioned_.store(on); }
  void SetLoseAnswers(bool on) { lose_answers_.store(on); }
  // Connections closed by SetLoseAnswers(true) with an answer held back.
  int answers_lost() const { return answers_lost_.load(); }

 private:
  TcpProxy() = default;
  void AcceptLoop();
  void Pump(int client_fd);

  int upstream_port_ = 0;
  int port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> partitioned_{false};
  std::atomic<bool> lose_answers_{false};
  std::atomic<int> answers_lost_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;  // guarded by mu_
};

}  // namespace hg::testing
