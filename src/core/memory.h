// Big, long-lived buffers (a worker's planes, the chunks it reads back) ask for transparent huge
// pages before they are first touched. Debian enables them on request ("madvise"); a 2 MB page
// faults in once where 512 small pages fault one by one, and in a virtual machine a page fault on
// fresh memory costs about as much as decompressing that page: 18,000 faults were a fifth of
// collect's CPU on the 96-plane benchmark plate.
#pragma once

#include <cstddef>

namespace imx {

// Asks the kernel to back the whole 2 MB-aligned pages inside [data, data + bytes) with huge pages.
// Does nothing where no such page fits or the kernel says no; never throws.
void prefer_huge_pages(const void* data, size_t bytes);

// Makes `buffer`'s capacity at least `n` elements, asking for huge pages whenever it allocates.
// Call before the first resize() that touches the memory.
template <class Buffer>
void reserve_with_huge_pages(Buffer& buffer, size_t n) {
    if (buffer.capacity() >= n) return;
    buffer.reserve(n);
    prefer_huge_pages(buffer.data(), buffer.capacity() * sizeof(*buffer.data()));
}

}  // namespace imx
