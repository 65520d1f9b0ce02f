// History at scale (BENCHMARKS.md "History at millions of records"): seeds a store with
// --records execution records over --jobs jobs (the first job holds --big of them, one per
// second; the others one per minute), then times JobService's history reads against it:
// the newest page, a deep cursor page, status-filtered pages (a common and a rare status) and a
// ledger window of a per-second job. Records are written through the model's codec and key
// layout (runs::PutRecordTo: record + status index entry), as the run path writes them; reads go
// through JobService as the API's do.
//
//   build/release/bench/history_bench --store=sqlite --records=1000000
//   build/release/bench/history_bench --store=etcd --records=1000000   # starts its own etcd
//
// Prints one line per query kind: p50 / p99 / max over --queries reads, and the store's size.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "api/job_service.h"
#include "common/clock.h"
#include "model/execution.h"
#include "model/job.h"
#include "model/keys.h"
#include "runs/transitions.h"
#include "store/etcd/etcd_kv.h"
#include "store/local/sqlite_kv.h"
#include "tests/fixtures/etcd_fixture.h"

namespace {

using hg::api::HistoryQuery;
using hg::api::JobService;
using hg::model::Execution;
using hg::model::ExecutionStatus;
using hg::model::JobName;

struct Flags {
  std::string store = "sqlite";
  std::string dir = "/tmp/hg-history-bench";
  int64_t records = 1'000'000;
  int jobs = 1000;
  int64_t big = 100'000;
  int queries = 200;
  int repeat = 3;  // the query set is run this many times on the seeded store (report medians)
  int failed_every = 100;      // a common filtered status: 1 %
  int timeout_every = 10'000;  // a rare one: 0.01 %
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      const std::string prefix = "--" + std::string(name) + "=";
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (auto v = value("store"))
      f.store = v;
    else if (auto v = value("dir"))
      f.dir = v;
    else if (auto v = value("records"))
      f.records = std::atoll(v);
    else if (auto v = value("jobs"))
      f.jobs = std::atoi(v);
    else if (auto v = value("big"))
      f.big = std::atoll(v);
    else if (auto v = value("queries"))
      f.queries = std::atoi(v);
    else if (auto v = value("repeat"))
      f.repeat = std::atoi(v);
    else {
      std::cerr << "unknown flag " << a << "\n";
      std::exit(2);
    }
  }
  return f;
}

void Check(const absl::Status& s, std::string_view what) {
  if (s.ok()) return;
  std::cerr << what << ": " << s << "\n";
  std::exit(1);
}

JobName NameOf(int j) { return *JobName::Parse(absl::StrFormat("job-%04d", j)); }

Execution Finished(const JobName& job, absl::Time scheduled, ExecutionStatus status,
                   absl::BitGenRef rng) {
  Execution e = hg::model::NewExecution(job, scheduled, hg::model::Trigger::kSchedule, 7, rng);
  e.status = status;
  e.start_time = scheduled + absl::Milliseconds(3);
  e.end_time = scheduled + absl::Milliseconds(40);
  e.duration_ms = 37;
  e.worker_id = "worker-1";
  e.exit_code = status == ExecutionStatus::kSuccess ? 0 : 1;
  e.output = "line of output from the job\nanother line\n";
  e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  return e;
}

// Writes every record (128 puts per transaction, `threads` writers); returns the big job's ids
// newest first.
std::vector<hg::model::ExecutionId> Seed(hg::store::Kv& kv, JobService& svc, const Flags& f,
                                         absl::Time now, int threads) {
  for (int j = 0; j < f.jobs; ++j) {
    auto job = hg::model::ParseJobRequest(
        absl::StrCat(R"({"name":")", NameOf(j).str(), R"(","cron_expr":")",
                     j == 0 ? "* * * * * *" : "0 * * * * *",
                     R"(","executor_type":"shell","executor":{"command":"true"}})"));
    Check(job.status(), "job");
    Check(svc.Upsert(*job).status(), "upsert");
  }
  const hg::model::Keys& keys = svc.keys();
  const int64_t small_each = f.jobs > 1 ? (f.records - f.big) / (f.jobs - 1) : 0;
  std::vector<hg::model::ExecutionId> big_ids(static_cast<size_t>(f.big));
  std::vector<std::thread> writers;
  std::atomic<int64_t> written{0};
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      absl::BitGen rng;
      hg::store::TxnRequest txn;
      auto flush = [&] {
        if (txn.success.empty()) return;
        auto r = kv.Txn(txn);
        Check(r.status(), "seed txn");
        for (const auto& op : txn.success) {
          const auto* put = std::get_if<hg::store::PutRequest>(&op);
          if (put != nullptr && put->key.starts_with(keys.ExecRoot())) ++written;
        }
        txn.success.clear();
      };
      for (int j = t; j < f.jobs; j += threads) {
        const JobName name = NameOf(j);
        const int64_t n = j == 0 ? f.big : small_each;
        const absl::Duration step = j == 0 ? absl::Seconds(1) : absl::Minutes(1);
        for (int64_t i = 0; i < n; ++i) {
          const int64_t k = i + 1;
          const ExecutionStatus status = k % f.timeout_every == 0  ? ExecutionStatus::kTimeout
                                         : k % f.failed_every == 0 ? ExecutionStatus::kFailed
                                                                   : ExecutionStatus::kSuccess;
          Execution e = Finished(name, now - step * k, status, rng);
          if (j == 0) big_ids[static_cast<size_t>(i)] = e.id;
          hg::runs::PutRecordTo(txn.success, keys, e);  // record + status index entry
          if (txn.success.size() >= 126) flush();
        }
      }
      flush();
    });
  }
  const absl::Time started = absl::Now();
  std::thread progress([&] {
    for (int tick = 1; written.load() < f.records - f.jobs; ++tick) {
      absl::SleepFor(absl::Milliseconds(100));
      if (tick % 100 != 0) continue;
      std::cerr << "seeded " << written.load() << " records in " << (absl::Now() - started) << "\n";
    }
  });
  for (auto& w : writers) w.join();
  progress.join();
  Check(kv.Put({.key = keys.StatusIndexReady(), .value = "1"}).status(), "index mark");
  std::cerr << "seeded " << written.load() << " records in " << (absl::Now() - started) << "\n";
  return big_ids;
}

template <typename F>
void Time(std::string_view what, int n, F&& read) {
  std::vector<double> ms;
  size_t rows = 0;
  for (int i = 0; i < n; ++i) {
    const absl::Time t0 = absl::Now();
    rows = read(i);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[static_cast<size_t>(q * (ms.size() - 1))]; };
  std::printf("%-44s p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (%zu rows)\n",
              std::string(what).c_str(), at(0.5), at(0.99), ms.back(), rows);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  hg::Clock& clock = hg::RealClock::Get();
  std::unique_ptr<hg::testing::EtcdCluster> etcd;
  std::unique_ptr<hg::store::Kv> kv;
  int threads = 1;
  if (f.store == "sqlite") {
    std::filesystem::remove_all(f.dir);
    std::filesystem::create_directories(f.dir);
    auto s = hg::store::SqliteKv::Open(f.dir + "/hourglass.db", clock);
    Check(s.status(), "sqlite");
    kv = *std::move(s);
  } else if (f.store == "etcd") {
    auto c = hg::testing::EtcdCluster::Start(
        {.extra_flags = {"--quota-backend-bytes=8589934592"}, .parent_dir = "/tmp"});
    Check(c.status(), "etcd");
    etcd = *std::move(c);
    hg::store::EtcdKvOptions o;
    o.endpoints = etcd->Endpoints();
    o.request_timeout = absl::Seconds(60);
    auto e = hg::store::EtcdKv::Create(o);
    Check(e.status(), "etcd client");
    kv = *std::move(e);
    threads = 4;
  } else {
    std::cerr << "--store=sqlite|etcd\n";
    return 2;
  }
  JobService svc(*kv, clock);
  const absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  const auto big_ids = Seed(*kv, svc, f, now, threads);
  const JobName big = NameOf(0);
  const JobName small = NameOf(1);

  auto page = [&](const JobName& name, HistoryQuery q) {
    auto p = svc.History(name, q);
    Check(p.status(), "history");
    return p->executions.size();
  };
  std::printf("store=%s records=%lld jobs=%d big=%lld\n", f.store.c_str(),
              static_cast<long long>(f.records), f.jobs, static_cast<long long>(f.big));
  for (int rep = 1; rep <= f.repeat; ++rep) {
    std::printf("-- repetition %d\n", rep);
    // The read pattern before windowed reads and the status index (JobService at ae64b8a): one
    // newest-first range over the whole history, and a status filter scanning 200 records a read.
    const std::string big_prefix = svc.keys().ExecPrefix(big);
    auto whole_range = [&](std::string upper, int64_t limit) {
      hg::store::RangeRequest r{.key = big_prefix, .range_end = std::move(upper), .limit = limit};
      r.sort_order = hg::store::SortOrder::kDescend;
      auto resp = kv->Range(r);
      Check(resp.status(), "range");
      return *std::move(resp);
    };
    Time("old read: newest page as one range", std::min(f.queries, 20),
         [&](int) { return whole_range(hg::store::PrefixEnd(big_prefix), 20).kvs.size(); });
    Time("old read: status=failed scan (1 %)", std::min(f.queries, 5), [&](int) {
      std::string upper = hg::store::PrefixEnd(big_prefix);
      size_t found = 0;
      while (found < 20) {
        auto resp = whole_range(upper, 200);
        for (const auto& kv_item : resp.kvs) {
          auto e = hg::model::ParseExecution(kv_item.value);
          if (e.ok() && e->status == ExecutionStatus::kFailed && ++found == 20) break;
        }
        if (!resp.more || resp.kvs.empty()) break;
        upper = resp.kvs.back().key;
      }
      return found;
    });
    Time("newest page (100k-record job)", f.queries, [&](int) { return page(big, {}); });
    Time("newest page (1k-record job)", f.queries, [&](int) { return page(small, {}); });
    Time("cursor page at 10..90 % depth (100k job)", f.queries, [&](int i) {
      const size_t depth = big_ids.size() / 10 * (1 + static_cast<size_t>(i % 9));
      return page(big, {.cursor = std::string(big_ids[depth].suffix())});
    });
    Time("page 50 by offset (100k job)", f.queries, [&](int) { return page(big, {.page = 50}); });
    Time("status=failed newest page (1 %)", f.queries,
         [&](int) { return page(big, {.status = ExecutionStatus::kFailed}); });
    Time("status=timeout newest page (0.01 %)", std::min(f.queries, 20),
         [&](int) { return page(big, {.status = ExecutionStatus::kTimeout}); });
    Time("status=killed (none) (100k job)", std::min(f.queries, 20),
         [&](int) { return page(big, {.status = ExecutionStatus::kKilled}); });
    Time("ledger, 1,000 instants at 50 % depth", std::min(f.queries, 50), [&](int) {
      const absl::Time to = now - absl::Seconds(f.big / 2);
      auto l = svc.GetLedger(big, {.from = to - absl::Seconds(999), .to = to});
      Check(l.status(), "ledger");
      return size_t{1000};
    });
  }
  if (auto st = kv->Status(); st.ok()) {
    std::printf("store size: %.1f MB\n", static_cast<double>(st->db_size) / 1e6);
  }
  return 0;
}
