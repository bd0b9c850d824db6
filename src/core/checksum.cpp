#include "core/checksum.h"

#include <xxhash.h>

#include <cstdio>

namespace imx {
std::string pixel_checksum(const void* data, size_t n) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(XXH3_64bits(data, n)));
    return buf;
}
}  // namespace imx
