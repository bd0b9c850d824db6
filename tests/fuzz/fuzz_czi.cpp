// The CZI reader on arbitrary bytes: file header, subblock directory and metadata XML parsing,
// the layout reader on a folder holding the file, and the decoding of a few planes (mosaic and
// tile numbering), whole and band by band. Parsers may reject input only with imx::Error; anything else is a finding.
// Seeds: tests/fuzz/corpus/czi (written by tests/oracle/make_czi.py --corpus).
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>
#include <string>

#include "formats/czi/czi.h"
#include "formats/reader.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

const fs::path& folder() {
    static const fs::path dir = [] {
        auto d = fs::temp_directory_path() / ("imx_fuzz_czi_" + std::to_string(::getpid()));
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

// Declared planes above this are skipped: legitimate (zstd expands far), but beyond the
// fuzzer's memory limit.
constexpr uint64_t kMaxFuzzPlaneBytes = 64ull << 20;

void decode_some(const source::File& file, const czi::Index& idx, uint32_t flag, size_t count) {
    auto shared = std::make_shared<const czi::Index>(idx);
    for (uint32_t p = 0; p < count && p < 4; ++p) {
        const czi::PlaneGeometry g = czi::plane_geometry(file.path(), idx, p | flag);
        if (uint64_t(g.width) * g.height * 8 > kMaxFuzzPlaneBytes) return;
        // Band by band (as a run job reads planes of many rows of chunks), then whole.
        try {
            auto rows = czi::open_plane_rows(file, shared, p | flag, 0);
            std::vector<std::byte> band(size_t(rows->width()) * 7 * dtype_size(rows->dtype()));
            for (uint32_t y = 0; y < rows->height(); y += 7) rows->read(y, std::min(7u, rows->height() - y), band.data());
        } catch (const Error&) {
        }
        Plane out;
        czi::decode_plane(file, idx, p | flag, g.samples - 1, out);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fs::path file = folder() / "input.czi";
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    }
    try {
        const auto handle = source::open(file);
        const czi::Index idx = czi::read_index(*handle);
        try {
            czi::read_metadata(*handle, idx);
        } catch (const Error&) {
        }
        try {  // create's inventory: pages, subblocks, hidden mosaic tiles
            const FileContents c = czi::contents(*handle, std::make_shared<czi::Index>(idx));
            c.composed_left_out({{0, 0}, {0, 1}, {1, 0}, {czi::kTilePageFlag, 0}});
        } catch (const Error&) {
        }
        try {
            decode_some(*handle, idx, 0, idx.mosaic_planes.size());
        } catch (const Error&) {
        }
        try {
            decode_some(*handle, idx, czi::kTilePageFlag, idx.tile_planes.size());
        } catch (const Error&) {
        }
        if (uint64_t(idx.mosaic_width) * idx.mosaic_height * 8 <= kMaxFuzzPlaneBytes) {
            LayoutOptions options;
            find_layout_reader("czi")->configure(folder(), options);
        }
    } catch (const Error&) {
    }
    return 0;
}
