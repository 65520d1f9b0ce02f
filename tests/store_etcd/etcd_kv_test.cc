// EtcdKv against a real etcd (tests/fixtures/etcd_fixture.h): the shared Kv conformance suite,
// then what only a real cluster shows: watch resume across a crash, endpoint fail-over, auth,
// TLS, unreachable stores.
#include "store/etcd/etcd_kv.h"

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/fixtures/certs.h"
#include "tests/fixtures/etcd_fixture.h"
#include "tests/store/kv_conformance.h"

namespace hg::store {
namespace {

using hg::testing::EtcdCluster;
using hg::testing::EtcdClusterOptions;

// ---- the conformance suite on one etcd shared by the binary's tests ----

EtcdCluster* shared_etcd = nullptr;

class SharedEtcdEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    delete shared_etcd;  // kills the process
    shared_etcd = nullptr;
  }
};
[[maybe_unused]] ::testing::Environment* const kSharedEtcdEnv =
    ::testing::AddGlobalTestEnvironment(new SharedEtcdEnvironment);

EtcdCluster& SharedEtcd() {
  if (shared_etcd == nullptr) {
    auto c = EtcdCluster::Start();
    if (!c.ok()) {
      ADD_FAILURE() << c.status();
      std::abort();  // nothing below can run without etcd
    }
    shared_etcd = c->release();
  }
  return *shared_etcd;
}

class EtcdKvFactory : public store::testing::KvFactory {
 public:
  std::unique_ptr<Kv> Make() override {
    auto kv = EtcdKv::Create({.endpoints = SharedEtcd().Endpoints()});
    EXPECT_TRUE(kv.ok()) << kv.status();
    // An empty keyspace for each test: the etcd is shared, so revisions are not fresh.
    auto del = (*kv)->Delete(DeleteRequest::Prefix(""));
    EXPECT_TRUE(del.ok()) << del.status();
    return std::move(*kv);
  }
  void AdvanceTime(absl::Duration d) override { absl::SleepFor(d); }
  bool FreshRevisions() const override { return false; }
};

HG_KV_CONFORMANCE_SUITE(Etcd, [] { return std::make_unique<EtcdKvFactory>(); });

// ---- helpers ----

std::unique_ptr<EtcdKv> MustConnect(EtcdKvOptions options) {
  auto kv = EtcdKv::Create(std::move(options));
  EXPECT_TRUE(kv.ok()) << kv.status();
  return kv.ok() ? std::move(*kv) : nullptr;
}

// Every event of a watch, in delivery order, plus any final status.
class Recorder {
 public:
  WatchHandler Handler() {
    return [this](const WatchResponse& r) {
      absl::MutexLock lock(&mu_);
      for (const auto& e : r.events) events_.push_back(e);
      if (!r.status.ok()) final_ = r.status;
    };
  }
  bool WaitFor(size_t n, absl::Duration timeout = absl::Seconds(15)) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return events_.size() >= n || !final_.ok(); };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout) && final_.ok();
  }
  std::vector<WatchEvent> events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  absl::Status final_status() {
    absl::MutexLock lock(&mu_);
    return final_;
  }

 private:
  absl::Mutex mu_;
  std::vector<WatchEvent> events_ ABSL_GUARDED_BY(mu_);
  absl::Status final_ ABSL_GUARDED_BY(mu_);
};

// The values "0".."n-1" in order, each once, with strictly increasing revisions.
void ExpectExactlyInOrder(const std::vector<WatchEvent>& events, int n) {
  ASSERT_EQ(events.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(events[i].kv.value, std::to_string(i)) << "event " << i;
    if (i > 0) {
      EXPECT_GT(events[i].kv.mod_revision, events[i - 1].kv.mod_revision);
    }
  }
}

void PutN(Kv& kv, const std::string& prefix, int from, int to) {
  for (int i = from; i < to; ++i) {
    auto r = kv.Put({.key = prefix + std::to_string(i), .value = std::to_string(i)});
    ASSERT_TRUE(r.ok()) << "put " << i << ": " << r.status();
  }
}

// ---- watch resume across an etcd crash ----

TEST(EtcdKvTest, WatchResumesAcrossKillAndRestartWithoutLossOrDuplicates) {
  auto etcd = EtcdCluster::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  auto kv = MustConnect({.endpoints = (*etcd)->Endpoints()});
  ASSERT_NE(kv, nullptr);
  Recorder rec;
  auto w = kv->StartWatch(WatchRequest::Prefix("/w/"), rec.Handler());
  ASSERT_TRUE(w.ok()) << w.status();

  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/w/", 0, 20));
  ASSERT_TRUE(rec.WaitFor(20));
  ASSERT_TRUE((*etcd)->Kill(0).ok());
  ASSERT_TRUE((*etcd)->Restart(0).ok());
  // Written right away: most land before the watch stream is back, so they come from history.
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/w/", 20, 40));
  ASSERT_TRUE(rec.WaitFor(40));
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/w/", 40, 60));
  ASSERT_TRUE(rec.WaitFor(60)) << rec.final_status();
  absl::SleepFor(absl::Milliseconds(100));  // a duplicate would show up by now
  (*w)->Cancel();
  ExpectExactlyInOrder(rec.events(), 60);
}

TEST(EtcdKvTest, WatchCarriesOnWhileEtcdIsDownForAWhile) {
  auto etcd = EtcdCluster::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  auto kv = MustConnect({.endpoints = (*etcd)->Endpoints()});
  ASSERT_NE(kv, nullptr);
  Recorder rec;
  auto w = kv->StartWatch(WatchRequest::Prefix("/d/"), rec.Handler());
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/d/", 0, 5));
  ASSERT_TRUE(rec.WaitFor(5));
  ASSERT_TRUE((*etcd)->Stop(0).ok());
  absl::SleepFor(absl::Seconds(1));  // several failed reconnects
  ASSERT_TRUE((*etcd)->Restart(0).ok());
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/d/", 5, 10));
  ASSERT_TRUE(rec.WaitFor(10)) << rec.final_status();
  (*w)->Cancel();
  ExpectExactlyInOrder(rec.events(), 10);
}

TEST(EtcdKvTest, WatchOutlivesItsKvAndMayCancelItselfFromTheHandler) {
  auto etcd = EtcdCluster::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  auto kv = MustConnect({.endpoints = (*etcd)->Endpoints()});
  ASSERT_NE(kv, nullptr);
  Recorder rec;
  auto w = kv->StartWatch(WatchRequest::Prefix("/o/"), rec.Handler());
  ASSERT_TRUE(w.ok()) << w.status();
  kv.reset();  // the watch keeps the shared connections alive
  auto other = MustConnect({.endpoints = (*etcd)->Endpoints()});
  ASSERT_NE(other, nullptr);
  ASSERT_NO_FATAL_FAILURE(PutN(*other, "/o/", 0, 3));
  EXPECT_TRUE(rec.WaitFor(3)) << rec.final_status();

  // A handler that cancels its own watch: no deadlock, no further calls.
  std::atomic<int> calls{0};
  std::unique_ptr<Watch> self;
  absl::Mutex mu;
  auto started = other->StartWatch(WatchRequest::Prefix("/s/"), [&](const WatchResponse&) {
    calls++;
    absl::MutexLock lock(&mu);
    self->Cancel();
  });
  ASSERT_TRUE(started.ok()) << started.status();
  {
    absl::MutexLock lock(&mu);
    self = std::move(*started);
  }
  ASSERT_NO_FATAL_FAILURE(PutN(*other, "/s/", 0, 1));
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (calls.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_NO_FATAL_FAILURE(PutN(*other, "/s/", 1, 3));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(calls.load(), 1);
  self.reset();  // joins the finished thread
  (*w)->Cancel();
}

TEST(EtcdKvTest, CallsRecoverRightAfterRestart) {
  auto etcd = EtcdCluster::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  // 3 s: more than gRPC's longest reconnect backoff (2 s + jitter), far less than its default.
  auto kv = MustConnect({.endpoints = (*etcd)->Endpoints(), .request_timeout = absl::Seconds(3)});
  ASSERT_NE(kv, nullptr);
  ASSERT_TRUE(kv->Put({.key = "k", .value = "1"}).ok());
  ASSERT_TRUE((*etcd)->Kill(0).ok());
  // Down: a clear kUnavailable at the deadline, never a hang.
  absl::Time start = absl::Now();
  auto down = kv->Range(RangeRequest::Key("k"));
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  ASSERT_TRUE((*etcd)->Restart(0).ok());
  // gRPC 1.51 would stall ~10 s here without wait_for_ready and the short backoff.
  auto put = kv->Put({.key = "k", .value = "2"});
  EXPECT_TRUE(put.ok()) << put.status();
}

TEST(EtcdKvTest, UnreachableEndpointIsUnavailable) {
  auto kv = MustConnect({.endpoints = {"127.0.0.1:1"}, .request_timeout = absl::Milliseconds(300)});
  ASSERT_NE(kv, nullptr);
  auto r = kv->Range(RangeRequest::Key("k"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  auto w = kv->StartWatch(WatchRequest::Prefix("p/"), [](const WatchResponse&) {});
  EXPECT_EQ(w.status().code(), absl::StatusCode::kUnavailable) << w.status();
}

TEST(EtcdKvTest, BadOptionsAreRejected) {
  EXPECT_EQ(EtcdKv::Create({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EtcdKv::Create({.endpoints = {"http://"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(EtcdKv::Create(
                   {.endpoints = {"127.0.0.1:2379"}, .tls = true, .ca_file = "/nonexistent/ca.crt"})
                   .ok());
}

// ---- a 3-member cluster with members going away ----

TEST(EtcdKvTest, ThreeMembersClientFailsOverWhenItsMemberDies) {
  auto etcd = EtcdCluster::Start({.members = 3});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdCluster& c = **etcd;
  auto leader = c.WaitLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  // The client prefers its first endpoint: make that a follower, then kill it.
  const int victim = (*leader + 1) % 3;
  std::vector<std::string> endpoints = {c.Endpoint(victim)};
  for (int i = 0; i < 3; ++i) {
    if (i != victim) endpoints.push_back(c.Endpoint(i));
  }
  auto kv = MustConnect({.endpoints = endpoints});
  ASSERT_NE(kv, nullptr);
  Recorder rec;
  auto w = kv->StartWatch(WatchRequest::Prefix("/f/"), rec.Handler());
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/f/", 0, 10));
  ASSERT_TRUE(rec.WaitFor(10));

  ASSERT_TRUE(c.Kill(victim).ok());
  // No waiting: reads and the watch move to the live members by themselves. (A write racing
  // the crash on the old connection may fail with kUnavailable, outcome unknown, exactly as
  // with etcd's clientv3: it is not re-sent. The read first makes the test deterministic.)
  auto r = kv->Range(RangeRequest::Prefix("/f/"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->count, 10);
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/f/", 10, 20));
  r = kv->Range(RangeRequest::Prefix("/f/"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->count, 20);
  ASSERT_TRUE(rec.WaitFor(20)) << rec.final_status();

  // Now the leader goes: once a new one is elected the client carries on.
  ASSERT_TRUE(c.Restart(victim).ok());
  ASSERT_TRUE(c.Kill(*leader).ok());
  ASSERT_TRUE(c.WaitLeader().ok());
  r = kv->Range(RangeRequest::Prefix("/f/"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->count, 20);
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/f/", 20, 30));
  r = kv->Range(RangeRequest::Prefix("/f/"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->count, 30);
  ASSERT_TRUE(rec.WaitFor(30)) << rec.final_status();
  absl::SleepFor(absl::Milliseconds(100));
  (*w)->Cancel();
  ExpectExactlyInOrder(rec.events(), 30);
}

TEST(EtcdKvTest, HungMemberCostsOneDeadlineThenCallsGoElsewhere) {
  auto etcd = EtcdCluster::Start({.members = 3});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdCluster& c = **etcd;
  auto leader = c.WaitLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int hung = (*leader + 1) % 3;  // a follower: the cluster itself stays healthy
  std::vector<std::string> endpoints = {c.Endpoint(hung)};
  for (int i = 0; i < 3; ++i) {
    if (i != hung) endpoints.push_back(c.Endpoint(i));
  }
  auto kv = MustConnect({.endpoints = endpoints, .request_timeout = absl::Milliseconds(800)});
  ASSERT_NE(kv, nullptr);
  ASSERT_TRUE(kv->Put({.key = "h", .value = "1"}).ok());  // connected to the soon-hung member

  ASSERT_TRUE(c.Pause(hung).ok());
  // The connection looks fine but nothing answers: this call can only time out...
  auto first = kv->Range(RangeRequest::Key("h"));
  EXPECT_EQ(first.status().code(), absl::StatusCode::kDeadlineExceeded) << first.status();
  // ...and the next ones go to a live member.
  auto put = kv->Put({.key = "h", .value = "2"});
  EXPECT_TRUE(put.ok()) << put.status();
  auto got = kv->Range(RangeRequest::Key("h"));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].value, "2");
  ASSERT_TRUE(c.Resume(hung).ok());
}

// ---- auth ----

TEST(EtcdKvTest, AuthWithPasswordAndReauthAfterRestart) {
  auto etcd = EtcdCluster::Start({.auth = true});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdCluster& c = **etcd;
  const std::string password = c.options().root_password;

  auto wrong = MustConnect({.endpoints = c.Endpoints(), .username = "root", .password = "nope"});
  ASSERT_NE(wrong, nullptr);
  auto denied = wrong->Put({.key = "a", .value = "1"});
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kUnauthenticated) << denied.status();
  EXPECT_TRUE(absl::StrContains(denied.status().message(), "authentication")) << denied.status();

  auto anonymous = MustConnect({.endpoints = c.Endpoints()});
  ASSERT_NE(anonymous, nullptr);
  EXPECT_FALSE(anonymous->Put({.key = "a", .value = "1"}).ok());

  auto kv = MustConnect({.endpoints = c.Endpoints(), .username = "root", .password = password});
  ASSERT_NE(kv, nullptr);
  Recorder rec;
  auto w = kv->StartWatch(WatchRequest::Prefix("/a/"), rec.Handler());
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/a/", 0, 3));
  ASSERT_TRUE(rec.WaitFor(3)) << rec.final_status();
  auto got = c.Etcdctl({"get", "/a/0", "--print-value-only"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "0\n");

  // Simple tokens live in etcd's memory: after a restart ours is invalid and must be renewed.
  ASSERT_TRUE(c.Kill(0).ok());
  ASSERT_TRUE(c.Restart(0).ok());
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/a/", 3, 6));
  ASSERT_TRUE(rec.WaitFor(6)) << rec.final_status();
  (*w)->Cancel();
  ExpectExactlyInOrder(rec.events(), 6);
}

// What a deployment uses: a user whose role covers only Hourglass's prefix (not root).
absl::Status AddPrefixUser(const EtcdCluster& c, const std::string& user,
                           const std::string& password, const std::string& prefix) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"user", "add", user + ":" + password, "--interactive=false"},
        {"role", "add", user + "-rw"},
        {"role", "grant-permission", user + "-rw", "--prefix=true", "readwrite", prefix},
        {"user", "grant-role", user, user + "-rw"}}) {
    auto out = c.Etcdctl(args);
    if (!out.ok()) return out.status();
  }
  return absl::OkStatus();
}

// An etcd with auth on and user "hourglass" (password "hg-pw") whose role covers /hourglass/
// only; `kv` logs in as that user.
struct PrefixUserEtcd {
  std::unique_ptr<EtcdCluster> etcd;
  std::unique_ptr<EtcdKv> kv;
};
void StartWithPrefixUser(std::vector<std::string> extra_flags, PrefixUserEtcd* out) {
  auto etcd = EtcdCluster::Start({.auth = true, .extra_flags = std::move(extra_flags)});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  out->etcd = *std::move(etcd);
  ASSERT_TRUE(AddPrefixUser(*out->etcd, "hourglass", "hg-pw", "/hourglass/").ok());
  out->kv = MustConnect(
      {.endpoints = out->etcd->Endpoints(), .username = "hourglass", .password = "hg-pw"});
  ASSERT_NE(out->kv, nullptr);
}

TEST(EtcdKvTest, AuthUserWithRoleOnPrefixOnly) {
  PrefixUserEtcd e;
  ASSERT_NO_FATAL_FAILURE(StartWithPrefixUser({}, &e));
  EtcdCluster& c = *e.etcd;
  EtcdKv* kv = e.kv.get();
  Recorder rec;
  auto w = kv->StartWatch(WatchRequest::Prefix("/hourglass/w/"), rec.Handler());
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/hourglass/w/", 0, 3));
  ASSERT_TRUE(rec.WaitFor(3)) << rec.final_status();
  auto got = kv->Range(RangeRequest::Key("/hourglass/w/1"));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].value, "1");
  auto lease = kv->LeaseGrant(5);
  ASSERT_TRUE(lease.ok()) << lease.status();
  (*w)->Cancel();

  // Outside the role's prefix: denied, as a code (not a transport error).
  auto outside = kv->Put({.key = "/other/k", .value = "x"});
  EXPECT_EQ(outside.status().code(), absl::StatusCode::kPermissionDenied) << outside.status();

  auto wrong = MustConnect({.endpoints = c.Endpoints(), .username = "hourglass", .password = "no"});
  ASSERT_NE(wrong, nullptr);
  auto denied = wrong->Range(RangeRequest::Key("/hourglass/w/1"));
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kUnauthenticated) << denied.status();
  EXPECT_TRUE(absl::StrContains(denied.status().message(), "\"hourglass\"")) << denied.status();
  auto wrong_watch = wrong->StartWatch(WatchRequest::Prefix("/hourglass/"), rec.Handler());
  EXPECT_EQ(wrong_watch.status().code(), absl::StatusCode::kUnauthenticated)
      << wrong_watch.status();
}

// etcd's simple tokens expire after --auth-token-ttl of disuse (default 5 min): a long-lived
// client whose token expired must log in again by itself, for calls and for new watches.
TEST(EtcdKvTest, AuthReauthenticatesAfterTokenExpiry) {
  PrefixUserEtcd e;
  ASSERT_NO_FATAL_FAILURE(StartWithPrefixUser({"--auth-token-ttl=1"}, &e));
  EtcdKv* kv = e.kv.get();
  Recorder rec;
  auto w = kv->StartWatch(WatchRequest::Prefix("/hourglass/t/"), rec.Handler());
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/hourglass/t/", 0, 2));
  ASSERT_TRUE(rec.WaitFor(2)) << rec.final_status();

  // Real etcd time: the token's TTL runs out while the client is idle.
  absl::SleepFor(absl::Seconds(3));
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/hourglass/t/", 2, 4));
  ASSERT_TRUE(rec.WaitFor(4)) << rec.final_status();
  absl::SleepFor(absl::Seconds(3));
  Recorder late;
  auto w2 = kv->StartWatch(WatchRequest::Prefix("/hourglass/t/"), late.Handler());
  ASSERT_TRUE(w2.ok()) << w2.status();
  auto got = kv->Range(RangeRequest::Prefix("/hourglass/t/"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kvs.size(), 4u);
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/hourglass/t/", 4, 5));
  EXPECT_TRUE(late.WaitFor(1)) << late.final_status();
  ASSERT_TRUE(rec.WaitFor(5)) << rec.final_status();
  (*w2)->Cancel();
  (*w)->Cancel();
  ExpectExactlyInOrder(rec.events(), 5);
}

// ---- TLS ----

TEST(EtcdKvTest, TlsWithClientCertificates) {
  auto etcd = EtcdCluster::Start({.tls = true, .client_cert_auth = true});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdCluster& c = **etcd;
  const auto& files = c.tls_files();

  auto kv = MustConnect({.endpoints = {c.ClientUrl(0)},
                         .ca_file = files.ca_cert,
                         .cert_file = files.client_cert,
                         .key_file = files.client_key});
  ASSERT_NE(kv, nullptr);
  auto put = kv->Put({.key = "t", .value = "secure"});
  ASSERT_TRUE(put.ok()) << put.status();
  Recorder rec;
  auto w = kv->StartWatch(WatchRequest::Prefix("/t/"), rec.Handler());
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_NO_FATAL_FAILURE(PutN(*kv, "/t/", 0, 2));
  EXPECT_TRUE(rec.WaitFor(2)) << rec.final_status();
  (*w)->Cancel();

  // Without a client certificate the server refuses the handshake: a transport error that
  // names the endpoint, never a hang.
  auto no_cert = MustConnect({.endpoints = {c.ClientUrl(0)},
                              .request_timeout = absl::Milliseconds(500),
                              .ca_file = files.ca_cert});
  ASSERT_NE(no_cert, nullptr);
  auto refused = no_cert->Range(RangeRequest::Key("t"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), c.Endpoint(0))) << refused.status();

  // A client certificate from another CA is refused the same way.
  auto other_dir = hg::testing::MakeTempDir("other-ca");
  ASSERT_TRUE(other_dir.ok()) << other_dir.status();
  auto other = hg::testing::GenerateCerts(*other_dir);
  ASSERT_TRUE(other.ok()) << other.status();
  auto foreign = MustConnect({.endpoints = {c.ClientUrl(0)},
                              .request_timeout = absl::Milliseconds(500),
                              .ca_file = files.ca_cert,
                              .cert_file = other->master_cert,
                              .key_file = other->master_key});
  ASSERT_NE(foreign, nullptr);
  auto foreign_put = foreign->Put({.key = "t", .value = "forged"});
  EXPECT_EQ(foreign_put.status().code(), absl::StatusCode::kUnavailable) << foreign_put.status();
  auto foreign_watch = foreign->StartWatch(WatchRequest::Prefix("/t/"), rec.Handler());
  EXPECT_FALSE(foreign_watch.ok());
  // A server whose certificate our CA did not sign is refused by the client.
  auto wrong_ca = MustConnect({.endpoints = {c.ClientUrl(0)},
                               .request_timeout = absl::Milliseconds(500),
                               .ca_file = other->ca,
                               .cert_file = files.client_cert,
                               .key_file = files.client_key});
  ASSERT_NE(wrong_ca, nullptr);
  EXPECT_EQ(wrong_ca->Range(RangeRequest::Key("t")).status().code(),
            absl::StatusCode::kUnavailable);
  std::filesystem::remove_all(*other_dir);
  // Plain text to a TLS port fails too.
  auto plain =
      MustConnect({.endpoints = c.Endpoints(), .request_timeout = absl::Milliseconds(500)});
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->Range(RangeRequest::Key("t")).ok());
}

}  // namespace
}  // namespace hg::store
