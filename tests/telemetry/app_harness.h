// Real `hourglass` processes for the telemetry integration and e2e tests: `hourglass dev`, or an
// etcd-backed master and worker, with helpers to read their /metrics.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "tests/telemetry/child_process.h"

namespace hg::telemetry::testing {

std::string HourglassBinary();  // the built `hourglass`

// Polls `pred` every 50 ms (real time) until true or `timeout`.
bool Eventually(const std::function<bool()>& pred, absl::Duration timeout = absl::Seconds(30));

// The value of the sample whose name and labels are exactly `series` (as printed by the text
// format, e.g. `hourglass_leader` or `hourglass_fires_total{outcome="missed"}`).
std::optional<double> Sample(const std::string& text, const std::string& series);

// A job that runs every second and prints its TRACEPARENT.
std::string EverySecondJob(const std::string& name);

// POST /jobs/ with `json`; returns the HTTP status (0: no answer).
int PostJob(int port, const std::string& json);

}  // namespace hg::telemetry::testing
