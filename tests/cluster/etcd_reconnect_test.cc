// EtcdKv with three endpoints through a full etcd outage (found by scenario (d)): a client that
// keeps calling while every member is down must reconnect as soon as they are back. Before the
// fix (EtcdKv::Core::Kick) gRPC 1.51 left every channel in sticky TRANSIENT_FAILURE and the
// client failed "not reachable" indefinitely: masters never regained a session.
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "common/clock.h"
#include "store/etcd/etcd_kv.h"
#include "tests/fixtures/etcd_fixture.h"

namespace hg::testing {
namespace {

TEST(EtcdReconnect, ThreeEndpointsRecoverRightAfterFullOutage) {
  auto etcd = EtcdCluster::Start({.members = 3});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdCluster& c = **etcd;
  ASSERT_TRUE(c.WaitLeader().ok());
  store::EtcdKvOptions o;
  o.endpoints = c.Endpoints();
  auto kv = store::EtcdKv::Create(o, RealClock::Get());
  ASSERT_TRUE(kv.ok()) << kv.status();
  auto watch = (*kv)->StartWatch(store::WatchRequest::Prefix("/p/"),
                                 [](const store::WatchResponse&) {});
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(store::Get(**kv, "/p/x").ok());

  for (int m = 0; m < 3; ++m) ASSERT_TRUE(c.Stop(m).ok());
  const absl::Time until = absl::Now() + absl::Seconds(4);
  while (absl::Now() < until) {
    EXPECT_FALSE(store::Get(**kv, "/p/x").ok());  // calls while nobody answers
    absl::SleepFor(absl::Milliseconds(100));
  }
  for (int m = 0; m < 3; ++m) ASSERT_TRUE(c.Restart(m, /*wait_healthy=*/false).ok());
  ASSERT_TRUE(c.WaitLeader(absl::Seconds(30)).ok());

  const absl::Time back = absl::Now();
  absl::Status last;
  bool ok = false;
  while (!ok && absl::Now() < back + absl::Seconds(10)) {
    auto g = store::Get(**kv, "/p/x");
    ok = g.ok();
    if (!ok) last = g.status();
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(ok) << "still failing 10 s after etcd came back: " << last;
  std::cout << "FIGURE etcd_client_reconnect_ms=" << absl::ToDoubleMilliseconds(absl::Now() - back)
            << std::endl;
  (*watch)->Cancel();
}

}  // namespace
}  // namespace hg::testing
