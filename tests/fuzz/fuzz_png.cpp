// The PNG decoder on arbitrary bytes: page count, geometry and pixels of the first pages, and what
// create's inventory reads (contents: pages and samples from the headers).
#include "formats/reader.h"
#include "fuzz_common.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto file = fuzz::scratch() / "input.png";
    fuzz::write(file, data, size);
    try {
        const PixelDecoder& d = decoder_for(file);
        uint32_t pages = d.page_count(file);
        Plane plane;
        for (uint32_t page = 0; page < pages && page < 3; ++page) {
            PageInfo info = d.page_info(file, page);
            for (uint32_t s = 0; s < info.samples && s < 4; ++s) d.read(file, {0, page, s}, plane);
        }
    } catch (const Error&) {
    }
    try {
        decoder_for(file).contents(file);
    } catch (const Error&) {
    }
    return 0;
}
