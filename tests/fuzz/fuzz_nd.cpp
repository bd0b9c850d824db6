// Fuzz entry point for the MetaMorph .nd reader: the bytes become exp.nd in a temp folder (with one
// small STK), then configure() runs and the first plane is decoded. Only imx::Error may escape.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "core/types.h"
#include "render/image_writer.h"
#include "formats/reader.h"
#include "storage/source_files.h"

namespace fs = std::filesystem;

static fs::path folder() {
    static const fs::path dir = [] {
        fs::path d = fs::temp_directory_path() / ("imx_fuzz_nd_" + std::to_string(::getpid()));
        fs::create_directories(d);
        imx::Plane p;
        p.allocate(imx::DType::u16, 2, 2);
        imx::write_tiff(d / "exp_w1GFP_s1.TIF", p);
        return d;
    }();
    return dir;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const fs::path d = folder();
    std::ofstream(d / "exp.nd", std::ios::binary).write(reinterpret_cast<const char*>(data), std::streamsize(size));
    try {
        imx::ImageSet s = imx::find_layout_reader("metamorph-nd")->configure(d, {});
        if (!s.planes.empty()) {
            imx::Plane out;
            imx::read_plane(*imx::source::open(d / s.planes.front().file), {0, s.planes.front().page, 0}, out);
        }
    } catch (const imx::Error&) {
    }
    return 0;
}
