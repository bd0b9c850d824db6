// Pixel checksums: XXH3-64 of the plane's raw little-endian pixels, as 16 hex digits. Fast enough
// to compute on every plane while extracting and again when verifying.
#pragma once

#include <cstddef>
#include <string>

namespace imx {
std::string pixel_checksum(const void* data, size_t n);
}
