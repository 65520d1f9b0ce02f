// HTTPS of the `hourglass` binary (docs/design/transport.md): `hourglass dev --tls-cert
// --tls-key` serves a certificate from scripts/gen-certs; after the files are replaced, SIGHUP
// makes new connections get the new certificate while the process and its listener stay up; a
// broken replacement plus SIGHUP keeps the old certificate.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/scenario.h"
#include "tests/fixtures/certs.h"

namespace hg::testing {
namespace {

TEST(Https, DevServesHttpsAndReloadsOnSighup) {
  auto dir = MakeTempDir("https-dev");
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto certs = GenerateCerts(*dir);
  ASSERT_TRUE(certs.ok()) << certs.status();
  const char* bin_dir = std::getenv("HG_BINARY_DIR");  // NOLINT: set by hg_test
  const int port = FreePort();
  Process dev("dev",
              {absl::StrCat(bin_dir ? bin_dir : ".", "/src/app/hourglass"), "dev", "--http",
               absl::StrCat("127.0.0.1:", port), "--data", *dir + "/data", "--tls-cert",
               certs->api_cert, "--tls-key", certs->api_key, "--log-format", "json"},
              *dir + "/dev.log");
  ASSERT_TRUE(dev.Start().ok());
  const std::string first = CertFileSerial(certs->api_cert);
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(
      WaitFor([&] { return ServedCertSerial(port, certs->ca) == first; }, absl::Seconds(20)))
      << dev.LogTail();

  ASSERT_TRUE(GenerateCerts(*dir).ok());  // same CA, new serials
  const std::string second = CertFileSerial(certs->api_cert);
  ASSERT_NE(second, first);
  EXPECT_EQ(ServedCertSerial(port, certs->ca), first);  // nothing changes before the signal
  dev.Signal(SIGHUP);
  EXPECT_TRUE(
      WaitFor([&] { return ServedCertSerial(port, certs->ca) == second; }, absl::Seconds(20)))
      << dev.LogTail();
  EXPECT_TRUE(dev.Running());

  // A broken key: SIGHUP logs the error and keeps serving the second certificate.
  std::ofstream(certs->api_key) << "not a key\n";
  dev.Signal(SIGHUP);
  EXPECT_TRUE(
      WaitFor([&] { return absl::StrContains(dev.LogTail(), "not reloaded"); }, absl::Seconds(20)))
      << dev.LogTail();
  EXPECT_EQ(ServedCertSerial(port, certs->ca), second);
  EXPECT_TRUE(dev.Running());
  EXPECT_EQ(dev.Terminate(), 0);
  std::filesystem::remove_all(*dir);
}

}  // namespace
}  // namespace hg::testing
