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
// Threading: requests run on an internal pool of `threads`; routes and mounts must be added
// before Start() (httplib's route table is not synchronized). Start()/Stop() are called from one
// owner thread. Never throws: exceptions from handlers become 500 responses.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <regex>  // gcc 12's false warning inside it: see src/api/CMakeLists.txt
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "api/cors.h"
#include "api/job_service.h"
#include "auth/audit.h"
#include "auth/rate_limiter.h"
#include "auth/role.h"
#include "auth/token_store.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

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
  // A request a route took: `pattern` is the route as registered (an httplib regex such as
  // "/jobs/([^/]+)/?"), `status` the response code, `elapsed` the handler's time.
  std::function<void(std::string_view pattern, std::string_view method, int status,
                     absl::Duration elapsed)>
      request;
  // A request no route took (404, 414, malformed).
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
    std::string pattern;  // the httplib regex
    auth::Access access;
  };
  struct Options {
    size_t max_body_bytes = 1 << 20;  // larger bodies get 413
    absl::Duration read_timeout = absl::Seconds(10);
    absl::Duration write_timeout = absl::Seconds(10);
    int threads = 8;
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
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // `service` must outlive the server.
  ApiServer(JobService& service, Options options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Adds a route (`method` GET/POST/PUT/PATCH/DELETE, `pattern` an httplib regex such as
  // "/metrics") that callers with `access` may use. The handler is wrapped so that an exception
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

  // The underlying server, for anything Handle/MountStatic do not cover. Before Start().
  httplib::Server& http() { return *http_; }

  // Binds `address` ("host:port", "[::1]:port", ":port"; port 0 = any free port) and serves on a
  // background thread; returns once the server accepts connections. Unavailable when the
  // address cannot be bound; FailedPrecondition when already started, or when `cors.any` is set
  // without `security.required`.
  absl::Status Start(std::string_view address);
  int port() const { return port_; }  // the bound port, after Start()

  // Stops accepting, finishes in-flight requests, joins the thread. Idempotent.
  void Stop();

 private:
  void RegisterRoutes();
  void RegisterSecurityRoutes();
  // For a request httplib did not route (404) or refused (400): 405 with Allow when the path
  // has routes for other methods; a body-less write served as one with an empty body. False:
  // neither applies.
  bool RouteOrRefuseMethod(const httplib::Request& req, httplib::Response& res) const;

  JobService& service_;
  Options options_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::vector<Route> routes_;
  // The same routes compiled, for what httplib does not route itself (see the error handler).
  struct Compiled {
    std::string method;
    std::regex regex;
    Handler handler;
  };
  std::vector<Compiled> compiled_;
  int port_ = 0;
};

}  // namespace hg::api
