#include "app/startup_heap.hpp"

#include <cstdint>
#include <cstdlib>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

namespace gatehouse::app {
namespace {

constexpr std::size_t kPage = 4096;

// How many of the pages from `begin` to `end` are in memory (mincore(2)).
std::size_t residentPages(char* begin, char* end) {
  std::vector<unsigned char> in((static_cast<std::size_t>(end - begin) + kPage - 1) / kPage);
  if (mincore(begin, static_cast<std::size_t>(end - begin), in.data()) != 0) return 0;
  std::size_t n = 0;
  for (const unsigned char c : in) n += c & 1U;
  return n;
}

TEST(StartupHeap, GrowsTheHeapWithItsPagesAlreadyInMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the sanitizer's allocator does not use the heap";
#else
  constexpr std::size_t kBytes = std::size_t{1024} * 1024;
  growHeapForStart(kBytes);
  void* block = std::malloc(64);
  ASSERT_NE(block, nullptr);
  char* begin = static_cast<char*>(block) - reinterpret_cast<std::uintptr_t>(block) % kPage;
  auto* end = static_cast<char*>(sbrk(0));
  // The heap reaches a megabyte past the next block, and every page of it is there already:
  // without the populating call only the pages malloc wrote to would be.
  ASSERT_GE(static_cast<std::size_t>(end - begin), kBytes);
  EXPECT_EQ(residentPages(begin, end), static_cast<std::size_t>(end - begin) / kPage);
  std::free(block);
  settleHeap();
#endif
}

TEST(StartupHeap, SettlingGivesTheUnusedPartBack) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the sanitizer's allocator does not use the heap";
#else
  growHeapForStart(std::size_t{8} * 1024 * 1024);
  settleHeap();
  // A free at the top of the heap trims it back to glibc's default padding (128 KiB).
  void* block = std::malloc(std::size_t{100} * 1024);
  ASSERT_NE(block, nullptr);
  std::free(block);
  auto* top = static_cast<char*>(sbrk(0));
  void* next = std::malloc(64);
  ASSERT_NE(next, nullptr);
  EXPECT_LT(static_cast<std::size_t>(top - static_cast<char*>(next)), 2U * 1024U * 1024U);
  std::free(next);
#endif
}

}  // namespace
}  // namespace gatehouse::app
