#include "api/server.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "api/errors.h"
#include "auth/role.h"
#include "common/duration.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "http/server.h"
#include "model/field_errors.h"
#include "model/json.h"
#include "model/keys.h"
#include "telemetry/tracer.h"
#include "tls/server_certificate.h"

namespace hg::api {
namespace {

using http::Request;
using http::Response;
using model::Json;

constexpr char kJson[] = "application/json";

const log::Logger& Log() {
  static const log::Logger* logger = new log::Logger("api");
  return *logger;
}

void SendJson(Response& res, int status, const Json& body) {
  res.status = status;
  res.SetContent(model::DumpJson(body), kJson);
}

void SendError(Response& res, const absl::Status& status) {
  HttpError e = ErrorToHttp(status);
  res.status = e.status;
  res.SetContent(e.body, kJson);
}

void SendError(Response& res, int http_status, std::string_view code, std::string_view message) {
  res.status = http_status;
  res.SetContent(ErrorBody(code, message), kJson);
}

// Wraps a handler so that an exception becomes the API's JSON 500.
ApiServer::Handler Guard(ApiServer::Handler handler) {
  return [handler = std::move(handler)](const Request& req, Response& res) {
    try {
      handler(req, res);
    } catch (const std::exception& e) {
      Log().Error("handler threw",
                  {{"method", req.method}, {"path", req.path}, {"error", e.what()}});
      SendError(res, 500, "internal", "internal error");
    } catch (...) {
      Log().Error("handler threw", {{"method", req.method}, {"path", req.path}});
      SendError(res, 500, "internal", "internal error");
    }
  };
}

// The request's body must be JSON (a missing Content-Type is tolerated, as curl -d sends one).
bool RequireJson(const Request& req, Response& res) {
  if (!req.HasHeader("Content-Type")) return true;
  std::string type = req.Header("Content-Type");
  type = type.substr(0, type.find(';'));
  absl::AsciiStrToLower(&type);
  type = std::string(absl::StripAsciiWhitespace(type));
  if (type == kJson) return true;
  SendError(res, 415, "unsupported_media_type",
            absl::StrCat("request bodies must be application/json, got \"",
                         req.Header("Content-Type"), "\""));
  return false;
}

// Applies the CORS decision (api/cors.h) to `res`; true when it answered the request itself
// (a preflight, or a refused origin).
bool ApplyCors(const CorsPolicy& policy, const Request& req, Response& res) {
  const CorsDecision d =
      DecideCors(policy, {.method = req.method,
                          .origin = req.FindHeader("Origin"),
                          .host = req.Header("Host"),
                          .request_method = req.FindHeader("Access-Control-Request-Method"),
                          .request_headers = req.FindHeader("Access-Control-Request-Headers")});
  for (const auto& [name, value] : d.headers) res.SetHeader(name, value);
  switch (d.outcome) {
    case CorsOutcome::kProceed:
      return false;
    case CorsOutcome::kPreflight:
      res.status = 200;
      return true;
    case CorsOutcome::kForbidden:
      SendError(res, absl::PermissionDeniedError(
                         absl::StrCat("origin \"", req.Header("Origin"),
                                      "\" may not call this API (allow it with --cors-origin)")));
      return true;
  }
  return false;
}

// Query parameter helpers: each appends a field error on a bad value.
int IntParam(const Request& req, const char* name, int fallback,
             std::vector<model::FieldError>* errors) {
  if (!req.HasParam(name)) return fallback;
  const std::string text = req.Param(name);
  int value = 0;
  if (text.empty()) return fallback;
  if (!absl::SimpleAtoi(text, &value)) {
    errors->push_back({name, absl::StrCat("must be an integer, got \"", text, "\"")});
    return fallback;
  }
  return value;
}

bool BoolParam(const Request& req, const char* name, std::vector<model::FieldError>* errors) {
  if (!req.HasParam(name)) return false;
  std::string text = absl::AsciiStrToLower(req.Param(name));
  if (text == "true" || text == "1" || text.empty()) return true;
  if (text == "false" || text == "0") return false;
  errors->push_back({name, absl::StrCat("must be true or false, got \"", text, "\"")});
  return false;
}

// An instant as RFC 3339 or as unix milliseconds (all digits); nullopt when absent or empty.
std::optional<absl::Time> TimeParam(const Request& req, const char* name,
                                    std::vector<model::FieldError>* errors) {
  if (!req.HasParam(name)) return std::nullopt;
  const std::string text = req.Param(name);
  if (text.empty()) return std::nullopt;
  int64_t ms = 0;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      absl::SimpleAtoi(text, &ms)) {
    return absl::FromUnixMillis(ms);
  }
  auto t = model::ParseRfc3339(text);
  if (!t.ok()) {
    errors->push_back(
        {name, absl::StrCat("must be an RFC 3339 time or unix milliseconds, got \"", text, "\"")});
    return std::nullopt;
  }
  return *t;
}

// History page size: `page_size`, or v1's `pageSize` with v1's bounds (at most 100; more is
// served as 100, as v1 did). Both with different values is an error.
int HistoryPageSize(const Request& req, int fallback, std::vector<model::FieldError>* errors) {
  constexpr int kV1MaxPageSize = 100;
  const size_t before = errors->size();
  const int size = IntParam(req, "page_size", fallback, errors);
  if (!req.HasParam("pageSize") || req.Param("pageSize").empty()) return size;
  const int v1_size = IntParam(req, "pageSize", fallback, errors);
  if (errors->size() > before) return size;
  if (v1_size < 1) {
    errors->push_back({"pageSize", absl::StrCat("must be between 1 and ", kV1MaxPageSize)});
    return size;
  }
  if (req.HasParam("page_size") && !req.Param("page_size").empty() && size != v1_size) {
    errors->push_back({"pageSize", "conflicts with page_size; send one of them"});
    return size;
  }
  return std::min(v1_size, kV1MaxPageSize);
}

// Who sent a request: the token's principal when it carried a valid one (or everyone's
// "anonymous" admin when tokens are not required); `error` says why not otherwise.
struct Caller {
  std::optional<auth::Principal> principal;
  absl::Status error;  // OK, Unauthenticated (none / bad token) or a store error
};

thread_local const Caller* current_caller = nullptr;

// The caller of the handler running on this thread (set around every routed handler).
class ScopedCaller {
 public:
  explicit ScopedCaller(const Caller* caller) : saved_(current_caller) { current_caller = caller; }
  ~ScopedCaller() { current_caller = saved_; }
  ScopedCaller(const ScopedCaller&) = delete;
  ScopedCaller& operator=(const ScopedCaller&) = delete;

 private:
  const Caller* saved_;
};

std::string CallerName() {
  return current_caller != nullptr && current_caller->principal ? current_caller->principal->name
                                                                : "anonymous";
}

Caller Identify(const ApiSecurity& sec, const Request& req) {
  if (!sec.required) return {auth::Principal{"anonymous", auth::Role::kAdmin}, absl::OkStatus()};
  const std::optional<std::string> token = auth::BearerTokenOf(req.Header("Authorization"));
  if (!token) {
    return {std::nullopt, absl::UnauthenticatedError(
                              "authentication required: send \"Authorization: Bearer <token>\"")};
  }
  if (sec.tokens == nullptr) {
    return {std::nullopt, absl::UnauthenticatedError("invalid or expired token")};
  }
  auto principal = sec.tokens->Authenticate(*token);
  if (!principal.ok()) return {std::nullopt, principal.status()};
  return {*principal, absl::OkStatus()};
}

// OK when `caller` may use a route of `access` now; else the refusal (401, 403, 429, 503).
absl::Status Admit(const ApiSecurity& sec, auth::Access access, const Caller& caller,
                   const Request& req, Response& res) {
  if (access == auth::Access::kOpen) return absl::OkStatus();
  if (sec.limiter != nullptr) {
    // Per token; a caller without a valid one is limited by address (guessing is slow too).
    const std::string key = caller.principal ? absl::StrCat("token:", caller.principal->name)
                                             : absl::StrCat("addr:", req.remote_addr);
    const auth::RateLimiter::Decision d = sec.limiter->Admit(key);
    if (!d.admitted) {
      res.SetHeader("Retry-After",
                    std::to_string(std::max<int64_t>(
                        1, absl::ToInt64Seconds(absl::Ceil(d.retry_after, absl::Seconds(1))))));
      return absl::ResourceExhaustedError(
          absl::StrCat("rate limit: too many requests from ", key.substr(key.find(':') + 1),
                       "; retry after ", absl::FormatDuration(d.retry_after)));
    }
  }
  if (!caller.principal) return caller.error;
  if (!auth::Allows(caller.principal->role, access)) {
    return absl::PermissionDeniedError(
        absl::StrCat("token \"", caller.principal->name, "\" has role ",
                     Av(auth::RoleName(caller.principal->role)), "; this needs ",
                     Av(auth::RoleName(*auth::RequiredRole(access)))));
  }
  return absl::OkStatus();
}

// A job name in a URL path segment or query value: the store keys' percent-encoding
// (model/keys.h) keeps exactly RFC 3986's unreserved characters but '~', so it serves here too.
std::string UrlEncoded(const std::string& name) {
  auto parsed = model::JobName::Parse(name);
  return parsed.ok() ? model::Keys::NameSegment(*parsed) : name;
}

absl::StatusOr<model::JobName> NameFromPath(const Request& req) {
  auto name = model::JobName::Parse(req.matches[1]);
  if (!name.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid job name in the URL: ", name.status().message()));
  }
  return name;
}

// What GET /auth and /cluster say about this server's authentication.
Json EncodeAuthMode(const ApiSecurity& sec) {
  return Json{{"required", sec.required}, {"insecure_no_auth", sec.insecure_no_auth}};
}

// A token as listed: never its hash or salt.
Json EncodeToken(const auth::TokenRecord& t) {
  Json out{{"name", t.name},
           {"role", auth::RoleName(t.role)},
           {"created_at", model::FormatRfc3339(t.created_at)},
           {"created_by", t.created_by}};
  out["expires_at"] = t.expires_at ? Json(model::FormatRfc3339(*t.expires_at)) : Json(nullptr);
  return out;
}

Json EncodeView(const JobView& view) { return model::EncodeJobResponse(view.job, view.status); }

Json EncodeMember(const ClusterMember& m) {
  Json out = m.info;
  out["id"] = m.id;
  return out;
}

std::string_view MimeType(const std::filesystem::path& path) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  const std::string ext = absl::AsciiStrToLower(path.extension().string());
  for (const auto& [e, type] : kTypes) {
    if (ext == e) return type;
  }
  return "application/octet-stream";
}

bool ReadFile(const std::filesystem::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  *out = buf.str();
  return true;
}

constexpr std::string_view kRegexSpecial = ".^$|()[]{}*+?\\";

// The literal start of a route regex: "/jobs/([^/]+)/?" -> "/jobs/", "/jobs/?" -> "/jobs"
// (a character made optional by the quantifier after it is not part of it).
std::string LiteralPrefix(std::string_view pattern) {
  std::string out;
  if (pattern.find('|') != std::string_view::npos) return out;  // alternatives: no common start
  for (char c : pattern) {
    if (kRegexSpecial.find(c) != std::string_view::npos) {
      if ((c == '?' || c == '*' || c == '{') && !out.empty()) out.pop_back();
      break;
    }
    out += c;
  }
  return out;
}

std::string RegexEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (kRegexSpecial.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

// The code of an error the listener answers itself (http/server.h).
std::string_view ListenerErrorCode(int status) {
  switch (status) {
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 431:
      return "header_too_large";
    default:
      return status >= 500 ? "internal" : "bad_request";
  }
}

}  // namespace

ApiServer::ApiServer(JobService& service, Options options)
    : service_(service), options_(std::move(options)) {
  http::Server::Options o;
  o.threads = std::max(1, options_.threads);
  o.io_threads = std::max(1, options_.io_threads);
  o.max_body_bytes = options_.max_body_bytes;
  o.max_path_bytes = options_.max_path_bytes;
  o.max_header_bytes = options_.max_header_bytes;
  o.read_timeout = options_.read_timeout;
  o.idle_timeout = options_.idle_timeout;
  o.write_timeout = options_.write_timeout;
  o.name = "api";
  if (tls::ServerCertificate* cert = options_.tls; cert != nullptr) {
    o.tls_setup = [cert](SSL_CTX& ctx) { return cert->Install(ctx); };
  }
  // Errors of the listener itself (malformed, 413, 414, 431) in the API's error shape.
  o.on_error = [this](const Request& req, std::string_view message, Response& res) {
    SendError(res, res.status, ListenerErrorCode(res.status), message);
    if (options_.probe.unrouted) options_.probe.unrouted(req.method, res.status);
  };
  // /healthz touches no store (and, open, no token either): answered on the I/O thread, so a
  // load balancer's checks cost no hand-off and pass even while every handler waits on the
  // store (/readyz is the one that asks the store).
  if (options_.health_access == auth::Access::kOpen) {
    o.runs_inline = [](const Request& req) {
      return (req.method == "GET" || req.method == "HEAD") &&
             (req.path == "/healthz" || req.path == "/healthz/");
    };
  }
  http_ = std::make_unique<http::Server>(
      std::move(o), [this](Request& req, Response& res) { Dispatch(req, res); });
  RegisterRoutes();
  RegisterSecurityRoutes();
}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Handle(std::string_view method, const std::string& pattern, auth::Access access,
                       Handler handler) {
  routes_.push_back({std::string(method), pattern, access});
  Handler guarded = Guard(std::move(handler));
  // Authentication, role, rate limit, audit: all before/after the handler, in one place.
  guarded = [this, access, route = trace::RouteTemplate(pattern), mutating = method != "GET",
             inner = std::move(guarded)](const Request& req, Response& res) {
    const ApiSecurity& sec = options_.security;
    // Who calls matters for a route that needs a role, and for the audit of a change; an open
    // read (the UI's files, health) is served without looking at its token.
    Caller caller = access == auth::Access::kOpen && !mutating ? Caller{} : Identify(sec, req);
    const absl::Status refused = Admit(sec, access, caller, req, res);
    if (refused.ok()) {
      ScopedCaller scope(&caller);
      inner(req, res);
    } else {
      SendError(res, refused);
      if (refused.code() == absl::StatusCode::kUnauthenticated) {
        res.SetHeader("WWW-Authenticate", "Bearer realm=\"hourglass\"");
      }
    }
    // Every mutating call is audited, refused ones too, except what the rate limit refused
    // (a flood must not become a flood of audit writes).
    if (mutating && sec.audit != nullptr && res.status != 429) {
      auth::AuditEntry entry;
      entry.actor = caller.principal ? caller.principal->name : "anonymous";
      if (caller.principal) entry.role = std::string(auth::RoleName(caller.principal->role));
      entry.method = req.method;
      entry.route = route;
      entry.target = req.matches.size() > 1 ? req.matches[1] : "";
      entry.status = res.status;
      entry.remote = req.remote_addr;
      (void)sec.audit->Record(std::move(entry));  // logged inside; the answer stands
    }
  };
  guarded = [probe = options_.probe, pattern, route = trace::RouteTemplate(pattern),
             inner = std::move(guarded)](const Request& req, Response& res) {
    const auto start = std::chrono::steady_clock::now();
    trace::Span span = trace::StartSpan(probe.tracer, absl::StrCat(req.method, " ", route),
                                        trace::SpanKind::kServer, req.Header("traceparent"),
                                        req.Header("tracestate"));
    {
      trace::ScopedTraceparent scope(span.traceparent());
      inner(req, res);
    }
    const int status = res.status;
    if (span.recording()) {
      span.SetAttribute("http.request.method", req.method);
      span.SetAttribute("http.route", route);
      span.SetAttribute("http.response.status_code", int64_t{status});
      if (status >= 500) span.SetError(absl::StrCat("HTTP ", status));
    }
    if (probe.request) {
      probe.request(pattern, req.method, status,
                    absl::FromChrono(std::chrono::steady_clock::now() - start));
    }
  };
  compiled_.push_back(
      {std::string(method), LiteralPrefix(pattern), std::regex(pattern), std::move(guarded)});
}

void ApiServer::Dispatch(Request& req, Response& res) const {
  // CORS decides for every path, OPTIONS included, before any route runs.
  if (ApplyCors(options_.cors, req, res)) {
    if (options_.probe.unrouted) options_.probe.unrouted(req.method, res.status);
    return;
  }
  const std::string_view method =
      req.method == "HEAD" ? std::string_view("GET") : std::string_view(req.method);
  std::vector<std::string> allowed;
  for (const Compiled& c : compiled_) {
    std::smatch m;
    if (!absl::StartsWith(req.path, c.literal) || !std::regex_match(req.path, m, c.regex)) {
      continue;
    }
    if (c.method == method) {
      req.matches.assign(m.begin(), m.end());
      c.handler(req, res);
      Log().Debug("request", {{"method", req.method}, {"path", req.path}, {"status", res.status}});
      return;
    }
    if (std::find(allowed.begin(), allowed.end(), c.method) == allowed.end()) {
      allowed.push_back(c.method);
    }
  }
  if (allowed.empty()) {
    SendError(res, 404, "not_found", absl::StrCat("no route for ", req.method, " ", req.path));
  } else {
    res.SetHeader("Allow", absl::StrJoin(allowed, ", "));
    SendError(res, 405, "method_not_allowed",
              absl::StrCat(req.method, " is not allowed on ", req.path,
                           "; allowed: ", absl::StrJoin(allowed, ", ")));
  }
  Log().Debug("request", {{"method", req.method}, {"path", req.path}, {"status", res.status}});
  if (options_.probe.unrouted) options_.probe.unrouted(req.method, res.status);
}

absl::Status ApiServer::MountStatic(std::string url_prefix, const std::string& dir,
                                    bool redirect_root) {
  std::error_code ec;
  std::filesystem::path root = std::filesystem::canonical(dir, ec);
  if (ec || !std::filesystem::is_directory(root)) {
    return absl::InvalidArgumentError(absl::StrCat("static directory \"", dir, "\" not found"));
  }
  if (url_prefix.empty() || url_prefix.front() != '/') url_prefix.insert(0, "/");
  if (url_prefix.back() != '/') url_prefix += '/';
  const std::string bare = url_prefix.substr(0, url_prefix.size() - 1);
  if (!bare.empty()) {
    Handle("GET", RegexEscape(bare), auth::Access::kOpen,
           [url_prefix](const Request&, Response& res) { res.Redirect(url_prefix); });
  }
  if (redirect_root && url_prefix != "/") {
    Handle("GET", "/", auth::Access::kOpen,
           [url_prefix](const Request&, Response& res) { res.Redirect(url_prefix); });
  }
  Handle("GET", RegexEscape(url_prefix) + "(.*)", auth::Access::kOpen,
         [root](const Request& req, Response& res) {
           const std::string rel = req.matches[1];
           std::filesystem::path target = root / "index.html";
           bool fallback = true;
           if (!rel.empty()) {
             std::filesystem::path candidate = (root / rel).lexically_normal();
             // Refuse anything that leaves the root (.., absolute segments, NUL).
             auto [r, c] =
                 std::mismatch(root.begin(), root.end(), candidate.begin(), candidate.end());
             if (r != root.end() || rel.find('\0') != std::string::npos) {
               SendError(res, 404, "not_found", "no such file");
               return;
             }
             std::error_code ec;
             if (std::filesystem::is_regular_file(candidate, ec)) {
               target = candidate;
               fallback = false;
             } else if (rel.rfind("assets/", 0) == 0) {
               // A missing build asset is a real 404; any other path is a client-side route (which
               // may contain dots, e.g. /ui/jobs/backup.daily) and gets the SPA's index.html.
               SendError(res, 404, "not_found", absl::StrCat("no such file: ", rel));
               return;
             }
           }
           std::string body;
           if (!ReadFile(target, &body)) {
             SendError(res, 404, "not_found", "no such file");
             return;
           }
           // Hashed assets may be cached; the entry page must not be (it names the current assets).
           res.SetHeader("Cache-Control", fallback || target.filename() == "index.html"
                                              ? "no-cache"
                                              : "public, max-age=3600");
           res.SetContent(body, std::string(MimeType(target)));
         });
  return absl::OkStatus();
}

absl::Status ApiServer::Start(std::string_view address) {
  if (options_.cors.any && !options_.security.required) {
    return absl::FailedPreconditionError(
        "--cors-origin \"*\" needs token auth: without it any web page a user visits could "
        "create jobs here; list the UI's origin instead (e.g. --cors-origin "
        "http://localhost:3000)");
  }
  HG_RETURN_IF_ERROR(http_->Start(address));
  port_ = http_->port();
  Log().Info("API listening", {{"address", std::string(address)}, {"port", port_}});
  return absl::OkStatus();
}

void ApiServer::Stop() { http_->Stop(); }

void ApiServer::RegisterRoutes() {
  JobService& svc = service_;
  const Options& opts = options_;

  // Upsert from a request body; `path_name` is set for PUT /jobs/{name}.
  auto upsert = [&svc](const Request& req, Response& res, const model::JobName* path_name) {
    if (!RequireJson(req, res)) return;
    auto json = model::ParseJson(req.body);
    if (!json.ok()) return SendError(res, json.status());
    bool keep_paused = true;
    if (json->is_object()) {
      if (path_name != nullptr) {
        auto it = json->find("name");
        if (it == json->end() || it->is_null()) {
          (*json)["name"] = path_name->str();
        } else if (!it->is_string() || it->get<std::string>() != path_name->str()) {
          return SendError(
              res, model::InvalidFieldsError("invalid job",
                                             {{"name", absl::StrCat("must match the name in "
                                                                    "the URL (\"",
                                                                    path_name->str(), "\")")}}));
        }
      }
      auto paused = json->find("paused");
      keep_paused = paused == json->end() || paused->is_null();
    }
    auto job = model::DecodeJobRequest(*json);
    if (!job.ok()) return SendError(res, job.status());
    auto result = svc.Upsert(*std::move(job), keep_paused);
    if (!result.ok()) return SendError(res, result.status());
    // v1: 201 with the job, whether it was created or replaced.
    SendJson(res, 201, EncodeView(result->view));
  };

  Handle("POST", R"(/jobs/?)", auth::Access::kAdmin,
         [upsert](const Request& req, Response& res) { upsert(req, res, nullptr); });
  Handle("PUT", R"(/jobs/([^/]+)/?)", auth::Access::kAdmin,
         [upsert](const Request& req, Response& res) {
           auto name = NameFromPath(req);
           if (!name.ok()) return SendError(res, name.status());
           upsert(req, res, &*name);
         });

  Handle("GET", R"(/jobs/?)", auth::Access::kView, [&svc](const Request& req, Response& res) {
    std::vector<model::FieldError> errors;
    const int limit = IntParam(req, "limit", 0, &errors);
    if (limit < 0 || limit > svc.options().max_page_size) {
      errors.push_back(
          {"limit", absl::StrCat("must be between 1 and ", svc.options().max_page_size)});
    }
    // Filters: ?prefix=<name prefix>, ?label=k=v (repeatable, all must hold),
    // ?status=paused|active|failing.
    JobFilter filter;
    std::string filter_query;  // the same filters for the Link header
    if (req.HasParam("prefix")) {
      filter.name_prefix = req.Param("prefix");
      absl::StrAppend(&filter_query, "&prefix=", UrlEncoded(filter.name_prefix));
    }
    for (const std::string& label : req.Params("label")) {
      const size_t eq = label.find('=');
      if (eq == std::string::npos || eq == 0) {
        errors.push_back({"label", absl::StrCat("must be key=value, got \"", label, "\"")});
        continue;
      }
      filter.labels[label.substr(0, eq)] = label.substr(eq + 1);
      absl::StrAppend(&filter_query, "&label=", UrlEncoded(label));
    }
    if (req.HasParam("status") && !req.Param("status").empty()) {
      const std::string state = req.Param("status");
      if (state == "paused") {
        filter.state = JobFilter::State::kPaused;
      } else if (state == "active") {
        filter.state = JobFilter::State::kActive;
      } else if (state == "failing") {
        filter.state = JobFilter::State::kFailing;
      } else {
        errors.push_back(
            {"status", absl::StrCat("must be paused, active or failing, got \"", state, "\"")});
      }
      absl::StrAppend(&filter_query, "&status=", state);
    }
    if (!errors.empty()) return SendError(res, model::InvalidFieldsError("invalid query", errors));
    const std::string cursor = req.HasParam("cursor") ? req.Param("cursor") : "";
    auto page = svc.List(limit, cursor, filter);
    if (!page.ok()) return SendError(res, page.status());
    Json out = Json::array();
    for (const auto& view : page->jobs) out.push_back(EncodeView(view));
    if (!page->next_cursor.empty()) {
      // The cursor is a job name: percent-encoded, so the header stays ASCII and can be sent
      // back in `cursor=` as is.
      const std::string cursor = UrlEncoded(page->next_cursor);
      res.SetHeader("X-Next-Cursor", cursor);
      res.SetHeader("Link", absl::StrCat("</jobs/?limit=", limit, "&cursor=", cursor, filter_query,
                                         ">; rel=\"next\""));
    }
    SendJson(res, 200, out);
  });

  Handle("GET", R"(/jobs/([^/]+)/?)", auth::Access::kView,
         [&svc](const Request& req, Response& res) {
           auto name = NameFromPath(req);
           if (!name.ok()) return SendError(res, name.status());
           auto view = svc.Get(*name);
           if (!view.ok()) return SendError(res, view.status());
           SendJson(res, 200, EncodeView(*view));
         });

  Handle("DELETE", R"(/jobs/([^/]+)/?)", auth::Access::kAdmin,
         [&svc](const Request& req, Response& res) {
           auto name = NameFromPath(req);
           if (!name.ok()) return SendError(res, name.status());
           std::vector<model::FieldError> errors;
           JobService::DeleteOptions options;
           options.purge = BoolParam(req, "purge", &errors);
           options.kill = BoolParam(req, "kill", &errors);
           if (!errors.empty())
             return SendError(res, model::InvalidFieldsError("invalid query", errors));
           auto status = svc.Delete(*name, options);
           if (!status.ok()) return SendError(res, status);
           res.status = 204;
         });

  Handle("GET", R"(/jobs/([^/]+)/history/?)", auth::Access::kView,
         [&svc, &opts](const Request& req, Response& res) {
           auto name = NameFromPath(req);
           if (!name.ok()) return SendError(res, name.status());
           std::vector<model::FieldError> errors;
           HistoryQuery query;
           query.page = IntParam(req, "page", 1, &errors);
           query.page_size = HistoryPageSize(req, opts.default_history_page_size, &errors);
           if (req.HasParam("cursor")) query.cursor = req.Param("cursor");
           std::string status_text;
           if (req.HasParam("status") && !req.Param("status").empty()) {
             status_text = req.Param("status");
             query.status = model::ParseExecutionStatus(status_text);
             if (!query.status) {
               errors.push_back({"status", absl::StrCat("unknown status \"", status_text, "\"")});
             }
           }
           if (!errors.empty())
             return SendError(res, model::InvalidFieldsError("invalid query", errors));
           auto page = svc.History(*name, query);
           if (!page.ok()) return SendError(res, page.status());
           Json out = Json::array();
           for (const auto& e : page->executions) out.push_back(model::EncodeExecution(e));
           if (!page->next_cursor.empty()) {
             res.SetHeader("X-Next-Cursor", page->next_cursor);
             res.SetHeader("Link", absl::StrCat("</jobs/", UrlEncoded(name->str()),
                                                "/history?page_size=", query.page_size,
                                                "&cursor=", page->next_cursor,
                                                status_text.empty() ? "" : "&status=", status_text,
                                                ">; rel=\"next\""));
           }
           SendJson(res, 200, out);
         });

  Handle("GET", R"(/jobs/([^/]+)/ledger/?)", auth::Access::kView,
         [&svc](const Request& req, Response& res) {
           auto name = NameFromPath(req);
           if (!name.ok()) return SendError(res, name.status());
           std::vector<model::FieldError> errors;
           LedgerQuery query;
           query.from = TimeParam(req, "from", &errors);
           query.to = TimeParam(req, "to", &errors);
           if (!errors.empty())
             return SendError(res, model::InvalidFieldsError("invalid query", errors));
           auto ledger = svc.GetLedger(*name, query);
           if (!ledger.ok()) return SendError(res, ledger.status());
           SendJson(res, 200, EncodeLedger(*ledger));
         });

  Handle("POST", R"(/jobs/([^/]+)/trigger/?)", auth::Access::kOperate,
         [&svc](const Request& req, Response& res) {
           auto name = NameFromPath(req);
           if (!name.ok()) return SendError(res, name.status());
           if (!req.body.empty() && !RequireJson(req, res)) return;
           auto e = svc.Trigger(*name, trace::CurrentTraceparent());
           if (!e.ok()) return SendError(res, e.status());
           SendJson(res, 202, model::EncodeExecution(*e));
         });

  for (const bool pause : {true, false}) {
    Handle("POST", pause ? R"(/jobs/([^/]+)/pause/?)" : R"(/jobs/([^/]+)/resume/?)",
           auth::Access::kOperate, [&svc, pause](const Request& req, Response& res) {
             auto name = NameFromPath(req);
             if (!name.ok()) return SendError(res, name.status());
             if (!req.body.empty() && !RequireJson(req, res)) return;
             auto view = pause ? svc.Pause(*name) : svc.Resume(*name);
             if (!view.ok()) return SendError(res, view.status());
             SendJson(res, 200, EncodeView(*view));
           });
  }

  Handle("GET", R"(/executions/([^/]+)/?)", auth::Access::kView,
         [&svc](const Request& req, Response& res) {
           auto id = model::ExecutionId::Parse(req.matches[1]);
           if (!id.ok()) return SendError(res, id.status());
           auto e = svc.GetExecution(*id);
           if (!e.ok()) return SendError(res, e.status());
           SendJson(res, 200, model::EncodeExecution(*e));
         });

  Handle("POST", R"(/executions/([^/]+)/kill/?)", auth::Access::kOperate,
         [&svc](const Request& req, Response& res) {
           auto id = model::ExecutionId::Parse(req.matches[1]);
           if (!id.ok()) return SendError(res, id.status());
           if (!req.body.empty() && !RequireJson(req, res)) return;
           auto e = svc.KillExecution(*id);
           if (!e.ok()) return SendError(res, e.status());
           SendJson(res, 202, model::EncodeExecution(*e));
         });

  Handle("GET", R"(/cluster/?)", auth::Access::kView, [&svc, &opts](const Request&, Response& res) {
    auto info = svc.Cluster();
    if (!info.ok()) return SendError(res, info.status());
    Json out = Json::object();
    if (info->leader) {
      Json leader = EncodeMember(*info->leader);
      leader["term"] = info->leader->create_revision;
      out["leader"] = std::move(leader);
    } else {
      out["leader"] = nullptr;
    }
    out["masters"] = Json::array();
    for (const auto& m : info->masters) out["masters"].push_back(EncodeMember(m));
    out["workers"] = Json::array();
    for (const auto& w : info->workers) {
      Json worker = EncodeMember(w);
      worker["in_flight"] = w.in_flight;
      out["workers"].push_back(std::move(worker));
    }
    out["auth"] = EncodeAuthMode(opts.security);
    SendJson(res, 200, out);
  });

  Handle("GET", R"(/cron/preview/?)", auth::Access::kView,
         [&svc](const Request& req, Response& res) {
           std::vector<model::FieldError> errors;
           const int n = IntParam(req, "n", 10, &errors);
           if (!errors.empty())
             return SendError(res, model::InvalidFieldsError("invalid query", errors));
           auto preview = svc.PreviewCron(req.Param("expr"), req.Param("tz"), n);
           if (!preview.ok()) return SendError(res, preview.status());
           Json next = Json::array();
           for (absl::Time t : preview->next) next.push_back(model::FormatRfc3339(t));
           SendJson(res, 200,
                    Json{{"expr", preview->expr},
                         {"timezone", preview->timezone},
                         {"description", preview->description},
                         {"next", std::move(next)}});
         });

  Handle("GET", R"(/healthz/?)", opts.health_access, [](const Request&, Response& res) {
    SendJson(res, 200, Json{{"status", "ok"}});
  });
  Handle("GET", R"(/readyz/?)", opts.health_access, [&svc](const Request&, Response& res) {
    absl::Status status = svc.Ping();
    if (!status.ok()) {
      // Whatever the store said, not ready means 503.
      HttpError e = ErrorToHttp(absl::UnavailableError(status.message()));
      res.status = 503;
      res.SetContent(e.body, kJson);
      return;
    }
    SendJson(res, 200, Json{{"status", "ok"}});
  });
}

}  // namespace hg::api

namespace hg::api {

void ApiServer::RegisterSecurityRoutes() {
  const ApiSecurity& sec = options_.security;

  // Open: what a client needs to know before it signs in, and who it is once it has.
  Handle("GET", R"(/auth/?)", auth::Access::kOpen, [&sec](const Request& req, Response& res) {
    Json out = EncodeAuthMode(sec);
    const Caller caller = Identify(sec, req);
    if (caller.principal) {
      out["principal"] = {{"name", caller.principal->name},
                          {"role", auth::RoleName(caller.principal->role)}};
    } else {
      out["principal"] = nullptr;
    }
    SendJson(res, 200, out);
  });

  if (sec.tokens != nullptr) {
    auth::TokenStore& tokens = *sec.tokens;
    Handle("GET", R"(/tokens/?)", auth::Access::kAdmin, [&tokens](const Request&, Response& res) {
      auto list = tokens.List();
      if (!list.ok()) return SendError(res, list.status());
      Json out = Json::array();
      for (const auto& t : *list) out.push_back(EncodeToken(t));
      SendJson(res, 200, out);
    });
    Handle(
        "POST", R"(/tokens/?)", auth::Access::kAdmin, [&tokens](const Request& req, Response& res) {
          if (!RequireJson(req, res)) return;
          auto json = model::ParseJson(req.body);
          if (!json.ok()) return SendError(res, json.status());
          std::vector<model::FieldError> errors;
          if (!json->is_object()) {
            return SendError(res, model::InvalidFieldsError("invalid token request",
                                                            {{"", "must be a JSON object"}}));
          }
          for (const auto& [key, value] : json->items()) {
            if (key != "name" && key != "role" && key != "expires_in") {
              errors.push_back({key, "unknown field"});
            }
          }
          std::string name;
          if (auto it = json->find("name"); it == json->end() || !it->is_string()) {
            errors.push_back({"name", "required, a string"});
          } else if (auto st = auth::ValidateTokenName(it->get<std::string>()); !st.ok()) {
            errors.push_back({"name", std::string(st.message())});
          } else {
            name = it->get<std::string>();
          }
          std::optional<auth::Role> role;
          if (auto it = json->find("role"); it == json->end() || !it->is_string()) {
            errors.push_back({"role", "required: viewer, operator or admin"});
          } else if (role = auth::ParseRole(it->get<std::string>()); !role) {
            errors.push_back({"role", absl::StrCat("must be viewer, operator or admin, got \"",
                                                   it->get<std::string>(), "\"")});
          }
          std::optional<absl::Duration> ttl;
          if (auto it = json->find("expires_in"); it != json->end() && !it->is_null()) {
            auto d = it->is_string() ? ParseGoDuration(it->get<std::string>())
                                     : absl::StatusOr<absl::Duration>(
                                           absl::InvalidArgumentError("must be a duration string"));
            if (!d.ok() || *d <= absl::ZeroDuration()) {
              errors.push_back({"expires_in", "must be a positive duration such as \"720h\""});
            } else {
              ttl = *d;
            }
          }
          if (!errors.empty()) {
            return SendError(res, model::InvalidFieldsError("invalid token request", errors));
          }
          auto text = tokens.Create(name, *role, CallerName(), ttl);
          if (!text.ok()) return SendError(res, text.status());
          // The only time the secret is shown.
          SendJson(res, 201,
                   Json{{"name", name}, {"role", auth::RoleName(*role)}, {"token", *text}});
        });
    Handle("DELETE", R"(/tokens/([^/]+)/?)", auth::Access::kAdmin,
           [&tokens](const Request& req, Response& res) {
             auto st = tokens.Delete(req.matches[1]);
             if (!st.ok()) return SendError(res, st);
             res.status = 204;
           });
  }

  if (sec.audit != nullptr) {
    auth::AuditLog& audit = *sec.audit;
    Handle("GET", R"(/audit/?)", auth::Access::kAdmin, [&audit](const Request& req, Response& res) {
      std::vector<model::FieldError> errors;
      const int limit = IntParam(req, "limit", 50, &errors);
      if (!errors.empty()) {
        return SendError(res, model::InvalidFieldsError("invalid query", errors));
      }
      auto page = audit.List(limit, req.HasParam("cursor") ? req.Param("cursor") : "");
      if (!page.ok()) return SendError(res, page.status());
      Json out = Json::array();
      for (const auto& e : page->entries) {
        out.push_back(auth::AuditEntryJson(e));
      }
      if (!page->next_cursor.empty()) res.SetHeader("X-Next-Cursor", page->next_cursor);
      SendJson(res, 200, out);
    });
  }
}

}  // namespace hg::api
