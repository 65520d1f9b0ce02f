// Clock: the only way Hourglass code reads time or waits for it (STYLE.md "Time and testability").
//
// Wall time is absl::Time (what cron expressions and records talk about); steady time is
// SteadyTime (what timeouts and leases are measured in). The two are different types on purpose.
// RealClock reads the system; FakeClock is moved by tests with Advance(), which wakes every
// waiter whose deadline has passed, so tests never sleep.
#pragma once

#include <chrono>
#include <functional>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace hg {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  virtual SteadyTime SteadyNow() const = 0;

  // Waits, with `mu` held on entry and exit, until `wake()` is true (checked under `mu`) or the
  // wall clock reaches `deadline`. Returns wake()'s final value. Other threads that change what
  // wake() reads must do so under `mu`; absl::Mutex re-evaluates the condition on unlock.
  virtual bool WaitUntil(absl::Mutex& mu, absl::Time deadline,
                         const std::function<bool()>& wake) const = 0;
};

// The system clock. Thread-safe; one shared instance.
class RealClock final : public Clock {
 public:
  static RealClock& Get();
  absl::Time Now() const override { return absl::Now(); }
  SteadyTime SteadyNow() const override { return SteadyClock::now(); }
  bool WaitUntil(absl::Mutex& mu, absl::Time deadline,
                 const std::function<bool()>& wake) const override;
};

// A clock that only moves when told to. Thread-safe. Waiters blocked in WaitUntil are woken by
// Advance()/Set() once their deadline is reached. Starts at `start` (wall) and a steady origin.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'767'225'600));  // 2026-01-01Z
  absl::Time Now() const override;
  SteadyTime SteadyNow() const override;
  bool WaitUntil(absl::Mutex& mu, absl::Time deadline,
                 const std::function<bool()>& wake) const override;

  void Advance(absl::Duration d);
  void Set(absl::Time t);  // must not move backward

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  absl::Duration steady_offset_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hg
