// A raw HTTP/1.1 client on one TCP connection, for what ordinary clients hide: keep-alive held
// open, pipelining, malformed requests, slow senders. Blocking, with a receive guard of 30 s so
// that a server that never answers fails the test instead of hanging it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace hg::api::testing {

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval guard{.tv_sec = 30, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof(guard));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  // False when the connection is closed (or the send fails).
  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // The next response (Content-Length framed; a HEAD's body is not read when `head`);
  // nullopt when the connection closes or the guard expires first.
  std::optional<RawResponse> Read(bool head = false) {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    RawResponse r;
    r.head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    if (r.head.size() < 12 || !absl::SimpleAtoi(r.head.substr(9, 3), &r.status)) {
      return std::nullopt;
    }
    size_t length = 0;
    const std::string lower = absl::AsciiStrToLower(r.head);
    if (size_t at = lower.find("\r\ncontent-length:"); at != std::string::npos && !head) {
      length = std::strtoul(lower.c_str() + at + 17, nullptr, 10);
    }
    while (buf_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // True once the server has closed the connection: reads (discarding data) until EOF or an
  // error; false if the guard expires with the connection still open.
  bool WaitClosed() {
    while (Fill()) {
    }
    return closed_;
  }

  // True when the server closed the connection within `ms` (a poll, not a sleep).
  bool ClosedWithin(int ms) {
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, ms) <= 0) return false;
    char c;
    const ssize_t n = recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

 private:
  bool Fill() {
    char chunk[4096];
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      closed_ = n == 0 || errno != EAGAIN;
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  bool closed_ = false;
  std::string buf_;
};

// One raw request on a fresh connection that the request closes; the whole response text.
inline std::string RawRequest(int port, const std::string& request) {
  RawConnection c(port);
  std::string out;
  if (!c.connected() || !c.Send(request)) return out;
  while (auto r = c.Read()) out += r->head + "\r\n" + r->body;
  return out;
}

}  // namespace hg::api::testing
