// The settings that configure a worker's executors, shared by `hourglass worker` and the
// in-process worker of `hourglass dev` (whose defaults differ where noted): shell switch and
// allow-list, the user runs execute as, resource limits, HTTP destination policy.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "app/settings.h"
#include "executor/http_executor.h"
#include "executor/shell_executor.h"

namespace hg::app {

struct ExecutorFlags {
  std::string shell_enabled, shell_allow, shell_user, run_as_allow, allow_root, limits_default,
      limits_max, http_allow, http_deny;
};

// Where `hourglass dev` differs from `hourglass worker`.
struct ExecutorDefaults {
  // dev: loopback, because its API, UI and test receivers live on the same machine and it
  // listens on loopback only; link-local and metadata stay denied.
  std::string http_allow;
  // dev: "true" — a first run on a fresh VM as root must work; it says so at start.
  std::string allow_root = "false";
};

void AddExecutorSettings(Settings& s, const ExecutorDefaults& defaults, ExecutorFlags* f);

// Validates the flags into the executors' configurations; InvalidArgument names the flag.
absl::Status ResolveExecutorSettings(const ExecutorFlags& f, executor::ShellConfig* shell,
                                     executor::HttpConfig* http);

// What a start-up line says about the shell's identity: "" when shell jobs run as a non-root
// user, else a warning (runs as root, or root runs are refused).
std::string ShellIdentityWarning(const executor::ShellConfig& shell);

}  // namespace hg::app
