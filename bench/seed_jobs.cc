// Seeds an etcd (or a `hourglass dev` SQLite file) with many job definitions and their cursors,
// written as JobService::Upsert writes them (model codec, runs::PutCursor) but 60 jobs per
// transaction: registering 100,000 jobs through the API is not what bench/leader measures.
//
//   build/release/bench/seed_jobs --etcd=127.0.0.1:2379 --jobs=100000 --per-second=1000
//       [--same-instant=10000] [--command=true]
//
// Job i < per-second: "* * * * * *" (every second). The next `same-instant` jobs all fire at
// second 0 of every minute (a herd); the rest fire once a minute at second i % 60.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "model/job.h"
#include "model/keys.h"
#include "runs/transitions.h"
#include "store/etcd/etcd_kv.h"
#include "store/local/sqlite_kv.h"

namespace {

struct Flags {
  std::string etcd;
  std::string sqlite;
  int jobs = 100'000;
  int per_second = 1000;
  int same_instant = 0;
  std::string command = "true";
  int threads = 4;
};

[[noreturn]] void Die(std::string_view what, const absl::Status& s) {
  std::cerr << what << ": " << s << "\n";
  std::exit(1);
}

std::string Uuid(absl::BitGen& rng) {
  uint64_t hi = absl::Uniform<uint64_t>(rng), lo = absl::Uniform<uint64_t>(rng);
  hi = (hi & ~0xF000ULL) | 0x4000ULL;
  lo = (lo & ~(0xC0ULL << 56)) | (0x80ULL << 56);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF,
                         lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::string p = std::string("--") + name + "=";
      return a.rfind(p, 0) == 0 ? argv[i] + p.size() : nullptr;
    };
    if (auto v = value("etcd"))
      f.etcd = v;
    else if (auto v = value("sqlite"))
      f.sqlite = v;
    else if (auto v = value("jobs"))
      f.jobs = std::atoi(v);
    else if (auto v = value("per-second"))
      f.per_second = std::atoi(v);
    else if (auto v = value("same-instant"))
      f.same_instant = std::atoi(v);
    else if (auto v = value("command"))
      f.command = v;
    else {
      std::cerr << "unknown flag " << a << "\n";
      return 2;
    }
  }
  std::unique_ptr<hg::store::Kv> kv;
  if (!f.etcd.empty()) {
    hg::store::EtcdKvOptions o;
    o.endpoints = {f.etcd};
    o.request_timeout = absl::Seconds(60);
    auto e = hg::store::EtcdKv::Create(o);
    if (!e.ok()) Die("etcd", e.status());
    kv = *std::move(e);
  } else if (!f.sqlite.empty()) {
    auto s = hg::store::SqliteKv::Open(f.sqlite, hg::RealClock::Get());
    if (!s.ok()) Die("sqlite", s.status());
    kv = *std::move(s);
    f.threads = 1;
  } else {
    std::cerr << "--etcd=HOST:PORT or --sqlite=FILE\n";
    return 2;
  }
  const hg::model::Keys keys;
  const absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  std::atomic<int> next{0}, written{0};
  const absl::Time started = absl::Now();
  std::vector<std::thread> writers;
  for (int t = 0; t < f.threads; ++t) {
    writers.emplace_back([&] {
      absl::BitGen rng;
      while (true) {
        const int begin = next.fetch_add(60);
        if (begin >= f.jobs) return;
        hg::store::TxnRequest txn;
        for (int i = begin; i < std::min(f.jobs, begin + 60); ++i) {
          const std::string cron = i < f.per_second ? "* * * * * *"
                                   : i < f.per_second + f.same_instant
                                       ? "0 * * * * *"
                                       : absl::StrCat(i % 60, " * * * * *");
          auto job = hg::model::ParseJobRequest(
              absl::StrCat(R"({"name":")", absl::StrFormat("job-%06d", i), R"(","cron_expr":")",
                           cron, R"(","executor_type":"shell","executor":{"command":")", f.command,
                           R"("},"labels":{"team":")", absl::StrCat("t", i % 20), R"("}})"));
          if (!job.ok()) Die("job", job.status());
          job->id = Uuid(rng);
          job->created_at = now;
          job->updated_at = now;
          txn.success.emplace_back(std::in_place_type<hg::store::PutRequest>,
                                   hg::store::PutRequest{.key = keys.Job(job->name),
                                                         .value = hg::model::SerializeJob(*job)});
          txn.success.emplace_back(std::in_place_type<hg::store::PutRequest>,
                                   hg::runs::PutCursor(keys, job->name, now));
        }
        auto r = kv->Txn(txn);
        if (!r.ok()) Die("txn", r.status());
        written += static_cast<int>(txn.success.size() / 2);
      }
    });
  }
  for (auto& w : writers) w.join();
  std::cerr << "seeded " << written.load() << " jobs in " << (absl::Now() - started) << "\n";
  return 0;
}
