// Boost.JSON compiled into the release binary instead of linked from libboost_json.so
// (GATEHOUSE_STATIC_CXX); its own way to be built as part of a program.
#include <boost/json/src.hpp>
