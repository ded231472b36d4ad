#include "app/startup_heap.hpp"

#include <cstdint>
#include <cstdlib>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace gatehouse::app {
namespace {

// Below glibc's smallest mmap threshold (128 KiB), so each comes from the heap.
constexpr std::size_t kBlock = std::size_t{64} * 1024;

// The last block of the start's heap, kept until settleHeap().
void* fence = nullptr;

}  // namespace

bool growHeapForStart(std::size_t bytes) {
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  char* const start = static_cast<char*>(sbrk(0));  // sbrk(0) only reads the heap's end
  std::vector<void*> blocks;
  blocks.reserve(bytes / kBlock + 8);
  // Blocks until the heap has grown by `bytes`: the first ones use up its free top, the rest make
  // it grow. Bounded, for an allocator that does not use the heap at all.
  while (blocks.size() < bytes / kBlock + 8) {
    void* block = std::malloc(kBlock);
    if (block == nullptr) break;
    blocks.push_back(block);
    if (static_cast<char*>(sbrk(0)) - start >= static_cast<std::ptrdiff_t>(bytes)) break;
  }
  bool filled = false;
  if (!blocks.empty()) {
    char* const first = static_cast<char*>(blocks.front());
    char* const begin = first - reinterpret_cast<std::uintptr_t>(first) % page;
    char* const end = static_cast<char*>(sbrk(0));
    // Only the heap just grown: blocks from anywhere else (a sanitizer's allocator) are left
    // alone. The glibc heap's blocks follow one another upwards from its former top.
    if (begin < end && static_cast<std::size_t>(end - begin) <= bytes + blocks.size() * kBlock) {
      filled = madvise(begin, static_cast<std::size_t>(end - begin), MADV_POPULATE_WRITE) == 0;
    }
    fence = blocks.back();
    blocks.pop_back();
  }
  for (void* block : blocks) std::free(block);
  return filled;
}

void settleHeap() {
  std::free(fence);
  fence = nullptr;
}

}  // namespace gatehouse::app
