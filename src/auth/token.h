// API tokens: their text, their stored record and its one codec (docs/design/security.md).
//
// A token's text is "hg_<name>.<secret>": the name says which record to check (and is safe to
// log), the secret is 32 random bytes in hex, shown once at creation and never stored. The store
// keeps a TokenRecord: the role and a salted SHA-256 of the secret. A slow password hash would
// add nothing here: the secret is 256 random bits, not something a person chose, so the salted
// hash only has to make a leaked store useless for signing in — and it is checked on every
// request.
//
// Pure functions (randomness from OpenSSL's RAND_bytes); thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/role.h"

namespace hg::auth {

inline constexpr size_t kMaxTokenNameBytes = 64;

// A token name: 1-64 of [A-Za-z0-9_-]. InvalidArgument with the reason otherwise.
absl::Status ValidateTokenName(std::string_view name);

struct TokenText {
  std::string name;
  std::string secret;  // 64 lower-case hex digits
};

// A new random secret for `name` (which must be valid).
TokenText NewToken(std::string_view name);
std::string FormatToken(const TokenText& token);  // "hg_<name>.<secret>"
// nullopt when `text` is not of the form FormatToken makes (no detail: the caller answers 401).
std::optional<TokenText> ParseToken(std::string_view text);

// The token of an "Authorization" header value "Bearer <token>" (scheme case-insensitive,
// surrounding blanks ignored); nullopt for any other value.
std::optional<std::string> BearerTokenOf(std::string_view authorization);

struct TokenRecord {
  std::string name;
  Role role = Role::kViewer;
  std::string salt;  // hex
  std::string hash;  // hex SHA-256 of salt bytes + secret text
  absl::Time created_at = absl::UnixEpoch();
  std::string created_by;                // token name of the creator; "bootstrap" for the first
  std::optional<absl::Time> expires_at;  // none: until deleted
};

// A record for `token` with a fresh salt.
TokenRecord MakeRecord(const TokenText& token, Role role, absl::Time now,
                       std::string_view created_by, std::optional<absl::Time> expires_at);

// Whether `secret` is the one `record` was made for (constant time in the secret).
bool SecretMatches(const TokenRecord& record, std::string_view secret);

// The codec of the stored value (JSON). Decode: InvalidArgument naming what is wrong.
std::string EncodeTokenRecord(const TokenRecord& record);
absl::StatusOr<TokenRecord> DecodeTokenRecord(std::string_view text);

}  // namespace hg::auth
