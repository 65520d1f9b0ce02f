// The raw limit of the shell benchmark (bench/run_path/README.md): keeps --parallel children of
// `posix_spawn("/bin/sh", "-c", COMMAND)` in flight for --seconds, reaping each with waitpid,
// and prints one JSON line: {"parallel":P,"seconds":S,"spawns":N,"rate":N/S}.
//
//   hg_spawn_loop --parallel 16 --seconds 5 [--command true]
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

extern char** environ;

namespace {
double Now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

int main(int argc, char** argv) {
  int parallel = 16;
  double seconds = 5;
  std::string command = "true";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--parallel" && i + 1 < argc) {
      parallel = atoi(argv[++i]);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = atof(argv[++i]);
    } else if (a == "--command" && i + 1 < argc) {
      command = argv[++i];
    } else {
      fprintf(stderr, "usage: hg_spawn_loop [--parallel P] [--seconds S] [--command CMD]\n");
      return 2;
    }
  }
  if (parallel < 1) parallel = 1;
  char sh[] = "/bin/sh";
  char dash_c[] = "-c";
  char* args[] = {sh, dash_c, command.data(), nullptr};
  const double start = Now();
  const double stop = start + seconds;
  long spawned = 0, reaped = 0, failed = 0;
  int in_flight = 0;
  while (true) {
    const bool time_left = Now() < stop;
    while (time_left && in_flight < parallel) {
      pid_t pid;
      if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, args, environ) != 0) {
        ++failed;
        break;
      }
      ++spawned;
      ++in_flight;
    }
    if (in_flight == 0) break;
    int status = 0;
    if (waitpid(-1, &status, 0) > 0) {
      --in_flight;
      ++reaped;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
  }
  const double elapsed = Now() - start;
  printf("{\"parallel\":%d,\"seconds\":%.3f,\"spawns\":%ld,\"failed\":%ld,\"rate\":%.1f}\n",
         parallel, elapsed, reaped, failed, static_cast<double>(reaped) / elapsed);
  return failed == 0 ? 0 : 1;
}
