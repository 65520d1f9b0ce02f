// GroupCommit on a real SqliteKv: concurrent changes share transactions, each keeps its own
// outcome; guards, conflicting keys and etcd's limits (docs/design/execution.md "Group commit").
#include "runs/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "store/local/sqlite_kv.h"
#include "tests/fixtures/forwarding_kv.h"

namespace hg::runs {
namespace {

using store::Compare;

// Counts the transactions that reach the store; each waits `delay` so callers pile up.
class SlowCountingKv final : public hg::testing::ForwardingKv {
 public:
  explicit SlowCountingKv(store::Kv& inner) : ForwardingKv(inner) {}
  std::atomic<int> txns{0};
  absl::Duration delay = absl::ZeroDuration();
  absl::StatusOr<store::TxnResponse> Txn(const store::TxnRequest& r) override {
    ++txns;
    absl::SleepFor(delay);
    return inner().Txn(r);
  }
};

store::TxnRequest PutIfAbsent(const std::string& key, const std::string& value) {
  return {.compare = {Compare::Version(key, Compare::Result::kEqual, 0)},
          .success = {store::PutRequest{.key = key, .value = value}},
          .failure = {store::RangeRequest::Key(key)}};
}

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kv = store::SqliteKv::Open(":memory:", clock_);
    ASSERT_TRUE(kv.ok());
    sqlite_ = *std::move(kv);
    kv_ = std::make_unique<SlowCountingKv>(*sqlite_);
  }
  FakeClock clock_;
  std::unique_ptr<store::SqliteKv> sqlite_;
  std::unique_ptr<SlowCountingKv> kv_;
};

TEST_F(GroupCommitTest, EachChangeKeepsItsOwnOutcomeInOneTransaction) {
  ASSERT_TRUE(sqlite_->Put({.key = "taken", .value = "x"}).ok());
  GroupCommit commits(*kv_, {});
  std::vector<store::TxnRequest> changes = {PutIfAbsent("a", "1"), PutIfAbsent("taken", "2"),
                                            PutIfAbsent("b", "3")};
  std::vector<GroupCommit::Result> r = commits.CommitAll(std::move(changes));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[0].answered() && r[0].succeeded);
  EXPECT_TRUE(r[1].answered() && !r[1].succeeded);  // its own guard failed; the others wrote
  ASSERT_EQ(r[1].responses.size(), 1u);
  EXPECT_EQ(std::get<store::RangeResponse>(r[1].responses[0]).kvs[0].value, "x");
  EXPECT_TRUE(r[2].answered() && r[2].succeeded);
  EXPECT_EQ(kv_->txns.load(), 1);
  EXPECT_EQ(r[0].revision, r[2].revision);  // one revision for the batch
  EXPECT_EQ(commits.transactions(), 1);
  EXPECT_EQ(commits.changes(), 3);
}

TEST_F(GroupCommitTest, ConcurrentCallersShareTransactions) {
  kv_->delay = absl::Milliseconds(20);  // a slow store: callers pile up behind the first
  GroupCommit commits(*kv_, {});
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      GroupCommit::Result r = commits.Commit(PutIfAbsent("k" + std::to_string(i), "v"));
      if (r.answered() && r.succeeded) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_LT(kv_->txns.load(), 20) << "group commit did not group";
  EXPECT_EQ(commits.changes(), 40);
}

TEST_F(GroupCommitTest, AFailedGuardWritesNothingAndSaysSo) {
  GroupCommit commits(*kv_, {.guard = {Compare::Version("leader", Compare::Result::kGreater, 0)}});
  GroupCommit::Result r = commits.Commit(PutIfAbsent("a", "1"));
  EXPECT_TRUE(r.status.ok());
  EXPECT_TRUE(r.guard_failed);
  EXPECT_FALSE(r.answered());
  EXPECT_FALSE(store::Get(*sqlite_, "a")->has_value());
  ASSERT_TRUE(sqlite_->Put({.key = "leader", .value = "me"}).ok());
  EXPECT_TRUE(commits.Commit(PutIfAbsent("a", "1")).succeeded);
}

TEST_F(GroupCommitTest, ChangesWritingOneKeyGoInSeparateTransactionsInOrder) {
  GroupCommit commits(*kv_, {});
  store::TxnRequest first{.success = {store::PutRequest{.key = "same", .value = "1"}}};
  store::TxnRequest second{.success = {store::PutRequest{.key = "same", .value = "2"}}};
  std::vector<GroupCommit::Result> r = commits.CommitAll({first, second});
  EXPECT_TRUE(r[0].succeeded && r[1].succeeded);
  EXPECT_LT(r[0].revision, r[1].revision);
  EXPECT_EQ((*store::Get(*sqlite_, "same"))->value, "2");
}

TEST_F(GroupCommitTest, BatchesStayWithinEtcdsOpLimit) {
  GroupCommit commits(*kv_, {});
  std::vector<store::TxnRequest> changes;
  for (int i = 0; i < 300; ++i) changes.push_back(PutIfAbsent("k" + std::to_string(i), "v"));
  std::vector<GroupCommit::Result> r = commits.CommitAll(std::move(changes));
  for (const auto& one : r) ASSERT_TRUE(one.answered() && one.succeeded) << one.status;
  // SqliteKv enforces etcd's 128-op rule: N nested changes of 1 op each need N + 1 <= 128.
  EXPECT_GE(kv_->txns.load(), 3);
  EXPECT_LE(kv_->txns.load(), 4);
}

TEST_F(GroupCommitTest, StoreErrorsReachEveryChangeOfTheBatch) {
  GroupCommit commits(*kv_, {});
  store::TxnRequest bad{.success = {store::PutRequest{.key = "", .value = "no key"}}};
  std::vector<GroupCommit::Result> r = commits.CommitAll({PutIfAbsent("a", "1"), bad});
  // The store refused the batch: each change is tried alone, so only the bad one fails.
  EXPECT_TRUE(r[0].succeeded);
  EXPECT_TRUE(absl::IsInvalidArgument(r[1].status)) << r[1].status;
}

}  // namespace
}  // namespace hg::runs
