// Runs Debian's promtool (package `prometheus`) on text given on stdin, for tests.
#pragma once

#include <string>

namespace hg::telemetry::testing {

struct PromtoolResult {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

// `promtool <args>` with `stdin_text` on its standard input. exit_code -1: could not run.
PromtoolResult RunPromtool(const std::string& args, const std::string& stdin_text);
bool HavePromtool();

}  // namespace hg::telemetry::testing
