// A no-op HTTP/1.1 target for the run-path benchmarks (bench/run_path/README.md): one epoll
// thread, keep-alive, every request answered `200` with an empty body. For each request whose
// path does not start with /nolog it keeps the arrival time (CLOCK_REALTIME, ns), the path and
// the `traceparent` header in memory; they are written to --out as tab-separated lines
// `arrival_ns<TAB>path<TAB>traceparent` on `GET /__dump` (answered with the count) and on
// SIGTERM/SIGINT. `GET /__reset` forgets what was recorded. wrk hits /nolog.
//
//   hg_receiver --port 0 --out arrivals.tsv      # prints "port <n>" on stdout once listening
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

struct Arrival {
  int64_t ns;
  std::string path;
  std::string traceparent;
};

struct Conn {
  std::string in;
  std::string out;
  bool close_after = false;
};

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

class Receiver {
 public:
  explicit Receiver(std::string out_path) : out_path_(std::move(out_path)) {
    arrivals_.reserve(1 << 16);
  }

  size_t Dump() {
    FILE* f = fopen(out_path_.c_str(), "w");
    if (f == nullptr) {
      perror("hg_receiver: open --out");
      return 0;
    }
    for (const Arrival& a : arrivals_) {
      fprintf(f, "%lld\t%s\t%s\n", static_cast<long long>(a.ns), a.path.c_str(),
              a.traceparent.c_str());
    }
    fclose(f);
    return arrivals_.size();
  }

  // Consumes complete requests from c.in, appends responses to c.out. False on a malformed
  // request (the connection is then closed).
  bool Process(Conn& c) {
    size_t pos = 0;
    while (true) {
      const size_t end = c.in.find("\r\n\r\n", pos);
      if (end == std::string::npos) break;
      const int64_t now = NowNs();
      std::string_view head(c.in.data() + pos, end - pos);
      const size_t line_end = head.find("\r\n");
      std::string_view request_line = head.substr(0, line_end);
      const size_t sp1 = request_line.find(' ');
      if (sp1 == std::string_view::npos) return false;
      const size_t sp2 = request_line.find(' ', sp1 + 1);
      if (sp2 == std::string_view::npos) return false;
      std::string_view path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      const bool http10 = request_line.substr(sp2 + 1) == "HTTP/1.0";
      std::string_view traceparent;
      size_t content_length = 0;
      bool close = http10;
      if (line_end != std::string_view::npos) {
        std::string_view rest = head.substr(line_end + 2);
        while (!rest.empty()) {
          size_t nl = rest.find("\r\n");
          std::string_view line = rest.substr(0, nl);
          rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 2);
          const size_t colon = line.find(':');
          if (colon == std::string_view::npos) continue;
          std::string_view name = line.substr(0, colon);
          std::string_view value = Trim(line.substr(colon + 1));
          if (IEquals(name, "traceparent")) {
            traceparent = value;
          } else if (IEquals(name, "content-length")) {
            content_length = strtoull(std::string(value).c_str(), nullptr, 10);
          } else if (IEquals(name, "connection")) {
            if (IEquals(value, "close")) close = true;
            if (IEquals(value, "keep-alive")) close = false;
          }
        }
      }
      const size_t body_start = end + 4;
      if (c.in.size() < body_start + content_length) break;  // wait for the body
      std::string body = "";
      if (path == "/__dump") {
        body = std::to_string(Dump());
      } else if (path == "/__reset") {
        body = std::to_string(arrivals_.size());
        arrivals_.clear();
      } else if (path.substr(0, 6) != "/nolog") {
        arrivals_.push_back({now, std::string(path), std::string(traceparent)});
      }
      c.out += "HTTP/1.1 200 OK\r\nContent-Length: ";
      c.out += std::to_string(body.size());
      c.out += close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n";
      c.out += body;
      pos = body_start + content_length;
      if (close) {
        c.close_after = true;
        break;
      }
    }
    c.in.erase(0, pos);
    return true;
  }

 private:
  std::string out_path_;
  std::vector<Arrival> arrivals_;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string out = "arrivals.tsv";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      port = atoi(argv[++i]);
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else {
      fprintf(stderr, "usage: hg_receiver [--port N] [--out FILE]\n");
      return 2;
    }
  }
  Receiver receiver(out);

  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 4096) != 0) {
    perror("hg_receiver: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.fd = sfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

  std::unordered_map<int, Conn> conns;
  const auto close_conn = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  // Writes what is pending; false when the connection is finished (error or close_after done).
  const auto flush = [&](int fd, Conn& c) {
    while (!c.out.empty()) {
      ssize_t n = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      c.out.erase(0, static_cast<size_t>(n));
    }
    epoll_event e{};
    e.events = EPOLLIN | (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
    e.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
    return !(c.out.empty() && c.close_after);
  };

  std::vector<epoll_event> events(256);
  char buf[65536];
  while (true) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("hg_receiver: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == sfd) {
        receiver.Dump();
        return 0;
      }
      if (fd == lfd) {
        while (true) {
          const int cfd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conns.emplace(cfd, Conn{});
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.fd = cfd;
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = it->second;
      bool alive = true;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        while (true) {
          ssize_t r = recv(fd, buf, sizeof buf, 0);
          if (r > 0) {
            c.in.append(buf, static_cast<size_t>(r));
            continue;
          }
          if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          alive = false;  // EOF or error
          break;
        }
        if (!c.close_after && !receiver.Process(c)) alive = false;
      }
      if (alive || !c.out.empty()) alive = flush(fd, c) && alive;
      if (!alive) close_conn(fd);
    }
  }
}
