// spdlog's compiled part, built into the release binary instead of linked from libspdlog.so
// (GATEHOUSE_STATIC_CXX): its implementation headers, and the sink templates Gatehouse and
// spdlog's registry use, instantiated once. Compiled with spdlog::spdlog's definitions, as every
// file that logs is.
#ifndef SPDLOG_COMPILED_LIB
#error "compile with spdlog::spdlog's definitions (SPDLOG_COMPILED_LIB)"
#endif
#include <spdlog/version.h>
static_assert(SPDLOG_VERSION == 11000, "check the instantiations below against this spdlog");

#include <mutex>

#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/base_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/sinks/stdout_sinks-inl.h>
#include <spdlog/spdlog-inl.h>

template class spdlog::sinks::base_sink<std::mutex>;
template class spdlog::sinks::base_sink<spdlog::details::null_mutex>;
// Gatehouse logs to stderr; the registry makes its default logger on a colour stdout sink.
template class spdlog::sinks::stdout_sink_base<spdlog::details::console_mutex>;
template class spdlog::sinks::stderr_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_stdout_sink<spdlog::details::console_mutex>;
