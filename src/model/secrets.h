// Secret values of a job and their redaction (issue #6 "Logs": secrets never appear in logs,
// history or errors; docs/design/observability.md "Secrets").
//
// A job's secrets are
//   - the values of the shell env entries named in `executor.secret_env`,
//   - the values of the HTTP headers named in `executor.secret_headers` or in the process's
//     configured list (`--secret-headers`, default DefaultSecretHeaders()), case-insensitively;
//     for a value "<scheme> <credentials>" (Authorization: Bearer xyz) the credentials alone
//     are a secret too,
//   - the password of a URL's userinfo (https://user:password@host/).
// Redact() replaces every occurrence of each secret with "[REDACTED]" (longest first, so a
// secret containing another is masked whole). What is not recognised: encodings of a secret
// (base64, URL-escaped), and a secret cut in two by the output cap.
//
// Pure value type; immutable after construction, so thread-safe to share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model/job.h"

namespace hg::model {

inline constexpr std::string_view kRedacted = "[REDACTED]";

// Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key.
std::vector<std::string> DefaultSecretHeaders();

class Redactor {
 public:
  // Credentials parts and URL passwords shorter than this are not masked on their own: too
  // likely to match ordinary text. Declared values (whole env/header values) always are.
  static constexpr size_t kMinPartLength = 4;

  Redactor() = default;  // no secrets: Redact() returns its input
  // `secrets`: empty strings are dropped, duplicates removed.
  explicit Redactor(std::vector<std::string> secrets);

  // The secrets of `job` (see the file comment); `secret_headers` is the configured list.
  static Redactor ForJob(const Job& job, const std::vector<std::string>& secret_headers);

  std::string Redact(std::string_view text) const;
  bool empty() const { return secrets_.empty(); }
  const std::vector<std::string>& secrets() const { return secrets_; }

 private:
  std::vector<std::string> secrets_;  // longest first
};

}  // namespace hg::model
