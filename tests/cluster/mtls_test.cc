// mTLS between masters and workers end to end (docs/design/transport.md), with certificates from
// scripts/gen-certs: etcd + a master + a worker, both with --grpc-ca/--grpc-cert/--grpc-key; a
// triggered run goes through the mutual-TLS link and succeeds. And the safe defaults of the
// binary: a worker that would listen beyond loopback in plaintext, or is given broken
// certificate files, refuses to start with a message saying what to do.
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/scenario.h"
#include "tests/fixtures/certs.h"

namespace hg::testing {
namespace {

std::string Binary() {
  const char* bin_dir = std::getenv("HG_BINARY_DIR");  // NOLINT: set by hg_test
  return absl::StrCat(bin_dir ? bin_dir : ".", "/src/app/hourglass");
}

class MtlsCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = MakeTempDir("mtls-cluster");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
    auto certs = GenerateCerts(dir_);
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  ClusterCerts certs_;
};

// Starts etcd + 1 master + 1 worker with these extra flags and waits until both are up.
void StartCluster(std::vector<std::string> master_args, std::vector<std::string> worker_args,
                  std::unique_ptr<Cluster>* out) {
  auto cluster = Cluster::Start(
      {.masters = 1, .workers = 1, .master_args = master_args, .worker_args = worker_args});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  *out = *std::move(cluster);
  ASSERT_TRUE((*out)->WaitLeader(absl::Seconds(30)).ok());
  ASSERT_TRUE((*out)->WaitWorkers(1, absl::Seconds(30)).ok());
}

// Creates a shell job that never fires by itself, triggers it once and waits until the run's
// status is `want`; returns its record.
void TriggerAndWait(Cluster& c, const std::string& name, const std::string& starting_deadline,
                    const std::string& want, nlohmann::json* last) {
  const nlohmann::json job = ShellJob({.name = name,
                                       .cron = "0 0 1 1 *",
                                       .out_file = c.dir() + "/runs.txt",
                                       .starting_deadline = starting_deadline});
  auto created = c.Http(-1, "POST", "/jobs/", job.dump());
  ASSERT_TRUE(created.ok() && created->status == 201) << (created.ok() ? created->body : "");
  auto triggered = c.Http(-1, "POST", "/jobs/" + name + "/trigger");
  ASSERT_TRUE(triggered.ok() && triggered->status == 202)
      << (triggered.ok() ? triggered->body : "");
  const std::string id = triggered->Json().value("id", "");
  EXPECT_TRUE(WaitFor(
      [&] {
        auto e = Execution(c, id);
        if (e.ok()) *last = *e;
        return e.ok() && last->value("status", "") == want;
      },
      absl::Seconds(30)))
      << last->dump();
}

TEST_F(MtlsCluster, ARunGoesThroughMutualTls) {
  std::unique_ptr<Cluster> c;
  ASSERT_NO_FATAL_FAILURE(StartCluster(
      {"--grpc-ca", certs_.ca, "--grpc-cert", certs_.master_cert, "--grpc-key", certs_.master_key},
      {"--grpc-ca", certs_.ca, "--grpc-cert", certs_.worker_cert, "--grpc-key", certs_.worker_key},
      &c));
  auto info = c->Http(-1, "GET", "/cluster");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->Json()["workers"][0].value("transport", ""), "mtls") << info->body;
  nlohmann::json last;
  ASSERT_NO_FATAL_FAILURE(TriggerAndWait(*c, "over-mtls", "10s", "success", &last));
  EXPECT_EQ(ReadRuns(c->dir() + "/runs.txt").size(), 1u);
}

// A master without the cluster's client certificate (plaintext, or anyone else's) reaches no
// mTLS worker: the run ends without running, for want of a worker.
TEST_F(MtlsCluster, AMasterWithoutTheClientCertificateRunsNothing) {
  std::unique_ptr<Cluster> c;
  ASSERT_NO_FATAL_FAILURE(StartCluster(
      {},
      {"--grpc-ca", certs_.ca, "--grpc-cert", certs_.worker_cert, "--grpc-key", certs_.worker_key},
      &c));
  nlohmann::json last;
  ASSERT_NO_FATAL_FAILURE(TriggerAndWait(*c, "plaintext", "2s", "failed", &last));
  EXPECT_EQ(last.value("reason", ""), "no_worker") << last.dump();
  EXPECT_TRUE(ReadRuns(c->dir() + "/runs.txt").empty());
}

// The whole cluster secured: mTLS between master and worker, and etcd over TLS with client
// certificates and auth on, reached through the binary's --etcd-* flags.
TEST_F(MtlsCluster, ARunWithEtcdOverTlsAndAuth) {
  auto cluster =
      Cluster::Start({.masters = 1,
                      .workers = 1,
                      .master_args = {"--grpc-ca", certs_.ca, "--grpc-cert", certs_.master_cert,
                                      "--grpc-key", certs_.master_key},
                      .worker_args = {"--grpc-ca", certs_.ca, "--grpc-cert", certs_.worker_cert,
                                      "--grpc-key", certs_.worker_key},
                      .etcd_tls_auth = true});
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  Cluster& c = **cluster;
  ASSERT_TRUE(c.WaitLeader(absl::Seconds(30)).ok());
  ASSERT_TRUE(c.WaitWorkers(1, absl::Seconds(30)).ok());
  nlohmann::json last;
  ASSERT_NO_FATAL_FAILURE(TriggerAndWait(c, "etcd-tls", "10s", "success", &last));
  // What the run wrote is in the secured etcd.
  auto keys = c.etcd().Etcdctl({"get", "--prefix", "--keys-only", "/hourglass/jobs/"});
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_TRUE(absl::StrContains(*keys, "etcd-tls")) << *keys;
}

// `hourglass worker` with `args`: its exit code and stderr (it must refuse before any etcd
// call; the endpoint is unreachable anyway).
CommandResult RunWorker(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {Binary(), "worker", "--etcd", "127.0.0.1:1", "--metrics", ""};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunCommand(argv, {}, absl::Seconds(20));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

TEST_F(MtlsCluster, WorkerRefusesPlaintextBeyondLoopbackAndBrokenCertificates) {
  CommandResult open = RunWorker({"--grpc", "0.0.0.0:0"});
  EXPECT_EQ(open.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(open.err, "--insecure-no-tls")) << open.err;

  CommandResult partial = RunWorker({"--grpc", "0.0.0.0:0", "--grpc-ca", certs_.ca});
  EXPECT_EQ(partial.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(partial.err, "--grpc-cert")) << partial.err;

  CommandResult master_cert =
      RunWorker({"--grpc", "0.0.0.0:0", "--grpc-ca", certs_.ca, "--grpc-cert", certs_.master_cert,
                 "--grpc-key", certs_.master_key});
  EXPECT_EQ(master_cert.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(master_cert.err, "hourglass:worker")) << master_cert.err;

  CommandResult bad_flag = RunWorker({"--insecure-no-tls", "maybe"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad_flag.err, "--insecure-no-tls: must be true or false"))
      << bad_flag.err;
}

}  // namespace
}  // namespace hg::testing
