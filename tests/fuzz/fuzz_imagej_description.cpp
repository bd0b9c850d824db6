// Fuzz entry point for ImageJ / MetaMorph descriptions: the bytes (up to the first NUL) become the
// ImageDescription of a one-page TIFF named like a well; the files reader configures the folder
// (ImageJ geometry, unit, spacing, declared planes) and the last plane is decoded (a page beyond
// the IFDs takes the contiguous path). The MetaMorph parser gets the same bytes.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/types.h"
#include "render/image_writer.h"
#include "formats/metamorph.h"
#include "formats/reader.h"
#include "storage/source_files.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const fs::path d = [] {
        fs::path p = fs::temp_directory_path() / ("imx_fuzz_ij_" + std::to_string(::getpid()));
        fs::create_directories(p);
        return p;
    }();
    std::string desc(reinterpret_cast<const char*>(data), size);
    desc = desc.substr(0, desc.find('\0'));
    (void)imx::parse_metamorph_description(desc);
    try {
        imx::Plane p;
        p.allocate(imx::DType::u16, 3, 2);
        imx::write_tiff(d / "x_A01_s1.tif", p, imx::TiffCompression::none, desc);
        imx::ImageSet s = imx::find_layout_reader("files")->configure(d, {});
        if (!s.planes.empty()) {
            imx::Plane out;
            imx::read_plane(*imx::source::open(d / s.planes.back().file), {0, s.planes.back().page, 0}, out);
        }
    } catch (const imx::Error&) {
    }
    return 0;
}
