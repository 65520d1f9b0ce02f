/* The peer of `wrk GET /healthz` (bench/http/README.md): the least an HTTP/1.1 server can do on
 * this machine. One thread, epoll, keep-alive; every request (up to its blank line) gets the
 * same 200 with the body Hourglass's /healthz sends. No parsing beyond finding "\r\n\r\n", no
 * bodies, no timeouts: a ceiling, not a server. Prints "port N" once listening.
 *   cc -O2 -o mini_server mini_server.c && ./mini_server 0 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 65536
static const char kAnswer[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
    "{\"status\":\"ok\"}";
static char pending[MAX_FDS][4]; /* the last bytes seen, to find "\r\n\r\n" across reads */

static void serve(int fd) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      close(fd);
      return;
    }
    if (n < 0) return;
    int answers = 0;
    for (ssize_t i = 0; i < n; i++) {
      memmove(pending[fd], pending[fd] + 1, 3);
      pending[fd][3] = buf[i];
      if (memcmp(pending[fd], "\r\n\r\n", 4) == 0) answers++;
    }
    for (int a = 0; a < answers; a++) {
      if (write(fd, kAnswer, sizeof kAnswer - 1) < 0) {
        close(fd);
        return;
      }
    }
  }
}

int main(int argc, char** argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr*)&addr, sizeof addr) < 0 || listen(ls, 4096) < 0) {
    perror("listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(ls, (struct sockaddr*)&addr, &len);
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd != ls) {
        serve(fd);
        continue;
      }
      int c;
      while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        if (c >= MAX_FDS) {
          close(c);
          continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        memset(pending[c], 0, 4);
        struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
      }
    }
  }
}
