// CellVoyager MeasurementData.mlf (records of every image) with a fixed, valid .mrf beside it.
#include "formats/reader.h"
#include "fuzz_common.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto dir = [] {
        auto d = fuzz::scratch() / "cv_mlf";
        std::filesystem::create_directories(d);
        const std::string mrf =
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<bts:MeasurementDetail bts:Version=\"1.0\" "
            "xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\"><bts:MeasurementChannel bts:Ch=\"1\" "
            "bts:HorizontalPixelDimension=\"0.325\" bts:VerticalPixelDimension=\"0.325\" bts:CameraNumber=\"1\" "
            "bts:InputBitDepth=\"16\" bts:InputLevel=\"65535\" bts:HorizontalPixels=\"64\" bts:VerticalPixels=\"48\"/>"
            "</bts:MeasurementDetail>\n";
        fuzz::write(d / "MeasurementDetail.mrf", mrf.data(), mrf.size());
        return d;
    }();
    fuzz::write(dir / "MeasurementData.mlf", data, size);
    try {
        find_layout_reader("cellvoyager")->configure(dir, {});
    } catch (const Error&) {
    }
    return 0;
}
