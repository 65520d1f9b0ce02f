// Shared fixture of the worker tests: a SqliteKv (in memory) behind a FlakyKv, a FakeClock, a
// real ShellExecutor, and helpers that create jobs, scheduled executions and Run requests the
// way the leader does (exec record `scheduled` + pending key, then Run).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "executor/shell_executor.h"
#include "model/execution.h"
#include "model/job.h"
#include "model/keys.h"
#include "runs/transitions.h"
#include "store/kv.h"
#include "store/local/sqlite_kv.h"
#include "tests/fixtures/flaky_kv.h"
#include "tests/worker/run_one.h"
#include "worker/worker_service.h"

namespace hg::worker::testing {

// Polls `pred` (real time) until true or `timeout`; `tick` runs between polls (e.g. to move a
// FakeClock for waits that are Clock-driven).
inline bool WaitFor(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(20),
                    const std::function<void()>& tick = nullptr) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    if (tick) tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class WorkerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kv = store::SqliteKv::Open(":memory:", clock_);
    ASSERT_TRUE(kv.ok()) << kv.status();
    sqlite_ = *std::move(kv);
    kv_ = std::make_unique<FlakyKv>(*sqlite_);
    // allow_root: CI runs the tests as root.
    auto shell = executor::ShellExecutor::Create({.allow_root = true}, clock_);
    ASSERT_TRUE(shell.ok()) << shell.status();
    shell_ = *std::move(shell);
    char tmpl[] = "/tmp/hg-worker-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    workers_.clear();  // Stop() each before the executor and the store go
    shell_->Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  WorkerOptions Options(const std::string& id) {
    WorkerOptions o;
    o.worker_id = id;
    o.address = "127.0.0.1:1";
    o.capacity = 8;
    o.kill_grace = absl::Milliseconds(200);
    o.shutdown_grace = absl::ZeroDuration();  // tests that drain set their own
    o.seed = 42;
    return o;
  }

  store::LeaseId NewLease() {
    auto lease = kv_->LeaseGrant(3600);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? lease->id : 0;
  }

  // A started worker with its own session lease. Owned by the fixture.
  WorkerService& StartWorker(WorkerOptions options) {
    auto w = std::make_unique<WorkerService>(*kv_, clock_, keys_, Executors{.shell = shell_.get()},
                                             std::move(options));
    EXPECT_TRUE(w->Start().ok());
    w->AttachSession(NewLease(), [] { return true; });
    workers_.push_back(std::move(w));
    return *workers_.back();
  }
  WorkerService& StartWorker(const std::string& id = "w1") { return StartWorker(Options(id)); }

  model::Job ShellJob(const std::string& name, const std::string& command,
                      model::ConcurrencyPolicy policy = model::ConcurrencyPolicy::kAllow) {
    model::Job job;
    job.name = *model::JobName::Parse(name);
    job.cron_expr = "* * * * *";
    job.executor_type = model::ExecutorType::kShell;
    job.executor.command = command;
    job.concurrency_policy = policy;
    return job;
  }

  // What the leader's fire transaction writes (runs::Trigger: the job's definition as stored,
  // a `scheduled` record and its pending entry). The worker reads all of it from the store.
  model::ExecutionId Schedule(const model::Job& job, absl::Time at = absl::InfinitePast()) {
    if (at == absl::InfinitePast()) at = clock_.Now();
    const std::string job_key = keys_.Job(job.name);
    auto stored = store::Get(*sqlite_, job_key);
    EXPECT_TRUE(stored.ok()) << stored.status();
    const std::string value = model::SerializeJob(job);
    if (!stored.ok() || !stored->has_value() || (*stored)->value != value) {
      EXPECT_TRUE(sqlite_->Put({.key = job_key, .value = value}).ok());
      stored = store::Get(*sqlite_, job_key);
    }
    model::Execution e = model::NewExecution(job.name, at, model::Trigger::kSchedule, 1, rng_);
    auto resp = sqlite_->Txn(runs::Trigger(keys_, e, (*stored)->mod_revision, ""));
    EXPECT_TRUE(resp.ok() && resp->succeeded);
    return e.id;
  }

  // The leader's Run call for one execution (ids only; the job is not sent).
  hourglass::v1::RunRequest Request(const model::Job& job, const model::ExecutionId& id,
                                    int64_t term = 1) {
    (void)job;
    (void)term;
    hourglass::v1::RunRequest r;
    auto* item = r.add_items();
    item->set_execution_id(id.str());
    item->set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    return r;
  }

  model::Execution Record(const model::ExecutionId& id) {
    auto kv = store::Get(*sqlite_, keys_.Exec(id));
    EXPECT_TRUE(kv.ok() && kv->has_value()) << id.str();
    if (!kv.ok() || !kv->has_value()) return {};
    auto rec = model::ParseExecution((*kv)->value);
    EXPECT_TRUE(rec.ok()) << rec.status();
    return rec.ok() ? *rec : model::Execution{};
  }

  bool Exists(const std::string& key) {
    auto kv = store::Get(*sqlite_, key);
    return kv.ok() && kv->has_value();
  }

  bool IsFinal(const model::ExecutionId& id) { return model::IsFinal(Record(id).status); }

  // Waits until the record of `id` is final; `tick` as in WaitFor.
  model::Execution WaitFinal(const model::ExecutionId& id,
                             const std::function<void()>& tick = nullptr) {
    EXPECT_TRUE(WaitFor([&] { return IsFinal(id); }, absl::Seconds(20), tick)) << id.str();
    return Record(id);
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  FakeClock clock_;  // 2026-01-01T00:00:00Z, a minute boundary
  model::Keys keys_;
  std::mt19937_64 rng_{7};
  std::unique_ptr<store::SqliteKv> sqlite_;
  std::unique_ptr<FlakyKv> kv_;
  std::unique_ptr<executor::ShellExecutor> shell_;
  std::vector<std::unique_ptr<WorkerService>> workers_;
  std::string dir_;
};

}  // namespace hg::worker::testing
