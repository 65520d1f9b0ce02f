#include "tests/cluster/tcp_proxy.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"

namespace hg::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// Writes all of buf; false when the peer is gone.
bool WriteAll(int fd, const char* buf, ssize_t n) {
  while (n > 0) {
    const ssize_t w = send(fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    buf += w;
    n -= w;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(int upstream_port) {
  auto p = std::unique_ptr<TcpProxy>(new TcpProxy());
  p->upstream_port_ = upstream_port;
  p->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (p->listen_fd_ < 0) return absl::InternalError("proxy: socket");
  const int one = 1;
  setsockopt(p->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = Loopback(0);
  if (bind(p->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(p->listen_fd_, 64) != 0) {
    return absl::InternalError(absl::StrCat("proxy: bind/listen: errno ", errno));
  }
  socklen_t len = sizeof addr;
  getsockname(p->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  p->port_ = ntohs(addr.sin_port);
  p->accept_thread_ = std::thread([raw = p.get()] { raw->AcceptLoop(); });
  return p;
}

TcpProxy::~TcpProxy() {
  stop_.store(true);
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::thread> pumps;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pumps.swap(pumps_);
  }
  for (auto& t : pumps) t.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void TcpProxy::AcceptLoop() {
  while (!stop_.load()) {
    pollfd pfd{.fd = listen_fd_, .events = POLLIN, .revents = 0};
    if (poll(&pfd, 1, 50) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    pumps_.emplace_back([this, fd] { Pump(fd); });
  }
}

void TcpProxy::Pump(int client_fd) {
  // A connection opened during a partition hangs until it heals (a SYN that gets no answer
  // would fail later; hanging is the harsher case for the client).
  while (partitioned_.load() && !stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(upstream_port_);
  if (up < 0 || connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (up >= 0) close(up);
    close(client_fd);
    return;
  }
  bool cut = false;  // data was held back by a partition: the stream is broken
  // An answer was dropped (SetLoseAnswers): the connection closes at this time.
  std::optional<std::chrono::steady_clock::time_point> doomed;
  char buf[16384];
  while (!stop_.load()) {
    if (doomed && std::chrono::steady_clock::now() >= *doomed) {
      answers_lost_.fetch_add(1);
      break;
    }
    if (partitioned_.load()) {
      cut = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (cut) break;  // healed: reset the connection, the client reconnects
    pollfd pfds[2] = {{.fd = client_fd, .events = POLLIN, .revents = 0},
                      {.fd = up, .events = POLLIN, .revents = 0}};
    const int n = poll(pfds, 2, 50);
    if (n <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if (pfds[i].revents == 0) continue;
      const int from = i == 0 ? client_fd : up;
      const int to = i == 0 ? up : client_fd;
      const ssize_t r = recv(from, buf, sizeof buf, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r > 0 && from == up && (doomed || lose_answers_.load())) {
        // Held back; the server gets 200 ms to finish what it was asked meanwhile.
        if (!doomed) doomed = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        continue;
      }
      if (r <= 0 || !WriteAll(to, buf, r)) closed = true;
    }
    if (closed) break;
  }
  close(up);
  close(client_fd);
}

}  // namespace hg::testing
