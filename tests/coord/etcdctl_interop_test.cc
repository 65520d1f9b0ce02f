// Interoperability with etcd's own recipes (Debian etcd-client 3.4): our Election takes part in
// the same elections as `etcdctl elect`, our Mutex excludes `etcdctl lock`, both ways, on the
// key layout of DESIGN.md (/hourglass/election, /hourglass/locks/<job>).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <future>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "coord/election.h"
#include "coord/mutex.h"
#include "coord/session.h"
#include "store/etcd/etcd_kv.h"
#include "tests/fixtures/etcd_fixture.h"

namespace hg::coord {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kElection[] = "/hourglass/election";
constexpr char kLock[] = "/hourglass/locks/job1";

bool Eventually(const std::function<bool()>& cond, absl::Duration timeout = absl::Seconds(15)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!cond()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One etcdctl running in the background (through the fixture's RunCommand on its own thread),
// its output in a file we can read while it runs, its pid in another so we can signal it.
class BackgroundEtcdctl {
 public:
  BackgroundEtcdctl(const hg::testing::EtcdCluster& etcd, const std::vector<std::string>& args) {
    static int next = 0;
    const std::string base = absl::StrCat(etcd.dir(), "/etcdctl-", next++);
    pid_file_ = base + ".pid";
    out_file_ = base + ".out";
    std::vector<std::string> argv = {
        "sh",
        "-c",
        absl::StrCat("echo $$ > ", pid_file_, "; exec \"$@\" > ", out_file_, " 2>&1"),
        "sh",
        "etcdctl",
        absl::StrCat("--endpoints=", etcd.ClientUrls())};
    argv.insert(argv.end(), args.begin(), args.end());
    result_ = std::async(std::launch::async, [argv] {
      return hg::testing::RunCommand(argv, {{"ETCDCTL_API", "3"}}, absl::Seconds(90));
    });
    Eventually([&] { return absl::SimpleAtoi(ReadFile(pid_file_), &pid_) && pid_ > 0; });
  }
  ~BackgroundEtcdctl() {
    if (result_.valid()) {
      Signal(SIGKILL);
      result_.wait();
    }
  }

  std::string Output() const { return ReadFile(out_file_); }
  void Signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }
  // Waits for the exit; returns its code (-1 if it could not run).
  int Finish() {
    absl::StatusOr<hg::testing::CommandResult> r = result_.get();
    return r.ok() ? r->exit_code : -1;
  }

 private:
  std::string pid_file_;
  std::string out_file_;
  int pid_ = 0;
  std::future<absl::StatusOr<hg::testing::CommandResult>> result_;
};

class EtcdctlInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<hg::testing::EtcdCluster>> etcd =
        hg::testing::EtcdCluster::Start();
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    store::EtcdKvOptions options;
    options.endpoints = etcd_->Endpoints();
    absl::StatusOr<std::unique_ptr<store::EtcdKv>> kv = store::EtcdKv::Create(options);
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    session_ = std::make_unique<Session>(*kv_, RealClock::Get(), SessionOptions{.ttl_seconds = 10});
    absl::Status status = session_->Start();
    ASSERT_TRUE(status.ok()) << status;
  }
  void TearDown() override {
    session_.reset();
    kv_.reset();
    etcd_.reset();
  }

  std::unique_ptr<hg::testing::EtcdCluster> etcd_;
  std::unique_ptr<store::EtcdKv> kv_;
  std::unique_ptr<Session> session_;
};

TEST_F(EtcdctlInteropTest, ElectListenShowsOurLeader) {
  Election election(*session_, kElection);
  ASSERT_TRUE(election.Campaign("ours").ok());
  BackgroundEtcdctl listen(*etcd_, {"elect", "--listen", kElection});
  ASSERT_TRUE(Eventually([&] { return absl::StrContains(listen.Output(), "ours"); }))
      << listen.Output();
  EXPECT_THAT(listen.Output(), HasSubstr(absl::StrCat(election.key(), "\nours\n")));
  ASSERT_TRUE(election.Proclaim("ours-again").ok());
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(listen.Output(), "ours-again"); }))
      << listen.Output();
  listen.Signal(SIGINT);
  EXPECT_EQ(listen.Finish(), 0);
}

TEST_F(EtcdctlInteropTest, LeaderElectedByEtcdctlHoldsOffOurCampaign) {
  BackgroundEtcdctl theirs(*etcd_, {"elect", kElection, "theirs"});
  ASSERT_TRUE(Eventually([&] { return absl::StrContains(theirs.Output(), "theirs"); }))
      << theirs.Output();
  Election election(*session_, kElection);
  absl::StatusOr<store::KeyValue> leader = election.Leader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  EXPECT_EQ(leader->value, "theirs");
  EXPECT_THAT(leader->key, StartsWith(std::string(kElection) + "/"));
  EXPECT_THAT(theirs.Output(), StartsWith(leader->key + "\n"));  // etcdctl prints its key

  absl::Mutex mu;
  std::vector<std::string> seen;
  auto observer = election.Observe([&](const std::optional<store::KeyValue>& kv) {
    absl::MutexLock lock(&mu);
    seen.push_back(kv ? kv->value : "<none>");
  });
  ASSERT_TRUE(observer.ok()) << observer.status();

  auto campaign = std::async(std::launch::async, [&] { return election.Campaign("ours"); });
  EXPECT_EQ(campaign.wait_for(std::chrono::seconds(1)), std::future_status::timeout);
  theirs.Signal(SIGINT);  // etcdctl resigns on SIGINT
  ASSERT_EQ(campaign.wait_for(std::chrono::seconds(15)), std::future_status::ready);
  absl::Status status = campaign.get();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(theirs.Finish(), 0);
  EXPECT_GT(election.term(), leader->create_revision);
  EXPECT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return seen == std::vector<std::string>{"theirs", "ours"};
  }));
  ASSERT_TRUE(election.Resign().ok());
}

TEST_F(EtcdctlInteropTest, OurMutexHoldsOffEtcdctlLock) {
  Mutex mutex(*session_, kLock);
  ASSERT_TRUE(mutex.Lock("exec-1").ok());
  // etcdctl lock runs the command while it holds the lock, then releases it.
  BackgroundEtcdctl theirs(*etcd_, {"lock", kLock, "--", "sh", "-c",
                                    "echo ACQUIRED $ETCD_LOCK_KEY; sleep 3; echo DONE"});
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<store::RangeResponse> r =
        kv_->Range(store::RangeRequest::Prefix(std::string(kLock) + "/"));
    return r.ok() && r->kvs.size() == 2;  // etcdctl queued behind us
  })) << theirs.Output();
  absl::SleepFor(absl::Seconds(1));
  EXPECT_THAT(theirs.Output(), Not(HasSubstr("ACQUIRED")));
  EXPECT_EQ(mutex.Holder()->value, "exec-1");

  ASSERT_TRUE(mutex.Unlock().ok());
  ASSERT_TRUE(Eventually([&] { return absl::StrContains(theirs.Output(), "ACQUIRED"); }))
      << theirs.Output();
  // While etcdctl holds it (its command sleeps 3 s) we do not get it, and we see who does.
  store::KeyValue holder;
  absl::Status tried = mutex.TryLock("exec-2", &holder);
  EXPECT_EQ(tried.code(), absl::StatusCode::kAlreadyExists) << tried;
  EXPECT_THAT(theirs.Output(), HasSubstr("ACQUIRED " + holder.key + "\n"));
  EXPECT_THAT(theirs.Output(), Not(HasSubstr("DONE")));
  EXPECT_EQ(theirs.Finish(), 0);  // the command ended: etcdctl released the lock
  ASSERT_TRUE(mutex.TryLock("exec-2").ok());
  ASSERT_TRUE(mutex.Unlock().ok());
}

TEST_F(EtcdctlInteropTest, EtcdctlLockHoldsOffOurMutex) {
  BackgroundEtcdctl theirs(*etcd_, {"lock", kLock});  // holds until SIGINT
  ASSERT_TRUE(Eventually([&] {
    return absl::StrContains(theirs.Output(), std::string(kLock) + "/");
  })) << theirs.Output();
  const std::string their_key(absl::StripAsciiWhitespace(
      std::vector<std::string>(absl::StrSplit(theirs.Output(), '\n')).front()));

  Mutex mutex(*session_, kLock);
  store::KeyValue holder;
  absl::Status tried = mutex.TryLock("exec-1", &holder);
  EXPECT_EQ(tried.code(), absl::StatusCode::kAlreadyExists) << tried;
  EXPECT_EQ(holder.key, their_key);
  EXPECT_EQ(holder.value, "");  // etcd's Mutex stores an empty value

  auto lock = std::async(std::launch::async, [&] { return mutex.Lock("exec-1"); });
  EXPECT_EQ(lock.wait_for(std::chrono::seconds(1)), std::future_status::timeout);
  theirs.Signal(SIGINT);  // etcdctl unlocks on SIGINT
  ASSERT_EQ(lock.wait_for(std::chrono::seconds(15)), std::future_status::ready);
  absl::Status status = lock.get();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(theirs.Finish(), 0);
  EXPECT_EQ(mutex.Holder()->value, "exec-1");
  ASSERT_TRUE(mutex.Unlock().ok());
}

}  // namespace
}  // namespace hg::coord
