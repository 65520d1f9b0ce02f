// EtcdKv throughput and latency against a local etcd started here, side by side with a raw gRPC
// client doing the same calls on the same generated stubs (the reference: what any etcd client
// library must at least do per call). The ratio EtcdKv / raw is the cost of our layer: fail-over
// bookkeeping, deadlines, conversions. See BENCHMARKS.md "## EtcdKv" for figures and the command.
//
//   build/release/bench/etcd_kv_bench --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//
// Own flags (before Google Benchmark's): --etcd_dir=DIR (where etcd keeps its data; default
// /dev/shm so fsync latency does not hide client cost; pass /tmp for a disk-bound run), and
// --check_perf (also run `etcdctl check perf --load=s` against the same etcd and print it).
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "etcd/rpc.grpc.pb.h"
#include "store/etcd/etcd_kv.h"
#include "tests/fixtures/etcd_fixture.h"

namespace {

using hg::store::EtcdKv;

hg::testing::EtcdCluster* g_etcd = nullptr;
std::unique_ptr<EtcdKv> g_kv;
std::shared_ptr<grpc::Channel> g_channel;
std::unique_ptr<etcdserverpb::KV::Stub> g_stub;

const std::string kValue(64, 'v');

std::string KeyFor(const benchmark::State& state, const char* kind, int64_t i) {
  return absl::StrCat("/bench/", kind, "/", state.thread_index(), "/", i % 1000);
}

// Per-thread latency percentiles, averaged over threads by Google Benchmark.
class Latencies {
 public:
  void Add(absl::Duration d) { us_.push_back(absl::ToDoubleMicroseconds(d)); }
  void Report(benchmark::State& state) {
    if (us_.empty()) return;
    std::sort(us_.begin(), us_.end());
    auto at = [&](double q) { return us_[static_cast<size_t>(q * (us_.size() - 1))]; };
    state.counters["p50_us"] = benchmark::Counter(at(0.5), benchmark::Counter::kAvgThreads);
    state.counters["p99_us"] = benchmark::Counter(at(0.99), benchmark::Counter::kAvgThreads);
    state.counters["ops"] =
        benchmark::Counter(static_cast<double>(us_.size()), benchmark::Counter::kIsRate);
  }

 private:
  std::vector<double> us_;
};

// Same per-call settings as EtcdKv (deadline + wait_for_ready), so the comparison is fair.
void PrepareRaw(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  ctx.set_wait_for_ready(true);
}

void BM_EtcdKvPut(benchmark::State& state) {
  Latencies lat;
  int64_t i = 0;
  for (auto _ : state) {
    absl::Time t0 = absl::Now();
    auto r = g_kv->Put({.key = KeyFor(state, "put", i++), .value = kValue});
    lat.Add(absl::Now() - t0);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
  }
  lat.Report(state);
}

void BM_RawGrpcPut(benchmark::State& state) {
  Latencies lat;
  int64_t i = 0;
  for (auto _ : state) {
    absl::Time t0 = absl::Now();
    etcdserverpb::PutRequest req;
    req.set_key(KeyFor(state, "put", i++));
    req.set_value(kValue);
    etcdserverpb::PutResponse resp;
    grpc::ClientContext ctx;
    PrepareRaw(ctx);
    grpc::Status s = g_stub->Put(&ctx, req, &resp);
    lat.Add(absl::Now() - t0);
    if (!s.ok()) state.SkipWithError(s.error_message().c_str());
  }
  lat.Report(state);
}

// A guarded write, the shape of Hourglass's claims: If(version(key) >= 0) Then(Put key).
void BM_EtcdKvTxn(benchmark::State& state) {
  using hg::store::Compare;
  Latencies lat;
  int64_t i = 0;
  for (auto _ : state) {
    std::string key = KeyFor(state, "txn", i++);
    absl::Time t0 = absl::Now();
    auto r = g_kv->Txn({.compare = {Compare::Version(key, Compare::Result::kGreater, -1)},
                        .success = {hg::store::PutRequest{.key = key, .value = kValue}}});
    lat.Add(absl::Now() - t0);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
  }
  lat.Report(state);
}

void BM_RawGrpcTxn(benchmark::State& state) {
  Latencies lat;
  int64_t i = 0;
  for (auto _ : state) {
    std::string key = KeyFor(state, "txn", i++);
    absl::Time t0 = absl::Now();
    etcdserverpb::TxnRequest req;
    etcdserverpb::Compare* c = req.add_compare();
    c->set_key(key);
    c->set_target(etcdserverpb::Compare::VERSION);
    c->set_result(etcdserverpb::Compare::GREATER);
    c->set_version(-1);
    etcdserverpb::PutRequest* put = req.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(kValue);
    etcdserverpb::TxnResponse resp;
    grpc::ClientContext ctx;
    PrepareRaw(ctx);
    grpc::Status s = g_stub->Txn(&ctx, req, &resp);
    lat.Add(absl::Now() - t0);
    if (!s.ok()) state.SkipWithError(s.error_message().c_str());
  }
  lat.Report(state);
}

// Sequential (1 client thread) and concurrent (8 threads sharing one client).
BENCHMARK(BM_EtcdKvPut)->Threads(1)->Threads(8)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_RawGrpcPut)->Threads(1)->Threads(8)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_EtcdKvTxn)->Threads(1)->Threads(8)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_RawGrpcTxn)->Threads(1)->Threads(8)->UseRealTime()->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  std::string etcd_dir = "/dev/shm";
  bool check_perf = false;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--etcd_dir=", 11) == 0) {
      etcd_dir = argv[i] + 11;
    } else if (std::strcmp(argv[i], "--check_perf") == 0) {
      check_perf = true;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());

  auto etcd = hg::testing::EtcdCluster::Start({.parent_dir = etcd_dir});
  if (!etcd.ok()) {
    std::cerr << "etcd_kv_bench: cannot start etcd: " << etcd.status() << "\n";
    return 1;
  }
  g_etcd = etcd->get();
  auto kv = EtcdKv::Create({.endpoints = g_etcd->Endpoints()});
  if (!kv.ok()) {
    std::cerr << "etcd_kv_bench: " << kv.status() << "\n";
    return 1;
  }
  g_kv = std::move(*kv);
  g_channel = grpc::CreateChannel(g_etcd->Endpoint(0), grpc::InsecureChannelCredentials());
  g_stub = etcdserverpb::KV::NewStub(g_channel);
  std::cout << "etcd " << g_etcd->Endpoint(0) << " data under " << etcd_dir << "\n";

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  if (check_perf) {
    // check perf runs for 60 s after its own set-up.
    auto r = g_etcd->RunEtcdctl({"check", "perf", "--load=s"}, true, -1, absl::Seconds(180));
    if (r.ok()) {
      // Only its verdict lines; the rest is a progress bar.
      std::cout << "etcdctl check perf --load=s (exit " << r->exit_code << "):\n";
      for (absl::string_view line : absl::StrSplit(r->out, absl::ByAnyChar("\r\n"))) {
        if (absl::StartsWith(line, "PASS") || absl::StartsWith(line, "FAIL")) {
          std::cout << "  " << line << "\n";
        }
      }
    } else {
      std::cerr << "etcdctl check perf: " << r.status() << "\n";
    }
  }
  g_stub.reset();
  g_channel.reset();
  g_kv.reset();
  return 0;
}
