#include "app/executor_settings.h"

#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "app/process.h"
#include "executor/destination_policy.h"
#include "model/job.h"

namespace hg::app {
namespace {

// "cpu_seconds=60,memory_mb=512" within the job fields' ranges (model::ShellLimits).
absl::StatusOr<executor::ResourceLimits> ParseLimits(const std::string& text,
                                                     const std::string& flag) {
  model::ShellLimits limits;
  for (const std::string& item : SplitList(text)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    const model::ShellLimits::Bounds* field = nullptr;
    for (const auto& b : model::ShellLimits::kFields) {
      if (kv.first == b.name) field = &b;
    }
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, ": \"", item,
          "\" is not name=value with name cpu_seconds, memory_mb, open_files or processes"));
    }
    int64_t v = 0;
    if (!absl::SimpleAtoi(kv.second, &v) || v < field->min || v > field->max) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", field->name, " must be between ",
                                                     field->min, " and ", field->max));
    }
    limits.*field->member = v;
  }
  return executor::ResourceLimits{.cpu_seconds = limits.cpu_seconds,
                                  .memory_mb = limits.memory_mb,
                                  .open_files = limits.open_files,
                                  .processes = limits.processes};
}

}  // namespace

void AddExecutorSettings(Settings& s, const ExecutorDefaults& defaults, ExecutorFlags* f) {
  s.Add("shell-enabled", "true", "allow the shell executor", &f->shell_enabled);
  s.Add("shell-allow", "", "allowed command prefixes, comma-separated (empty: any)",
        &f->shell_allow);
  s.Add("shell-user", "",
        "user shell jobs run as (a root worker switches to it; empty: the worker's own user)",
        &f->shell_user);
  s.Add("run-as-allow", "", "users a job may name in executor.run_as, comma-separated",
        &f->run_as_allow);
  s.Add("allow-root", defaults.allow_root,
        "let shell jobs run as root (otherwise refused: a root worker needs --shell-user)",
        &f->allow_root);
  s.Add("limits-default", "",
        "resource limits of jobs that set none, e.g. cpu_seconds=600,memory_mb=1024,"
        "open_files=1024,processes=256",
        &f->limits_default);
  s.Add("limits-max", "", "the most a job's executor.limits may ask for (same form)",
        &f->limits_max);
  s.Add("http-allow", defaults.http_allow,
        "networks HTTP jobs may reach although denied by default (loopback, link-local, "
        "metadata), CIDR list, e.g. 127.0.0.1/32,10.0.0.0/8",
        &f->http_allow);
  s.Add("http-deny", "", "networks HTTP jobs may not reach in addition (CIDR list)", &f->http_deny);
}

absl::Status ResolveExecutorSettings(const ExecutorFlags& f, executor::ShellConfig* shell,
                                     executor::HttpConfig* http) {
  auto enabled = ParseSettingBool(f.shell_enabled, "--shell-enabled");
  if (!enabled.ok()) return enabled.status();
  shell->enabled = *enabled;
  shell->allowed_prefixes = SplitList(f.shell_allow);
  shell->default_user = f.shell_user;
  shell->run_as_allowed = SplitList(f.run_as_allow);
  auto allow_root = ParseSettingBool(f.allow_root, "--allow-root");
  if (!allow_root.ok()) return allow_root.status();
  shell->allow_root = *allow_root;
  auto limits_default = ParseLimits(f.limits_default, "--limits-default");
  if (!limits_default.ok()) return limits_default.status();
  shell->default_limits = *limits_default;
  auto limits_max = ParseLimits(f.limits_max, "--limits-max");
  if (!limits_max.ok()) return limits_max.status();
  shell->max_limits = *limits_max;
  auto allow = executor::ParseIpNetList(f.http_allow, "--http-allow");
  if (!allow.ok()) return allow.status();
  auto deny = executor::ParseIpNetList(f.http_deny, "--http-deny");
  if (!deny.ok()) return deny.status();
  for (const executor::IpNet& net : *allow) http->destinations.Allow(net);
  for (const executor::IpNet& net : *deny) http->destinations.Deny(net);
  return absl::OkStatus();
}

std::string ShellIdentityWarning(const executor::ShellConfig& shell) {
  if (!shell.enabled || geteuid() != 0 || !shell.default_user.empty()) return "";
  if (shell.allow_root) return "shell jobs run as root (--allow-root; --shell-user USER drops it)";
  return "running as root without --shell-user: shell jobs without run_as are refused (give "
         "--shell-user USER, "
         "or --allow-root)";
}

}  // namespace hg::app
