// The two-worker Forbid race shared by the SqliteKv (unit) and etcd (integration) tests: each
// round schedules two executions of one Forbid job and sends them to two workers at once. The job
// writes "s <id>" and "e <id>" lines itself; overlapping runs would interleave them.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/ids.h"
#include "model/job.h"
#include "worker/worker_service.h"

namespace hg::worker::testing {

// The job's command: start and end stamps appended to `out`.
inline std::string RaceCommand(const std::string& out) {
  return absl::StrCat("echo s $HOURGLASS_EXECUTION_ID >> ", out,
                      "; sleep 0.05; echo e $HOURGLASS_EXECUTION_ID >> ", out);
}

struct RaceHooks {
  std::function<model::ExecutionId()> schedule;  // a new `scheduled` execution of the job
  std::function<hourglass::v1::RunRequest(const model::ExecutionId&)> request;
  std::function<bool(const model::ExecutionId&)> wait_final;  // false on timeout
};

// Runs `rounds` rounds and checks: every Run answered STARTED or SKIPPED, at least one start per
// round, and the job's own stamps never interleave.
inline void RunForbidRace(WorkerService& w1, WorkerService& w2, const std::string& out,
                          const RaceHooks& hooks, int rounds = 8) {
  using hourglass::v1::RunResponse;
  int started = 0, skipped = 0;
  for (int round = 0; round < rounds; ++round) {
    model::ExecutionId a = hooks.schedule();
    model::ExecutionId b = hooks.schedule();
    absl::StatusOr<RunResponse> ra, rb;
    std::thread ta([&] { ra = w1.Run(hooks.request(a)); });
    std::thread tb([&] { rb = w2.Run(hooks.request(b)); });
    ta.join();
    tb.join();
    ASSERT_TRUE(ra.ok()) << ra.status();
    ASSERT_TRUE(rb.ok()) << rb.status();
    for (const RunResponse* r : {&*ra, &*rb}) {
      ASSERT_EQ(r->items_size(), 1);
      if (r->items(0).outcome() == RunResponse::STARTED) ++started;
      if (r->items(0).outcome() == RunResponse::SKIPPED) ++skipped;
    }
    ASSERT_TRUE(hooks.wait_final(a) && hooks.wait_final(b)) << "round " << round;
  }
  EXPECT_GE(started, rounds);
  EXPECT_EQ(started + skipped, 2 * rounds);
  std::ifstream in(out);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), static_cast<size_t>(2 * started));
  for (size_t i = 0; i < lines.size(); i += 2) {
    // Each start is followed by the end of the same execution: never two at once.
    ASSERT_EQ(lines[i].substr(0, 2), "s ") << i;
    ASSERT_EQ(lines[i + 1], "e " + lines[i].substr(2)) << i;
  }
}

}  // namespace hg::worker::testing
