# seed_jobs: writes many job definitions straight into a store for bench/leader (BENCHMARKS.md
# "100,000 jobs on one leader").
hg_bench(seed_jobs
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/seed_jobs.cc
  DEPS hg_model hg_runs hg_store_etcd hg_store_local)
