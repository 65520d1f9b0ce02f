# Run-path end-to-end benchmarks (bench/run_path/README.md): the C++ helpers of the Node.js
# harness — a no-op epoll HTTP target and the raw posix_spawn loop — and the harness's smoke test.
foreach(helper receiver spawn_loop)
  add_executable(hg_${helper} ${CMAKE_CURRENT_LIST_DIR}/run_path/${helper}.cc)
  hg_warnings(hg_${helper})
endforeach()

if(HG_BUILD_TESTS)
  # Proves the harness still works end to end (fire-lag, hourglass dev, N = 100, 10 s window);
  # asserts counts and 0 duplicates, never speed.
  find_program(HG_NODE node)
  if(HG_NODE)
    add_test(NAME bench_run_path_smoke
      COMMAND ${HG_NODE} ${CMAKE_CURRENT_LIST_DIR}/run_path/bench.mjs smoke
              --hourglass $<TARGET_FILE:hourglass> --receiver $<TARGET_FILE:hg_receiver>
              --out ${CMAKE_CURRENT_BINARY_DIR}/run_path_smoke)
    set_tests_properties(bench_run_path_smoke PROPERTIES LABELS bench-smoke TIMEOUT 120
      RESOURCE_LOCK hg_cluster)
  endif()
endif()
