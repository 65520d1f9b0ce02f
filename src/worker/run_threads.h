// RunThreads: the threads a worker's runs execute on, reused from one run to the next. A run
// blocks its thread (waiting for its executor, its retry backoff, a Replace wait), so there is
// one thread per concurrent run, but thread creation and stack teardown per run (thousands per
// second at high rates) are paid only when the concurrency grows. Idle threads are kept up to
// the peak concurrency and joined by Stop().
//
// Thread-safe. Post() after Stop() runs nothing and returns false.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace hg::worker {

class RunThreads {
 public:
  RunThreads() = default;
  ~RunThreads() { Stop(); }
  RunThreads(const RunThreads&) = delete;
  RunThreads& operator=(const RunThreads&) = delete;

  // Runs `task` on an idle thread, or on a new one when none is idle.
  bool Post(std::function<void()> task) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    tasks_.push_back(std::move(task));
    if (idle_ < static_cast<int>(tasks_.size())) {
      threads_.emplace_back([this] { Loop(); });
    }
    return true;
  }

  // Waits for the running tasks to end (they must end by themselves), then joins every thread.
  void Stop() {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
  }

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    while (true) {
      ++idle_;
      mu_.Await(absl::Condition(
          +[](RunThreads* self)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return self->stopping_ || !self->tasks_.empty(); },
          this));
      --idle_;
      if (tasks_.empty()) return;  // stopping, nothing left
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      mu_.Unlock();
      task();
      mu_.Lock();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace hg::worker
