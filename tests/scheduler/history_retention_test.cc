// HistoryRetention against a real SqliteKv, driven by a FakeClock: each job keeps at most its
// history_limit final records, live runs are never deleted, a record that changes between read
// and delete is left alone, and the loop prunes what the scheduler reports.
#include "scheduler/history_retention.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "model/execution.h"
#include "model/job.h"
#include "runs/transitions.h"
#include "store/local/sqlite_kv.h"
#include "store/request_checks.h"
#include "tests/fixtures/forwarding_kv.h"
#include "tests/fixtures/temp_sqlite_kv.h"

namespace hg::scheduler {
namespace {

constexpr int64_t kBase = 1'767'225'600;  // 2026-01-01T00:00:00Z
using model::ExecutionStatus;

// Forwards to a real store; before the first Txn it runs `before_txn` (a concurrent writer).
class RacingKv final : public hg::testing::ForwardingKv {
 public:
  using ForwardingKv::ForwardingKv;
  std::function<void()> before_txn;

  absl::StatusOr<store::TxnResponse> Txn(const store::TxnRequest& r) override {
    if (before_txn) std::exchange(before_txn, nullptr)();
    return ForwardingKv::Txn(r);
  }
};

class HistoryRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<testing::TempSqliteKv>(clock_, "retention");
    ASSERT_TRUE(store_->ok());
    kv_ = &store_->kv();
  }

  model::JobName PutJob(const std::string& name, int history_limit) {
    auto job = model::ParseJobRequest(R"({"name":")" + name +
                                      R"(","cron_expr":"* * * * * *","executor_type":"shell",)"
                                      R"("executor":{"command":"true"},"history_limit":)" +
                                      std::to_string(history_limit) + "}");
    EXPECT_TRUE(job.ok()) << job.status();
    EXPECT_TRUE(kv_->Put({.key = keys_.Job(job->name), .value = model::SerializeJob(*job)}).ok());
    return job->name;
  }

  // Records at kBase + first .. kBase + first + n - 1 seconds, with `status`, written as the run
  // path writes them (with their status index entries) unless `unindexed` (an older store).
  void AddRecords(const model::JobName& job, int first, int n, ExecutionStatus status,
                  bool unindexed = false) {
    for (int i = first; i < first + n; ++i) {
      model::Execution e = model::NewExecution(job, absl::FromUnixSeconds(kBase + i),
                                               model::Trigger::kSchedule, 1, rng_);
      e.status = status;
      store::TxnRequest txn;
      runs::PutRecordTo(txn.success, keys_, e);
      if (unindexed) txn.success.resize(1);
      ASSERT_TRUE(kv_->Txn(txn).ok());
    }
  }

  // Scheduled seconds (relative to kBase) of the job's status index entries, oldest first.
  std::vector<int64_t> Indexed(const model::JobName& job) {
    auto r = kv_->Range(store::RangeRequest::Prefix(keys_.StatusIndexOf(job)));
    std::vector<int64_t> out;
    for (const auto& kv : r->kvs) {
      auto id = model::ExecutionId::FromSuffix(job, kv.key.substr(kv.key.rfind('/') + 1));
      out.push_back(absl::ToUnixSeconds(id->scheduled()) - kBase);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Scheduled seconds (relative to kBase) of the job's records, oldest first.
  std::vector<int64_t> Remaining(const model::JobName& job) {
    auto r = kv_->Range(store::RangeRequest::Prefix(keys_.ExecPrefix(job)));
    std::vector<int64_t> out;
    for (const auto& kv : r->kvs) {
      out.push_back(absl::ToUnixSeconds(model::ParseExecution(kv.value)->scheduled_time) - kBase);
    }
    return out;
  }

  template <typename F>
  bool WaitFor(F cond) {
    for (int i = 0; i < 5000; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return cond();
  }

  FakeClock clock_{absl::FromUnixSeconds(kBase)};
  model::Keys keys_;
  std::mt19937_64 rng_{42};
  std::unique_ptr<testing::TempSqliteKv> store_;
  store::SqliteKv* kv_ = nullptr;
};

TEST_F(HistoryRetentionTest, KeepsTheNewestRecordsUpToTheLimit) {
  auto job = PutJob("a", 3);
  AddRecords(job, 0, 10, ExecutionStatus::kSuccess);
  HistoryRetention retention(*kv_, clock_, keys_, {});
  auto deleted = retention.PruneJob(job, 3);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 7);
  EXPECT_EQ(Remaining(job), (std::vector<int64_t>{7, 8, 9}));
  // Idempotent: nothing more to do.
  EXPECT_EQ(*retention.PruneJob(job, 3), 0);
}

TEST_F(HistoryRetentionTest, DeletesTheStatusIndexEntriesOfWhatItDeletes) {
  auto job = PutJob("a", 3);
  AddRecords(job, 0, 4, ExecutionStatus::kSuccess);
  AddRecords(job, 4, 3, ExecutionStatus::kFailed);
  AddRecords(job, 7, 3, ExecutionStatus::kTimeout);
  ASSERT_EQ(Indexed(job).size(), 10u);
  HistoryRetention retention(*kv_, clock_, keys_, {});
  ASSERT_EQ(*retention.PruneJob(job, 3), 7);
  EXPECT_EQ(Remaining(job), (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(Indexed(job), (std::vector<int64_t>{7, 8, 9}));
}

TEST_F(HistoryRetentionTest, BackfillIndexesAnOlderStoreOnceAndMarksIt) {
  auto job = PutJob("a", 100);
  AddRecords(job, 0, 5, ExecutionStatus::kSuccess, /*unindexed=*/true);
  AddRecords(job, 5, 2, ExecutionStatus::kFailed, /*unindexed=*/true);
  AddRecords(job, 7, 1, ExecutionStatus::kRunning, /*unindexed=*/true);  // live: not indexed
  ASSERT_TRUE(Indexed(job).empty());
  HistoryRetention retention(*kv_, clock_, keys_, {});
  auto written = retention.BackfillStatusIndex();
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, 7);
  EXPECT_EQ(Indexed(job), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  auto failed = kv_->Range(
      store::RangeRequest::Prefix(keys_.StatusIndexPrefix(job, ExecutionStatus::kFailed)));
  EXPECT_EQ(failed->kvs.size(), 2u);
  EXPECT_TRUE(store::Get(*kv_, keys_.StatusIndexReady())->has_value());
  EXPECT_EQ(*retention.BackfillStatusIndex(), 0);  // marked: done once per store
}

TEST_F(HistoryRetentionTest, NeverDeletesLiveRuns) {
  auto job = PutJob("a", 2);
  AddRecords(job, 0, 1, ExecutionStatus::kRunning);    // oldest, still running
  AddRecords(job, 1, 1, ExecutionStatus::kScheduled);  // waiting for a worker
  AddRecords(job, 2, 4, ExecutionStatus::kFailed);
  HistoryRetention retention(*kv_, clock_, keys_, {});
  auto deleted = retention.PruneJob(job, 2);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  // 6 records, limit 2: the 4 oldest are beyond it, but 2 of those are live.
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(Remaining(job), (std::vector<int64_t>{0, 1, 4, 5}));
}

TEST_F(HistoryRetentionTest, WorksOffALargeExcessAcrossTransactions) {
  auto job = PutJob("a", 1);
  AddRecords(job, 0, 300, ExecutionStatus::kSuccess);
  HistoryRetention retention(*kv_, clock_, keys_, {.max_txn_ops = 50});
  auto deleted = retention.PruneJob(job, 1);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 299);
  EXPECT_EQ(Remaining(job), (std::vector<int64_t>{299}));
}

TEST_F(HistoryRetentionTest, ASweepOfManyJobsCostsAFewTransactions) {
  // Before: one guarded delete transaction (a raft proposal) per job per sweep — at 1,000
  // per-second jobs about 0.1 proposals per run for retention alone.
  std::vector<model::JobName> jobs;
  for (int i = 0; i < 200; ++i) {
    jobs.push_back(PutJob("j" + std::to_string(i), 2));
    AddRecords(jobs.back(), 0, 5, ExecutionStatus::kSuccess);
  }
  std::atomic<int> writes{0};
  struct CountingKv final : hg::testing::ForwardingKv {
    using ForwardingKv::ForwardingKv;
    std::atomic<int>* writes = nullptr;
    absl::StatusOr<store::TxnResponse> Txn(const store::TxnRequest& r) override {
      if (store::TxnMayWrite(r)) ++*writes;
      return ForwardingKv::Txn(r);
    }
  } store(*kv_);
  store.writes = &writes;
  // A store whose status index is complete (the one-time backfill is not what this measures).
  ASSERT_TRUE(kv_->Put({.key = keys_.StatusIndexReady(), .value = "1"}).ok());
  HistoryRetention sweeping(store, clock_, keys_, {});
  std::thread loop([&] { sweeping.RunAsLeader(); });
  ASSERT_TRUE(WaitFor([&] { return sweeping.sweeps() >= 1; }));
  sweeping.Stop();
  loop.join();
  for (const auto& job : jobs) EXPECT_EQ(Remaining(job), (std::vector<int64_t>{3, 4})) << job.str();
  EXPECT_LE(writes.load(), 3);  // 200 changes of 1 op: two transactions under etcd's 128-op rule
}

TEST_F(HistoryRetentionTest, ARecordChangedMeanwhileIsNotDeletedBlindly) {
  auto job = PutJob("a", 2);
  AddRecords(job, 0, 5, ExecutionStatus::kSuccess);
  RacingKv racing(*kv_);
  // Between our read and our delete, someone rewrites the oldest record as a live run (as a
  // re-dispatch would): the guarded delete fails, the next round re-reads and keeps it.
  racing.before_txn = [&] {
    auto oldest = kv_->Range(store::RangeRequest::Prefix(keys_.ExecPrefix(job)));
    auto rec = model::ParseExecution(oldest->kvs.front().value);
    rec->status = ExecutionStatus::kRunning;
    ASSERT_TRUE(
        kv_->Put({.key = oldest->kvs.front().key, .value = model::SerializeExecution(*rec)}).ok());
  };
  HistoryRetention retention(racing, clock_, keys_, {});
  auto deleted = retention.PruneJob(job, 2);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(Remaining(job), (std::vector<int64_t>{0, 3, 4}));
}

TEST_F(HistoryRetentionTest, LoopSweepsAllAtStartThenWhatTheSchedulerReports) {
  auto a = PutJob("a", 2);
  AddRecords(a, 0, 5, ExecutionStatus::kSuccess);
  HistoryRetention retention(
      *kv_, clock_, keys_,
      {.sweep_interval = absl::Seconds(10), .full_sweep_interval = absl::Minutes(10)});
  std::thread loop([&] { retention.RunAsLeader(); });
  // The full sweep at the start of a term.
  ASSERT_TRUE(WaitFor([&] { return retention.sweeps() == 1; }));
  EXPECT_EQ(Remaining(a), (std::vector<int64_t>{3, 4}));
  // A job created since, with records the scheduler reports: pruned at the next sweep only.
  auto b = PutJob("b", 2);
  AddRecords(b, 0, 4, ExecutionStatus::kSuccess);
  retention.MarkDirty("b");
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(retention.sweeps(), 1);
  EXPECT_EQ(Remaining(b).size(), 4u);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(WaitFor([&] { return retention.sweeps() == 2; }));
  EXPECT_EQ(Remaining(b), (std::vector<int64_t>{2, 3}));
  // Records nobody reported (a manual trigger through the API) wait for the next full sweep.
  AddRecords(a, 10, 3, ExecutionStatus::kSuccess);
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(WaitFor([&] { return retention.sweeps() == 3; }));
  EXPECT_EQ(Remaining(a).size(), 5u);
  clock_.Advance(absl::Minutes(10));
  ASSERT_TRUE(WaitFor([&] { return retention.sweeps() == 4; }));
  EXPECT_EQ(Remaining(a), (std::vector<int64_t>{11, 12}));
  retention.Stop();
  loop.join();
}

}  // namespace
}  // namespace hg::scheduler
