// ApiServer: the HTTP front of JobService (docs/design/api.md). Handlers are thin: parse the
// request, call the service, render JSON; every error goes through api/errors.h.
//
//   ApiServer server(service, {});
//   server.Handle("GET", "/metrics", auth::Access::kOpen, ...);  // extra routes, before Start()
//   server.MountStatic("/ui/", "web/dist");           // optional UI, before Start()
//   HG_RETURN_IF_ERROR(server.Start("127.0.0.1:0"));  // returns once listening
//   int port = server.port();
//   ...
//   server.Stop();                                     // also done by the destructor
//
// Security (docs/design/security.md): every route is registered with the auth::Access it needs;
// with `security.required` a request without a token good for it gets 401/403 before the handler
// runs, every caller is rate limited, and every mutating call is written to the audit log.
//
// Serving (http/server.h): a few I/O threads accept and parse requests asynchronously; handlers
// run on a pool of `threads`, so concurrency is bounded by work, not by open connections.
// Routing is ours: method + regex in registration order; a path some route matches with
// another method gets 405 with `Allow`; HEAD is served by GET routes.
//
// Threading: handlers run on the pool; routes and mounts must be added before Start() (the
// route table is not synchronized). Start()/Stop() are called from one owner thread. Never
// throws: exceptions from handlers become JSON 500 responses.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <regex>  // gcc 12's false warning inside it: see src/api/CMakeLists.txt
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "api/cors.h"
#include "api/job_service.h"
#include "auth/audit.h"
#include "auth/rate_limiter.h"
#include "auth/role.h"
#include "auth/token_store.h"
#include "http/message.h"

namespace hg::http {
class Server;
}  // namespace hg::http

namespace hg::trace {
class Tracer;
}  // namespace hg::trace
namespace hg::tls {
class ServerCertificate;
}  // namespace hg::tls

namespace hg::api {

// Hooks for metrics (app/ connects them to telemetry::ApiProbe); all optional. Called on the
// request thread after the handler.
struct ApiProbe {
  // A request a route took: `pattern` is the route as registered (a regex such as
  // "/jobs/([^/]+)/?"), `status` the response code, `elapsed` the handler's time.
  std::function<void(std::string_view pattern, std::string_view method, int status,
                     absl::Duration elapsed)>
      request;
  // A request no route took (404, 405, CORS preflights and refusals, 413, 414, malformed).
  std::function<void(std::string_view method, int status)> unrouted;
  // Spans: one per routed request ("GET /jobs/{name}"), a child of the request's W3C
  // `traceparent`/`tracestate`. Null: no spans, the incoming context still reaches handlers
  // (trace::CurrentTraceparent(), e.g. a manual trigger's execution). Not owned.
  const trace::Tracer* tracer = nullptr;
};

// Authentication, rate limits and audit; all pointers optional and not owned.
struct ApiSecurity {
  // Tokens are checked only when `required`; otherwise every caller is "anonymous" with the
  // admin role (loopback-only or --insecure-no-auth deployments). Null: no /tokens routes.
  auth::TokenStore* tokens = nullptr;
  bool required = false;
  bool insecure_no_auth = false;         // required is false on purpose beyond loopback: say so
  auth::RateLimiter* limiter = nullptr;  // null: no rate limit
  auth::AuditLog* audit = nullptr;       // null: no audit log (and no /audit route)
};

class ApiServer {
 public:
  // A registered route, for listing (tests check every route's access).
  struct Route {
    std::string method;
    std::string pattern;  // the regex, matched against the whole percent-decoded path
    auth::Access access;
  };
  struct Options {
    size_t max_body_bytes = 1 << 20;                  // larger bodies get 413
    size_t max_header_bytes = 16 << 10;               // larger request headers get 431
    absl::Duration read_timeout = absl::Seconds(10);  // first byte to whole request
    absl::Duration idle_timeout = absl::Seconds(60);  // keep-alive between requests
    absl::Duration write_timeout = absl::Seconds(10);
    int threads = 8;     // handlers running at once
    int io_threads = 1;  // connections (accept, parse, write)
    int default_history_page_size = 20;
    size_t max_path_bytes = 2048;  // longer request paths get 414
    ApiProbe probe;
    ApiSecurity security;
    // The access of /healthz, /readyz (and the /metrics the node adds): kOpen, or kView to
    // require a token.
    auth::Access health_access = auth::Access::kOpen;
    // Browser origins allowed to call the API (api/cors.h); default same-origin only. Start()
    // refuses `cors.any` ("*") unless security.required: any web page could otherwise create
    // jobs on an open server.
    CorsPolicy cors;
    // HTTPS with this certificate (reloadable, tls/server_certificate.h); not owned, must
    // outlive the server. Null: plain HTTP.
    tls::ServerCertificate* tls = nullptr;
  };
  using Handler = std::function<void(const http::Request&, http::Response&)>;

  // `service` must outlive the server.
  ApiServer(JobService& service, Options options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Adds a route (`method` GET/POST/PUT/PATCH/DELETE, `pattern` a regex over the whole
  // percent-decoded path such as "/jobs/([^/]+)/?"; its groups are req.matches[1..]) that
  // callers with `access` may use. The handler is wrapped so that an exception
  // becomes a JSON 500. Before Start().
  void Handle(std::string_view method, const std::string& pattern, auth::Access access,
              Handler handler);

  const std::vector<Route>& routes() const { return routes_; }
  const Options& options() const { return options_; }

  // Serves the files of `dir` under `url_prefix` (e.g. "/ui/"; "/ui" redirects to it). A path
  // that names no file and has no extension gets `dir`/index.html (single-page-app fallback);
  // `redirect_root` also redirects "/" to `url_prefix`. Paths that try to leave `dir` are 404.
  // InvalidArgument when `dir` is not a directory. Before Start().
  absl::Status MountStatic(std::string url_prefix, const std::string& dir,
                           bool redirect_root = true);

  // Binds `address` ("host:port", "[::1]:port", ":port"; port 0 = any free port) and serves on a
  // the I/O threads; returns once the server accepts connections. Unavailable when the
  // address cannot be bound; FailedPrecondition when already started, or when `cors.any` is set
  // without `security.required`.
  absl::Status Start(std::string_view address);
  int port() const { return port_; }  // the bound port, after Start()

  // Stops accepting, closes idle connections, finishes in-flight requests, joins the threads.
  // Idempotent.
  void Stop();

 private:
  void RegisterRoutes();
  void RegisterSecurityRoutes();
  // Every request: CORS, then the route (or 404 / 405 with Allow). On a pool thread.
  void Dispatch(http::Request& req, http::Response& res) const;

  JobService& service_;
  Options options_;
  std::unique_ptr<http::Server> http_;
  std::vector<Route> routes_;
  struct Compiled {
    std::string method;
    std::string literal;  // every path the regex matches starts with this (a cheap pre-check)
    std::regex regex;
    Handler handler;
  };
  std::vector<Compiled> compiled_;
  int port_ = 0;
};

}  // namespace hg::api
