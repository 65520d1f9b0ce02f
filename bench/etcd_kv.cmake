# etcd_kv_bench: EtcdKv vs a raw gRPC client on a local etcd it starts (BENCHMARKS.md "## EtcdKv").
# Needs the test fixtures (tests/fixtures) to start etcd, so only with HG_BUILD_TESTS.
if(TARGET hg_test_fixtures AND TARGET hg_store_etcd)
  hg_bench(etcd_kv_bench
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/etcd_kv_bench.cc
    DEPS hg_store_etcd hg_test_fixtures hg_etcd_proto)
endif()
