#pragma once

// The one include of spdlog for code that logs (every file but the logger's set-up in
// app/logging.cpp and the release build's compiled copy in cxxdeps/): scripts/test.sh fails a
// file that includes <spdlog/spdlog.h> itself.
//
// fmt 9, which spdlog formats with, declares no explicit instantiation of its formatting core,
// so every file that logs compiled the whole of it again (integers, floats, Dragonbox, the
// replacement-field parser): 22 of the 33 s one file took in the asan build. libfmt (and, in the
// release build, cxxdeps/fmt_impl.cpp) instantiates it once; this declaration makes each file use
// that copy. fmt 10 declares it itself.
#include <spdlog/spdlog.h>

#if defined(SPDLOG_FMT_EXTERNAL) && !defined(FMT_HEADER_ONLY) && FMT_VERSION >= 90000 && \
    FMT_VERSION < 100000
FMT_BEGIN_NAMESPACE
namespace detail {
extern template FMT_API void vformat_to(buffer<char>&, string_view,
                                        basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
#endif
