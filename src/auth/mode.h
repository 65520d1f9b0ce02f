// Whether an API server requires tokens, decided from its flags and where it listens
// (docs/design/security.md "Safe by default"): never silently open beyond loopback.
// Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace hg::auth {

enum class AuthMode { kAuto, kOn, kOff };

// "auto" | "on" | "off"; InvalidArgument otherwise.
absl::StatusOr<AuthMode> ParseAuthMode(std::string_view text);

struct AuthDecision {
  bool required = true;
  bool insecure_no_auth = false;  // open beyond loopback because the operator said so
  std::string notice;             // what to log at start (empty: nothing to say)
};

// auto: tokens unless the address is loopback; on: tokens; off: none, refused beyond loopback
// unless `insecure_no_auth` (which alone also means off). InvalidArgument explains a refusal.
absl::StatusOr<AuthDecision> DecideAuth(std::string_view listen_address, AuthMode mode,
                                        bool insecure_no_auth);

}  // namespace hg::auth
