#include "core/memory.h"

#include <sys/mman.h>

#include <cstdint>

namespace imx {

void prefer_huge_pages(const void* data, size_t bytes) {
    constexpr uintptr_t huge = uintptr_t(2) << 20;
    if (bytes < huge) return;
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + huge - 1) & ~(huge - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(huge - 1);
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace imx
