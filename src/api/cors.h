// CORS for the API (docs/design/api.md "CORS"): which browser origins may call it. A pure
// decision over a request's method and headers; the server applies it in one place, before
// routing, so every route (and OPTIONS on any path) gets the same answer.
//
// Default (no origins configured): same-origin only — the UI the master serves itself. Origins
// are exact ("http://localhost:3000": scheme, host and port compare whole). "*" answers every
// origin, as the v1 API did; the server accepts it only together with token auth, because
// without auth any web page a developer visits could create shell jobs on `hourglass dev`.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace hg::api {

struct CorsPolicy {
  std::vector<std::string> origins;  // normalized "scheme://host[:port]", lower case
  bool any = false;                  // "*"
};

// Parses the --cors-origin setting: comma-separated origins, or "*" alone; "" = none.
// InvalidArgument naming the bad entry (a path, a scheme other than http/https, …).
absl::StatusOr<CorsPolicy> ParseCorsOrigins(std::string_view text);

struct CorsRequest {
  std::string_view method;
  std::optional<std::string_view> origin;           // Origin
  std::string_view host;                            // Host
  std::optional<std::string_view> request_method;   // Access-Control-Request-Method
  std::optional<std::string_view> request_headers;  // Access-Control-Request-Headers
};

enum class CorsOutcome {
  kProceed,    // route the request; add `headers` to the response
  kPreflight,  // OPTIONS: answer 200 with `headers`, no body, without routing
  kForbidden,  // a cross-origin request from an origin not allowed: refuse (403), no CORS headers
};

struct CorsDecision {
  CorsOutcome outcome = CorsOutcome::kProceed;
  std::vector<std::pair<std::string, std::string>> headers;
};

CorsDecision DecideCors(const CorsPolicy& policy, const CorsRequest& request);

}  // namespace hg::api
