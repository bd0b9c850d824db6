// GE / Cytiva IN Cell .xdce: the input is the one .xdce file of the folder.
#include "formats/reader.h"
#include "fuzz_common.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto dir = [] {
        auto d = fuzz::scratch() / "xdce";
        std::filesystem::create_directories(d);
        return d;
    }();
    fuzz::write(dir / "plate.xdce", data, size);
    try {
        find_layout_reader("incell")->configure(dir, {});
    } catch (const Error&) {
    }
    return 0;
}
