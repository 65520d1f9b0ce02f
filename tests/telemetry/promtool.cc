#include "tests/telemetry/promtool.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace hg::telemetry::testing {

bool HavePromtool() { return std::filesystem::exists("/usr/bin/promtool"); }

PromtoolResult RunPromtool(const std::string& args, const std::string& stdin_text) {
  PromtoolResult result;
  char path[] = "/tmp/hg-promtool-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return result;
  close(fd);
  {
    std::ofstream out(path, std::ios::binary);
    out << stdin_text;
  }
  const std::string command = "/usr/bin/promtool " + args + " < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe != nullptr) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::filesystem::remove(path);
  return result;
}

}  // namespace hg::telemetry::testing
