// Fuzz entry point for the ND2 reader: the bytes become a .nd2 file in a folder of its own,
// the layout reader configures the folder, and every plane it lists (at most 64) is decoded, whole
// and band by band.
// Input errors are expected; crashes, hangs and unbounded allocations are not.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/types.h"
#include "formats/reader.h"
#include "fuzz_common.h"
#include "storage/source_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fs::path dir = [] {
        fs::path d = fs::temp_directory_path() / ("imx_fuzz_nd2" + std::to_string(::getpid()));
        fs::remove_all(d);
        fs::create_directories(d);
        return d;
    }();
    // A new name per input: the reader caches parsed structures by path, size and mtime.
    static uint64_t counter = 0;
    const fs::path sub = dir / std::to_string(counter++);
    fs::create_directories(sub);
    {
        std::ofstream out(sub / "input.nd2", std::ios::binary);
        out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    }
    try {  // create's inventory: what the file holds by its own structure
        const auto file = imx::source::open(sub / "input.nd2");
        imx::decoder_for(*file).contents(*file);
    } catch (const imx::Error&) {
    }
    try {
        imx::ImageSet set = imx::find_layout_reader("nd2")->configure(sub, {});
        size_t n = 0;
        for (auto& p : set.planes) {
            if (n++ == 64) break;
            imx::Plane plane;
            try {
                imx::read_plane(*imx::source::open(sub / p.file), {0, p.page, p.sample}, plane);
            } catch (const imx::Error&) {
            }
            // The same plane band by band.
            const auto handle = imx::source::open(sub / p.file);
            if (auto rows = imx::decoder_for(*handle).open_rows(*handle, {0, p.page, p.sample}))
                imx::fuzz::read_some_bands(*rows);
        }
    } catch (const imx::Error&) {
    }
    std::error_code ec;
    fs::remove_all(sub, ec);
    return 0;
}
