// The coord recipe suite on a real etcd (EtcdKv + the etcd fixture), sessions on the real clock.
#include <memory>

#include "store/etcd/etcd_kv.h"
#include "tests/coord/coord_suite.h"
#include "tests/fixtures/etcd_fixture.h"

namespace hg::coord::testing {
namespace {

class EtcdEnv final : public CoordEnv {
 public:
  static absl::StatusOr<std::unique_ptr<CoordEnv>> Make() {
    auto env = std::make_unique<EtcdEnv>();
    absl::StatusOr<std::unique_ptr<hg::testing::EtcdCluster>> etcd =
        hg::testing::EtcdCluster::Start();
    if (!etcd.ok()) return etcd.status();
    env->etcd_ = std::move(*etcd);
    store::EtcdKvOptions options;
    options.endpoints = env->etcd_->Endpoints();
    absl::StatusOr<std::unique_ptr<store::EtcdKv>> kv = store::EtcdKv::Create(options);
    if (!kv.ok()) return kv.status();
    env->kv_ = std::move(*kv);
    return env;
  }

  store::Kv& kv() override { return *kv_; }
  const Clock& clock() override { return RealClock::Get(); }
  void AdvanceTime(absl::Duration d) override { absl::SleepFor(d); }
  int64_t ShortTtl() const override { return 2; }

 private:
  std::unique_ptr<hg::testing::EtcdCluster> etcd_;  // outlives kv_
  std::unique_ptr<store::EtcdKv> kv_;
};

HG_COORD_SUITE(Etcd, [] { return EtcdEnv::Make(); });

}  // namespace
}  // namespace hg::coord::testing
