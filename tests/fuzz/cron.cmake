# libFuzzer target for the cron parser and Next()/Explain(): build/fuzz/tests/fuzz/cron_fuzz.
add_executable(cron_fuzz ${CMAKE_CURRENT_LIST_DIR}/cron_fuzz.cc)
target_link_libraries(cron_fuzz PRIVATE hg_cron)
target_link_options(cron_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
hg_warnings(cron_fuzz)
