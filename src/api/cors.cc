#include "api/cors.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/strings.h"

namespace hg::api {
namespace {

// v1's lists (the original UI sends JSON bodies and, with auth, a bearer token).
constexpr char kMethods[] = "POST, GET, OPTIONS, PUT, DELETE";
constexpr char kHeaders[] = "Content-Type, Authorization";
// Paging lives in headers (api.md "Paging"); a cross-origin page must be able to read them.
constexpr char kExposed[] = "X-Next-Cursor, Link";
constexpr char kMaxAge[] = "600";

absl::Status Bad(std::string_view entry, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--cors-origin: \"", Av(entry), "\" ", Av(why),
                                                 " (expected e.g. http://localhost:3000 or *)"));
}

// The authority part of an origin ("http://a:1" -> "a:1"); empty when it has no scheme.
std::string_view Authority(std::string_view origin) {
  const size_t sep = origin.find("://");
  return sep == std::string_view::npos ? std::string_view() : origin.substr(sep + 3);
}

bool SameOrigin(std::string_view origin, std::string_view host) {
  if (host.empty()) return false;
  const std::string o = absl::AsciiStrToLower(Av(origin));
  const std::string h = absl::AsciiStrToLower(Av(host));
  const std::string_view authority = Authority(o);
  if (authority == h) return true;
  // Host may carry the scheme's default port that the Origin leaves out.
  const bool https = absl::StartsWith(o, "https://");
  return absl::StrCat(Av(authority), https ? ":443" : ":80") == h;
}

}  // namespace

absl::StatusOr<CorsPolicy> ParseCorsOrigins(std::string_view text) {
  CorsPolicy policy;
  std::vector<std::string> entries;
  for (absl::string_view part : absl::StrSplit(Av(text), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) entries.emplace_back(part);
  }
  for (const std::string& e : entries) {
    if (e == "*") {
      if (entries.size() > 1) return Bad(e, "must stand alone: it already allows every origin");
      policy.any = true;
      continue;
    }
    const std::string lower = absl::AsciiStrToLower(e);
    if (!absl::StartsWith(lower, "http://") && !absl::StartsWith(lower, "https://")) {
      return Bad(e, "is not an http:// or https:// origin");
    }
    const std::string_view authority = Authority(lower);
    if (authority.empty()) return Bad(e, "has no host");
    for (char c : authority) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
          std::string_view(".-:[]").find(c) == std::string_view::npos) {
        return Bad(e, "is not an origin: scheme://host[:port] only, no path");
      }
    }
    policy.origins.push_back(lower);
  }
  return policy;
}

CorsDecision DecideCors(const CorsPolicy& policy, const CorsRequest& request) {
  CorsDecision d;
  // Answers differ by Origin, so caches must key on it.
  d.headers.emplace_back("Vary", "Origin");
  const bool options = request.method == "OPTIONS";
  if (options) d.outcome = CorsOutcome::kPreflight;
  if (!request.origin) {
    // Not a browser's cross-origin call (curl, scripts): nothing to decide.
    if (options) d.headers.emplace_back("Allow", kMethods);
    return d;
  }
  const std::string origin = absl::AsciiStrToLower(Av(*request.origin));
  bool listed = policy.any;
  for (const std::string& o : policy.origins) listed |= o == origin;
  if (!listed) {
    if (SameOrigin(origin, request.host)) {
      if (options) d.headers.emplace_back("Allow", kMethods);
      return d;
    }
    d.outcome = CorsOutcome::kForbidden;
    return d;
  }
  d.headers.emplace_back("Access-Control-Allow-Origin",
                         policy.any ? std::string("*") : std::string(*request.origin));
  if (options) {
    d.headers.emplace_back("Access-Control-Allow-Methods", kMethods);
    d.headers.emplace_back("Access-Control-Allow-Headers", kHeaders);
    d.headers.emplace_back("Access-Control-Max-Age", kMaxAge);
    d.headers.emplace_back("Allow", kMethods);
  } else {
    d.headers.emplace_back("Access-Control-Expose-Headers", kExposed);
  }
  return d;
}

}  // namespace hg::api
