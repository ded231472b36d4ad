#pragma once

#include <pthread.h>
#include <string>
#include <string_view>

namespace gatehouse::core {

// Names the calling thread as `top -H`, `ps -L` and debuggers show it (Linux keeps 15 bytes).
inline void nameThisThread(std::string_view name) {
  const std::string bounded(name.substr(0, 15));
  (void)::pthread_setname_np(::pthread_self(), bounded.c_str());
}

}  // namespace gatehouse::core
