// SqliteKv: the shared conformance suite (in memory and on disk) plus what only a local store
// has: durability across reopen, stale lease keys at reopen, bounded history, query plans.
#include "store/local/sqlite_kv.h"

#include <sqlite3.h>

#include <atomic>
#include <map>
#include <set>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/request_checks.h"
#include "tests/store/kv_conformance.h"
#include "tests/store/sqlite_kv_test_util.h"

namespace hg::store::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class SqliteKvFactory : public KvFactory {
 public:
  explicit SqliteKvFactory(bool on_disk) : on_disk_(on_disk) {}

  std::unique_ptr<Kv> Make() override {
    auto kv = SqliteKv::Open(on_disk_ ? dir_.File("kv.db") : ":memory:", clock_);
    EXPECT_TRUE(kv.ok()) << kv.status();
    return kv.ok() ? std::move(*kv) : nullptr;
  }
  void AdvanceTime(absl::Duration d) override { clock_.Advance(d); }

 private:
  bool on_disk_;
  FakeClock clock_;
  TempDir dir_;
};

HG_KV_CONFORMANCE_SUITE(SqliteMemory, [] { return std::make_unique<SqliteKvFactory>(false); });
HG_KV_CONFORMANCE_SUITE(SqliteFile, [] { return std::make_unique<SqliteKvFactory>(true); });

std::unique_ptr<SqliteKv> MustOpen(const std::string& path, Clock& clock,
                                   SqliteKv::Options options = {}) {
  auto kv = SqliteKv::Open(path, clock, options);
  EXPECT_TRUE(kv.ok()) << kv.status();
  return kv.ok() ? std::move(*kv) : nullptr;
}

Revision MustPut(Kv& kv, const std::string& key, const std::string& value, LeaseId lease = 0) {
  auto r = kv.Put({.key = key, .value = value, .lease = lease});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->revision : -1;
}

std::vector<std::string> Keys(Kv& kv, const std::string& prefix) {
  auto r = kv.Range(RangeRequest::Prefix(prefix));
  EXPECT_TRUE(r.ok()) << r.status();
  std::vector<std::string> keys;
  if (r.ok()) {
    for (const auto& k : r->kvs) keys.push_back(k.key);
  }
  return keys;
}

// Collects watch events; waits on a condition (real time) for a count.
class Events {
 public:
  WatchHandler Handler() {
    return [this](const WatchResponse& r) {
      absl::MutexLock lock(&mu_);
      if (!r.status.ok()) final_ = r.status;
      for (const auto& e : r.events) events_.push_back(e);
    };
  }
  std::vector<WatchEvent> Wait(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return events_.size() >= n || !final_.ok();
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return events_;
  }
  absl::Status WaitFinal() {
    absl::MutexLock lock(&mu_);
    auto done = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !final_.ok(); };
    mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10));
    return final_;
  }

 private:
  absl::Mutex mu_;
  std::vector<WatchEvent> events_ ABSL_GUARDED_BY(mu_);
  absl::Status final_ ABSL_GUARDED_BY(mu_);
};

TEST(SqliteKvTest, DurableAcrossReopen) {
  TempDir dir;
  FakeClock clock;
  Revision r1, r2, last;
  {
    auto kv = MustOpen(dir.File("kv.db"), clock);
    ASSERT_NE(kv, nullptr);
    r1 = MustPut(*kv, "a", "1");
    r2 = MustPut(*kv, "a", "2");
    auto txn = kv->Txn(
        {.success = {PutRequest{.key = "b", .value = "x"}, PutRequest{.key = "c", .value = "y"}}});
    ASSERT_TRUE(txn.ok()) << txn.status();
    auto del = kv->Delete(DeleteRequest::Key("c"));
    ASSERT_TRUE(del.ok());
    last = del->revision;
  }
  auto kv = MustOpen(dir.File("kv.db"), clock);
  ASSERT_NE(kv, nullptr);
  auto a = Get(*kv, "a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->value, "2");
  EXPECT_EQ((*a)->create_revision, r1);
  EXPECT_EQ((*a)->mod_revision, r2);
  EXPECT_EQ((*a)->version, 2);
  EXPECT_THAT(Keys(*kv, ""), ElementsAre("a", "b"));
  // The revision counter continues where it was.
  EXPECT_EQ(MustPut(*kv, "d", "z"), last + 1);
  // History survives too: Range at an old revision and Watch from the past.
  auto old = kv->Range({.key = "a", .revision = r1});
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_EQ(old->kvs.size(), 1u);
  EXPECT_EQ(old->kvs[0].value, "1");
  Events ev;
  auto w = kv->StartWatch({.key = "c", .start_revision = r1}, ev.Handler());
  ASSERT_TRUE(w.ok());
  auto events = ev.Wait(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, EventType::kPut);
  EXPECT_EQ(events[1].type, EventType::kDelete);
  EXPECT_EQ(events[1].kv.mod_revision, last);
}

TEST(SqliteKvTest, ReopenDeletesKeysOfPreviousLeases) {
  TempDir dir;
  FakeClock clock;
  Revision before;
  {
    auto kv = MustOpen(dir.File("kv.db"), clock);
    ASSERT_NE(kv, nullptr);
    auto l1 = kv->LeaseGrant(600);
    auto l2 = kv->LeaseGrant(600);
    ASSERT_TRUE(l1.ok() && l2.ok());
    MustPut(*kv, "s/1", "a", l1->id);
    MustPut(*kv, "s/2", "b", l1->id);
    MustPut(*kv, "s/3", "c", l2->id);
    before = MustPut(*kv, "s/keep", "d");
  }
  auto kv = MustOpen(dir.File("kv.db"), clock);
  ASSERT_NE(kv, nullptr);
  EXPECT_THAT(Keys(*kv, "s/"), ElementsAre("s/keep"));
  // One revision per old lease, with delete events a watcher from the past sees.
  auto r = kv->Range(RangeRequest::Key("s/keep"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revision, before + 2);
  Events ev;
  auto w = kv->StartWatch(WatchRequest::Prefix("s/", before + 1), ev.Handler());
  ASSERT_TRUE(w.ok());
  auto events = ev.Wait(3);
  ASSERT_EQ(events.size(), 3u);
  std::map<Revision, std::set<std::string>> by_rev;
  for (const auto& e : events) {
    EXPECT_EQ(e.type, EventType::kDelete);
    by_rev[e.kv.mod_revision].insert(e.kv.key);
  }
  ASSERT_EQ(by_rev.size(), 2u);  // lease order (random ids) decides which goes first
  std::set<std::set<std::string>> groups;
  for (const auto& [rev, keys] : by_rev) {
    EXPECT_TRUE(rev == before + 1 || rev == before + 2) << rev;
    groups.insert(keys);
  }
  EXPECT_EQ(groups, (std::set<std::set<std::string>>{{"s/1", "s/2"}, {"s/3"}}));
  // A third open finds nothing more to delete.
  w->reset();
  kv.reset();
  kv = MustOpen(dir.File("kv.db"), clock);
  ASSERT_NE(kv, nullptr);
  auto r2 = kv->Range(RangeRequest::Key("s/keep"));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->revision, before + 2);
}

TEST(SqliteKvTest, HistoryIsBoundedAndOlderRevisionsAreCompacted) {
  TempDir dir;
  FakeClock clock;
  constexpr int64_t kHistory = 10;
  Revision current = 0;
  {
    auto kv = MustOpen(dir.File("kv.db"), clock, {.history_revisions = kHistory});
    ASSERT_NE(kv, nullptr);
    for (int i = 0; i < 40; ++i) current = MustPut(*kv, "h", std::to_string(i));
    EXPECT_EQ(kv->OldestRangeRevision(), current - kHistory);
    auto old = kv->Range({.key = "h", .revision = current - kHistory - 1});
    EXPECT_TRUE(IsCompacted(old.status())) << old.status();
    auto ok = kv->Range({.key = "h", .revision = current - kHistory});
    ASSERT_TRUE(ok.ok()) << ok.status();
    ASSERT_EQ(ok->kvs.size(), 1u);
    EXPECT_EQ(ok->kvs[0].mod_revision, current - kHistory);
    Events compacted;
    auto w = kv->StartWatch({.key = "h", .start_revision = 2}, compacted.Handler());
    ASSERT_TRUE(w.ok());
    EXPECT_TRUE(IsCompacted(compacted.WaitFinal()));
    Events fine;
    auto w2 =
        kv->StartWatch({.key = "h", .start_revision = current - kHistory + 1}, fine.Handler());
    ASSERT_TRUE(w2.ok());
    EXPECT_EQ(fine.Wait(kHistory).size(), static_cast<size_t>(kHistory));
  }
  // The file holds only the bounded history.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.File("kv.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*), min(rev) FROM history", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(stmt, 0), kHistory);
  EXPECT_EQ(sqlite3_column_int64(stmt, 1), current - kHistory + 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(SqliteKvTest, EnforcesEtcdRequestLimitsFromOptions) {
  // The defaults are a default etcd's.
  EXPECT_EQ(SqliteKv::Options{}.max_txn_ops, 128);
  EXPECT_EQ(SqliteKv::Options{}.max_request_bytes, 1536 * 1024);

  FakeClock clock;
  auto kv = MustOpen(":memory:", clock, {.max_txn_ops = 3, .max_request_bytes = 200});
  ASSERT_NE(kv, nullptr);
  auto too_large = [](const absl::Status& st) {
    return st.code() == absl::StatusCode::kInvalidArgument &&
           st.message() == "request is too large";
  };
  PutRequest put{.key = "k", .value = std::string(150, 'x')};
  put.value.resize(put.value.size() + (200 - RequestBytes(put)));
  ASSERT_EQ(RequestBytes(put), 200);
  Revision rev = MustPut(*kv, put.key, put.value);
  put.value += "x";
  EXPECT_TRUE(too_large(kv->Put(put).status()));
  EXPECT_TRUE(too_large(kv->Delete(DeleteRequest::Key(std::string(250, 'd'))).status()));
  EXPECT_TRUE(too_large(kv->Txn({.success = {put}}).status()));
  EXPECT_TRUE(too_large(kv->Txn({.success = {Nested({.success = {put}})}}).status()));
  // A txn of Ranges only is not size-checked (etcd serves it without raft).
  EXPECT_TRUE(kv->Txn({.success = {RangeRequest::Key(std::string(250, 'r'))}}).ok());

  auto too_many = [](const absl::Status& st) {
    return st.code() == absl::StatusCode::kInvalidArgument &&
           st.message() == "too many operations in txn request";
  };
  EXPECT_TRUE(too_many(kv->Txn({.success = {PutRequest{.key = "a"}, PutRequest{.key = "b"},
                                            PutRequest{.key = "c"}, PutRequest{.key = "d"}}})
                           .status()));
  // 2 ops + nested 1 fits 3; nested 2 does not.
  EXPECT_TRUE(
      kv->Txn({.success = {PutRequest{.key = "a"}, Nested({.success = {PutRequest{.key = "b"}}})}})
          .ok());
  EXPECT_TRUE(too_many(
      kv->Txn({.success = {PutRequest{.key = "c"},
                           Nested({.success = {PutRequest{.key = "d"}, PutRequest{.key = "e"}}})}})
          .status()));
  auto keys = kv->Range(RangeRequest::Prefix(""));
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->count, 3);  // k, a, b
  EXPECT_EQ(keys->revision, rev + 1);
}

TEST(SqliteKvTest, StatusCountsPagesAndFreePages) {
  TempDir dir;
  FakeClock clock;
  auto kv = MustOpen(dir.File("kv.db"), clock);
  ASSERT_NE(kv, nullptr);
  for (int i = 0; i < 50; ++i) MustPut(*kv, "big/" + std::to_string(i), std::string(8192, 'x'));
  auto before = kv->Status();
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_GT(before->db_size, 50 * 8192);
  EXPECT_EQ(before->db_size_in_use, before->db_size);  // nothing freed yet
  // Deleting the keys and compacting their history frees pages the file keeps.
  ASSERT_TRUE(kv->Delete(DeleteRequest::Prefix("big/")).ok());
  auto deleted = kv->Status();
  ASSERT_TRUE(deleted.ok());
  ASSERT_TRUE(kv->Compact(deleted->revision).ok());
  auto after = kv->Status();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->compact_revision, deleted->revision);
  EXPECT_GE(after->db_size, before->db_size);  // the file does not shrink
  EXPECT_LT(after->db_size_in_use, before->db_size_in_use / 2);
}

TEST(SqliteKvTest, ExplicitCompact) {
  FakeClock clock;
  auto kv = MustOpen(":memory:", clock);
  ASSERT_NE(kv, nullptr);
  Revision r1 = MustPut(*kv, "k", "1");
  Revision r2 = MustPut(*kv, "k", "2");
  ASSERT_TRUE(kv->Compact(r2).ok());
  EXPECT_EQ(kv->OldestRangeRevision(), r2);
  EXPECT_TRUE(IsCompacted(kv->Range({.key = "k", .revision = r1}).status()));
  EXPECT_TRUE(IsCompacted(kv->Compact(r1)));  // already compacted
  EXPECT_EQ(kv->Compact(r2 + 5).code(), absl::StatusCode::kOutOfRange);
}

TEST(SqliteKvTest, RevisionSurvivesReopenAfterHistoryIsGone) {
  TempDir dir;
  FakeClock clock;
  Revision last;
  {
    auto kv = MustOpen(dir.File("kv.db"), clock, {.history_revisions = 3});
    ASSERT_NE(kv, nullptr);
    for (int i = 0; i < 20; ++i) MustPut(*kv, "k", std::to_string(i));
    last = MustPut(*kv, "k", "last");
    ASSERT_TRUE(kv->Compact(last).ok());  // no history row left
  }
  auto kv = MustOpen(dir.File("kv.db"), clock, {.history_revisions = 3});
  ASSERT_NE(kv, nullptr);
  EXPECT_EQ(kv->OldestRangeRevision(), last);
  EXPECT_EQ(MustPut(*kv, "k", "next"), last + 1);
}

TEST(SqliteKvTest, PrefixRangeSearchesThePrimaryKey) {
  TempDir dir;
  FakeClock clock;
  { ASSERT_NE(MustOpen(dir.File("kv.db"), clock), nullptr); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.File("kv.db").c_str(), &db), SQLITE_OK);
  std::string sql = "EXPLAIN QUERY PLAN " + SqliteKv::PrefixRangeSqlForTest();
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  std::string plan;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    plan += "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  // e.g. "SEARCH kv USING PRIMARY KEY (key>? AND key<?)": no table scan, no sort step.
  EXPECT_THAT(plan, HasSubstr("SEARCH kv USING PRIMARY KEY (key>? AND key<?)"));
  EXPECT_THAT(plan, Not(HasSubstr("SCAN")));
  EXPECT_THAT(plan, Not(HasSubstr("TEMP B-TREE")));
}

TEST(SqliteKvTest, SecondOpenOfTheSameFileFails) {
  TempDir dir;
  FakeClock clock;
  auto first = MustOpen(dir.File("kv.db"), clock);
  ASSERT_NE(first, nullptr);
  auto second = SqliteKv::Open(dir.File("kv.db"), clock);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  first.reset();
  EXPECT_TRUE(SqliteKv::Open(dir.File("kv.db"), clock).ok());
}

TEST(SqliteKvTest, LeaseExpiresExactlyAtTtlOnTheInjectedClock) {
  FakeClock clock;
  auto kv = MustOpen(":memory:", clock);
  ASSERT_NE(kv, nullptr);
  auto lease = kv->LeaseGrant(5);
  ASSERT_TRUE(lease.ok());
  MustPut(*kv, "e", "v", lease->id);
  clock.Advance(absl::Milliseconds(4900));
  absl::SleepFor(absl::Milliseconds(30));  // the lease thread would act within ~1 ms
  EXPECT_THAT(Keys(*kv, "e"), ElementsAre("e"));
  auto ttl = kv->LeaseTimeToLive(lease->id, false);
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(ttl->ttl, 1);  // 0.1 s left, rounded up
  clock.Advance(absl::Milliseconds(100));
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!Keys(*kv, "e").empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  EXPECT_THAT(Keys(*kv, "e"), IsEmpty());
}

TEST(SqliteKvTest, CancelInsideHandlerStopsDelivery) {
  FakeClock clock;
  auto kv = MustOpen(":memory:", clock);
  ASSERT_NE(kv, nullptr);
  std::atomic<int> calls{0};
  std::unique_ptr<Watch> watch;
  absl::Mutex mu;
  auto w = kv->StartWatch(WatchRequest::Prefix("x/"), [&](const WatchResponse&) {
    calls++;
    absl::MutexLock lock(&mu);
    watch->Cancel();  // must not deadlock (it cannot join its own thread)
  });
  ASSERT_TRUE(w.ok());
  {
    absl::MutexLock lock(&mu);
    watch = std::move(*w);
  }
  MustPut(*kv, "x/1", "a");
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (calls.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  MustPut(*kv, "x/2", "b");
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(calls.load(), 1);
  watch.reset();  // joins the finished thread
}

TEST(SqliteKvTest, WatchHandleMayOutliveTheStore) {
  FakeClock clock;
  auto kv = MustOpen(":memory:", clock);
  ASSERT_NE(kv, nullptr);
  Events ev;
  auto w = kv->StartWatch(WatchRequest::Prefix("o/"), ev.Handler());
  ASSERT_TRUE(w.ok());
  MustPut(*kv, "o/1", "a");
  EXPECT_EQ(ev.Wait(1).size(), 1u);
  kv.reset();      // stops and joins the watch
  (*w)->Cancel();  // inert now
  w->reset();
}

}  // namespace
}  // namespace hg::store::testing
