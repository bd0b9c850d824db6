// Fuzz entry point for the MetaXpress reader: the bytes become PLATE.HTD in a temp folder next to
// two small image files, then configure() runs. Only imx::Error may escape the reader.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include "core/types.h"
#include "render/image_writer.h"
#include "formats/reader.h"

namespace fs = std::filesystem;

static fs::path folder() {
    static const fs::path dir = [] {
        fs::path d = fs::temp_directory_path() / ("imx_fuzz_htd_" + std::to_string(::getpid()));
        fs::create_directories(d / "TimePoint_1");
        imx::Plane p;
        p.allocate(imx::DType::u16, 2, 2);
        imx::write_tiff(d / "TimePoint_1" / "P_B02_s1_w1.tif", p);
        imx::write_tiff(d / "TimePoint_1" / "P_B02_s2_w2.tif", p);
        return d;
    }();
    return dir;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const fs::path d = folder();
    std::ofstream(d / "P.HTD", std::ios::binary).write(reinterpret_cast<const char*>(data), std::streamsize(size));
    try {
        imx::find_layout_reader("metaxpress")->configure(d, {});
    } catch (const imx::Error&) {
    }
    return 0;
}
