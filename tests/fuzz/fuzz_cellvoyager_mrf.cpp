// CellVoyager MeasurementDetail.mrf (channels, pixel size) with a fixed, valid .mlf beside it.
#include "formats/reader.h"
#include "fuzz_common.h"

using namespace imx;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto dir = [] {
        auto d = fuzz::scratch() / "cv_mrf";
        std::filesystem::create_directories(d);
        const std::string mlf =
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<bts:MeasurementData bts:Version=\"1.0\" "
            "xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\">"
            "<bts:MeasurementRecord bts:Type=\"IMG\" bts:TimePoint=\"1\" bts:FieldIndex=\"1\" bts:ZIndex=\"1\" "
            "bts:TimelineIndex=\"1\" bts:ActionIndex=\"1\" bts:Action=\"3D\" bts:X=\"0\" bts:Y=\"0\" bts:Z=\"0\" "
            "bts:Row=\"2\" bts:Column=\"3\" bts:Ch=\"1\">P_B03_T0001F001L01A01Z01C01.tif</bts:MeasurementRecord>"
            "</bts:MeasurementData>\n";
        fuzz::write(d / "MeasurementData.mlf", mlf.data(), mlf.size());
        return d;
    }();
    fuzz::write(dir / "MeasurementDetail.mrf", data, size);
    try {
        find_layout_reader("cellvoyager")->configure(dir, {});
    } catch (const Error&) {
    }
    return 0;
}
