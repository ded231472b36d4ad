// core::NoWaitScope: which threads may not wait on storage, nested and per thread.
#include "core/blocking.hpp"

#include <thread>

#include <gtest/gtest.h>

namespace gatehouse::core {
namespace {

TEST(NoWaitScope, MarksOnlyTheCallingThreadWhileItLasts) {
  EXPECT_FALSE(NoWaitScope::active());
  {
    const NoWaitScope outer;
    EXPECT_TRUE(NoWaitScope::active());
    {
      const NoWaitScope inner;  // a handler run inline on an I/O thread
      EXPECT_TRUE(NoWaitScope::active());
    }
    EXPECT_TRUE(NoWaitScope::active()) << "the inner scope's end must not end the outer one";
    bool elsewhere = true;
    std::thread([&] { elsewhere = NoWaitScope::active(); }).join();
    EXPECT_FALSE(elsewhere) << "a worker thread may wait";
  }
  EXPECT_FALSE(NoWaitScope::active());
}

}  // namespace
}  // namespace gatehouse::core
