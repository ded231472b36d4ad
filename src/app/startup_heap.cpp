#include "app/startup_heap.hpp"

#include <cstdint>
#include <cstdlib>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

namespace gatehouse::app {
namespace {

// glibc's defaults (M_TOP_PAD, M_TRIM_THRESHOLD; mallopt(3)).
constexpr int kDefaultTopPad = 128 * 1024;
constexpr int kDefaultTrimThreshold = 128 * 1024;
constexpr std::size_t kPage = 4096;
// Below glibc's mmap threshold (128 KiB), so it comes from the heap, and more than a fresh
// heap's free top, so the heap grows (by it and the padding) to serve it.
constexpr std::size_t kProbe = std::size_t{120} * 1024;

}  // namespace

void growHeapForStart(std::size_t bytes) {
  // The padding makes the heap's next growth take `bytes` more than asked; the trim threshold
  // keeps the free below from handing them straight back. (Called before any thread exists.)
  const bool padded =
      mallopt(M_TOP_PAD, static_cast<int>(bytes)) == 1;  // NOLINT(concurrency-mt-unsafe)
  const bool kept =
      mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * bytes)) == 1;  // NOLINT(concurrency-mt-unsafe)
  if (!padded || !kept) return;
  void* probe = std::malloc(kProbe);
  if (probe == nullptr) {
    return;
  }
  char* begin = static_cast<char*>(probe) - reinterpret_cast<std::uintptr_t>(probe) % kPage;
  char* end = static_cast<char*>(sbrk(0));  // the heap's end (sbrk(0) only reads it)
  // Only the heap just grown: a block from anywhere else (a sanitizer's allocator) is left alone.
  if (begin < end && static_cast<std::size_t>(end - begin) <= bytes + 2 * kProbe) {
    (void)madvise(begin, static_cast<std::size_t>(end - begin), MADV_POPULATE_WRITE);
  }
  std::free(probe);
}

void settleHeap() {
  // Called before the server's threads start.
  (void)mallopt(M_TOP_PAD, kDefaultTopPad);                // NOLINT(concurrency-mt-unsafe)
  (void)mallopt(M_TRIM_THRESHOLD, kDefaultTrimThreshold);  // NOLINT(concurrency-mt-unsafe)
}

}  // namespace gatehouse::app
