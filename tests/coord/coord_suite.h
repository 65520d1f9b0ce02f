// The coord recipe suite: one set of cases (Session, Election, Mutex, Registry) run against
// every Kv implementation (STYLE.md "One typed test suite runs against every implementation").
//
//   HG_COORD_SUITE(Sqlite, [] { return MakeSqliteEnv(); });
//
// in a test binary linking `hg_coord_suite` (an OBJECT library: its TEST_P cases always link).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "coord/session.h"
#include "gtest/gtest.h"
#include "store/kv.h"
#include "tests/fixtures/watch_breaking_kv.h"

namespace hg::coord::testing {

// One store for one test case.
class CoordEnv {
 public:
  virtual ~CoordEnv() = default;
  virtual store::Kv& kv() = 0;
  // The clock sessions run on. Leases expire by it (SqliteKv: FakeClock) or by real time (etcd:
  // RealClock), so keepalives and expiry agree.
  virtual const Clock& clock() = 0;
  // Lets `d` of lease time pass while sessions keep running: FakeClock steps (with a pause for
  // other threads between steps) or a real sleep.
  virtual void AdvanceTime(absl::Duration d) = 0;
  // Short TTL (seconds) for tests that wait for a lease to expire in real time.
  virtual int64_t ShortTtl() const = 0;
};

struct CoordParam {
  std::string name;
  std::function<absl::StatusOr<std::unique_ptr<CoordEnv>>()> make;
};

inline void PrintTo(const CoordParam& p, std::ostream* os) { *os << p.name; }

// A Kv decorator for session tests: forwards everything, but LeaseKeepAliveOnce can be made to
// fail (kUnavailable) or to hang until released. Not a fake store.
class FaultyKv final : public hg::testing::WatchBreakingKv {
 public:
  enum class Mode { kPass, kFail, kHang };
  explicit FaultyKv(store::Kv& inner) : WatchBreakingKv(inner) {}
  ~FaultyKv() override { SetMode(Mode::kPass); }

  void SetMode(Mode mode);
  int keepalives() const { return keepalives_.load(); }

  absl::StatusOr<int64_t> LeaseKeepAliveOnce(store::LeaseId id) override;

 private:
  std::atomic<int> keepalives_{0};
  absl::Mutex mu_;
  Mode mode_ ABSL_GUARDED_BY(mu_) = Mode::kPass;
};

class CoordTest : public ::testing::TestWithParam<CoordParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  CoordEnv& env() { return *env_; }
  store::Kv& kv() { return env_->kv(); }
  // A started session on the env's store and clock, owned by the fixture.
  Session& NewSession(int64_t ttl_seconds = 10);
  // Number of keys under `prefix`.
  int64_t CountKeys(const std::string& prefix);
  // Polls `cond` in real time (the effect of another thread or of the store).
  static bool Eventually(const std::function<bool()>& cond,
                         absl::Duration timeout = absl::Seconds(10));
  // Lets env time pass in `step`s until `cond` or `limit`; returns cond().
  bool AdvanceUntil(const std::function<bool()>& cond, absl::Duration limit,
                    absl::Duration step = absl::Milliseconds(100));

 private:
  std::unique_ptr<CoordEnv> env_;
  std::vector<std::unique_ptr<Session>> sessions_;
};

}  // namespace hg::coord::testing

// Use inside namespace hg::coord::testing (gtest needs the unqualified suite name).
#define HG_COORD_SUITE(prefix, make)                                     \
  INSTANTIATE_TEST_SUITE_P(                                              \
      prefix, CoordTest, ::testing::Values(CoordParam{#prefix, (make)}), \
      [](const ::testing::TestParamInfo<CoordParam>& info) { return info.param.name; })
