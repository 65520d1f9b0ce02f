#include "auth/token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <stdexcept>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/strings.h"
#include "model/json.h"

namespace hg::auth {
namespace {

constexpr std::string_view kPrefix = "hg_";
constexpr size_t kSecretBytes = 32;

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    // Without randomness no token can be made safely; this is not an input error.
    throw std::runtime_error("RAND_bytes failed");
  }
  return absl::BytesToHexString(raw);
}

std::string Sha256Hex(std::string_view salt_hex, std::string_view secret) {
  const std::string data = absl::StrCat(absl::HexStringToBytes(Av(salt_hex)), Av(secret));
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateTokenName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("must not be empty");
  if (name.size() > kMaxTokenNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be at most ", kMaxTokenNameBytes, " characters"));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return absl::InvalidArgumentError("may contain only letters, digits, '_' and '-'");
  }
  return absl::OkStatus();
}

TokenText NewToken(std::string_view name) {
  return TokenText{std::string(name), RandomHex(kSecretBytes)};
}

std::string FormatToken(const TokenText& token) {
  return absl::StrCat(Av(kPrefix), token.name, ".", token.secret);
}

std::optional<TokenText> ParseToken(std::string_view text) {
  if (!absl::StartsWith(Av(text), Av(kPrefix))) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  const size_t dot = text.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  TokenText out{std::string(text.substr(0, dot)), std::string(text.substr(dot + 1))};
  if (!ValidateTokenName(out.name).ok()) return std::nullopt;
  if (out.secret.size() != 2 * kSecretBytes || !IsHex(out.secret)) return std::nullopt;
  return out;
}

std::optional<std::string> BearerTokenOf(std::string_view authorization) {
  const absl::string_view header = absl::StripAsciiWhitespace(Av(authorization));
  constexpr absl::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(header.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  const absl::string_view token = absl::StripAsciiWhitespace(header.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

TokenRecord MakeRecord(const TokenText& token, Role role, absl::Time now,
                       std::string_view created_by, std::optional<absl::Time> expires_at) {
  TokenRecord r;
  r.name = token.name;
  r.role = role;
  r.salt = RandomHex(16);
  r.hash = Sha256Hex(r.salt, token.secret);
  r.created_at = now;
  r.created_by = std::string(created_by);
  r.expires_at = expires_at;
  return r;
}

bool SecretMatches(const TokenRecord& record, std::string_view secret) {
  const std::string hash = Sha256Hex(record.salt, secret);
  return hash.size() == record.hash.size() &&
         CRYPTO_memcmp(hash.data(), record.hash.data(), hash.size()) == 0;
}

std::string EncodeTokenRecord(const TokenRecord& r) {
  model::Json j = {{"name", r.name},
                   {"role", std::string(RoleName(r.role))},
                   {"salt", r.salt},
                   {"hash", r.hash},
                   {"created_at", model::FormatRfc3339(r.created_at)},
                   {"created_by", r.created_by}};
  if (r.expires_at) j["expires_at"] = model::FormatRfc3339(*r.expires_at);
  return model::DumpJson(j);
}

absl::StatusOr<TokenRecord> DecodeTokenRecord(std::string_view text) {
  auto json = model::ParseJson(text);
  if (!json.ok()) return json.status();
  if (!json->is_object()) return absl::InvalidArgumentError("token record: not an object");
  auto str = [&](const char* key) -> absl::StatusOr<std::string> {
    auto it = json->find(key);
    if (it == json->end() || !it->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("token record: \"", key, "\" missing"));
    }
    return it->get<std::string>();
  };
  TokenRecord r;
  auto name = str("name");
  auto role = str("role");
  auto salt = str("salt");
  auto hash = str("hash");
  auto created = str("created_at");
  for (const auto* s : {&name, &role, &salt, &hash, &created}) {
    if (!s->ok()) return s->status();
  }
  r.name = *name;
  auto parsed_role = ParseRole(*role);
  if (!parsed_role) return absl::InvalidArgumentError("token record: unknown role " + *role);
  r.role = *parsed_role;
  r.salt = *salt;
  r.hash = *hash;
  if (!IsHex(r.salt) || !IsHex(r.hash) || r.salt.size() % 2 != 0) {
    return absl::InvalidArgumentError("token record: salt and hash must be hex");
  }
  auto created_at = model::ParseRfc3339(*created);
  if (!created_at.ok()) return created_at.status();
  r.created_at = *created_at;
  if (auto by = str("created_by"); by.ok()) r.created_by = *by;
  if (auto exp = str("expires_at"); exp.ok()) {
    auto t = model::ParseRfc3339(*exp);
    if (!t.ok()) return t.status();
    r.expires_at = *t;
  }
  return r;
}

}  // namespace hg::auth
