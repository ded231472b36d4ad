#include "app/startup_heap.hpp"

#include <cstdint>
#include <cstdlib>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

namespace gatehouse::app {
namespace {

std::size_t pageSize() { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

char* pageOf(void* p) {
  return static_cast<char*>(p) - reinterpret_cast<std::uintptr_t>(p) % pageSize();
}

// How many of the pages from `begin` to `end` are in memory (mincore(2)).
std::size_t residentPages(char* begin, char* end) {
  const std::size_t length = static_cast<std::size_t>(end - begin);
  std::vector<unsigned char> in((length + pageSize() - 1) / pageSize());
  if (mincore(begin, length, in.data()) != 0) return 0;
  std::size_t n = 0;
  for (const unsigned char c : in) n += c & 1U;
  return n;
}

constexpr std::size_t kBytes = std::size_t{1024} * 1024;

TEST(StartupHeap, GrowsTheHeapWithItsPagesAlreadyInMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the sanitizer's allocator does not use the heap";
#else
  auto* const before = static_cast<char*>(sbrk(0));
  if (!growHeapForStart(kBytes)) GTEST_SKIP() << "this kernel does not fill pages on request";
  auto* const end = static_cast<char*>(sbrk(0));
  EXPECT_GE(static_cast<std::size_t>(end - before), kBytes);
  // The start's next allocations come from the freed blocks, and every page from there to the
  // heap's end is in memory already: without the filling call, only the pages malloc wrote its
  // bookkeeping to would be.
  void* block = std::malloc(64);
  ASSERT_NE(block, nullptr);
  char* const begin = pageOf(block);
  ASSERT_LT(begin, end);
  EXPECT_GE(static_cast<std::size_t>(end - begin), kBytes - pageSize());
  EXPECT_EQ(residentPages(begin, end), static_cast<std::size_t>(end - begin) / pageSize());
  std::free(block);
  settleHeap();
#endif
}

TEST(StartupHeap, SettlingLetsGlibcTrimWhatTheStartLeftUnused) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the sanitizer's allocator does not use the heap";
#else
  constexpr std::size_t kLarge = std::size_t{8} * 1024 * 1024;
  auto* const before = static_cast<char*>(sbrk(0));
  (void)growHeapForStart(kLarge);
  auto* const grown = static_cast<char*>(sbrk(0));
  ASSERT_GE(static_cast<std::size_t>(grown - before), kLarge);
  // Until then the fence keeps the freed blocks from the top: glibc keeps them.
  std::free(std::malloc(64));
  EXPECT_EQ(static_cast<char*>(sbrk(0)), grown);
  settleHeap();
  // Freed, the fence joins them to the top, which glibc trims back to its padding (128 KiB).
  EXPECT_LT(static_cast<char*>(sbrk(0)), grown - kLarge / 2);
#endif
}

}  // namespace
}  // namespace gatehouse::app
