#pragma once

#include <cstddef>

namespace gatehouse::app {

// A start allocates most of a megabyte on the heap, a page at a time, and each page's first
// touch is a fault: on this project's virtual machines about 10 µs each, a sixth of the time
// from exec to ready. growHeapForStart() grows glibc's heap once, by `bytes`, and has the kernel
// fill those pages in one call (MADV_POPULATE_WRITE, Linux 5.14); the start's allocations then
// land on pages already there. Call it first in main, before any thread exists.
//
// settleHeap() gives glibc back its default padding and trimming, so what the start left unused
// goes back to the kernel at a later free. (Setting either makes glibc's mmap threshold fixed at
// its default, 128 KiB, instead of adapting: larger blocks are mapped and unmapped each time.)
// Neither can fail the start: where populating is refused, the pages fault in as before; under
// a sanitizer's allocator, whose blocks are not on the heap, nothing is populated.
void growHeapForStart(std::size_t bytes);
void settleHeap();

}  // namespace gatehouse::app
