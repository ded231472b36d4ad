include(GatehousePch)

# gatehouse_module(NAME SOURCES ... DEPS ...): one static library per module (STYLE.md, Build).
function(gatehouse_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wold-style-cast
    -Wno-missing-field-initializers)  # designated initializers may omit defaulted members
  if(GATEHOUSE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(gatehouse_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(gatehouse_${name} STATIC ${M_SOURCES})
  add_library(gatehouse::${name} ALIAS gatehouse_${name})
  target_include_directories(gatehouse_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src
                                                     ${PROJECT_BINARY_DIR}/generated)
  target_link_libraries(gatehouse_${name} PUBLIC ${M_DEPS})
  gatehouse_warnings(gatehouse_${name})
  gatehouse_pch_group(gatehouse_${name} ${M_DEPS})
endfunction()

# gatehouse_test(NAME [NO_PCH] SOURCES ... DEPS ...): one GoogleTest executable per module. Its
# files start from the test programs' precompiled header (cmake/GatehousePch.cmake), unless
# NO_PCH: a program compiled with other flags cannot use it.
function(gatehouse_test name)
  cmake_parse_arguments(T "NO_PCH" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name}_test ${T_SOURCES})
  target_link_libraries(${name}_test PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name}_test PRIVATE
    GATEHOUSE_VECTORS_DIR="${GATEHOUSE_VECTORS_DIR}"
    GATEHOUSE_TESTDATA_DIR="${PROJECT_SOURCE_DIR}/tests/testdata")
  gatehouse_warnings(${name}_test)
  # GATEHOUSE_TESTS_O0 (the asan preset): the test program's own files unoptimised, which compile
  # in about 40% less time; the modules under test keep the preset's -O1.
  if(GATEHOUSE_TESTS_O0)
    target_compile_options(${name}_test PRIVATE -O0)
  endif()
  if(GATEHOUSE_PCH AND NOT T_NO_PCH)
    target_precompile_headers(${name}_test REUSE_FROM gatehouse_pch_tests)
  endif()
  # One ctest test per suite, listed when ctest runs: cmake/GTestSuites.cmake.
  set(suites "${CMAKE_CURRENT_BINARY_DIR}/${name}_test_suites.cmake")
  file(GENERATE OUTPUT "${suites}" CONTENT
       "set(program [==[$<TARGET_FILE:${name}_test>]==])
set(target ${name}_test)
set(report_dir [==[${CMAKE_CURRENT_BINARY_DIR}/gtest-reports/${name}]==])
include([==[${PROJECT_SOURCE_DIR}/cmake/GTestSuites.cmake]==])
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${suites}")
endfunction()
