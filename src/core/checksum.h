// Pixel checksums: XXH3-64 of the plane's raw little-endian pixels, as 16 hex digits. Fast enough
// to compute on every plane while extracting and again when verifying.
#pragma once

#include <cstddef>
#include <string>

#include <memory>

namespace imx {
std::string pixel_checksum(const void* data, size_t n);

// The same checksum fed piece by piece: after update() over consecutive pieces, hex() equals
// pixel_checksum() of their concatenation.
class PixelChecksum {
public:
    PixelChecksum();
    ~PixelChecksum();
    PixelChecksum(const PixelChecksum&) = delete;
    PixelChecksum& operator=(const PixelChecksum&) = delete;
    void update(const void* data, size_t n);
    std::string hex() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};
}
