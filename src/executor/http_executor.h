// HttpExecutor: runs HttpSpec jobs with libcurl (see executor.h for the contract).
//
// Threads. One thread per executor drives one libcurl multi handle (curl_multi_poll, woken by
// curl_multi_wakeup when a run or a Kill() is posted), so concurrent requests cost sockets,
// not threads. libcurl may still use a short-lived resolver thread per DNS lookup.
//
// Request: method, URL (http/https only, also for redirects), headers, body; a `traceparent`
// header carries ExecRequest::traceparent (replacing one given in the spec); TLS peer and host
// verification are on unless the spec turns them off; redirects are followed up to
// max_redirects. The whole transfer is bounded by ExecRequest::timeout (`timeout` status).
//
// Result: `success` when the final status matches expected_status (default 2xx), else `failed`
// ("unexpected HTTP status 500 (expected 2xx)"); transport errors are `failed` with libcurl's
// message ("Could not resolve host: example.invalid"); a destination the policy refuses is
// `failed` with cause kRefused ("destination 127.0.0.1 refused (loopback); ..."). The first
// output_cap bytes of the body are kept as `output`; the rest is counted and dropped.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "executor/destination_policy.h"
#include "executor/executor.h"

namespace hg::executor {

struct HttpConfig {
  std::string user_agent = "hourglass";
  std::string ca_file;  // empty = the system's CA bundle
  // Which addresses a request may connect to (destination_policy.h); checked on the address
  // libcurl is about to connect to, for every connection of every redirect hop. A refused
  // connection ends the run `failed` with cause kRefused. Proxy variables (http_proxy, ...) are
  // ignored: a proxy would make the policy judge the proxy instead of the destination.
  DestinationPolicy destinations;
};

class HttpExecutor final : public Executor {
 public:
  // Initializes libcurl (once per process) and starts the executor thread. `clock` must outlive
  // the executor.
  static absl::StatusOr<std::unique_ptr<HttpExecutor>> Create(HttpConfig config,
                                                              const Clock& clock);
  ~HttpExecutor() override;

  std::unique_ptr<RunHandle> Start(const ExecRequest& request, DoneCallback on_done) override;
  void Stop() override;

  class Impl;

 private:
  explicit HttpExecutor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hg::executor
