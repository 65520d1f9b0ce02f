// Tests of the etcd test fixture itself (tests/fixtures/etcd_fixture.h): process control,
// etcdctl, TLS and auth set-up. Other integration tests rely on all of it.
#include "tests/fixtures/etcd_fixture.h"

#include <signal.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace hg::testing {
namespace {

TEST(EtcdFixtureTest, StartsKillsRestartsAndKeepsData) {
  auto etcd = EtcdCluster::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdCluster& c = **etcd;
  ASSERT_EQ(c.size(), 1);
  ASSERT_TRUE(c.Etcdctl({"put", "/fixture/k", "v1"}).ok());
  ASSERT_TRUE(c.Kill(0).ok());
  EXPECT_FALSE(c.Running(0));
  auto down = c.RunEtcdctl({"get", "/fixture/k", "--command-timeout=1s"});
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_NE(down->exit_code, 0);
  ASSERT_TRUE(c.Restart(0).ok());
  auto got = c.Etcdctl({"get", "/fixture/k", "--print-value-only"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "v1\n");
}

TEST(EtcdFixtureTest, DestructorKillsTheProcess) {
  pid_t pid = -1;
  std::string dir;
  {
    auto etcd = EtcdCluster::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    auto pids = RunCommand({"pgrep", "-f", "--", "--data-dir=" + (*etcd)->dir()});
    ASSERT_TRUE(pids.ok());
    ASSERT_EQ(pids->exit_code, 0);
    pid = std::stoi(pids->out);
    dir = (*etcd)->dir();
  }
  EXPECT_NE(kill(pid, 0), 0) << "etcd pid " << pid << " survived the fixture";
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(EtcdFixtureTest, ThreeMembersSurviveTheLeaderKilled) {
  auto etcd = EtcdCluster::Start({.members = 3});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdCluster& c = **etcd;
  ASSERT_EQ(c.Endpoints().size(), 3u);
  auto leader = c.WaitLeader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  ASSERT_TRUE(c.Kill(*leader).ok());
  auto next = c.WaitLeader();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NE(*next, *leader);
  auto put = c.Etcdctl({"put", "/k", "v"}, true, *next);
  EXPECT_TRUE(put.ok()) << put.status();
  ASSERT_TRUE(c.Restart(*leader).ok());
  auto got = c.Etcdctl({"get", "/k", "--print-value-only"}, true, *leader);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "v\n");
}

TEST(EtcdFixtureTest, PausedMemberDoesNotAnswer) {
  auto etcd = EtcdCluster::Start();
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdCluster& c = **etcd;
  ASSERT_TRUE(c.Pause(0).ok());
  auto r = c.RunEtcdctl({"get", "/k", "--command-timeout=500ms"});
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->exit_code, 0);
  ASSERT_TRUE(c.Resume(0).ok());
  EXPECT_TRUE(c.Etcdctl({"get", "/k"}).ok());
}

TEST(EtcdFixtureTest, TlsWithClientCertsAndAuth) {
  auto etcd = EtcdCluster::Start({.tls = true, .client_cert_auth = true, .auth = true});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EtcdCluster& c = **etcd;
  EXPECT_TRUE(absl::StartsWith(c.ClientUrl(0), "https://"));
  auto put = c.Etcdctl({"put", "/k", "v"});
  EXPECT_TRUE(put.ok()) << put.status();
  auto status = c.Etcdctl({"auth", "status"});
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(absl::StrContains(*status, "true")) << *status;
}

}  // namespace
}  // namespace hg::testing
