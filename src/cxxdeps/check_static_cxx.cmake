# cmake -DBINARY=<path> [-DREMOVE=ON] -P check_static_cxx.cmake: fails unless every library the
# binary needs is one of the C libraries below. A C++ library coming back (a missing instantiation,
# a new dependency, a sanitizer runtime) would load a second libstdc++ next to the one linked in.
# With REMOVE (after the link), a refused binary is deleted so nothing runs it.
cmake_minimum_required(VERSION 3.25)
set(allowed libc.so.6 libm.so.6 ld-linux-x86-64.so.2 libcrypto.so.3 libsqlite3.so.0
            libargon2.so.1 libcrypt.so.1)
execute_process(COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C readelf -d ${BINARY}
                OUTPUT_VARIABLE dynamic COMMAND_ERROR_IS_FATAL ANY)
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*\\[[^]\n]*\\]" lines "${dynamic}")
if(NOT lines)
  message(FATAL_ERROR "${BINARY}: readelf shows no needed library")
endif()
foreach(line IN LISTS lines)
  string(REGEX REPLACE ".*\\[([^]]*)\\]" "\\1" library "${line}")
  if(NOT library IN_LIST allowed)
    if(REMOVE)
      file(REMOVE "${BINARY}")
    endif()
    message(FATAL_ERROR "refused: ${library} (GATEHOUSE_STATIC_CXX allows only the C libraries "
                        "in src/cxxdeps/check_static_cxx.cmake) in ${BINARY}")
  endif()
endforeach()
