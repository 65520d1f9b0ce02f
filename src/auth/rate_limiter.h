// RateLimiter: a token bucket per caller (a token's name, or the remote address of a caller
// without one), so one client cannot take the API from everyone else. Pure: time comes from the
// Clock it is given, so tests step it. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace hg::auth {

class RateLimiter {
 public:
  struct Options {
    double per_second = 50;        // sustained requests per second per caller; <= 0: no limit
    double burst = 100;            // requests a caller may make at once after being idle
    size_t max_callers = 100'000;  // buckets kept; full ones (idle callers) are dropped first
  };
  RateLimiter(const Clock& clock, Options options);

  struct Decision {
    bool admitted = true;
    absl::Duration retry_after;  // when refused: until the next request would be admitted
  };
  Decision Admit(std::string_view caller);

 private:
  struct Bucket {
    double tokens = 0;
    SteadyTime updated;
  };
  void DropIdleLocked(SteadyTime now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const Options options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hg::auth
