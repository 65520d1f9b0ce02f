#include "auth/rate_limiter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "common/strings.h"

namespace hg::auth {
namespace {

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

RateLimiter::RateLimiter(const Clock& clock, Options options) : clock_(clock), options_(options) {}

RateLimiter::Decision RateLimiter::Admit(std::string_view caller) {
  if (options_.per_second <= 0) return {};
  const SteadyTime now = clock_.SteadyNow();
  const double burst = std::max(1.0, options_.burst);
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(Av(caller));
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_callers) DropIdleLocked(now);
    it = buckets_.emplace(std::string(caller), Bucket{burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst, b.tokens + Seconds(now - b.updated) * options_.per_second);
  b.updated = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return {};
  }
  const double wait = (1 - b.tokens) / options_.per_second;
  return {false, absl::Milliseconds(std::ceil(wait * 1000))};
}

void RateLimiter::DropIdleLocked(SteadyTime now) {
  // A bucket that has refilled completely behaves like a new one: dropping it changes nothing.
  const double burst = std::max(1.0, options_.burst);
  std::vector<std::string> idle;
  for (const auto& [caller, b] : buckets_) {
    if (b.tokens + Seconds(now - b.updated) * options_.per_second >= burst) idle.push_back(caller);
  }
  for (const auto& caller : idle) buckets_.erase(caller);
  // Still full of busy callers: start over rather than grow without bound.
  if (buckets_.size() >= options_.max_callers) buckets_.clear();
}

}  // namespace hg::auth
