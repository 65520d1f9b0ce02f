// Test helper: turns an executor's asynchronous result into a blocking call.
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "executor/executor.h"

namespace hg::executor {

// Collects one ExecResult. The callback may be called from any thread, even after the Waiter
// is gone (a test that gave up waiting must not crash the binary).
class Waiter {
 public:
  DoneCallback Callback() {
    return [state = state_](ExecResult r) {
      absl::MutexLock lock(&state->mu);
      ++state->calls;
      state->result = std::move(r);
    };
  }
  // Blocks until the callback ran (real time: the run is a real process or socket).
  std::optional<ExecResult> Wait(absl::Duration max = absl::Seconds(60)) {
    absl::MutexLock lock(&state_->mu);
    state_->mu.AwaitWithTimeout(
        absl::Condition(
            +[](std::optional<ExecResult>* r) { return r->has_value(); }, &state_->result),
        max);
    return state_->result;
  }
  bool Done() {
    absl::MutexLock lock(&state_->mu);
    return state_->result.has_value();
  }
  int calls() {
    absl::MutexLock lock(&state_->mu);
    return state_->calls;
  }

 private:
  struct State {
    absl::Mutex mu;
    std::optional<ExecResult> result ABSL_GUARDED_BY(mu);
    int calls ABSL_GUARDED_BY(mu) = 0;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

inline ExecResult RunSync(Executor& executor, const ExecRequest& request) {
  Waiter waiter;
  auto handle = executor.Start(request, waiter.Callback());
  std::optional<ExecResult> r = waiter.Wait();
  return r ? *r : ExecResult{.error = "test: no result within 60 s"};
}

}  // namespace hg::executor
