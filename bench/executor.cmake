# Executor throughput next to raw baselines (BENCHMARKS.md "Executors"): ShellExecutor vs a
# posix_spawn+waitpid loop, HttpExecutor vs a blocking libcurl easy loop on the same local server.
hg_bench(executor_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/executor_bench.cc
  DEPS hg_executor PkgConfig::HTTPLIB CURL::libcurl)
target_include_directories(executor_bench PRIVATE ${PROJECT_SOURCE_DIR})
