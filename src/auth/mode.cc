#include "auth/mode.h"

#include "absl/strings/str_cat.h"
#include "common/address.h"
#include "common/strings.h"

namespace hg::auth {

absl::StatusOr<AuthMode> ParseAuthMode(std::string_view text) {
  if (text == "auto") return AuthMode::kAuto;
  if (text == "on") return AuthMode::kOn;
  if (text == "off") return AuthMode::kOff;
  return absl::InvalidArgumentError(
      absl::StrCat("--auth: must be auto, on or off, got \"", Av(text), "\""));
}

absl::StatusOr<AuthDecision> DecideAuth(std::string_view listen_address, AuthMode mode,
                                        bool insecure_no_auth) {
  const bool loopback = IsLoopbackAddress(listen_address);
  if (insecure_no_auth) {
    if (mode == AuthMode::kOn) {
      return absl::InvalidArgumentError("--insecure-no-auth contradicts --auth on");
    }
    return AuthDecision{
        .required = false,
        .insecure_no_auth = !loopback,
        .notice = absl::StrCat("authentication is OFF (--insecure-no-auth): anyone who can reach ",
                               Av(listen_address), " can create and run jobs")};
  }
  switch (mode) {
    case AuthMode::kOn:
      return AuthDecision{.required = true};
    case AuthMode::kOff:
      if (!loopback) {
        return absl::InvalidArgumentError(absl::StrCat(
            "refusing to serve the API on ", Av(listen_address),
            " without authentication: use --auth on (API tokens), or --insecure-no-auth to "
            "accept that anyone who reaches the port can run commands"));
      }
      [[fallthrough]];
    case AuthMode::kAuto:
      if (loopback) {
        return AuthDecision{
            .required = false,
            .notice = absl::StrCat("authentication is off: the API listens on loopback only (",
                                   Av(listen_address), "); --auth on requires tokens")};
      }
      return AuthDecision{.required = true};
  }
  return AuthDecision{.required = true};
}

}  // namespace hg::auth
