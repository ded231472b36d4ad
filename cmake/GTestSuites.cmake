# Run by ctest when it starts (a directory's TEST_INCLUDE_FILES, written by gatehouse_test): lists
# the GoogleTest program's tests and adds one ctest test per suite, and per suite and parameter
# for a value-parameterised suite (Backends/StoreContract/sqlite, .../postgres), each running
# `--gtest_filter` in one process. Listed now, not at build time, so the suites parameterised by
# the environment (the PostgreSQL and Redis contract suites) follow the services this run started.
#
# A process per suite, not per test: an asan test program takes 70-130 ms to start and to scan
# for leaks at exit, and 732 processes spent a third of ctest's time on that.
#
# Each suite writes GoogleTest's JSON report to `report_dir`; scripts/test.sh counts the tests in
# them. Inputs: program, report_dir, target.
cmake_policy(VERSION 3.25)
file(REMOVE_RECURSE "${report_dir}")
if(NOT EXISTS "${program}")
  add_test("${target}:NOT_BUILT" "${program}")
  return()
endif()
execute_process(COMMAND "${program}" --gtest_list_tests OUTPUT_VARIABLE listing
                ERROR_VARIABLE listing_error RESULT_VARIABLE listed TIMEOUT 60)
if(NOT listed STREQUAL "0")
  # A program that cannot list its tests (an error, a crash, the time limit) fails as a test
  # that says so: never a green run with the program's tests missing.
  add_test("${target}:LIST_FAILED" /bin/sh -c "echo \"$1 --gtest_list_tests: $2\" >&2; exit 1"
           sh "${program}" "${listed}")
  return()
endif()

set(groups "")
# Only the names are read, and they are [A-Za-z0-9_/]: the brackets and semicolons a parameter's
# comment may hold ("# GetParam() = [1; 2]") would otherwise join or split the lines of a CMake
# list.
string(REPLACE "[" "(" listing "${listing}")
string(REPLACE "]" ")" listing "${listing}")
string(REPLACE ";" "," listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
foreach(line IN LISTS lines)
  if(line STREQUAL "" OR line MATCHES "^Running main\\(\\) from ")
    continue()
  elseif(line MATCHES "^([A-Za-z0-9_/]+)\\.( |$)")
    set(suite "${CMAKE_MATCH_1}")
  elseif(NOT line MATCHES "^  ([A-Za-z0-9_/]+)( |$)" OR NOT DEFINED suite)
    # A name this does not read would be run by no filter: fail, never skip it silently.
    add_test("${target}:UNREAD_LISTING" /bin/sh -c "echo \"cannot read: $1\" >&2; exit 1" sh
             "${line}")
    return()
  else()
    if(CMAKE_MATCH_1 MATCHES "/([A-Za-z0-9_]+)$")
      set(group "${suite}/${CMAKE_MATCH_1}")
      set(filter "${suite}.*/${CMAKE_MATCH_1}")
    else()
      set(group "${suite}")
      set(filter "${suite}.*")
    endif()
    if(NOT group IN_LIST groups)
      list(APPEND groups "${group}")
      set("filter_${group}" "${filter}")
    endif()
  endif()
endforeach()

set(n 0)
foreach(group IN LISTS groups)
  math(EXPR n "${n} + 1")
  add_test("${group}" "${program}" "--gtest_filter=${filter_${group}}"
           "--gtest_output=json:${report_dir}/${n}.json")
  # The suites on the run's one Redis server share its keys (the one-time store's epoch) and
  # its client list: one at a time (a review: two overlapping under -j2 broke each other).
  if(group MATCHES "[Rr]edis")
    set_tests_properties("${group}" PROPERTIES RESOURCE_LOCK redis)
  endif()
endforeach()
