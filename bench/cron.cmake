# Next() throughput of hg::cron::Schedule; compared with npm croner by bench/cron_vs_croner.sh.
hg_bench(cron_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/cron_bench.cc DEPS hg_cron)
