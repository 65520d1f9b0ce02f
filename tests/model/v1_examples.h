// The v1 documentation's request bodies, byte for byte (V1-API.md): shared by the model and API
// tests so that both check exactly what existing users send.
#pragma once

namespace hg::testing {

inline constexpr char kV1ShellJob[] = R"json({
  "name": "my-first-shell-job",
  "cron_expr": "*/10 * * * * *",
  "executor_type": "shell",
  "executor": {
    "command": "echo Hello from a distributed cron job on $(date)"
  },
  "concurrency_policy": "Forbid",
  "retry_policy": {
    "max_retries": 3,
    "backoff": "5s"
  }
})json";

inline constexpr char kV1HttpJob[] = R"json({
  "name": "my-http-job",
  "cron_expr": "*/15 * * * * *",
  "executor_type": "http",
  "executor": {
    "url": "https://httpbin.org/get",
    "method": "GET"
  }
})json";

}  // namespace hg::testing
