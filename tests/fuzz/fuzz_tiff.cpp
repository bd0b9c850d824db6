// The TIFF decoder on arbitrary bytes: page count, geometry and pixels of the first pages, the
// first page read band by band as a run job reads a huge plane (bands of 5 rows, up to 64 MiB a
// band), and what create's inventory reads (contents: pages and samples from the headers).
#include <algorithm>
#include <vector>

#include "formats/reader.h"
#include "fuzz_common.h"
#include "storage/source_files.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto file = fuzz::scratch() / "input.tif";
    fuzz::write(file, data, size);
    try {
        const auto handle = source::open(file);  // one handle for every call, as a run job uses it
        const PixelDecoder& d = decoder_for(*handle);
        uint32_t pages = d.page_count(*handle);
        Plane plane;
        for (uint32_t page = 0; page < pages && page < 3; ++page) {
            PageInfo info = d.page_info(*handle, page);
            for (uint32_t s = 0; s < info.samples && s < 4; ++s) d.read(*handle, {0, page, s}, plane);
        }
    } catch (const Error&) {
    }
    try {
        const auto handle = source::open(file);
        if (auto rows = decoder_for(*handle).open_rows(*handle, {0, 0, 0})) {
            const size_t row_bytes = size_t(rows->width()) * dtype_size(rows->dtype());
            std::vector<std::byte> band;
            for (uint32_t y = 0; y < rows->height() && row_bytes * 5 <= (64u << 20); y += 5) {
                const uint32_t n = std::min<uint32_t>(5, rows->height() - y);
                band.resize(row_bytes * n);
                rows->read(y, n, band.data());
            }
        }
    } catch (const Error&) {
    }
    try {
        const auto handle = source::open(file);
        decoder_for(*handle).contents(*handle);
    } catch (const Error&) {
    }
    return 0;
}
