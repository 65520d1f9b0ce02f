#include "tests/coord/coord_suite.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>

#include "absl/strings/str_cat.h"
#include "coord/election.h"
#include "coord/mutex.h"
#include "coord/registry.h"

namespace hg::coord::testing {
namespace {

using store::Compare;
using store::KeyValue;
using ::testing::HasSubstr;

absl::Status StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

#define HG_ASSERT_OK(expr)                                \
  do {                                                    \
    const auto& hg_result_ = (expr);                      \
    ASSERT_TRUE(hg_result_.ok()) << StatusOf(hg_result_); \
  } while (false)
#define HG_EXPECT_OK(expr)                                \
  do {                                                    \
    const auto& hg_result_ = (expr);                      \
    EXPECT_TRUE(hg_result_.ok()) << StatusOf(hg_result_); \
  } while (false)

template <typename T>
bool Ready(std::future<T>& f, absl::Duration wait = absl::ZeroDuration()) {
  return f.wait_for(absl::ToChronoMilliseconds(wait)) == std::future_status::ready;
}

// Blocked calls are proven blocked by this long a real wait (they would return in a few ms).
constexpr absl::Duration kStillBlocked = absl::Milliseconds(300);

std::string Hex(store::LeaseId lease) { return absl::StrCat(absl::Hex(lease)); }

}  // namespace

void FaultyKv::SetMode(Mode mode) {
  absl::MutexLock lock(&mu_);
  mode_ = mode;
}

absl::StatusOr<int64_t> FaultyKv::LeaseKeepAliveOnce(store::LeaseId id) {
  ++keepalives_;
  Mode mode;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Mode* m) { return *m != Mode::kHang; }, &mode_));
    mode = mode_;
  }
  if (mode == Mode::kFail) return absl::UnavailableError("faulty: keepalive dropped");
  return inner().LeaseKeepAliveOnce(id);
}

void CoordTest::SetUp() {
  absl::StatusOr<std::unique_ptr<CoordEnv>> env = GetParam().make();
  ASSERT_TRUE(env.ok()) << env.status();
  env_ = std::move(*env);
}

void CoordTest::TearDown() {
  sessions_.clear();
  env_.reset();
}

Session& CoordTest::NewSession(int64_t ttl_seconds) {
  auto session =
      std::make_unique<Session>(kv(), env().clock(), SessionOptions{.ttl_seconds = ttl_seconds});
  absl::Status status = session->Start();
  EXPECT_TRUE(status.ok()) << status;
  sessions_.push_back(std::move(session));
  return *sessions_.back();
}

int64_t CoordTest::CountKeys(const std::string& prefix) {
  store::RangeRequest req = store::RangeRequest::Prefix(prefix);
  req.count_only = true;
  absl::StatusOr<store::RangeResponse> resp = kv().Range(req);
  EXPECT_TRUE(resp.ok()) << resp.status();
  return resp.ok() ? resp->count : -1;
}

bool CoordTest::Eventually(const std::function<bool()>& cond, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

bool CoordTest::AdvanceUntil(const std::function<bool()>& cond, absl::Duration limit,
                             absl::Duration step) {
  for (absl::Duration passed; !cond(); passed += step) {
    if (passed >= limit) return Eventually(cond, absl::Milliseconds(500));
    env().AdvanceTime(step);
  }
  return true;
}

namespace {

bool GuardHolds(store::Kv& kv, const Compare& guard) {
  store::TxnRequest txn;
  txn.compare.push_back(guard);
  absl::StatusOr<store::TxnResponse> resp = kv.Txn(txn);
  EXPECT_TRUE(resp.ok()) << resp.status();
  return resp.ok() && resp->succeeded;
}

// ---------------------------------------------------------------------------------------------
// Session

TEST_P(CoordTest, SessionGrantsLeaseAndCloseRevokesIt) {
  Session& s = NewSession(10);
  EXPECT_TRUE(s.IsAlive());
  EXPECT_FALSE(s.Done());
  EXPECT_NE(s.lease(), 0);
  EXPECT_GE(s.ttl_seconds(), 10);
  HG_ASSERT_OK(kv().Put({.key = "/t/k", .value = "v", .lease = s.lease()}));
  int calls = 0;
  absl::Status why;
  s.AddLostListener([&](const absl::Status& status) {
    ++calls;
    why = status;
  });
  HG_ASSERT_OK(s.Close());
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(IsSessionLost(why)) << why;
  EXPECT_FALSE(s.IsAlive());
  EXPECT_TRUE(s.Done());
  EXPECT_TRUE(IsSessionLost(s.status()));
  EXPECT_EQ(CountKeys("/t/"), 0);  // revoked: its keys went with it
  int late = 0;
  s.AddLostListener([&](const absl::Status&) { ++late; });
  EXPECT_EQ(late, 1);  // added after the end: called at once
}

TEST_P(CoordTest, SessionKeepsLeaseAlivePastItsTtl) {
  const int64_t ttl = env().ShortTtl();
  Session& s = NewSession(ttl);
  HG_ASSERT_OK(kv().Put({.key = "/t/k", .value = "v", .lease = s.lease()}));
  env().AdvanceTime(absl::Seconds(3 * ttl));
  EXPECT_TRUE(s.IsAlive()) << s.status();
  EXPECT_EQ(CountKeys("/t/"), 1);
}

TEST_P(CoordTest, SessionReportsRevokedLeaseAtNextKeepalive) {
  Session& s = NewSession(env().ShortTtl());
  std::atomic<int> calls{0};
  s.AddLostListener([&](const absl::Status&) { ++calls; });
  HG_ASSERT_OK(kv().LeaseRevoke(s.lease()));
  EXPECT_TRUE(AdvanceUntil([&] { return calls.load() == 1; }, absl::Seconds(s.ttl_seconds())));
  EXPECT_FALSE(s.IsAlive());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("expired or revoked"));
}

// The worker's safety rule (DESIGN.md rule 3): no confirmed keepalive for TTL minus the margin
// means lost, exactly then, even though the store may still hold the lease.
TEST_P(CoordTest, SessionLostWhenKeepalivesFailForTtlMinusMargin) {
  FakeClock clock;  // the session's own time; the store's lease is not expired by it
  FaultyKv faulty(kv());
  Session s(faulty, clock, {.ttl_seconds = 10, .safety_margin = absl::Seconds(2)});
  HG_ASSERT_OK(s.Start());
  ASSERT_EQ(s.ttl_seconds(), 10);
  const absl::Time t0 = clock.Now();
  const store::LeaseId lease = s.lease();
  absl::Mutex mu;
  std::optional<absl::Time> lost_at;
  s.AddLostListener([&](const absl::Status&) {
    absl::MutexLock lock(&mu);
    lost_at = clock.Now();
  });
  faulty.SetMode(FaultyKv::Mode::kFail);
  clock.Set(t0 + absl::Milliseconds(3400));  // the keepalive due at 3.33 s fails
  ASSERT_TRUE(Eventually([&] { return faulty.keepalives() == 1; }));
  clock.Set(t0 + absl::Milliseconds(4400));  // so does its retry a second later
  ASSERT_TRUE(Eventually([&] { return faulty.keepalives() == 2; }));
  clock.Set(t0 + absl::Milliseconds(7999));
  absl::SleepFor(absl::Milliseconds(20));  // time for a (wrong) watchdog to fire
  EXPECT_TRUE(s.IsAlive());
  {
    absl::MutexLock lock(&mu);
    EXPECT_FALSE(lost_at.has_value());
  }
  clock.Set(t0 + absl::Seconds(8));  // TTL - margin
  EXPECT_FALSE(s.IsAlive());         // at once, whatever the threads are doing
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return lost_at.has_value();
  }));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(*lost_at, t0 + absl::Seconds(8));
  }
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("not confirmed"));
  // It gave the lease up, so its keys go now rather than at expiry.
  EXPECT_TRUE(Eventually([&] {
    absl::StatusOr<store::LeaseTimeToLiveResponse> ttl = kv().LeaseTimeToLive(lease, false);
    return ttl.ok() && ttl->ttl == -1;
  }));
}

TEST_P(CoordTest, SessionLostOnTimeEvenIfKeepaliveHangs) {
  FakeClock clock;
  FaultyKv faulty(kv());
  Session s(faulty, clock, {.ttl_seconds = 10, .safety_margin = absl::Seconds(2)});
  HG_ASSERT_OK(s.Start());
  const absl::Time t0 = clock.Now();
  std::atomic<bool> lost{false};
  s.AddLostListener([&](const absl::Status&) { lost = true; });
  faulty.SetMode(FaultyKv::Mode::kHang);
  clock.Set(t0 + absl::Milliseconds(3400));  // the keepalive due at 3.33 s hangs
  ASSERT_TRUE(Eventually([&] { return faulty.keepalives() == 1; }));
  clock.Set(t0 + absl::Seconds(8) - absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(lost.load());
  clock.Set(t0 + absl::Seconds(8));
  EXPECT_TRUE(Eventually([&] { return lost.load(); }));
  faulty.SetMode(FaultyKv::Mode::kPass);  // release the hung call so Stop() can join
}

TEST_P(CoordTest, SessionSurvivesTransientKeepaliveFailures) {
  FakeClock clock;
  FaultyKv faulty(kv());
  Session s(faulty, clock, {.ttl_seconds = 10, .safety_margin = absl::Seconds(2)});
  HG_ASSERT_OK(s.Start());
  const absl::Time t0 = clock.Now();
  const SteadyTime first_deadline = s.ConfirmedUntil();
  faulty.SetMode(FaultyKv::Mode::kFail);
  clock.Set(t0 + absl::Milliseconds(3400));  // fails
  ASSERT_TRUE(Eventually([&] { return faulty.keepalives() == 1; }));
  clock.Set(t0 + absl::Milliseconds(4400));  // its retry fails too
  ASSERT_TRUE(Eventually([&] { return faulty.keepalives() == 2; }));
  faulty.SetMode(FaultyKv::Mode::kPass);
  clock.Set(t0 + absl::Milliseconds(5400));  // the next retry succeeds
  ASSERT_TRUE(Eventually([&] { return s.ConfirmedUntil() > first_deadline; }));
  EXPECT_EQ(s.ConfirmedUntil() - first_deadline, std::chrono::milliseconds(5400));
  clock.Set(t0 + absl::Seconds(12));  // past the first deadline (8 s), before the new (13.4 s)
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_TRUE(s.IsAlive()) << s.status();
}

// ---------------------------------------------------------------------------------------------
// Election

TEST_P(CoordTest, ElectionOneLeaderAmongThreeContenders) {
  Session* sessions[3] = {&NewSession(), &NewSession(), &NewSession()};
  std::unique_ptr<Election> e[3];
  std::future<absl::Status> f[3];
  for (int i = 0; i < 3; ++i) {
    e[i] = std::make_unique<Election>(*sessions[i], "/t/elect");
    f[i] = std::async(std::launch::async, [&, i] { return e[i]->Campaign(absl::StrCat("c", i)); });
  }
  ASSERT_TRUE(Eventually([&] { return CountKeys("/t/elect/") == 3; }));
  ASSERT_TRUE(Eventually([&] { return Ready(f[0]) || Ready(f[1]) || Ready(f[2]); }));
  absl::SleepFor(kStillBlocked);
  int leader = -1;
  for (int i = 0; i < 3; ++i) {
    if (Ready(f[i])) {
      EXPECT_EQ(leader, -1) << "two leaders";
      leader = i;
    }
  }
  ASSERT_NE(leader, -1);
  HG_EXPECT_OK(f[leader].get());
  EXPECT_TRUE(e[leader]->IsLeader());
  absl::StatusOr<KeyValue> seen = e[leader]->Leader();
  HG_ASSERT_OK(seen);
  EXPECT_EQ(seen->key, "/t/elect/" + Hex(sessions[leader]->lease()));
  EXPECT_EQ(seen->key, e[leader]->key());
  EXPECT_EQ(seen->value, absl::StrCat("c", leader));
  EXPECT_EQ(seen->create_revision, e[leader]->term());
  for (int i = 0; i < 3; ++i) {
    if (i != leader) {
      EXPECT_FALSE(e[i]->IsLeader());
    }
  }
  // Unblock the others (stop their sessions) before the futures are destroyed.
  for (int i = 0; i < 3; ++i) {
    if (i == leader) continue;
    sessions[i]->Stop();
    EXPECT_TRUE(IsSessionLost(f[i].get()));
  }
}

TEST_P(CoordTest, ElectionResignHandsOverInOrderAndTermsIncrease) {
  Session &s1 = NewSession(), &s2 = NewSession(), &s3 = NewSession();
  Election e1(s1, "/t/elect"), e2(s2, "/t/elect"), e3(s3, "/t/elect");
  HG_ASSERT_OK(e1.Campaign("one"));
  const store::Revision term1 = e1.term();
  EXPECT_GT(term1, 0);
  const Compare guard1 = e1.IsLeaderGuard();
  EXPECT_TRUE(GuardHolds(kv(), guard1));
  auto f2 = std::async(std::launch::async, [&] { return e2.Campaign("two"); });
  ASSERT_TRUE(Eventually([&] { return CountKeys("/t/elect/") == 2; }));
  auto f3 = std::async(std::launch::async, [&] { return e3.Campaign("three"); });
  ASSERT_TRUE(Eventually([&] { return CountKeys("/t/elect/") == 3; }));
  EXPECT_FALSE(Ready(f2, kStillBlocked));
  EXPECT_FALSE(Ready(f3));
  EXPECT_FALSE(GuardHolds(kv(), e2.IsLeaderGuard()));  // not leading: a guard that never holds

  HG_ASSERT_OK(e1.Resign());
  EXPECT_FALSE(e1.IsLeader());
  EXPECT_FALSE(GuardHolds(kv(), guard1));
  ASSERT_TRUE(Ready(f2, absl::Seconds(10)));
  HG_EXPECT_OK(f2.get());
  EXPECT_FALSE(Ready(f3, kStillBlocked));  // the third waits for the second, not the first
  EXPECT_TRUE(e2.IsLeader());
  const store::Revision term2 = e2.term();
  EXPECT_GT(term2, term1);
  EXPECT_TRUE(GuardHolds(kv(), e2.IsLeaderGuard()));
  EXPECT_EQ(e1.Leader()->value, "two");

  HG_ASSERT_OK(e2.Resign());
  ASSERT_TRUE(Ready(f3, absl::Seconds(10)));
  HG_EXPECT_OK(f3.get());
  EXPECT_GT(e3.term(), term2);
  EXPECT_EQ(e1.Leader()->value, "three");
  HG_ASSERT_OK(e3.Resign());
  EXPECT_EQ(e1.Leader().status().code(), absl::StatusCode::kNotFound);
}

TEST_P(CoordTest, ElectionLeaderSessionLossElectsNext) {
  Session &s1 = NewSession(env().ShortTtl()), &s2 = NewSession();
  Election e1(s1, "/t/elect"), e2(s2, "/t/elect");
  HG_ASSERT_OK(e1.Campaign("one"));
  const Compare guard1 = e1.IsLeaderGuard();
  auto f2 = std::async(std::launch::async, [&] { return e2.Campaign("two"); });
  ASSERT_TRUE(Eventually([&] { return CountKeys("/t/elect/") == 2; }));
  HG_ASSERT_OK(kv().LeaseRevoke(s1.lease()));  // the store drops the leader's lease
  ASSERT_TRUE(Ready(f2, absl::Seconds(10)));
  HG_EXPECT_OK(f2.get());
  EXPECT_TRUE(e2.IsLeader());
  EXPECT_GT(e2.term(), guard1.number);
  EXPECT_FALSE(GuardHolds(kv(), guard1));  // the deposed leader can no longer commit
  // The deposed leader learns it from its session.
  EXPECT_TRUE(AdvanceUntil([&] { return !e1.IsLeader(); }, absl::Seconds(s1.ttl_seconds())));
  EXPECT_TRUE(IsSessionLost(e1.Campaign("again")));
}

TEST_P(CoordTest, ElectionObserveSeesEveryLeaderChange) {
  Session &s1 = NewSession(), &s2 = NewSession();
  Election e1(s1, "/t/elect"), e2(s2, "/t/elect");
  absl::Mutex mu;
  std::vector<std::optional<KeyValue>> seen;
  auto count = [&] {
    absl::MutexLock lock(&mu);
    return seen.size();
  };
  absl::StatusOr<std::unique_ptr<PrefixWatch>> obs =
      e2.Observe([&](const std::optional<KeyValue>& leader) {
        absl::MutexLock lock(&mu);
        seen.push_back(leader);
      });
  HG_ASSERT_OK(obs);
  EXPECT_EQ(count(), 1u);  // the initial state is delivered by Observe itself
  HG_ASSERT_OK(e1.Campaign("a"));
  ASSERT_TRUE(Eventually([&] { return count() == 2; }));
  HG_ASSERT_OK(e1.Proclaim("b"));
  ASSERT_TRUE(Eventually([&] { return count() == 3; }));
  auto f2 = std::async(std::launch::async, [&] { return e2.Campaign("c"); });
  ASSERT_TRUE(Eventually([&] { return CountKeys("/t/elect/") == 2; }));
  HG_ASSERT_OK(e1.Resign());
  HG_ASSERT_OK(f2.get());
  ASSERT_TRUE(Eventually([&] { return count() == 4; }));
  HG_ASSERT_OK(e2.Resign());
  ASSERT_TRUE(Eventually([&] { return count() == 5; }));
  absl::SleepFor(absl::Milliseconds(100));
  absl::MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 5u);  // a waiting candidate is not a change of leader
  EXPECT_FALSE(seen[0].has_value());
  EXPECT_EQ(seen[1]->value, "a");
  EXPECT_EQ(seen[1]->key, "/t/elect/" + Hex(s1.lease()));
  EXPECT_EQ(seen[2]->value, "b");
  EXPECT_EQ(seen[2]->key, seen[1]->key);
  EXPECT_EQ(seen[3]->value, "c");
  EXPECT_EQ(seen[3]->key, "/t/elect/" + Hex(s2.lease()));
  EXPECT_GT(seen[3]->create_revision, seen[1]->create_revision);
  EXPECT_FALSE(seen[4].has_value());
}

TEST_P(CoordTest, ElectionCampaignCancelWithdraws) {
  Session &s1 = NewSession(), &s2 = NewSession();
  Election e1(s1, "/t/elect"), e2(s2, "/t/elect");
  HG_ASSERT_OK(e1.Campaign("one"));
  std::stop_source stop;
  auto f2 = std::async(std::launch::async, [&] { return e2.Campaign("two", stop.get_token()); });
  ASSERT_TRUE(Eventually([&] { return CountKeys("/t/elect/") == 2; }));
  stop.request_stop();
  ASSERT_TRUE(Ready(f2, absl::Seconds(10)));
  EXPECT_EQ(f2.get().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(CountKeys("/t/elect/"), 1);
  EXPECT_EQ(e2.key(), "");
  EXPECT_TRUE(e1.IsLeader());
}

TEST_P(CoordTest, ElectionCampaignDeadline) {
  Session &s1 = NewSession(), &s2 = NewSession();
  Election e1(s1, "/t/elect"), e2(s2, "/t/elect");
  HG_ASSERT_OK(e1.Campaign("one"));
  const absl::Time deadline = env().clock().Now() + absl::Seconds(1);
  auto f2 = std::async(std::launch::async, [&] { return e2.Campaign("two", {}, deadline); });
  EXPECT_TRUE(AdvanceUntil([&] { return Ready(f2); }, absl::Seconds(5)));
  EXPECT_EQ(f2.get().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(CountKeys("/t/elect/"), 1);
}

// A waiting candidate's watch on its predecessor ends with a compaction (etcd: the watch resumed
// after a reconnect from a revision the leader's compactor has dropped). The candidate looks
// again and keeps waiting; it does not give up its campaign.
TEST_P(CoordTest, ElectionCampaignSurvivesACompactedWatch) {
  FaultyKv faulty(kv());
  Session& s1 = NewSession();
  Session s2(faulty, env().clock(), SessionOptions{});
  HG_ASSERT_OK(s2.Start());
  Election e1(s1, "/t/elect"), e2(s2, "/t/elect");
  HG_ASSERT_OK(e1.Campaign("one"));
  auto f2 = std::async(std::launch::async, [&] { return e2.Campaign("two"); });
  ASSERT_TRUE(Eventually([&] { return faulty.BreakWatches() > 0; }));
  EXPECT_FALSE(Ready(f2, kStillBlocked));
  HG_ASSERT_OK(e1.Resign());
  ASSERT_TRUE(Ready(f2, absl::Seconds(10)));
  HG_EXPECT_OK(f2.get());
  EXPECT_TRUE(e2.IsLeader());
  HG_EXPECT_OK(e2.Resign());
  s2.Stop();
}

TEST_P(CoordTest, ElectionCampaignEndsWithItsSession) {
  Session &s1 = NewSession(), &s2 = NewSession();
  Election e1(s1, "/t/elect"), e2(s2, "/t/elect");
  HG_ASSERT_OK(e1.Campaign("one"));
  auto f2 = std::async(std::launch::async, [&] { return e2.Campaign("two"); });
  ASSERT_TRUE(Eventually([&] { return CountKeys("/t/elect/") == 2; }));
  s2.Stop();
  ASSERT_TRUE(Ready(f2, absl::Seconds(10)));
  EXPECT_TRUE(IsSessionLost(f2.get()));
  EXPECT_FALSE(e2.IsLeader());
  EXPECT_EQ(e2.Proclaim("x").code(), absl::StatusCode::kFailedPrecondition);
}

// ---------------------------------------------------------------------------------------------
// Mutex

TEST_P(CoordTest, MutexExcludesUnderContention) {
  constexpr int kWorkers = 3;
  constexpr int kRounds = 5;
  std::vector<std::unique_ptr<Mutex>> mutexes;
  for (int i = 0; i < kWorkers; ++i) {
    mutexes.push_back(std::make_unique<Mutex>(NewSession(), "/t/lock"));
  }
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::atomic<int> counter{0};  // updated non-atomically on purpose: only the lock protects it
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    threads.emplace_back([&, i] {
      Mutex& m = *mutexes[i];
      for (int r = 0; r < kRounds; ++r) {
        absl::Status status = m.Lock(absl::StrCat("w", i));
        EXPECT_TRUE(status.ok()) << status;
        if (!status.ok()) return;
        if (inside.fetch_add(1) != 0) overlap = true;
        EXPECT_TRUE(GuardHolds(kv(), m.LockGuard()));
        const int value = counter.load();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        counter.store(value + 1);
        inside.fetch_sub(1);
        status = m.Unlock();
        EXPECT_TRUE(status.ok()) << status;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_EQ(counter.load(), kWorkers * kRounds);
  EXPECT_EQ(CountKeys("/t/lock/"), 0);
}

TEST_P(CoordTest, MutexTryLockReportsHolder) {
  Session &s1 = NewSession(), &s2 = NewSession();
  Mutex m1(s1, "/t/lock"), m2(s2, "/t/lock"), m1b(s1, "/t/lock");
  HG_ASSERT_OK(m1.TryLock("exec-1"));
  EXPECT_TRUE(m1.IsLocked());
  EXPECT_EQ(m1.key(), "/t/lock/" + Hex(s1.lease()));
  EXPECT_TRUE(GuardHolds(kv(), m1.LockGuard()));
  EXPECT_EQ(m1.TryLock("again").code(), absl::StatusCode::kFailedPrecondition);

  KeyValue holder;
  absl::Status st = m2.TryLock("exec-2", &holder);
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists) << st;
  EXPECT_EQ(holder.key, m1.key());
  EXPECT_EQ(holder.value, "exec-1");
  EXPECT_THAT(std::string(st.message()), HasSubstr("exec-1"));
  EXPECT_FALSE(m2.IsLocked());
  EXPECT_FALSE(GuardHolds(kv(), m2.LockGuard()));
  // Another Mutex on the same session is another holder (Forbid on one worker).
  holder = {};
  EXPECT_EQ(m1b.TryLock("exec-3", &holder).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(holder.value, "exec-1");
  EXPECT_EQ(m1b.Lock("exec-3").code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<KeyValue> current = m2.Holder();
  HG_ASSERT_OK(current);
  EXPECT_EQ(current->value, "exec-1");
  EXPECT_EQ(CountKeys("/t/lock/"), 1);  // failed attempts leave nothing behind

  HG_ASSERT_OK(m1.Unlock());
  EXPECT_FALSE(m1.IsLocked());
  EXPECT_EQ(m2.Holder().status().code(), absl::StatusCode::kNotFound);
  HG_ASSERT_OK(m2.TryLock("exec-2"));
  EXPECT_EQ(m1.Holder()->value, "exec-2");
  HG_ASSERT_OK(m2.Unlock());
}

TEST_P(CoordTest, MutexReleasedWhenHolderSessionExpires) {
  Session &s1 = NewSession(env().ShortTtl()), &s2 = NewSession();
  Mutex m1(s1, "/t/lock"), m2(s2, "/t/lock");
  HG_ASSERT_OK(m1.Lock("a"));
  const Compare guard1 = m1.LockGuard();
  auto f2 = std::async(std::launch::async, [&] { return m2.Lock("b"); });
  ASSERT_TRUE(Eventually([&] { return CountKeys("/t/lock/") == 2; }));
  EXPECT_FALSE(Ready(f2, kStillBlocked));
  s1.Stop();  // the holder dies: no more keepalives, the store expires its lease
  ASSERT_TRUE(
      AdvanceUntil([&] { return Ready(f2); }, absl::Seconds(s1.ttl_seconds()) + absl::Seconds(3)));
  HG_EXPECT_OK(f2.get());
  EXPECT_TRUE(m2.IsLocked());
  EXPECT_FALSE(m1.IsLocked());
  EXPECT_FALSE(GuardHolds(kv(), guard1));
  EXPECT_TRUE(GuardHolds(kv(), m2.LockGuard()));
  EXPECT_EQ(m1.Holder()->value, "b");
}

TEST_P(CoordTest, MutexLockCancelWithdraws) {
  Session &s1 = NewSession(), &s2 = NewSession();
  Mutex m1(s1, "/t/lock"), m2(s2, "/t/lock");
  HG_ASSERT_OK(m1.Lock());
  std::stop_source stop;
  auto f2 = std::async(std::launch::async, [&] { return m2.Lock("b", stop.get_token()); });
  ASSERT_TRUE(Eventually([&] { return CountKeys("/t/lock/") == 2; }));
  stop.request_stop();
  ASSERT_TRUE(Ready(f2, absl::Seconds(10)));
  EXPECT_EQ(f2.get().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(CountKeys("/t/lock/"), 1);
  HG_ASSERT_OK(m1.Unlock());
  HG_ASSERT_OK(m2.TryLock("b"));  // nothing stale of its own is in the way
}

// The worker's claim: take the Forbid lock and move the execution in one transaction, then
// write the result and release it in another (DESIGN.md write budget).
TEST_P(CoordTest, MutexInsideCallerTransactions) {
  Session &s1 = NewSession(), &s2 = NewSession();
  Mutex m1(s1, "/t/lock"), m2(s2, "/t/lock");
  HG_ASSERT_OK(kv().Put({.key = "/t/exec/1", .value = "scheduled"}));
  HG_ASSERT_OK(kv().Put({.key = "/t/exec/2", .value = "scheduled"}));
  auto claim = [&](Mutex& m, const std::string& exec) {
    store::TxnRequest txn;
    txn.compare.push_back(m.FreeGuard());
    txn.compare.push_back(Compare::Value(exec, Compare::Result::kEqual, "scheduled"));
    // Built in place: gcc 12 at -O2 warns (falsely) about moving a temporary TxnOp.
    txn.success.emplace_back(std::in_place_type<store::PutRequest>,
                             store::PutRequest{.key = exec, .value = "running"});
    txn.success.emplace_back(std::in_place_type<store::PutRequest>, m.AcquireOp(exec));
    txn.failure.emplace_back(std::in_place_type<store::RangeRequest>, m.HolderOp());
    return kv().Txn(txn);
  };
  absl::StatusOr<store::TxnResponse> r1 = claim(m1, "/t/exec/1");
  HG_ASSERT_OK(r1);
  ASSERT_TRUE(r1->succeeded);
  m1.Acquired(r1->revision);
  EXPECT_TRUE(m1.IsLocked());
  EXPECT_TRUE(GuardHolds(kv(), m1.LockGuard()));
  EXPECT_EQ(m1.Holder()->value, "/t/exec/1");

  absl::StatusOr<store::TxnResponse> r2 = claim(m2, "/t/exec/2");
  HG_ASSERT_OK(r2);
  ASSERT_FALSE(r2->succeeded);
  const auto& holder = std::get<store::RangeResponse>(r2->responses.at(0)).kvs;
  ASSERT_EQ(holder.size(), 1u);
  EXPECT_EQ(holder[0].value, "/t/exec/1");
  EXPECT_EQ(store::Get(kv(), "/t/exec/2")->value().value, "scheduled");

  store::TxnRequest finish;
  finish.compare.push_back(m1.LockGuard());
  finish.success.push_back(store::PutRequest{.key = "/t/exec/1", .value = "success"});
  finish.success.push_back(m1.ReleaseOp());
  absl::StatusOr<store::TxnResponse> r3 = kv().Txn(finish);
  HG_ASSERT_OK(r3);
  ASSERT_TRUE(r3->succeeded);
  m1.Released();
  EXPECT_FALSE(m1.IsLocked());
  EXPECT_EQ(CountKeys("/t/lock/"), 0);
  absl::StatusOr<store::TxnResponse> r4 = claim(m2, "/t/exec/2");
  HG_ASSERT_OK(r4);
  EXPECT_TRUE(r4->succeeded);
}

// ---------------------------------------------------------------------------------------------
// Registry

struct Seen {
  absl::Mutex mu;
  std::vector<Member> members ABSL_GUARDED_BY(mu);
  std::vector<MemberChange> changes ABSL_GUARDED_BY(mu);
  int calls ABSL_GUARDED_BY(mu) = 0;

  Registry::WatchHandler Handler() {
    return [this](const std::vector<Member>& m, const std::vector<MemberChange>& c) {
      absl::MutexLock lock(&mu);
      members = m;
      changes.insert(changes.end(), c.begin(), c.end());
      ++calls;
    };
  }
  std::vector<std::string> Ids() {
    absl::MutexLock lock(&mu);
    std::vector<std::string> ids;
    for (const Member& m : members) ids.push_back(m.id);
    return ids;
  }
  std::vector<std::pair<MemberChange::Kind, std::string>> Changes() {
    absl::MutexLock lock(&mu);
    std::vector<std::pair<MemberChange::Kind, std::string>> out;
    for (const MemberChange& c : changes) out.emplace_back(c.kind, c.member.id);
    return out;
  }
};

using Kind = MemberChange::Kind;
using Ids = std::vector<std::string>;
using Events = std::vector<std::pair<MemberChange::Kind, std::string>>;

TEST_P(CoordTest, RegistryJoinUpdateLeave) {
  Registry reg(kv(), env().clock(), "/t/workers");
  Seen seen;
  absl::StatusOr<std::unique_ptr<PrefixWatch>> watch = reg.Watch(seen.Handler());
  HG_ASSERT_OK(watch);
  {
    absl::MutexLock lock(&seen.mu);
    EXPECT_EQ(seen.calls, 1);  // the (empty) initial set
  }
  Session &s1 = NewSession(), &s2 = NewSession();
  HG_ASSERT_OK(reg.Register(s1, "w1", R"({"addr":"a"})"));
  HG_ASSERT_OK(reg.Register(s2, "w2", R"({"addr":"b"})"));
  ASSERT_TRUE(Eventually([&] { return seen.Ids() == Ids{"w1", "w2"}; }));
  absl::StatusOr<std::vector<Member>> list = reg.List();
  HG_ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "w1");
  EXPECT_EQ((*list)[0].metadata, R"({"addr":"a"})");
  EXPECT_EQ((*list)[0].lease, s1.lease());
  EXPECT_EQ((*list)[1].id, "w2");

  HG_ASSERT_OK(reg.Register(s1, "w1", R"({"addr":"a2"})"));  // update by its owner
  EXPECT_EQ(reg.Register(s2, "w1", "{}").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(reg.Register(s1, "bad/id", "{}").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reg.Register(s1, "", "{}").code(), absl::StatusCode::kInvalidArgument);
  HG_ASSERT_OK(reg.Deregister(s2, "w1"));  // not its entry: no effect
  EXPECT_EQ(reg.List()->size(), 2u);
  HG_ASSERT_OK(reg.Deregister(s1, "w1"));
  ASSERT_TRUE(Eventually([&] { return seen.Ids() == Ids{"w2"}; }));
  HG_ASSERT_OK(s2.Close());
  ASSERT_TRUE(Eventually([&] { return seen.Ids().empty(); }));
  EXPECT_EQ(seen.Changes(), (Events{{Kind::kJoined, "w1"},
                                    {Kind::kJoined, "w2"},
                                    {Kind::kUpdated, "w1"},
                                    {Kind::kLeft, "w1"},
                                    {Kind::kLeft, "w2"}}));
}

TEST_P(CoordTest, RegistryWatchRecoversFromABrokenWatch) {
  FaultyKv faulty(kv());
  Registry watched(faulty, env().clock(), "/t/workers");
  Registry direct(kv(), env().clock(), "/t/workers");
  Seen seen;
  absl::StatusOr<std::unique_ptr<PrefixWatch>> watch = watched.Watch(seen.Handler());
  HG_ASSERT_OK(watch);
  Session& s = NewSession();
  HG_ASSERT_OK(direct.Register(s, "w1", "{}"));
  ASSERT_TRUE(Eventually([&] { return seen.Ids() == Ids{"w1"}; }));
  faulty.BreakWatches();  // the watch ends: PrefixWatch re-lists and watches again
  HG_ASSERT_OK(direct.Register(s, "w2", "{}"));
  HG_ASSERT_OK(direct.Deregister(s, "w1"));
  ASSERT_TRUE(Eventually([&] { return seen.Ids() == Ids{"w2"}; }));
  HG_ASSERT_OK(direct.Register(s, "w3", "{}"));  // seen through the new watch
  ASSERT_TRUE(Eventually([&] { return seen.Ids() == Ids{"w2", "w3"}; }));
  Events changes = seen.Changes();
  std::sort(changes.begin(), changes.end());
  // Nothing lost, nothing twice, whether the re-list came before or after the changes.
  EXPECT_EQ(changes, (Events{{Kind::kJoined, "w1"},
                             {Kind::kJoined, "w2"},
                             {Kind::kJoined, "w3"},
                             {Kind::kLeft, "w1"}}));
}

TEST_P(CoordTest, RegistryDeadMemberDisappearsWithinTtl) {
  Registry reg(kv(), env().clock(), "/t/workers");
  Session& s = NewSession(env().ShortTtl());
  const absl::Duration ttl = absl::Seconds(s.ttl_seconds());
  HG_ASSERT_OK(reg.Register(s, "w1", "{}"));
  Seen seen;
  absl::StatusOr<std::unique_ptr<PrefixWatch>> watch = reg.Watch(seen.Handler());
  HG_ASSERT_OK(watch);
  const absl::Time died = env().clock().Now();
  s.Stop();  // dies without revoking: only the lease expiry removes it
  // Its last keepalive was at most TTL/3 before the death, so it is there until 2/3 TTL...
  env().AdvanceTime(ttl * 2 / 3 - absl::Milliseconds(500));
  EXPECT_EQ(reg.List()->size(), 1u);
  // ...and gone (watchers told) by TTL (etcd checks expiry every 500 ms: + 1 s).
  env().AdvanceTime(died + ttl + absl::Seconds(1) - env().clock().Now());
  EXPECT_TRUE(Eventually([&] { return seen.Ids().empty(); }, absl::Seconds(1)));
  EXPECT_EQ(seen.Changes(), (Events{{Kind::kJoined, "w1"}, {Kind::kLeft, "w1"}}));
}

}  // namespace
}  // namespace hg::coord::testing
