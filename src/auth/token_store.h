// TokenStore: API tokens in the store (<prefix>auth/tokens/<name>), checked on every request
// (docs/design/security.md "Tokens").
//
// Authenticate() keeps what it read for `cache_ttl` (default 2 s), found or not, so a busy API
// reads the store once per token per TTL; a deleted or expired token therefore stops working
// on every master within that TTL (at once on the master that deleted it). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/role.h"
#include "auth/token.h"
#include "common/clock.h"
#include "model/keys.h"
#include "store/kv.h"

namespace hg::auth {

// Who is calling: a token's name and role.
struct Principal {
  std::string name;
  Role role = Role::kViewer;
};

class TokenStore {
 public:
  struct Options {
    absl::Duration cache_ttl = absl::Seconds(2);
    size_t max_cached = 10'000;  // the cache is dropped whole when it grows past this
  };
  TokenStore(store::Kv& kv, const Clock& clock, model::Keys keys, Options options);

  // A new token; returns its text (shown once, never stored). InvalidArgument for a bad name,
  // AlreadyExists when the name is taken; store errors as they come.
  absl::StatusOr<std::string> Create(std::string_view name, Role role, std::string_view created_by,
                                     std::optional<absl::Duration> ttl);
  absl::StatusOr<std::vector<TokenRecord>> List();
  absl::Status Delete(std::string_view name);  // NotFound when there is no such token

  // The caller of a request with `token_text` (the part after "Bearer "). Unauthenticated
  // ("invalid or expired token") for anything but a live token; store errors as they come.
  absl::StatusOr<Principal> Authenticate(std::string_view token_text);

  // First start of a cluster. With `given` (a token text from a file or the environment): makes
  // sure an admin token with that text exists (created when its name is free; FailedPrecondition
  // when the name holds another secret). Without: when the store has no token at all, creates
  // the admin token "admin" and returns its text (the caller shows it once); else nullopt.
  // Safe when several masters start at once: one creates, the others find it.
  absl::StatusOr<std::optional<std::string>> Bootstrap(const std::optional<std::string>& given);

 private:
  struct Cached {
    std::optional<TokenRecord> record;  // nullopt: no such token
    SteadyTime fetched;
  };
  absl::StatusOr<std::optional<TokenRecord>> Read(std::string_view name);
  // Put `record` if its name is free. False when taken.
  absl::StatusOr<bool> CreateRecord(const TokenRecord& record);

  store::Kv& kv_;
  const Clock& clock_;
  const model::Keys keys_;
  const Options options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hg::auth
