#include "core/blocking.hpp"

namespace gatehouse::core {
namespace {
thread_local bool t_non_blocking = false;
}  // namespace

NonBlockingScope::NonBlockingScope() : previous_(t_non_blocking) { t_non_blocking = true; }
NonBlockingScope::~NonBlockingScope() { t_non_blocking = previous_; }
bool mayBlock() { return !t_non_blocking; }

}  // namespace gatehouse::core
