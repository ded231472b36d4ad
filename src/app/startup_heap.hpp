#pragma once

#include <cstddef>

namespace gatehouse::app {

// A start allocates most of a megabyte on the heap, a page at a time, and each page's first
// touch is a fault: on this project's virtual machines about 10 µs each, a sixth of the time
// from exec to ready. growHeapForStart() grows glibc's heap by at least `bytes` with blocks it
// then frees, and has the kernel fill those pages in one call (MADV_POPULATE_WRITE, Linux 5.14);
// the start's allocations then land on pages already there. Call it first in serve(), before any
// thread exists. It changes none of glibc's settings (those an operator may have set through
// MALLOC_* or GLIBC_TUNABLES stay as they are): the last block stays allocated as a fence
// between the freed ones and the heap's top, so that glibc does not trim them straight back.
//
// settleHeap() frees the fence: what the start left unused then joins the top, and glibc trims
// it as usual. Returns false (and the pages fault in as before) where the kernel refuses to
// fill them, and under a sanitizer's allocator, whose blocks are not on the heap.
bool growHeapForStart(std::size_t bytes);
void settleHeap();

}  // namespace gatehouse::app
