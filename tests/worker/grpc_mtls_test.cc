// The worker's gRPC port under mTLS (tls/mtls.h): only a master certificate signed by the
// cluster CA gets an answer. Everyone else is refused before any RPC runs: a client without a
// certificate, with one from another CA, with a worker's certificate, or with plaintext. A
// certificate of the right CA but without the master role gets PERMISSION_DENIED.
#include <filesystem>

#include "common/address.h"
#include "dispatch/worker_client.h"
#include "tests/fixtures/certs.h"
#include "tests/worker/worker_test_util.h"
#include "tls/mtls.h"
#include "worker.grpc.pb.h"
#include "worker/grpc_server.h"

namespace hg::worker::testing {
namespace {

using hg::testing::ClusterCerts;

class GrpcMtlsTest : public WorkerFixture {
 protected:
  void SetUp() override {
    WorkerFixture::SetUp();
    auto dir = hg::testing::MakeTempDir("mtls");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
    auto certs = hg::testing::GenerateCerts(dir_ + "/cluster");
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
    auto other = hg::testing::GenerateCerts(dir_ + "/other");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = *other;
    auto id = tls::LoadMtls({certs_.ca, certs_.worker_cert, certs_.worker_key}, tls::kWorkerRole);
    ASSERT_TRUE(id.ok()) << id.status();
    server_ = std::make_unique<GrpcWorkerServer>(StartWorker("mtls-w"));
    auto port = server_->Start("127.0.0.1:0", tls::WorkerServerCredentials(*id));
    ASSERT_TRUE(port.ok()) << port.status();
    address_ = absl::StrCat("127.0.0.1:", *port);
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
    WorkerFixture::TearDown();
  }

  static std::string Read(const std::string& path) {
    auto pem = tls::ReadPemFile(path, "test");
    EXPECT_TRUE(pem.ok()) << pem.status();
    return pem.ok() ? *pem : "";
  }
  // TLS channel credentials trusting `ca` and presenting cert/key (none when empty).
  static std::shared_ptr<grpc::ChannelCredentials> Creds(const std::string& ca,
                                                         const std::string& cert = "",
                                                         const std::string& key = "") {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = Read(ca);
    if (!cert.empty()) {
      o.pem_cert_chain = Read(cert);
      o.pem_private_key = Read(key);
    }
    return grpc::SslCredentials(o);
  }
  grpc::Status Health(std::shared_ptr<grpc::ChannelCredentials> creds,
                      hourglass::v1::HealthResponse* resp = nullptr) {
    auto stub = hourglass::v1::Worker::NewStub(grpc::CreateChannel(address_, creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    hourglass::v1::HealthResponse local;
    return stub->Health(&ctx, {}, resp != nullptr ? resp : &local);
  }
  grpc::Status RunJob(std::shared_ptr<grpc::ChannelCredentials> creds,
                      const model::ExecutionId& id) {
    auto stub = hourglass::v1::Worker::NewStub(grpc::CreateChannel(address_, creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    hourglass::v1::RunResponse resp;
    hourglass::v1::RunRequest req;
    req.add_items()->set_execution_id(id.str());
    return stub->Run(&ctx, req, &resp);
  }

  std::string dir_;
  ClusterCerts certs_, other_;
  std::unique_ptr<GrpcWorkerServer> server_;
  std::string address_;
};

TEST_F(GrpcMtlsTest, MasterCertificateOfTheClusterCaIsServed) {
  hourglass::v1::HealthResponse resp;
  grpc::Status st = Health(Creds(certs_.ca, certs_.master_cert, certs_.master_key), &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.worker_id(), "mtls-w");
  // And through the master's own client, which checks the worker's certificate too.
  auto id = tls::LoadMtls({certs_.ca, certs_.master_cert, certs_.master_key}, tls::kMasterRole);
  ASSERT_TRUE(id.ok()) << id.status();
  dispatch::GrpcWorkerClient client({.credentials = tls::MasterChannelCredentials(*id)});
  model::Job job = ShellJob("over-mtls", "true");
  model::ExecutionId exec = Schedule(job);
  hourglass::v1::RunRequest req;
  req.add_items()->set_execution_id(exec.str());
  auto run = client.Run(address_, req, absl::Seconds(5));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->items_size(), 1);
  EXPECT_EQ(run->items(0).outcome(), hourglass::v1::RunResponse::STARTED);
  EXPECT_EQ(WaitFinal(exec).status, model::ExecutionStatus::kSuccess);
}

TEST_F(GrpcMtlsTest, ForgedCallersAreRefusedAndNothingRuns) {
  model::Job job = ShellJob("forged", "true");
  const model::ExecutionId exec = Schedule(job);
  struct Case {
    std::string name;
    std::shared_ptr<grpc::ChannelCredentials> creds;
    grpc::StatusCode want;
  };
  ASSERT_TRUE(hg::testing::IssueCert(certs_, "worker-as-client", "impostor",
                                     "extendedKeyUsage=clientAuth,serverAuth\n"
                                     "subjectAltName=URI:hourglass:worker,IP:127.0.0.1")
                  .ok());
  const std::vector<Case> cases = {
      {"no client certificate", Creds(certs_.ca), grpc::StatusCode::UNAVAILABLE},
      {"client certificate of another CA", Creds(certs_.ca, other_.master_cert, other_.master_key),
       grpc::StatusCode::UNAVAILABLE},
      {"a worker's server certificate as client",
       Creds(certs_.ca, certs_.worker_cert, certs_.worker_key), grpc::StatusCode::UNAVAILABLE},
      {"plaintext", grpc::InsecureChannelCredentials(), grpc::StatusCode::UNAVAILABLE},
      {"right CA, worker role",
       Creds(certs_.ca, certs_.dir + "/worker-as-client.crt", certs_.dir + "/worker-as-client.key"),
       grpc::StatusCode::PERMISSION_DENIED},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Health(c.creds).error_code(), c.want);
    EXPECT_EQ(RunJob(c.creds, exec).error_code(), c.want);
  }
  // None of them started the run: it is still only scheduled.
  EXPECT_EQ(Record(exec).status, model::ExecutionStatus::kScheduled);
}

TEST_F(GrpcMtlsTest, MasterRefusesAWorkerCertificateOfAnotherCa) {
  // The master trusts the other CA: the worker's certificate does not verify.
  auto id = tls::LoadMtls({other_.ca, other_.master_cert, other_.master_key}, tls::kMasterRole);
  ASSERT_TRUE(id.ok()) << id.status();
  dispatch::GrpcWorkerClient client({.credentials = tls::MasterChannelCredentials(*id)});
  hourglass::v1::KillRequest req;
  req.set_execution_id("x");
  auto kill = client.Kill(address_, req, absl::Seconds(2));
  EXPECT_FALSE(kill.ok());
  EXPECT_NE(kill.status().code(), absl::StatusCode::kPermissionDenied) << kill.status();
}

TEST_F(GrpcMtlsTest, MasterRefusesAServerWithoutTheWorkerRole) {
  // Same CA, right address, serverAuth, but not a worker: the API's certificate.
  GrpcWorkerServer impostor(StartWorker("impostor"));
  grpc::SslServerCredentialsOptions o(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  o.pem_key_cert_pairs.push_back({Read(certs_.api_key), Read(certs_.api_cert)});
  auto port = impostor.Start("127.0.0.1:0", grpc::SslServerCredentials(o));
  ASSERT_TRUE(port.ok()) << port.status();
  auto id = tls::LoadMtls({certs_.ca, certs_.master_cert, certs_.master_key}, tls::kMasterRole);
  ASSERT_TRUE(id.ok()) << id.status();
  dispatch::GrpcWorkerClient client({.credentials = tls::MasterChannelCredentials(*id)});
  hourglass::v1::KillRequest req;
  req.set_execution_id("x");
  auto kill = client.Kill(absl::StrCat("127.0.0.1:", *port), req, absl::Seconds(2));
  EXPECT_FALSE(kill.ok());
  // The real worker at the same kind of address is accepted.
  EXPECT_TRUE(client.Kill(address_, req, absl::Seconds(5)).ok());
  impostor.Stop();

  // A real worker certificate dialled at an address it does not name (127.0.0.2; it names
  // 127.0.0.1 and localhost) is refused; the same server at 127.0.0.1 is accepted.
  auto worker_id =
      tls::LoadMtls({certs_.ca, certs_.worker_cert, certs_.worker_key}, tls::kWorkerRole);
  ASSERT_TRUE(worker_id.ok()) << worker_id.status();
  GrpcWorkerServer any(StartWorker("any-address"));
  auto any_port = any.Start("0.0.0.0:0", tls::WorkerServerCredentials(*worker_id));
  ASSERT_TRUE(any_port.ok()) << any_port.status();
  EXPECT_FALSE(client.Kill(absl::StrCat("127.0.0.2:", *any_port), req, absl::Seconds(2)).ok());
  EXPECT_TRUE(client.Kill(absl::StrCat("127.0.0.1:", *any_port), req, absl::Seconds(5)).ok());
  any.Stop();
}

TEST_F(GrpcMtlsTest, LoadMtlsChecksTheFilesAtStart) {
  auto missing = tls::LoadMtls({certs_.ca, certs_.master_cert, ""}, tls::kMasterRole);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status().message()), ::testing::HasSubstr("--grpc-key"));
  auto wrong_role =
      tls::LoadMtls({certs_.ca, certs_.worker_cert, certs_.worker_key}, tls::kMasterRole);
  EXPECT_THAT(std::string(wrong_role.status().message()),
              ::testing::HasSubstr("lacks the URI SAN hourglass:master"));
  auto other_ca =
      tls::LoadMtls({certs_.ca, other_.master_cert, other_.master_key}, tls::kMasterRole);
  EXPECT_THAT(std::string(other_ca.status().message()),
              ::testing::HasSubstr("is not valid under --grpc-ca"));
  auto mismatched =
      tls::LoadMtls({certs_.ca, certs_.master_cert, certs_.worker_key}, tls::kMasterRole);
  EXPECT_THAT(std::string(mismatched.status().message()),
              ::testing::HasSubstr("is not the key of --grpc-cert"));
  auto unreadable = tls::LoadMtls({"/nonexistent/ca.crt", certs_.master_cert, certs_.master_key},
                                  tls::kMasterRole);
  EXPECT_THAT(std::string(unreadable.status().message()),
              ::testing::HasSubstr("--grpc-ca: cannot read /nonexistent/ca.crt"));
}

TEST_F(GrpcMtlsTest, WorkerCertificateNamesTheAdvertisedAddress) {
  auto id = tls::LoadMtls({certs_.ca, certs_.worker_cert, certs_.worker_key}, tls::kWorkerRole);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_THAT(id->own.info.hosts, ::testing::ElementsAre("127.0.0.1", "localhost"));
  EXPECT_TRUE(tls::CheckNamesAddress(id->own.info, "127.0.0.1:7070").ok());
  EXPECT_TRUE(tls::CheckNamesAddress(id->own.info, "localhost:7070").ok());
  auto other = tls::CheckNamesAddress(id->own.info, "10.0.0.5:7070");
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(other.message()), ::testing::HasSubstr("--san 10.0.0.5"));
  EXPECT_FALSE(tls::CheckNamesAddress(id->own.info, "0.0.0.0:7070").ok());
}

TEST(GrpcPlaintextPolicyTest, PlaintextOnlyOnLoopbackUnlessInsecure) {
  dispatch::GrpcWorkerClient strict;
  hourglass::v1::KillRequest req;
  auto refused = strict.Kill("10.1.2.3:7070", req, absl::Milliseconds(100));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr("--insecure-no-tls"));
  // Loopback is allowed (nothing listens on port 1: a transport error, not a refusal).
  auto loopback = strict.Kill("127.0.0.1:1", req, absl::Milliseconds(100));
  EXPECT_NE(loopback.status().code(), absl::StatusCode::kFailedPrecondition);
  dispatch::GrpcWorkerClient insecure({.insecure = true});
  auto allowed = insecure.Kill("10.1.2.3:7070", req, absl::Milliseconds(100));
  EXPECT_NE(allowed.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(LoopbackAddressTest, HostOfAddress) {
  EXPECT_EQ(HostOfAddress("10.0.0.1:7070"), "10.0.0.1");
  EXPECT_EQ(HostOfAddress("[::1]:7070"), "::1");
  EXPECT_EQ(HostOfAddress("::1"), "::1");
  EXPECT_EQ(HostOfAddress(":7070"), "");
  EXPECT_EQ(HostOfAddress("[::1"), "");
  EXPECT_EQ(HostOfAddress("worker.example"), "worker.example");
}

TEST(LoopbackAddressTest, Table) {
  for (const char* yes : {"127.0.0.1:7070", "127.1.2.3:1", "localhost:80", "[::1]:7070", "::1"}) {
    EXPECT_TRUE(IsLoopbackAddress(yes)) << yes;
  }
  for (const char* no : {":7070", "0.0.0.0:7070", "[::]:7070", "10.0.0.1:7070",
                         "worker.example:7070", "128.0.0.1:1", "", "[::1", "localhost.evil:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(no)) << no;
  }
}

}  // namespace
}  // namespace hg::worker::testing
