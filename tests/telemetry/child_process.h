// A background child process for integration tests (hourglass, prometheus): fork/exec with
// PR_SET_PDEATHSIG, output to a log file, SIGTERM then SIGKILL and reaped by the destructor.
// Also FreePort() and a plain HTTP GET helper.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace hg::telemetry::testing {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with `env` added to this process's environment; stdout and stderr
  // go to `log_path`. Call from the test's main thread (PDEATHSIG follows the forking thread).
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path,
      const std::map<std::string, std::string>& env = {});
  ~ChildProcess();  // Stop()
  // SIGTERM, SIGKILL after `grace`; reaps. Returns the exit status (128+N for signal N).
  int Stop(absl::Duration grace = absl::Seconds(10));
  bool Running();
  std::string LogTail(size_t bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// A loopback TCP port that was free a moment ago.
int FreePort();

// GET http://127.0.0.1:<port><path>; nullopt when the server does not answer.
struct HttpReply {
  int status = 0;
  std::string body;
};
std::optional<HttpReply> HttpGet(int port, const std::string& path);

// A fresh temp dir (removed by the caller).
std::string MakeTempDir(const std::string& prefix);

}  // namespace hg::telemetry::testing
