#include "tests/telemetry/app_harness.h"

#include <httplib.h>

#include <cstdlib>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"

namespace hg::telemetry::testing {

std::string HourglassBinary() {
  // $<TARGET_FILE:hourglass>, compiled in: right whatever the build dir or generator.
  return HG_HOURGLASS_BINARY;
}

bool Eventually(const std::function<bool()>& pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return pred();
}

std::optional<double> Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      double v = 0;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
    }
  }
  return std::nullopt;
}

std::string EverySecondJob(const std::string& name) {
  return R"({"name":")" + name +
         R"(","cron_expr":"* * * * * *","executor_type":"shell",)"
         R"("executor":{"command":"echo tp=$TRACEPARENT"}})";
}

int PostJob(int port, const std::string& json) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Post("/jobs/", json, "application/json");
  return res ? res->status : 0;
}

}  // namespace hg::telemetry::testing
