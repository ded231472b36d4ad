# Precompiled headers. In the asan build, parsing the standard library, Boost.JSON, spdlog and
# GoogleTest was about half of a module file's compile and 70% of a test file's. Each is now
# parsed once a build, by an object library compiled with exactly the flags of the targets that
# take its header (REUSE_FROM); in the asan build (-Werror) a target whose flags came to differ in
# a way that matters to the header is refused by the compiler (-Winvalid-pch) instead of quietly
# parsing everything again; other presets warn.
#
# Three groups follow from what a target links: modules that do not log, modules that log (spdlog's
# definitions), and the test programs (-O0 with GATEHOUSE_TESTS_O0, GoogleTest). A module's group
# is known from its DEPS (gatehouse_module), which must be defined before it (a module added later
# is refused). Every preset takes the same headers, so no build breaks where the tested one does
# not; GATEHOUSE_PCH=OFF builds without any, as the test command's fuzz build does (clang), which
# shows that the files of the modules it compiles include what they use.
option(GATEHOUSE_PCH "Precompiled headers for the modules and test programs (faster builds)" ON)

set(GATEHOUSE_PCH_STD <algorithm> <array> <atomic> <chrono> <condition_variable> <cstddef>
  <cstdint> <deque> <filesystem> <functional> <map> <memory> <mutex> <optional> <ostream> <set>
  <span> <string> <string_view> <thread> <unordered_map> <utility> <variant> <vector>
  <boost/json/array.hpp> <boost/json/object.hpp> <boost/json/parse.hpp>
  <boost/json/serialize.hpp> <boost/json/value.hpp> <tl/expected.hpp>)

# gatehouse_pch_group(TARGET DEPS...): the group of a module from its dependencies, kept on the
# target (GATEHOUSE_PCH_GROUP) so that the modules depending on it inherit it.
function(gatehouse_pch_group target)
  set(group "")
  foreach(dep IN LISTS ARGN)
    if(dep STREQUAL "gatehouse::log" OR dep STREQUAL "spdlog::spdlog")
      set(group logging)
    elseif(dep STREQUAL "gatehouse::core" OR dep STREQUAL "Boost::json")
      if(group STREQUAL "")
        set(group plain)
      endif()
    elseif(dep MATCHES "^gatehouse::")
      if(NOT TARGET ${dep})
        message(FATAL_ERROR "${target}: ${dep} is not defined yet: add its directory before")
      endif()
      get_target_property(real ${dep} ALIASED_TARGET)
      get_target_property(inherited ${real} GATEHOUSE_PCH_GROUP)
      if(inherited STREQUAL "logging")
        set(group logging)
      elseif(inherited STREQUAL "plain" AND group STREQUAL "")
        set(group plain)
      endif()
    endif()
  endforeach()
  set_target_properties(${target} PROPERTIES GATEHOUSE_PCH_GROUP "${group}")
  if(GATEHOUSE_PCH AND NOT group STREQUAL "")
    target_precompile_headers(${target} REUSE_FROM gatehouse_pch_${group})
  endif()
endfunction()

# gatehouse_pch_target(NAME DEPS ... OPTIONS ... HEADERS ...): the object library compiling a
# group's header, with the dependencies and options that make its flags those of the group.
function(gatehouse_pch_target name)
  cmake_parse_arguments(P "" "" "DEPS;OPTIONS;DEFINITIONS;HEADERS" ${ARGN})
  if(NOT GATEHOUSE_PCH)
    return()
  endif()
  add_library(gatehouse_pch_${name} OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch.cpp)
  target_link_libraries(gatehouse_pch_${name} PRIVATE ${P_DEPS})
  target_compile_options(gatehouse_pch_${name} PRIVATE ${P_OPTIONS})
  target_compile_definitions(gatehouse_pch_${name} PRIVATE ${P_DEFINITIONS})
  gatehouse_warnings(gatehouse_pch_${name})
  target_precompile_headers(gatehouse_pch_${name} PRIVATE ${GATEHOUSE_PCH_STD} ${P_HEADERS})
endfunction()
