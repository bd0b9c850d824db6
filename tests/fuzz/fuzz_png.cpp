// The PNG decoder on arbitrary bytes: page count, geometry and pixels of the first pages, and what
// create's inventory reads (contents: pages and samples from the headers).
#include "formats/reader.h"
#include "fuzz_common.h"
#include "storage/source_files.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto file = fuzz::scratch() / "input.png";
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
        decoder_for(*handle).contents(*handle);
    } catch (const Error&) {
    }
    return 0;
}
