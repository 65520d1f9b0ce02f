// Shared fixture of the api tests: a JobService over an in-memory SqliteKv on a FakeClock.
#pragma once

#include <memory>
#include <random>
#include <string>

#include "api/job_service.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "model/job.h"
#include "runs/entries.h"
#include "runs/transitions.h"
#include "store/local/sqlite_kv.h"

namespace hg::api::testing {

class ServiceFixture : public ::testing::Test {
 protected:
  static std::unique_ptr<store::SqliteKv> OpenKv(Clock& clock) {
    auto kv = store::SqliteKv::Open(":memory:", clock);
    if (!kv.ok()) {
      ADD_FAILURE() << kv.status();
      return nullptr;
    }
    return *std::move(kv);
  }

  // A valid job from a request body; fails the test on a validation error.
  static model::Job ParseJob(const std::string& body) {
    auto job = model::ParseJobRequest(body);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? *job : model::Job{};
  }
  static model::Job ShellJob(const std::string& name, const std::string& extra = "") {
    return ParseJob(
        R"({"name":")" + name +
        R"(","cron_expr":"0 */5 * * * *","executor_type":"shell","executor":{"command":"true"})" +
        (extra.empty() ? "" : "," + extra) + "}");
  }
  static model::JobName Name(const std::string& name) { return *model::JobName::Parse(name); }

  // Stores an execution record of `job` at `scheduled` with `status` (as the leader would).
  model::Execution PutExecution(const std::string& job, absl::Time scheduled,
                                model::ExecutionStatus status) {
    model::Execution e =
        model::NewExecution(Name(job), scheduled, model::Trigger::kSchedule, 1, rng_);
    e.status = status;
    PutRecord(e);
    return e;
  }
  // Writes `e` as the run path does: the record and, once final, its status index entry.
  void PutRecord(const model::Execution& e) {
    store::TxnRequest txn;
    runs::PutRecordTo(txn.success, service_.keys(), e);
    auto put = kv_->Txn(txn);
    EXPECT_TRUE(put.ok()) << put.status();
  }
  // Marks the store's status index complete, as the leader's backfill does.
  void MarkIndexed() {
    ASSERT_TRUE(kv_->Put({.key = service_.keys().StatusIndexReady(), .value = "1"}).ok());
  }
  // The protocol state that goes with the record: queued (pending/) or claimed (inflight/).
  void MarkQueued(const model::ExecutionId& id) {
    ASSERT_TRUE(
        kv_->Put({.key = service_.keys().Pending(id), .value = runs::EncodePending({})}).ok());
  }
  void MarkClaimed(const model::ExecutionId& id) {
    ASSERT_TRUE(kv_->Put({.key = service_.keys().Inflight(id),
                          .value = runs::EncodeInflight({.worker_id = "w1", .lease = 7})})
                    .ok());
  }

  FakeClock clock_;
  std::unique_ptr<store::SqliteKv> kv_ = OpenKv(clock_);
  JobService service_{*kv_, clock_};
  std::mt19937 rng_{1234};
};

}  // namespace hg::api::testing
