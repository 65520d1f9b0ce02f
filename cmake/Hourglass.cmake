# Helpers that give every project target the same warnings and layout.
# Generated code (proto/) does not use them, so -Werror applies to our code only.

function(hg_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${target} PRIVATE -Wthread-safety)
  endif()
endfunction()

# hg_library(<name> SOURCES ... DEPS ...): the library of one src/ module, target hg_<name>.
function(hg_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(hg_${name} STATIC ${ARG_SOURCES})
  target_include_directories(hg_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(hg_${name} PUBLIC ${ARG_DEPS})
  hg_warnings(hg_${name})
endfunction()

# hg_test(<name> LABEL unit|integration|e2e|soak SOURCES ... DEPS ... [TIMEOUT s] [RESOURCE_LOCK r]).
function(hg_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT;RESOURCE_LOCK" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_LABEL)
    message(FATAL_ERROR "hg_test(${name}) needs a LABEL")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR})
  hg_warnings(${name})
  set(props LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
  if(ARG_RESOURCE_LOCK)
    # Tests sharing a lock never run at the same time under ctest -j (timing-sensitive clusters).
    list(APPEND props RESOURCE_LOCK ${ARG_RESOURCE_LOCK})
  endif()
  gtest_discover_tests(${name}
    PROPERTIES ${props}
    # Two properties with one value each: a ';' list would be split by gtest_discover_tests.
    ENVIRONMENT "HG_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    ENVIRONMENT_MODIFICATION "HG_BINARY_DIR=set:${PROJECT_BINARY_DIR}"
    DISCOVERY_TIMEOUT 60)
endfunction()

# hg_bench(<name> SOURCES ... DEPS ...): a Google Benchmark program; built, never run as a test.
function(hg_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  hg_warnings(${name})
endfunction()
