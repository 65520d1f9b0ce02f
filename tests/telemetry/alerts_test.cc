// docs/alerts.yml: promtool accepts it and its alerts fire as tests/telemetry/alerts_test.yml
// expects (promtool test rules).
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "tests/telemetry/promtool.h"

namespace hg::telemetry {
namespace {

std::string SourceDir() {
  const char* dir = std::getenv("HG_SOURCE_DIR");  // set by hg_test
  return dir != nullptr ? dir : ".";
}

TEST(AlertsTest, PromtoolChecksTheRules) {
  if (!testing::HavePromtool()) GTEST_SKIP() << "promtool (Debian package prometheus) missing";
  testing::PromtoolResult r =
      testing::RunPromtool("check rules " + SourceDir() + "/docs/alerts.yml", "");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("4 rules found"), std::string::npos) << r.output;
}

TEST(AlertsTest, AlertsFireAsExpected) {
  if (!testing::HavePromtool()) GTEST_SKIP() << "promtool (Debian package prometheus) missing";
  testing::PromtoolResult r =
      testing::RunPromtool("test rules " + SourceDir() + "/tests/telemetry/alerts_test.yml", "");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace hg::telemetry
