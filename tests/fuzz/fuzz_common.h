// Shared by the fuzz targets: a scratch folder made once per process, and the rule that parsers
// may reject input only with imx::Error (anything else, or a crash, is a finding).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/types.h"
#include "formats/reader.h"

namespace imx::fuzz {

inline const std::filesystem::path& scratch() {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("imx_fuzz_" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    return dir;
}

inline void write(const std::filesystem::path& file, const void* data, size_t size) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), std::streamsize(size));
}

// A plane read as a run job reads one of many rows of chunks: bands of 5 rows (at most 64 MB a
// band) over the first 1000 rows, then the last band.
inline void read_some_bands(PlaneRows& rows) {
    const size_t row_bytes = size_t(rows.width()) * dtype_size(rows.dtype());
    const uint32_t h = rows.height();
    std::vector<std::byte> band;
    for (uint32_t y = 0; y < h && row_bytes * 5 <= (64u << 20); y = y < 1000 ? y + 5 : h) {
        const uint32_t at = y < 1000 ? y : h - std::min<uint32_t>(5, h);
        const uint32_t n = std::min<uint32_t>(5, h - at);
        band.resize(row_bytes * n);
        rows.read(at, n, band.data());
    }
}

}  // namespace imx::fuzz
