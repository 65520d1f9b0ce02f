// Crash durability of SqliteKv: a child process writes in a loop and reports each acknowledged
// write through a pipe; the parent kill -9s it mid-loop, reopens the file, and checks that every
// acknowledged write is there and that no transaction is half-applied.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "store/local/sqlite_kv.h"
#include "tests/store/sqlite_kv_test_util.h"

namespace hg::store::testing {
namespace {

struct Ack {
  int64_t index;
  Revision revision;
};

// Runs in the forked child: never returns.
[[noreturn]] void WriteForever(const std::string& path, int round, int out_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
  auto kv = SqliteKv::Open(path, RealClock::Get());
  if (!kv.ok()) _exit(2);
  for (int64_t i = 0;; ++i) {
    std::string suffix = absl::StrCat(round, "/", i);
    // Two keys per transaction: after the crash both or neither may exist.
    auto r = (*kv)->Txn({.success = {PutRequest{.key = "a/" + suffix, .value = suffix},
                                     PutRequest{.key = "b/" + suffix, .value = suffix}}});
    if (!r.ok()) _exit(3);
    Ack ack{i, r->revision};
    if (write(out_fd, &ack, sizeof ack) != static_cast<ssize_t>(sizeof ack)) _exit(4);
  }
}

// Reads acks until `want` arrived (then kills the child) and drains the rest after its death.
std::vector<Ack> CollectAcksThenKill(pid_t pid, int fd, size_t want) {
  std::vector<Ack> acks;
  bool killed = false;
  auto kill_child = [&] {
    if (!killed) {
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
      killed = true;
    }
  };
  char buf[sizeof(Ack) * 64];
  size_t have = 0;
  while (true) {
    if (!killed && acks.size() >= want) kill_child();
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 30'000) <= 0) {
      ADD_FAILURE() << "no ack from the writer for 30 s";
      break;
    }
    ssize_t n = read(fd, buf + have, sizeof buf - have);
    if (n <= 0) break;  // EOF: the child is gone and everything it wrote was read
    have += static_cast<size_t>(n);
    size_t whole = have / sizeof(Ack);
    for (size_t i = 0; i < whole; ++i) {
      Ack a;
      memcpy(&a, buf + i * sizeof(Ack), sizeof a);
      acks.push_back(a);
    }
    memmove(buf, buf + whole * sizeof(Ack), have - whole * sizeof(Ack));
    have -= whole * sizeof(Ack);
  }
  kill_child();
  return acks;
}

TEST(SqliteKvCrashTest, AcknowledgedWritesSurviveKill9) {
  TempDir dir;
  const std::string path = dir.File("kv.db");
  for (int round = 0; round < 3; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      WriteForever(path, round, fds[1]);
    }
    close(fds[1]);
    // Vary the kill point between rounds.
    std::vector<Ack> acks = CollectAcksThenKill(pid, fds[0], 100 + 77 * round);
    close(fds[0]);
    ASSERT_GE(acks.size(), 100u) << "round " << round;

    auto kv = SqliteKv::Open(path, RealClock::Get());
    ASSERT_TRUE(kv.ok()) << kv.status();
    for (const Ack& a : acks) {
      std::string suffix = absl::StrCat(round, "/", a.index);
      for (const char* p : {"a/", "b/"}) {
        auto got = Get(**kv, p + suffix);
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_TRUE(got->has_value()) << "acknowledged write lost: " << p << suffix;
        EXPECT_EQ((*got)->mod_revision, a.revision);
        EXPECT_EQ((*got)->value, suffix);
      }
    }
    // Whatever was written after the last ack is all-or-nothing per transaction.
    auto a_keys = (*kv)->Range({.key = absl::StrCat("a/", round, "/"),
                                .range_end = PrefixEnd(absl::StrCat("a/", round, "/")),
                                .count_only = true});
    auto b_keys = (*kv)->Range({.key = absl::StrCat("b/", round, "/"),
                                .range_end = PrefixEnd(absl::StrCat("b/", round, "/")),
                                .count_only = true});
    ASSERT_TRUE(a_keys.ok() && b_keys.ok());
    EXPECT_EQ(a_keys->count, b_keys->count);
    EXPECT_GE(a_keys->count, static_cast<int64_t>(acks.size()));
    EXPECT_LE(a_keys->count, static_cast<int64_t>(acks.size()) + 1);  // at most one unacked
    EXPECT_GE(a_keys->revision, acks.back().revision);
  }
}

}  // namespace
}  // namespace hg::store::testing
