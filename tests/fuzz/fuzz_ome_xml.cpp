// OME-XML: the input becomes the ImageDescription of a small valid TIFF named *.ome.tif, which the
// ome-tiff layout then configures (dimensions, TiffData, UUIDs, plates).
#include "render/image_writer.h"
#include "formats/reader.h"
#include "fuzz_common.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto dir = [] {
        auto d = fuzz::scratch() / "ome";
        std::filesystem::create_directories(d);
        return d;
    }();
    Plane p;
    p.allocate(DType::u16, 4, 3);
    std::string xml(reinterpret_cast<const char*>(data), size);
    if (xml.find('\0') != std::string::npos) xml.resize(xml.find('\0'));  // TIFF ASCII ends at NUL
    write_tiff(dir / "image.ome.tif", p, TiffCompression::none, xml);
    try {
        find_layout_reader("ome-tiff")->configure(dir, {});
    } catch (const Error&) {
    }
    return 0;
}
