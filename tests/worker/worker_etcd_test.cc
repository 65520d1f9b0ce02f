// WorkerService on a real etcd (integration): two workers with real coord::Sessions racing for
// one Forbid job, the Forbid lock excluding `etcdctl lock` (same key layout as etcd's mutex),
// and DESIGN.md guard 3 end to end (etcd dies mid-run -> session lost -> run killed, recorded
// `killed` once etcd is back).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "coord/session.h"
#include "executor/shell_executor.h"
#include "model/execution.h"
#include "model/job.h"
#include "runs/transitions.h"
#include "store/etcd/etcd_kv.h"
#include "tests/fixtures/etcd_fixture.h"
#include "tests/worker/forbid_race.h"
#include "tests/worker/run_one.h"
#include "worker/worker_service.h"

namespace hg::worker {
namespace {

using ::hourglass::v1::RunResponse;
using model::ExecutionStatus;
using ::testing::HasSubstr;
using testing::RaceCommand;
using testing::RunForbidRace;

bool Eventually(const std::function<bool()>& cond, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A worker as `hourglass worker` wires it: service + session, loss forwarded by a listener.
struct Node {
  std::unique_ptr<coord::Session> session;
  std::unique_ptr<WorkerService> service;
};

class WorkerEtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto etcd = ::hg::testing::EtcdCluster::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = *std::move(etcd);
    store::EtcdKvOptions o;
    o.endpoints = etcd_->Endpoints();
    auto kv = store::EtcdKv::Create(o);
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = *std::move(kv);
    auto shell = executor::ShellExecutor::Create({.allow_root = true}, RealClock::Get());
    ASSERT_TRUE(shell.ok()) << shell.status();
    shell_ = *std::move(shell);
    char tmpl[] = "/tmp/hg-worker-etcd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    for (Node& n : nodes_) {
      n.service->Stop();
      n.session->Stop();
    }
    nodes_.clear();
    if (shell_) shell_->Stop();
    kv_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  WorkerService& StartNode(const std::string& id, int64_t ttl_seconds = 10) {
    Node n;
    n.session = std::make_unique<coord::Session>(*kv_, RealClock::Get(),
                                                 coord::SessionOptions{.ttl_seconds = ttl_seconds});
    EXPECT_TRUE(n.session->Start().ok());
    WorkerOptions o;
    o.worker_id = id;
    o.address = "127.0.0.1:1";
    o.kill_grace = absl::Milliseconds(200);
    o.shutdown_grace = absl::ZeroDuration();
    n.service = std::make_unique<WorkerService>(*kv_, RealClock::Get(), keys_,
                                                Executors{.shell = shell_.get()}, o);
    EXPECT_TRUE(n.service->Start().ok());
    coord::Session* s = n.session.get();
    WorkerService* w = n.service.get();
    w->AttachSession(s->lease(), [s] { return s->IsAlive(); });
    s->AddLostListener(
        [w](const absl::Status& why) { w->SessionLost(std::string(why.message())); });
    nodes_.push_back(std::move(n));
    return *w;
  }

  model::Job ForbidJob(const std::string& name, const std::string& command) {
    model::Job job;
    job.name = *model::JobName::Parse(name);
    job.cron_expr = "* * * * *";
    job.executor.command = command;
    job.concurrency_policy = model::ConcurrencyPolicy::kForbid;
    return job;
  }

  // The job as stored, a `scheduled` record and its pending entry (runs::Trigger).
  model::ExecutionId Schedule(const model::Job& job) {
    auto put = kv_->Put({.key = keys_.Job(job.name), .value = model::SerializeJob(job)});
    EXPECT_TRUE(put.ok()) << put.status();
    model::Execution e =
        model::NewExecution(job.name, absl::Now(), model::Trigger::kSchedule, 1, rng_);
    auto resp = kv_->Txn(runs::Trigger(keys_, e, put->revision, ""));
    EXPECT_TRUE(resp.ok() && resp->succeeded);
    return e.id;
  }

  hourglass::v1::RunRequest Request(const model::Job&, const model::ExecutionId& id) {
    hourglass::v1::RunRequest r;
    r.add_items()->set_execution_id(id.str());
    return r;
  }

  model::Execution Record(const model::ExecutionId& id) {
    auto kv = store::Get(*kv_, keys_.Exec(id));
    if (!kv.ok() || !kv->has_value()) return {};
    auto rec = model::ParseExecution((*kv)->value);
    return rec.ok() ? *rec : model::Execution{};
  }

  bool IsFinal(const model::ExecutionId& id) { return model::IsFinal(Record(id).status); }

  std::unique_ptr<::hg::testing::EtcdCluster> etcd_;
  std::unique_ptr<store::EtcdKv> kv_;
  std::unique_ptr<executor::ShellExecutor> shell_;
  std::vector<Node> nodes_;
  model::Keys keys_;
  std::mt19937_64 rng_{11};
  std::string dir_;
};

TEST_F(WorkerEtcdTest, ForbidNeverOverlapsAcrossTwoWorkers) {
  WorkerService& w1 = StartNode("w1");
  WorkerService& w2 = StartNode("w2");
  const std::string out = dir_ + "/intervals";
  model::Job job = ForbidJob("race", RaceCommand(out));
  RunForbidRace(
      w1, w2, out,
      {.schedule = [&] { return Schedule(job); },
       .request = [&](const model::ExecutionId& id) { return Request(job, id); },
       .wait_final =
           [&](const model::ExecutionId& id) { return Eventually([&] { return IsFinal(id); }); }});
}

TEST_F(WorkerEtcdTest, EtcdctlLockHolderMakesAForbidRunSkip) {
  WorkerService& w = StartNode("w1");
  const std::string out = dir_ + "/ran";
  model::Job job = ForbidJob("locked", absl::StrCat("echo ran >> ", out));
  const std::string lock_name = keys_.LockPrefix(job.name);  // ".../locks/locked/"
  // etcdctl lock <name> appends "/<lease hex>" itself: give it the prefix without the slash.
  std::thread holder([&] {
    auto r = etcd_->RunEtcdctl({"lock", lock_name.substr(0, lock_name.size() - 1), "sleep", "3"});
    EXPECT_TRUE(r.ok()) << r.status();
  });
  ASSERT_TRUE(Eventually([&] {
    auto r = kv_->Range(store::RangeRequest::Prefix(lock_name));
    return r.ok() && !r->kvs.empty();
  }));
  model::ExecutionId id = Schedule(job);
  auto resp = testing::RunOne(w, Request(job, id));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->outcome(), RunResponse::SKIPPED);
  EXPECT_THAT(resp->message(), HasSubstr(lock_name));  // etcdctl's key names the holder
  EXPECT_EQ(Record(id).status, ExecutionStatus::kSkipped);
  holder.join();

  model::ExecutionId next = Schedule(job);
  auto again = testing::RunOne(w, Request(job, next));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->outcome(), RunResponse::STARTED);
  ASSERT_TRUE(Eventually([&] { return IsFinal(next); }));
  EXPECT_EQ(Record(next).status, ExecutionStatus::kSuccess);
  EXPECT_EQ(ReadLines(out).size(), 1u);
}

TEST_F(WorkerEtcdTest, LosingTheSessionKillsTheRunAndRecordsItOnceEtcdIsBack) {
  WorkerService& w = StartNode("w1", /*ttl_seconds=*/3);
  model::Job job = ForbidJob("guard3", "sleep 60");
  model::ExecutionId id = Schedule(job);
  ASSERT_EQ(testing::RunOne(w, Request(job, id))->outcome(), RunResponse::STARTED);
  ASSERT_TRUE(etcd_->Kill(0).ok());
  // No keepalive answer for TTL - margin: the session is lost, the run killed, the result kept.
  ASSERT_TRUE(Eventually([&] { return w.PendingResults() == 1; }, absl::Seconds(15)));
  EXPECT_EQ(w.Health().in_flight(), 0);
  ASSERT_TRUE(etcd_->Restart(0).ok());
  ASSERT_TRUE(Eventually([&] { return w.PendingResults() == 0; }, absl::Seconds(30)));
  model::Execution rec = Record(id);
  EXPECT_EQ(rec.status, ExecutionStatus::kKilled);
  EXPECT_EQ(rec.error, "killed: session lost");
  auto locks = kv_->Range(store::RangeRequest::Prefix(keys_.LockPrefix(job.name)));
  ASSERT_TRUE(locks.ok());
  EXPECT_TRUE(locks->kvs.empty());
}

}  // namespace
}  // namespace hg::worker
