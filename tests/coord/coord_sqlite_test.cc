// The coord recipe suite on SqliteKv (in memory), with a FakeClock driving both the sessions and
// the store's lease expiry: time-based cases run in milliseconds.
#include <algorithm>
#include <memory>

#include "store/local/sqlite_kv.h"
#include "tests/coord/coord_suite.h"

namespace hg::coord::testing {
namespace {

class SqliteEnv final : public CoordEnv {
 public:
  static absl::StatusOr<std::unique_ptr<CoordEnv>> Make() {
    auto env = std::make_unique<SqliteEnv>();
    absl::StatusOr<std::unique_ptr<store::SqliteKv>> kv =
        store::SqliteKv::Open(":memory:", env->clock_);
    if (!kv.ok()) return kv.status();
    env->kv_ = std::move(*kv);
    return env;
  }

  store::Kv& kv() override { return *kv_; }
  const Clock& clock() override { return clock_; }
  void AdvanceTime(absl::Duration d) override {
    // Small steps with a pause, so keepalive loops and the store's lease thread keep up.
    while (d > absl::ZeroDuration()) {
      const absl::Duration step = std::min(d, absl::Milliseconds(100));
      clock_.Advance(step);
      d -= step;
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  int64_t ShortTtl() const override { return 5; }

 private:
  FakeClock clock_;  // outlives kv_
  std::unique_ptr<store::SqliteKv> kv_;
};

HG_COORD_SUITE(Sqlite, [] { return SqliteEnv::Make(); });

}  // namespace
}  // namespace hg::coord::testing
