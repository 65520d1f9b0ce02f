// Executor overhead against the cheapest equivalent done by hand, in the same run:
//   BM_RawSpawnWait      posix_spawn("/bin/sh -c /bin/true") + waitpid, one after the other
//   BM_ShellExecutor     the same command through ShellExecutor::Start, waiting for each result
//   BM_CurlEasyLoop      blocking curl_easy_perform on one reused handle (keep-alive)
//   BM_HttpExecutor/N    HttpExecutor with N requests in flight
//   BM_Wrk/N             `wrk -t1 -cN -d1s` (Debian's wrk) against the same server: the
//                        machine's HTTP client limit, N connections each 1 request in flight
// All HTTP cases hit GET /hello on an in-process cpp-httplib server on 127.0.0.1.
// Run: build/h-exec-rel/bench/executor_bench --benchmark_repetitions=5
//        --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <curl/curl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "executor/http_executor.h"
#include "executor/shell_executor.h"
#include "tests/executor/test_http_server.h"

extern char** environ;

namespace hg::executor {
namespace {

// Counts finished runs; the benchmark thread waits on it.
class Completions {
 public:
  DoneCallback Callback() {
    return [this](ExecResult r) {
      absl::MutexLock lock(&mu_);
      if (r.status != ExecStatus::kSuccess) ++failures_;
      ++done_;
    };
  }
  void WaitFor(int64_t n) {
    absl::MutexLock lock(&mu_);
    const auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ >= n; };
    mu_.Await(absl::Condition(&reached));
  }
  int64_t failures() {
    absl::MutexLock lock(&mu_);
    return failures_;
  }

 private:
  absl::Mutex mu_;
  int64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
};

void BM_RawSpawnWait(benchmark::State& state) {
  char sh[] = "/bin/sh", c[] = "-c", cmd[] = "/bin/true";
  char* argv[] = {sh, c, cmd, nullptr};
  for (auto _ : state) {
    pid_t pid;
    if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ) != 0) {
      state.SkipWithError("posix_spawn failed");
      break;
    }
    int status;
    waitpid(pid, &status, 0);
  }
  state.counters["runs_per_s"] =
      benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RawSpawnWait)->UseRealTime();

void BM_ShellExecutor(benchmark::State& state) {
  auto executor = ShellExecutor::Create({.allow_root = true}, RealClock::Get());
  ExecRequest request;
  request.spec = ShellSpec{.command = "/bin/true"};
  Completions done;
  int64_t started = 0;
  for (auto _ : state) {
    auto handle = (*executor)->Start(request, done.Callback());
    done.WaitFor(++started);
  }
  if (done.failures() > 0) state.SkipWithError("a run failed");
  state.counters["runs_per_s"] =
      benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ShellExecutor)->UseRealTime();

testing::TestHttpServer& Server() {
  static auto* server = new testing::TestHttpServer();
  return *server;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

void BM_CurlEasyLoop(benchmark::State& state) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* easy = curl_easy_init();
  const std::string url = Server().Url("/hello");
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Discard);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  for (auto _ : state) {
    if (curl_easy_perform(easy) != CURLE_OK) {
      state.SkipWithError("curl_easy_perform failed");
      break;
    }
  }
  curl_easy_cleanup(easy);
  state.counters["req_per_s"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CurlEasyLoop)->UseRealTime();

void BM_HttpExecutor(benchmark::State& state) {
  const int64_t in_flight = state.range(0);
  HttpConfig config;
  config.destinations.Allow(*IpNet::Parse("127.0.0.1"));  // the local test server
  auto executor = HttpExecutor::Create(std::move(config), RealClock::Get());
  ExecRequest request;
  request.spec = HttpSpec{.url = Server().Url("/hello")};
  Completions done;
  int64_t started = 0;
  for (auto _ : state) {
    if (started >= in_flight) done.WaitFor(started - in_flight + 1);  // a free slot
    (*executor)->Start(request, done.Callback());
    ++started;
  }
  done.WaitFor(started);
  if (done.failures() > 0) state.SkipWithError("a request failed");
  state.counters["req_per_s"] = benchmark::Counter(state.iterations(), benchmark::Counter::kIsRate);
}
// At most 4 in flight: Debian's cpp-httplib listens with a backlog of 5.
BENCHMARK(BM_HttpExecutor)->Arg(1)->Arg(4)->UseRealTime();

// One repetition = one 1-second wrk run; its own count and duration are the measurement.
void BM_Wrk(benchmark::State& state) {
  const std::string cmd =
      "wrk -t1 -c" + std::to_string(state.range(0)) + " -d1s " + Server().Url("/hello") + " 2>&1";
  double requests = 0, seconds = 0;
  for (auto _ : state) {
    FILE* out = popen(cmd.c_str(), "r");
    if (out == nullptr) {
      state.SkipWithError("cannot run wrk (apt-get install wrk)");
      return;
    }
    char line[512];
    while (fgets(line, sizeof line, out) != nullptr) {
      // "  12345 requests in 1.00s, 1.2MB read"
      double n = 0, s = 0;
      if (sscanf(line, " %lf requests in %lfs", &n, &s) == 2) requests += n, seconds += s;
    }
    if (pclose(out) != 0 || seconds <= 0) {
      state.SkipWithError("wrk failed (is it installed? scripts/setup installs it)");
      return;
    }
    state.SetIterationTime(seconds);
  }
  state.counters["req_per_s"] = requests / seconds;
}
BENCHMARK(BM_Wrk)->Arg(1)->Arg(4)->Iterations(1)->UseManualTime();

}  // namespace
}  // namespace hg::executor

BENCHMARK_MAIN();
