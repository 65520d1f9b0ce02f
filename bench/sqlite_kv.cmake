# SqliteKv throughput next to a raw sqlite3 INSERT+COMMIT loop (BENCHMARKS.md "SqliteKv").
hg_bench(sqlite_kv_bench
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlite_kv_bench.cc
  DEPS hg_store_local SQLite::SQLite3)
