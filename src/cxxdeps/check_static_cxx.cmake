# cmake -DBINARY=<path> -P check_static_cxx.cmake: fails when the binary still needs a C++ shared
# library GATEHOUSE_STATIC_CXX is meant to link in (a missing instantiation brings one back).
execute_process(COMMAND readelf -d ${BINARY} OUTPUT_VARIABLE dynamic COMMAND_ERROR_IS_FATAL ANY)
string(REGEX MATCHALL "\\(NEEDED\\)[^\n]*" needed "${dynamic}")
foreach(library libstdc++ libgcc_s libspdlog libfmt libboost_json)
  string(FIND "${needed}" "[${library}." at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${BINARY} still needs ${library} (GATEHOUSE_STATIC_CXX)")
  endif()
endforeach()
