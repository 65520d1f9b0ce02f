// The Kv conformance suite: one set of GoogleTest cases that every Kv implementation passes
// (STYLE.md "One typed test suite runs against every implementation of an interface").
//
// Use from any test binary:
//
//   #include "tests/store/kv_conformance.h"
//
//   class MyKvFactory : public hg::store::testing::KvFactory { ... };
//
//   HG_KV_CONFORMANCE_SUITE(My, [] { return std::make_unique<MyKvFactory>(); });
//
// and link the CMake target `hg_kv_conformance` (an OBJECT library defined in
// tests/store/CMakeLists.txt: its objects carry the TEST_P cases, so they are always linked in):
//
//   hg_test(my_kv_test LABEL integration SOURCES my_kv_test.cc DEPS hg_kv_conformance hg_my_kv)
//
// Tests then appear as `My/KvConformanceTest.<Case>/<name>`.
//
// Timing: the suite never sleeps for time logic except through KvFactory::AdvanceTime. Lease
// tests advance about 5 s in total; tests that wait for asynchronous results (watch deliveries,
// lease expiry) poll in real time with a generous deadline (see kWaitDeadline).
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "store/kv.h"

namespace hg::store::testing {

// Makes stores for one implementation. One factory is created per test case (fresh state), used
// from the test's thread only, and destroyed after every Kv it made.
class KvFactory {
 public:
  virtual ~KvFactory() = default;

  // A Kv over an EMPTY keyspace: no key exists (a fresh store, or an etcd whose keys were all
  // deleted). Each test calls Make() once.
  virtual std::unique_ptr<Kv> Make() = 0;

  // Moves the time leases are measured in forward by `d`: FakeClock::Advance for an
  // implementation driven by a hg::Clock, a real sleep for etcd. Expiry work triggered by it may
  // complete asynchronously; the suite polls for its effects.
  virtual void AdvanceTime(absl::Duration d) = 0;

  // True when Make() returns a store at revision 1 (a brand-new store). False for a reused
  // server whose keys were deleted; the suite then checks revisions relative to a base.
  virtual bool FreshRevisions() const { return true; }
};

// One instantiation of the suite: a name (letters, digits, '_') and how to build its factory.
struct KvConformanceParam {
  std::string name;
  std::function<std::unique_ptr<KvFactory>()> make_factory;
};

inline void PrintTo(const KvConformanceParam& p, std::ostream* os) { *os << p.name; }

// The fixture. Tests use factory() and MakeKv(); see kv_conformance.cc for the cases.
class KvConformanceTest : public ::testing::TestWithParam<KvConformanceParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  KvFactory& factory() { return *factory_; }
  // Makes a Kv through the factory; the fixture keeps ownership (destroyed before the factory).
  Kv& MakeKv();
  // The store's current revision (via a Range).
  Revision CurrentRevision(Kv& kv);

 private:
  std::unique_ptr<KvFactory> factory_;
  std::vector<std::unique_ptr<Kv>> kvs_;
};

// How long the suite waits in real time for an asynchronous effect before failing.
inline constexpr absl::Duration kWaitDeadline = absl::Seconds(10);

}  // namespace hg::store::testing

// Instantiates the suite once, at namespace scope (any namespace). `prefix` is an identifier
// naming the implementation; `make` is anything convertible to
// std::function<std::unique_ptr<KvFactory>()>.
#define HG_KV_CONFORMANCE_SUITE(prefix, make)                                              \
  using ::hg::store::testing::KvConformanceTest;                                           \
  INSTANTIATE_TEST_SUITE_P(                                                                \
      prefix, KvConformanceTest,                                                           \
      ::testing::Values(::hg::store::testing::KvConformanceParam{#prefix, (make)}),        \
      [](const ::testing::TestParamInfo<::hg::store::testing::KvConformanceParam>& info) { \
        return info.param.name;                                                            \
      })
