#include "common/clock.h"

namespace hg {

RealClock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

bool RealClock::WaitUntil(absl::Mutex& mu, absl::Time deadline,
                          const std::function<bool()>& wake) const {
  return mu.AwaitWithDeadline(absl::Condition(&wake), deadline);
}

FakeClock::FakeClock(absl::Time start) : now_(start), steady_offset_(absl::ZeroDuration()) {}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

SteadyTime FakeClock::SteadyNow() const {
  absl::MutexLock lock(&mu_);
  return SteadyTime() + absl::ToChronoNanoseconds(steady_offset_);
}

bool FakeClock::WaitUntil(absl::Mutex& mu, absl::Time deadline,
                          const std::function<bool()>& wake) const {
  // The fake time lives behind another mutex, so poll it with short real waits: the caller's
  // mutex is released while waiting, and Advance() is seen within a millisecond.
  while (true) {
    if (wake()) return true;
    if (Now() >= deadline) return wake();
    mu.AwaitWithTimeout(absl::Condition(&wake), absl::Milliseconds(1));
  }
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
  steady_offset_ += d;
}

void FakeClock::Set(absl::Time t) {
  absl::MutexLock lock(&mu_);
  if (t > now_) {
    steady_offset_ += t - now_;
    now_ = t;
  }
}

}  // namespace hg
