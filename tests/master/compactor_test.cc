// Compactor against a real SqliteKv: driven by a FakeClock, it compacts to the newest revision
// at least `retention` old and never anything younger; a store error is retried next interval;
// a store compacted further already counts as done; retention 0 turns it off. And as a duty of
// the leader: a Master on SqliteKv compacts the store (a Range at an old revision then fails
// with IsCompacted) while it leads.
#include "master/compactor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "master/master.h"
#include "tests/fixtures/forwarding_kv.h"
#include "tests/fixtures/temp_sqlite_kv.h"

namespace hg::master {
namespace {

constexpr absl::Duration kRetention = absl::Seconds(10);  // interval: 1 s

// Polls `cond` in real time (the compactor's thread acts on its own); true once it holds.
bool Eventually(const std::function<bool()>& cond, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return cond();
}

// Forwards to the real store; Compact can be made to fail, and Status can hide the compaction
// point (as EtcdKv does for compactions made by somebody else).
class ScriptedKv final : public hg::testing::ForwardingKv {
 public:
  using ForwardingKv::ForwardingKv;
  std::atomic<int> fail_compacts{0};
  std::atomic<bool> hide_compact_revision{false};
  std::atomic<int> compact_calls{0};

  absl::Status Compact(store::Revision revision) override {
    ++compact_calls;
    if (fail_compacts > 0) {
      --fail_compacts;
      return absl::UnavailableError("injected: store unreachable");
    }
    return ForwardingKv::Compact(revision);
  }
  absl::StatusOr<store::StoreStatus> Status() override {
    absl::StatusOr<store::StoreStatus> s = ForwardingKv::Status();
    if (s.ok() && hide_compact_revision) s->compact_revision = 0;
    return s;
  }
};

class CompactorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<hg::testing::TempSqliteKv>(clock_, "compactor");
    ASSERT_TRUE(store_->ok());
    kv_ = &store_->kv();
  }
  void TearDown() override {
    if (compactor_) compactor_->Stop();
    if (thread_.joinable()) thread_.join();
  }

  // Starts `compactor_` on `kv` in its own thread and waits for its first round.
  void Start(store::Kv& kv, Compactor::Options options) {
    compactor_ = std::make_unique<Compactor>(kv, clock_, options);
    thread_ = std::thread([this] { compactor_->RunAsLeader(); });
    ASSERT_TRUE(Eventually([&] { return compactor_->rounds() >= 1; }));
  }

  // One interval passes: moves the clock and waits until the loop has run its next round.
  void Tick() {
    const int64_t before = compactor_->rounds();
    clock_.Advance(compactor_->interval());
    ASSERT_TRUE(Eventually([&] { return compactor_->rounds() > before; }));
  }

  store::Revision Write(int n = 3) {
    store::Revision rev = 0;
    for (int i = 0; i < n; ++i) {
      auto put = kv_->Put({.key = absl::StrCat("/t/k", i), .value = absl::StrCat("v", ++seq_)});
      EXPECT_TRUE(put.ok()) << put.status();
      if (put.ok()) rev = put->revision;
    }
    return rev;
  }

  store::Revision CompactRevision() {
    absl::StatusOr<store::StoreStatus> s = kv_->Status();
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->compact_revision : -1;
  }

  FakeClock clock_;
  std::unique_ptr<hg::testing::TempSqliteKv> store_;
  store::SqliteKv* kv_ = nullptr;
  std::unique_ptr<Compactor> compactor_;
  std::thread thread_;
  int seq_ = 0;
};

TEST_F(CompactorTest, IntervalIsATenthOfRetentionAndAtLeastOneSecond) {
  EXPECT_EQ(Compactor::IntervalFor(absl::Minutes(5)), absl::Seconds(30));
  EXPECT_EQ(Compactor::IntervalFor(absl::Seconds(10)), absl::Seconds(1));
  EXPECT_EQ(Compactor::IntervalFor(absl::Seconds(2)), absl::Seconds(1));
}

TEST_F(CompactorTest, CompactsToTheNewestRevisionAtLeastRetentionOld) {
  Write();
  Start(*kv_, {.retention = kRetention});
  // The revision seen at each second (the loop sampled it at the round that just ran).
  std::map<int, store::Revision> seen{{0, kv_->Status()->revision}};
  for (int t = 1; t <= 25; ++t) {
    Write();
    Tick();
    seen[t] = kv_->Status()->revision;
    // Never anything younger than the retention: at second t, at most what was current at t-10.
    const store::Revision compacted = CompactRevision();
    if (t < 10) {
      EXPECT_EQ(compacted, 0) << "compacted at t=" << t << "s, before any revision was 10 s old";
    } else {
      EXPECT_LE(compacted, seen[t - 10]) << "t=" << t;
      EXPECT_GE(compacted, seen[t - 11]) << "t=" << t << ": fell more than one interval behind";
    }
  }
  EXPECT_GE(compactor_->compactions(), 15);
  // History before the compaction point is gone; at it, still readable.
  const store::Revision point = CompactRevision();
  auto old = kv_->Range({.key = "/t/k0", .revision = point - 1});
  EXPECT_TRUE(store::IsCompacted(old.status())) << old.status();
  auto at = kv_->Range({.key = "/t/k0", .revision = point});
  EXPECT_TRUE(at.ok()) << at.status();
}

TEST_F(CompactorTest, AStoreErrorIsRetriedAtTheNextInterval) {
  ScriptedKv scripted(*kv_);
  scripted.fail_compacts = 1;
  Write();
  Start(scripted, {.retention = kRetention});
  for (int t = 1; t <= 10; ++t) {
    Write();
    Tick();
  }
  // t = 10 s: the first compaction was due and failed; nothing compacted, the loop goes on.
  EXPECT_EQ(scripted.compact_calls.load(), 1);
  EXPECT_EQ(compactor_->compactions(), 0);
  EXPECT_EQ(CompactRevision(), 0);
  Write();
  Tick();
  EXPECT_EQ(scripted.compact_calls.load(), 2);
  EXPECT_EQ(compactor_->compactions(), 1);
  EXPECT_GT(CompactRevision(), 0);
}

TEST_F(CompactorTest, AStoreCompactedFurtherAlreadyIsNoError) {
  // Somebody else (etcd's own --auto-compaction, an earlier leader) compacted further, and the
  // store's Status does not tell (etcd's does not): Compact answers "compacted", which is no
  // error, and the compactor carries on from there.
  ScriptedKv scripted(*kv_);
  scripted.hide_compact_revision = true;
  Write();
  Start(scripted, {.retention = kRetention});
  std::map<int, store::Revision> seen{{0, kv_->Status()->revision}};
  for (int t = 1; t <= 15; ++t) {
    Write();
    Tick();
    seen[t] = kv_->Status()->revision;
    if (t == 5) {
      ASSERT_TRUE(kv_->Compact(seen[5]).ok());
    }
  }
  // t = 10..15 s: the targets (what was current at 0..5 s) were all behind the compaction.
  EXPECT_EQ(compactor_->compactions(), 0);
  EXPECT_EQ(CompactRevision(), seen[5]);
  Write();
  Tick();  // t = 16 s: the target (t = 6 s) is past it
  EXPECT_EQ(compactor_->compactions(), 1);
  EXPECT_EQ(CompactRevision(), seen[6]);
}

TEST_F(CompactorTest, RetentionZeroNeverCompacts) {
  Compactor off(*kv_, clock_, {.retention = absl::ZeroDuration()});
  EXPECT_FALSE(off.enabled());
  Write(100);
  off.RunAsLeader();  // returns at once
  EXPECT_EQ(off.rounds(), 0);
  EXPECT_EQ(CompactRevision(), 0);
}

TEST_F(CompactorTest, ProbeSeesStatusAndCompactions) {
  std::atomic<int64_t> db_size{0}, compacted{0};
  CompactorProbe probe{.status = [&](const store::StoreStatus& s) { db_size = s.db_size; },
                       .compacted = [&](store::Revision r) { compacted = r; }};
  Compactor compactor(*kv_, clock_, {.retention = kRetention}, probe);
  const store::Revision first = Write();
  ASSERT_TRUE(compactor.Step().ok());
  EXPECT_GT(db_size.load(), 0);
  clock_.Advance(kRetention);
  Write();
  absl::StatusOr<std::optional<store::Revision>> done = compactor.Step();
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ(**done, first);
  EXPECT_EQ(compacted.load(), first);
  EXPECT_EQ(compactor.compactions(), 1);
}

// ---------------------------------------------------------------------------------------------
// As a leader duty: a Master on SqliteKv with a real clock (a 1 s retention: the test waits a
// few seconds for the condition, never for a speed).

class NoWorkers final : public dispatch::WorkerClient {
 public:
  absl::StatusOr<hourglass::v1::RunResponse> Run(const std::string&,
                                                 const hourglass::v1::RunRequest&,
                                                 absl::Duration) override {
    return absl::UnavailableError("no workers in this test");
  }
  absl::StatusOr<hourglass::v1::KillResponse> Kill(const std::string&,
                                                   const hourglass::v1::KillRequest&,
                                                   absl::Duration) override {
    return absl::UnavailableError("no workers in this test");
  }
};

TEST(MasterCompaction, LeaderCompactsTheStore) {
  RealClock& clock = RealClock::Get();
  hg::testing::TempSqliteKv store(clock, "master-compaction");
  ASSERT_TRUE(store.ok());
  store::SqliteKv& kv = store.kv();
  NoWorkers workers;
  std::atomic<int64_t> compactions{0};
  Master::Options options;
  options.id = "m1";
  options.address = "127.0.0.1:1";
  options.compactor.retention = absl::Seconds(1);
  options.compactor_probe.compacted = [&](store::Revision) { ++compactions; };
  Master master(kv, clock, model::Keys("/hourglass/"), workers, options);
  master.Start();
  ASSERT_TRUE(Eventually([&] { return master.IsLeader(); }));

  auto first = kv.Put({.key = "/t/a", .value = "1"});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = kv.Put({.key = "/t/a", .value = "2"});
  ASSERT_TRUE(second.ok()) << second.status();
  // Keep writing until the leader has compacted past the first write.
  ASSERT_TRUE(Eventually(
      [&] {
        (void)kv.Put({.key = "/t/b", .value = "x"});
        absl::StatusOr<store::StoreStatus> s = kv.Status();
        return s.ok() && s->compact_revision > first->revision;
      },
      absl::Seconds(20)));
  EXPECT_GE(compactions.load(), 1);
  auto old = kv.Range({.key = "/t/a", .revision = first->revision});
  EXPECT_TRUE(store::IsCompacted(old.status())) << old.status();
  auto now = store::Get(kv, "/t/a");
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ((*now)->value, "2");   // keys and current values are untouched
  EXPECT_TRUE(master.IsLeader());  // compaction never ends the term
  master.Stop();
}

}  // namespace
}  // namespace hg::master
