# history_bench: JobService history reads over a store seeded with a million records
# (BENCHMARKS.md "History at millions of records"). Starts its own etcd for --store=etcd, so it
# needs the test fixtures.
if(TARGET hg_test_fixtures AND TARGET hg_store_etcd)
  hg_bench(history_bench
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/history_bench.cc
    DEPS hg_api hg_runs hg_store_etcd hg_store_local hg_test_fixtures)
endif()
