#include "model/secrets.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "common/strings.h"

namespace hg::model {
namespace {

bool NamedIn(const std::string& name, const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return absl::EqualsIgnoreCase(Av(n), Av(name)); });
}

// "https://user:password@host/..." -> "password" ("" when there is none).
std::string UrlPassword(std::string_view url) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return "";
  std::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string_view userinfo = authority.substr(0, at);
  const size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return "";
  return std::string(userinfo.substr(colon + 1));
}

}  // namespace

std::vector<std::string> DefaultSecretHeaders() {
  return {"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key"};
}

Redactor::Redactor(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {
  std::erase_if(secrets_, [](const std::string& s) { return s.empty(); });
  std::sort(secrets_.begin(), secrets_.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
}

Redactor Redactor::ForJob(const Job& job, const std::vector<std::string>& secret_headers) {
  std::vector<std::string> secrets;
  auto add_part = [&](std::string part) {
    if (part.size() >= kMinPartLength) secrets.push_back(std::move(part));
  };
  const ExecutorSpec& ex = job.executor;
  for (const std::string& name : ex.secret_env) {
    if (auto it = ex.env.find(name); it != ex.env.end()) secrets.push_back(it->second);
  }
  for (const auto& [name, value] : ex.headers) {
    if (!NamedIn(name, ex.secret_headers) && !NamedIn(name, secret_headers)) continue;
    secrets.push_back(value);
    // "Bearer <token>", "Basic <base64>": the credentials are what a server may echo alone.
    if (const size_t space = value.find(' '); space != std::string::npos) {
      add_part(value.substr(space + 1));
    }
  }
  add_part(UrlPassword(ex.url));
  return Redactor(std::move(secrets));
}

std::string Redactor::Redact(std::string_view text) const {
  if (secrets_.empty()) return std::string(text);
  // One left-to-right pass, longest secret first at each position: a mask is never searched
  // again, so a short secret cannot match inside "[REDACTED]" or inside a longer secret.
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const std::string* hit = nullptr;
    for (const std::string& secret : secrets_) {
      if (text.compare(i, secret.size(), secret) == 0) {
        hit = &secret;
        break;
      }
    }
    if (hit != nullptr) {
      out += kRedacted;
      i += hit->size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

}  // namespace hg::model
