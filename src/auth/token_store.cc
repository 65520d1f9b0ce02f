#include "auth/token_store.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace hg::auth {
namespace {

constexpr char kBootstrapName[] = "admin";

absl::Status Invalid() { return absl::UnauthenticatedError("invalid or expired token"); }

}  // namespace

TokenStore::TokenStore(store::Kv& kv, const Clock& clock, model::Keys keys, Options options)
    : kv_(kv), clock_(clock), keys_(std::move(keys)), options_(options) {}

absl::StatusOr<std::optional<TokenRecord>> TokenStore::Read(std::string_view name) {
  auto got = kv_.Range(store::RangeRequest::Key(keys_.Token(name)));
  if (!got.ok()) return got.status();
  if (got->kvs.empty()) return std::optional<TokenRecord>();
  auto record = DecodeTokenRecord(got->kvs.front().value);
  if (!record.ok()) {
    return absl::DataLossError(
        absl::StrCat("token \"", Av(name), "\": ", record.status().message()));
  }
  return std::optional<TokenRecord>(*std::move(record));
}

absl::StatusOr<bool> TokenStore::CreateRecord(const TokenRecord& record) {
  const std::string key = keys_.Token(record.name);
  store::TxnRequest txn;
  txn.compare.push_back(store::Compare::CreateRevision(key, store::Compare::Result::kEqual, 0));
  txn.success.emplace_back(std::in_place_type<store::PutRequest>,
                           store::PutRequest{.key = key, .value = EncodeTokenRecord(record)});
  auto r = kv_.Txn(txn);
  if (!r.ok()) return r.status();
  if (r->succeeded) {
    absl::MutexLock lock(&mu_);
    cache_.erase(record.name);
  }
  return r->succeeded;
}

absl::StatusOr<std::string> TokenStore::Create(std::string_view name, Role role,
                                               std::string_view created_by,
                                               std::optional<absl::Duration> ttl) {
  if (auto st = ValidateTokenName(name); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("token name: ", st.message()));
  }
  const TokenText token = NewToken(name);
  const absl::Time now = clock_.Now();
  std::optional<absl::Time> expires;
  if (ttl) expires = now + *ttl;
  auto created = CreateRecord(MakeRecord(token, role, now, created_by, expires));
  if (!created.ok()) return created.status();
  if (!*created) {
    return absl::AlreadyExistsError(absl::StrCat("a token named \"", Av(name), "\" exists"));
  }
  return FormatToken(token);
}

absl::StatusOr<std::vector<TokenRecord>> TokenStore::List() {
  auto got = kv_.Range(store::RangeRequest::Prefix(keys_.TokensPrefix()));
  if (!got.ok()) return got.status();
  std::vector<TokenRecord> out;
  for (const auto& kv : got->kvs) {
    auto record = DecodeTokenRecord(kv.value);
    if (record.ok()) out.push_back(*std::move(record));
  }
  return out;
}

absl::Status TokenStore::Delete(std::string_view name) {
  if (!ValidateTokenName(name).ok()) {
    return absl::NotFoundError(absl::StrCat("no token named \"", Av(name), "\""));
  }
  auto r = kv_.Delete(store::DeleteRequest::Key(keys_.Token(name)));
  if (!r.ok()) return r.status();
  {
    absl::MutexLock lock(&mu_);
    cache_.erase(std::string(name));
  }
  if (r->deleted == 0) {
    return absl::NotFoundError(absl::StrCat("no token named \"", Av(name), "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<Principal> TokenStore::Authenticate(std::string_view token_text) {
  const std::optional<TokenText> token = ParseToken(token_text);
  if (!token) return Invalid();
  std::optional<TokenRecord> record;
  bool fresh = false;
  const SteadyTime now = clock_.SteadyNow();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(token->name);
    if (it != cache_.end() &&
        now - it->second.fetched < absl::ToChronoNanoseconds(options_.cache_ttl)) {
      record = it->second.record;
      fresh = true;
    }
  }
  if (!fresh) {
    auto read = Read(token->name);
    if (!read.ok()) return read.status();
    record = *read;
    absl::MutexLock lock(&mu_);
    if (cache_.size() >= options_.max_cached) cache_.clear();
    cache_[token->name] = Cached{record, now};
  }
  if (!record || !SecretMatches(*record, token->secret)) return Invalid();
  if (record->expires_at && clock_.Now() >= *record->expires_at) return Invalid();
  return Principal{record->name, record->role};
}

absl::StatusOr<std::optional<std::string>> TokenStore::Bootstrap(
    const std::optional<std::string>& given) {
  if (given) {
    const std::optional<TokenText> token = ParseToken(*given);
    if (!token) {
      return absl::InvalidArgumentError(
          "bootstrap token: not a token text (hg_<name>.<64 hex digits>)");
    }
    auto existing = Read(token->name);
    if (!existing.ok()) return existing.status();
    if (*existing) {
      if (!SecretMatches(**existing, token->secret)) {
        return absl::FailedPreconditionError(
            absl::StrCat("bootstrap token: a token named \"", token->name,
                         "\" exists with another secret; delete it or give the current one"));
      }
      return std::optional<std::string>();
    }
    auto created = CreateRecord(MakeRecord(*token, Role::kAdmin, clock_.Now(), "bootstrap", {}));
    if (!created.ok()) return created.status();
    if (!*created) return Bootstrap(given);  // another master made it meanwhile: check it
    return std::optional<std::string>();
  }
  store::RangeRequest any = store::RangeRequest::Prefix(keys_.TokensPrefix());
  any.count_only = true;
  auto got = kv_.Range(any);
  if (!got.ok()) return got.status();
  if (got->count > 0) return std::optional<std::string>();
  const TokenText token = NewToken(kBootstrapName);
  auto created = CreateRecord(MakeRecord(token, Role::kAdmin, clock_.Now(), "bootstrap", {}));
  if (!created.ok()) return created.status();
  if (!*created) return std::optional<std::string>();
  return std::optional<std::string>(FormatToken(token));
}

}  // namespace hg::auth
