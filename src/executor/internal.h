// Internal to executor/: the hand-off between callers (Start, Kill, Stop on any thread) and an
// executor's single thread, the RunHandles that post into it, and result helpers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "executor/executor.h"

namespace hg::executor::internal {

// Thread-safe. `wake` interrupts the executor thread's wait; it is only called under the
// mailbox's mutex and never after Close(), so the executor can free what wake() uses once it
// has called Close().
template <typename Run>
class Mailbox {
 public:
  struct Kill {
    uint64_t run_id;
    std::string reason;
    KillMode mode = KillMode::kGraceful;
  };
  struct Finished {  // a result known at Start() (refused run), delivered on the thread
    DoneCallback on_done;
    ExecResult result;
  };
  struct Batch {
    std::vector<Run> runs;
    std::vector<Kill> kills;
    std::vector<Finished> finished;
    bool stopping = false;  // once true, no later batch holds runs or finished results
  };

  explicit Mailbox(std::function<void()> wake) : wake_(std::move(wake)) {}

  bool Stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  uint64_t NextId() {
    absl::MutexLock lock(&mu_);
    return ++last_id_;
  }

  // False (and `run` untouched) once Stop was requested.
  bool PostRun(Run& run) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    WakeIfIdle();
    batch_.runs.push_back(std::move(run));
    return true;
  }
  bool PostFinished(DoneCallback& on_done, ExecResult& result) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    WakeIfIdle();
    batch_.finished.push_back({std::move(on_done), std::move(result)});
    return true;
  }
  void PostKill(uint64_t run_id, std::string reason, KillMode mode) {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    WakeIfIdle();
    batch_.kills.push_back({run_id, std::move(reason), mode});
  }
  void RequestStop() {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    stopping_ = true;
    wake_();
  }
  // After the executor thread has exited: later kills are dropped and wake_ is never called.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    stopping_ = true;
  }
  Batch Take() {
    absl::MutexLock lock(&mu_);
    Batch out = std::move(batch_);
    batch_ = Batch();
    out.stopping = stopping_;
    return out;
  }

 private:
  // One wake-up per batch: while a batch is pending, its first item's wake-up is still due to
  // be answered by the Take() that will also collect the later items.
  void WakeIfIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (batch_.runs.empty() && batch_.kills.empty() && batch_.finished.empty()) wake_();
  }

  absl::Mutex mu_;
  const std::function<void()> wake_;
  uint64_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  Batch batch_ ABSL_GUARDED_BY(mu_);
};

template <typename Run>
class MailboxRunHandle final : public RunHandle {
 public:
  MailboxRunHandle(std::shared_ptr<Mailbox<Run>> box, uint64_t id)
      : box_(std::move(box)), id_(id) {}
  void Kill(std::string reason, KillMode mode) override {
    box_->PostKill(id_, std::move(reason), mode);
  }

 private:
  std::shared_ptr<Mailbox<Run>> box_;
  uint64_t id_;
};

// A handle for a run whose result is already decided (Kill does nothing).
class FinishedRunHandle final : public RunHandle {
 public:
  void Kill(std::string, KillMode) override {}
};

// The executor thread: runs `loop` (which returns once a Take() reported `stopping` and its
// runs are finished) and stops it exactly once. Thread-safe.
template <typename Run>
class LoopThread {
 public:
  explicit LoopThread(std::shared_ptr<Mailbox<Run>> box) : box_(std::move(box)) {}
  ~LoopThread() { Stop(); }
  void Start(std::function<void()> loop) { thread_ = std::thread(std::move(loop)); }
  // Asks the loop to stop, joins it, then closes the mailbox (kills posted later are dropped).
  void Stop() {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    box_->RequestStop();
    if (thread_.joinable()) thread_.join();
    box_->Close();
  }

 private:
  const std::shared_ptr<Mailbox<Run>> box_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// Fills the timing fields of `result` for a run that began at `started` / `start`.
inline void Stamp(ExecResult& result, const Clock& clock, absl::Time started, SteadyTime start) {
  result.started = started;
  result.ended = clock.Now();
  result.duration = absl::FromChrono(clock.SteadyNow() - start);
}

// Delivers a result decided inside Start() (refused or unstartable run) through the executor
// thread, or inline with "executor stopped" once Stop() has begun.
template <typename Run>
std::unique_ptr<RunHandle> FinishEarly(Mailbox<Run>& box, DoneCallback on_done, ExecResult result) {
  if (!box.PostFinished(on_done, result)) {
    result.status = ExecStatus::kFailed;
    result.error = "executor stopped";
    on_done(std::move(result));
  }
  return std::make_unique<FinishedRunHandle>();
}

}  // namespace hg::executor::internal
