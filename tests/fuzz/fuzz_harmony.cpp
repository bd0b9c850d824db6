// PerkinElmer Harmony index (Images/Index.idx.xml): the input is the index; no image files exist,
// so configure() sees every image as listed-but-missing, which it must accept.
#include "formats/reader.h"
#include "fuzz_common.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto dir = [] {
        auto d = fuzz::scratch() / "harmony";
        std::filesystem::create_directories(d / "Images");
        return d;
    }();
    fuzz::write(dir / "Images" / "Index.idx.xml", data, size);
    try {
        find_layout_reader("harmony")->configure(dir, {});
    } catch (const Error&) {
    }
    return 0;
}
