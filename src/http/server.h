// Server: an HTTP/1.1 (optionally HTTPS) listener on Boost.Beast + Boost.Asio where concurrency
// is bounded by work, not by connections (docs/design/api.md "Serving model").
//
//   http::Server::Options options;
//   options.threads = 8;                                   // handlers running at once
//   http::Server server(options, [](http::Request& req, http::Response& res) { ... });
//   HG_RETURN_IF_ERROR(server.Start("127.0.0.1:0"));       // returns once listening
//   int port = server.port();
//   ...
//   server.Stop();                                         // also done by the destructor
//
// Model: `io_threads` threads run an io_context that accepts connections, does TLS handshakes,
// reads and parses requests and writes responses, all asynchronously; an idle keep-alive
// connection costs a socket and a buffer, no thread. A complete request goes to a pool of
// `threads` threads that runs the handler; its response is written back on the I/O threads.
// A connection has at most one request in the handler at a time, and reads its next request
// (pipelined or not) only after the previous response is written: answers keep their order.
//
// Limits and errors, answered by `on_error` (default: a text/plain body) and then the
// connection is closed: a malformed request 400, a body over `max_body_bytes` 413, a path over
// `max_path_bytes` 414, headers over `max_header_bytes` 431. A request that does not arrive
// whole within `read_timeout` of its first byte, or a connection idle longer than
// `idle_timeout` between requests, is closed without an answer; a response not written within
// `write_timeout` closes the connection. `Expect: 100-continue` is answered before the body.
// HEAD is handed to the handler as HEAD; the body it sets is not sent (its length is).
// Requests `runs_inline` accepts skip the pool and are answered on the I/O thread.
//
// Threading: the handler runs on pool threads, concurrently for different connections; it must
// not throw (an exception becomes a bare 500). Start()/Stop() are called from one owner thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "http/message.h"

typedef struct ssl_ctx_st SSL_CTX;  // NOLINT: OpenSSL's own forward declaration

namespace hg::http {

class Server {
 public:
  using Handler = std::function<void(Request&, Response&)>;
  // Renders an error the server answers itself (400, 413, 414, 431, 500): `req` holds what was
  // parsed (possibly only the method and target), `res.status` is set; fill in the body.
  using ErrorHandler =
      std::function<void(const Request& req, std::string_view message, Response& res)>;

  struct Options {
    int threads = 8;     // handlers running at once (the work pool)
    int io_threads = 1;  // accept, parse and write (1–2 is plenty)
    size_t max_body_bytes = 1 << 20;
    size_t max_path_bytes = 2048;  // the request target's path, as sent
    size_t max_header_bytes = 16 << 10;
    absl::Duration read_timeout = absl::Seconds(10);   // first byte to whole request
    absl::Duration idle_timeout = absl::Seconds(60);   // between requests on a connection
    absl::Duration write_timeout = absl::Seconds(10);  // one response
    // HTTPS: called once with the listener's SSL_CTX to install certificates (e.g.
    // tls::ServerCertificate::Install, which keeps reloads working); false fails Start().
    // Empty: plain HTTP.
    std::function<bool(SSL_CTX&)> tls_setup;
    ErrorHandler on_error;  // empty: a short text/plain body
    // Requests whose handling cannot block (no store, no lock held long): answered on the I/O
    // thread, saving the two thread hand-offs (health checks a load balancer hammers). Called
    // on the I/O thread; empty: every request goes to the pool.
    std::function<bool(const Request&)> runs_inline;
    std::string name = "http";  // in log lines
  };

  Server(Options options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds `address` ("host:port", "[::1]:port", ":port" = all interfaces; port 0 = any free
  // port) and starts serving; returns once connections are accepted. InvalidArgument for a
  // malformed address, Unavailable when it cannot be bound, FailedPrecondition when started
  // already or the TLS setup failed.
  absl::Status Start(std::string_view address);
  int port() const { return port_; }  // the bound port, after Start()

  // Stops accepting, closes idle connections, lets requests already in a handler finish and
  // their answers be written (up to write_timeout), then joins every thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  bool started_ = false;
};

// "host:port" -> (host, port); an empty host ("" or ":8080") is 0.0.0.0, "[::1]" is ::1.
absl::Status SplitHostPort(std::string_view address, std::string* host, int* port);

}  // namespace hg::http
