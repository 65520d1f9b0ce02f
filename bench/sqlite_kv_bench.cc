// SqliteKv throughput: Put, CAS Txn and watch delivery, next to the machine's limit for the same
// durability (a raw sqlite3 INSERT + COMMIT loop with the same pragmas, in the same run).
//
//   build/release/bench/sqlite_kv_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
//
// Files go to $HG_BENCH_DIR, else $TMPDIR, else /tmp. Figures: BENCHMARKS.md "SqliteKv".
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "store/local/sqlite_kv.h"

namespace hg::store {
namespace {

// A fresh directory, removed afterwards.
class BenchDir {
 public:
  BenchDir() {
    const char* base = getenv("HG_BENCH_DIR");
    if (base == nullptr || *base == '\0') base = getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/hg-kv-bench-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) abort();
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

SqliteKv::Synchronous SyncOf(const benchmark::State& state) {
  return state.range(0) == 0 ? SqliteKv::Synchronous::kFull : SqliteKv::Synchronous::kNormal;
}

std::unique_ptr<SqliteKv> OpenOrDie(const std::string& path, SqliteKv::Synchronous sync) {
  auto kv = SqliteKv::Open(path, RealClock::Get(), {.synchronous = sync});
  if (!kv.ok()) {
    fprintf(stderr, "open: %s\n", std::string(kv.status().message()).c_str());
    abort();
  }
  return std::move(*kv);
}

// The limit: one INSERT of a (key, value) row per transaction, WAL + the same synchronous level
// and exclusive locking as SqliteKv.
void BM_RawSqliteInsertCommit(benchmark::State& state) {
  BenchDir dir;
  sqlite3* db = nullptr;
  sqlite3_open(dir.File("raw.db").c_str(), &db);
  sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;", nullptr, nullptr,
               nullptr);
  sqlite3_exec(db, state.range(0) == 0 ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
               nullptr, nullptr, nullptr);
  sqlite3_exec(db, "CREATE TABLE t(key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID", nullptr,
               nullptr, nullptr);
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO t VALUES(?1, ?2)", -1, &ins, nullptr);
  int64_t i = 0;
  std::string value(100, 'v');
  for (auto _ : state) {
    std::string key = absl::StrCat("bench/", i++ % 1000);
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_bind_blob(ins, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(ins, 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(ins) != SQLITE_DONE) abort();
    sqlite3_reset(ins);
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) abort();
  }
  sqlite3_finalize(ins);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawSqliteInsertCommit)->ArgName("normal")->Arg(0)->Arg(1)->UseRealTime();

void BM_Put(benchmark::State& state) {
  BenchDir dir;
  auto kv = OpenOrDie(dir.File("kv.db"), SyncOf(state));
  int64_t i = 0;
  std::string value(100, 'v');
  for (auto _ : state) {
    auto r = kv->Put({.key = absl::StrCat("bench/", i++ % 1000), .value = value});
    if (!r.ok()) abort();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Put)->ArgName("normal")->Arg(0)->Arg(1)->UseRealTime();

// Read the counter, then Txn(If mod_revision unchanged Then put counter+1): two calls, one write.
void BM_TxnCas(benchmark::State& state) {
  BenchDir dir;
  auto kv = OpenOrDie(dir.File("kv.db"), SyncOf(state));
  if (!kv->Put({.key = "counter", .value = "0"}).ok()) abort();
  for (auto _ : state) {
    auto cur = Get(*kv, "counter");
    if (!cur.ok() || !cur->has_value()) abort();
    int64_t n = std::stoll((*cur)->value);
    auto r = kv->Txn({.compare = {Compare::ModRevision("counter", Compare::Result::kEqual,
                                                       (*cur)->mod_revision)},
                      .success = {PutRequest{.key = "counter", .value = std::to_string(n + 1)}}});
    if (!r.ok() || !r->succeeded) abort();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TxnCas)->ArgName("normal")->Arg(0)->Arg(1)->UseRealTime();

// Watch catch-up: 10,000 events already in history, a watch from their first revision; timed
// until the handler has seen them all (history reads + handler calls, no writes).
void BM_WatchCatchUp(benchmark::State& state) {
  constexpr int kEvents = 10'000;
  BenchDir dir;
  auto kv = OpenOrDie(dir.File("kv.db"), SqliteKv::Synchronous::kNormal);
  Revision first = 0;
  for (int i = 0; i < kEvents; ++i) {
    auto r = kv->Put({.key = absl::StrCat("w/", i % 100), .value = "v"});
    if (!r.ok()) abort();
    if (i == 0) first = r->revision;
  }
  for (auto _ : state) {
    std::atomic<int64_t> seen{0};
    auto w = kv->StartWatch(WatchRequest::Prefix("w/", first), [&](const WatchResponse& r) {
      seen.fetch_add(static_cast<int64_t>(r.events.size()));
    });
    if (!w.ok()) abort();
    while (seen.load() < kEvents) std::this_thread::yield();
    (*w)->Cancel();
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
}
BENCHMARK(BM_WatchCatchUp)->UseRealTime()->Unit(benchmark::kMillisecond);

// Live watch: puts on a file store (synchronous as the argument) with a prefix watch; timed from
// the first put until the last event was delivered.
void BM_WatchLive(benchmark::State& state) {
  constexpr int kPuts = 200;
  BenchDir dir;
  auto kv = OpenOrDie(dir.File("kv.db"), SyncOf(state));
  std::atomic<int64_t> seen{0};
  auto w = kv->StartWatch(WatchRequest::Prefix("w/"), [&](const WatchResponse& r) {
    seen.fetch_add(static_cast<int64_t>(r.events.size()));
  });
  if (!w.ok()) abort();
  for (auto _ : state) {
    int64_t target = seen.load() + kPuts;
    for (int i = 0; i < kPuts; ++i) {
      if (!kv->Put({.key = absl::StrCat("w/", i), .value = "v"}).ok()) abort();
    }
    while (seen.load() < target) std::this_thread::yield();
  }
  (*w)->Cancel();
  state.SetItemsProcessed(state.iterations() * kPuts);
}
BENCHMARK(BM_WatchLive)
    ->ArgName("normal")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hg::store

BENCHMARK_MAIN();
