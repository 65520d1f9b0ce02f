// HTTPS for the API (tls/server_certificate.h): an ApiServer with a certificate from
// scripts/gen-certs, checked by clients that trust the cluster CA; Reload() replaces the
// certificate for new connections while the listener and open connections stay up, and a bad
// replacement keeps the old certificate.
#include <httplib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api/api_test_util.h"
#include "tests/fixtures/certs.h"
#include "tls/server_certificate.h"

namespace hg::api {
namespace {

using ::testing::HasSubstr;

using hg::testing::CertFileSerial;
using hg::testing::ServedCertSerial;

class HttpsTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    auto dir = hg::testing::MakeTempDir("https");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
    auto certs = hg::testing::GenerateCerts(dir_);
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
    auto cert = tls::ServerCertificate::Load(certs_.api_cert, certs_.api_key);
    ASSERT_TRUE(cert.ok()) << cert.status();
    cert_ = *std::move(cert);
    server_ = std::make_unique<ApiServer>(service_, ApiServer::Options{.tls = cert_.get()});
    ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<httplib::SSLClient> Client(const std::string& ca) {
    auto c = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port());
    c->set_ca_cert_path(ca.c_str());
    c->enable_server_certificate_verification(true);
    c->set_connection_timeout(5, 0);
    c->set_read_timeout(5, 0);
    return c;
  }

  std::string dir_;
  hg::testing::ClusterCerts certs_;
  std::unique_ptr<tls::ServerCertificate> cert_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(HttpsTest, ServesHttpsThatTheCaVerifies) {
  auto r = Client(certs_.ca)->Get("/jobs/");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(ServedCertSerial(server_->port(), certs_.ca), CertFileSerial(certs_.api_cert));

  // Plain HTTP to the TLS port gets no HTTP answer.
  httplib::Client plain("127.0.0.1", server_->port());
  plain.set_read_timeout(5, 0);
  auto p = plain.Get("/jobs/");
  EXPECT_TRUE(!p || p->status != 200);
  // A client trusting another CA refuses the server.
  auto other_dir = hg::testing::MakeTempDir("https-other");
  ASSERT_TRUE(other_dir.ok());
  auto other = hg::testing::GenerateCerts(*other_dir);
  ASSERT_TRUE(other.ok()) << other.status();
  auto refused = Client(other->ca)->Get("/jobs/");
  EXPECT_FALSE(refused);
  std::filesystem::remove_all(*other_dir);
}

TEST_F(HttpsTest, ReloadServesTheNewCertificateToNewConnectionsOnly) {
  const std::string first = CertFileSerial(certs_.api_cert);
  ASSERT_EQ(ServedCertSerial(server_->port(), certs_.ca), first);
  auto open = Client(certs_.ca);
  open->set_keep_alive(true);
  auto r = open->Get("/jobs/");
  ASSERT_TRUE(r && r->status == 200);

  // Fresh certificates from the same CA (new serials), then the reload.
  ASSERT_TRUE(hg::testing::GenerateCerts(dir_).ok());
  const std::string second = CertFileSerial(certs_.api_cert);
  ASSERT_NE(second, first);
  ASSERT_TRUE(cert_->Reload().ok());
  EXPECT_EQ(cert_->info().serial_hex, second);
  EXPECT_EQ(ServedCertSerial(server_->port(), certs_.ca), second);
  // The connection opened before still answers; so do new ones.
  r = open->Get("/jobs/");
  EXPECT_TRUE(r && r->status == 200);
  r = Client(certs_.ca)->Get("/jobs/");
  EXPECT_TRUE(r && r->status == 200);
}

TEST_F(HttpsTest, ABadReplacementKeepsTheOldCertificate) {
  const std::string serial = CertFileSerial(certs_.api_cert);
  const std::string api_cert = certs_.api_cert;
  // Key of another certificate, then a file that is not PEM, then a missing file.
  std::filesystem::copy_file(certs_.master_key, certs_.api_key,
                             std::filesystem::copy_options::overwrite_existing);
  auto mismatched = cert_->Reload();
  EXPECT_EQ(mismatched.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mismatched.message()), HasSubstr("is not the key of --tls-cert"));
  std::ofstream(api_cert) << "not a certificate\n";
  auto garbage = cert_->Reload();
  EXPECT_THAT(std::string(garbage.message()), HasSubstr("--tls-cert"));
  std::filesystem::remove(api_cert);
  auto missing = cert_->Reload();
  EXPECT_THAT(std::string(missing.message()), HasSubstr("cannot read"));

  EXPECT_EQ(cert_->info().serial_hex, serial);
  EXPECT_EQ(ServedCertSerial(server_->port(), certs_.ca), serial);
  auto r = Client(certs_.ca)->Get("/jobs/");
  EXPECT_TRUE(r && r->status == 200);
}

TEST_F(HttpsTest, LoadRefusesBadFilesAtStart) {
  auto missing = tls::ServerCertificate::Load(dir_ + "/none.crt", certs_.api_key);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("--tls-cert: cannot read"));
  auto mismatched = tls::ServerCertificate::Load(certs_.api_cert, certs_.worker_key);
  EXPECT_THAT(std::string(mismatched.status().message()), HasSubstr("--tls-key"));
}

}  // namespace
}  // namespace hg::api
