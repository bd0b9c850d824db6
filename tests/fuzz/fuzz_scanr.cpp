// Olympus ScanR experiment_descriptor.xml, with a fixed data/ folder of (empty) plane files whose
// names exercise the label, well-index and channel paths.
#include "formats/reader.h"
#include "fuzz_common.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto dir = [] {
        auto d = fuzz::scratch() / "scanr";
        std::filesystem::create_directories(d / "data");
        for (const char* name : {"B2--W00014--P00001--Z00000--T00000--DAPI.tif", "--W00001--P00002--Z00001--T00000--GFP.tif",
                                 "--W00030--P00001--Z00000--T00001--DAPI.tif", "overview.tif"})
            fuzz::write(d / "data" / name, "", 0);
        return d;
    }();
    fuzz::write(dir / "experiment_descriptor.xml", data, size);
    try {
        find_layout_reader("scanr")->configure(dir, {});
    } catch (const Error&) {
    }
    return 0;
}
