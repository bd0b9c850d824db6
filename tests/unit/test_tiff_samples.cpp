// The TIFF decoder on real files: every page of the shared sample TIFFs against values an independent
// reader (tifffile; Pillow for LZW) measured. Synthetic files and hostile input: test_tiff_decoder.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/types.h"
#include "formats/builtin.h"
#include "formats/reader.h"
#include "formats/tiff/tiff_decoder.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

// ---- conformance: real files, expected values from tifffile (Pillow for LZW) ---------------------

namespace {

struct PageCheck {
    int64_t sum;       // sum of all pixels
    int64_t weighted;  // sum of pixel[i] * (i % 7 + 1), i = row-major index: catches misplaced pixels
    double at_10_20;   // pixel at row 10, column 20
    double at_100_140;
};

struct SampleFile {
    const char* path;
    uint32_t width, height;
    DType dtype;
    std::vector<PageCheck> pages;
};

double pixel(const Plane& p, size_t i) {
    switch (p.dtype) {
        case DType::u8: return p.as<uint8_t>()[i];
        case DType::i8: return p.as<int8_t>()[i];
        case DType::u16: return p.as<uint16_t>()[i];
        case DType::i16: return p.as<int16_t>()[i];
        case DType::u32: return p.as<uint32_t>()[i];
        case DType::i32: return p.as<int32_t>()[i];
        case DType::f32: return p.as<float>()[i];
    }
    return 0;
}

PageCheck measure(const Plane& p) {
    PageCheck c{0, 0, pixel(p, 10 * p.width + 20), pixel(p, 100 * p.width + 140)};
    for (size_t i = 0; i < p.pixel_count(); ++i) {
        const auto v = int64_t(pixel(p, i));
        c.sum += v;
        c.weighted += v * int64_t(i % 7 + 1);
    }
    return c;
}

const std::vector<SampleFile>& tiff_samples() {
    static const std::vector<SampleFile> files = {
        {"tiff/viv_multi-tiff/Channel_0.tif", 439, 167, DType::u8, {{4153447, 16611018, 6, 58}}},
        {"tiff/viv_multi-tiff/Channel_1.tif", 439, 167, DType::u8, {{4154250, 16614424, 6, 58}}},
        {"tiff/viv_multi-tiff/Channel_2.tif", 439, 167, DType::u8, {{4154650, 16615010, 6, 58}}},
        {"imagej-tiff/BioImageAnalysisNotebooks_BBBC022/IXMtest_A02_s9.tif", 695, 395, DType::u16,
         {{51840778, 207359845, 143, 150}, {78651621, 314623098, 195, 224}, {72992341, 291968782, 182, 189}}},
        {"imagej-tiff/BioImageAnalysisNotebooks/Bead_Image1_crop.tif", 150, 150, DType::u8,
         {{22904, 91568, 1, 1},   {22947, 91783, 1, 1},   {23047, 92062, 1, 1},   {23155, 92498, 1, 1},
          {23231, 92963, 1, 1},   {23248, 92965, 2, 1},   {23522, 94106, 1, 1},   {23788, 95164, 1, 1},
          {23989, 95901, 1, 1},   {24457, 97761, 1, 1},   {24784, 99342, 1, 1},   {25178, 100767, 1, 1},
          {25722, 102858, 1, 1},  {26486, 105987, 1, 1},  {27552, 110172, 1, 1},  {28461, 113911, 1, 1},
          {29915, 119613, 1, 1},  {31634, 126508, 1, 1},  {33810, 135164, 1, 1},  {37029, 148184, 1, 1},
          {40642, 162449, 1, 1},  {46208, 185010, 1, 1},  {53132, 212336, 1, 1},  {58683, 234917, 1, 1},
          {60596, 242595, 1, 1},  {58542, 233965, 1, 1},  {52270, 209024, 1, 2},  {45122, 180749, 2, 1},
          {41759, 166885, 2, 2},  {40188, 160654, 1, 2},  {38938, 155598, 2, 1},  {37998, 151797, 1, 1},
          {37219, 149073, 1, 1},  {37634, 150411, 2, 1},  {37821, 151358, 2, 2},  {38606, 154398, 2, 1},
          {39040, 156187, 2, 2},  {38590, 154300, 2, 2},  {38422, 153529, 2, 2},  {38496, 153944, 2, 1},
          {38995, 155758, 2, 2}}},
        {"ome-tiff/aicsimageio/s_1_t_1_c_1_z_1.ome.tiff", 475, 325, DType::u16,
         {{563709458, 2254781597, 3828, 3531}}},  // LZW: expected values from Pillow
        {"ome-tiff/bioformats-artificial/multi-channel-z-series.ome.tiff", 439, 167, DType::i8,
         {{3460118, 13843385, 6, 58}, {3459897, 13842617, 6, 58}, {3459785, 13841924, 6, 58},
          {3459788, 13841215, 6, 58}, {3459730, 13841490, 6, 58}, {3459863, 13842366, 6, 58},
          {3459642, 13841598, 6, 58}, {3459530, 13840905, 6, 58}, {3459533, 13840196, 6, 58},
          {3459475, 13840471, 6, 58}, {3459732, 13842439, 6, 58}, {3459511, 13841671, 6, 58},
          {3459399, 13840978, 6, 58}, {3459402, 13840269, 6, 58}, {3459344, 13840544, 6, 58}}},
        {"ome-tiff/bioformats-artificial/multi-channel.ome.tiff", 439, 167, DType::i8,
         {{3480851, 13922894, 6, 58}, {3480630, 13921948, 6, 58}, {3480518, 13921766, 6, 58}}},
        {"ome-tiff/bioformats-artificial/single-channel.ome.tiff", 439, 167, DType::i8, {{3489081, 13957091, 6, 58}}},
        {"ome-tiff/bioformats-artificial/time-series.ome.tif", 439, 167, DType::i8,
         {{3484207, 13939696, 6, 58}, {3483986, 13938928, 6, 58}, {3483874, 13938235, 6, 58},
          {3483877, 13938155, 6, 58}, {3483819, 13937801, 6, 58}, {3483652, 13937002, 6, 58},
          {3484056, 13938972, 6, 58}}},
        {"ome-tiff/bioformats-artificial/z-series.ome.tiff", 439, 167, DType::i8,
         {{3486270, 13947624, 6, 58}, {3486049, 13946856, 6, 58}, {3485937, 13946163, 6, 58},
          {3485940, 13945454, 6, 58}, {3485882, 13945729, 6, 58}}},
    };
    return files;
}

}  // namespace

TEST(TiffSamples, EveryPageMatchesAnIndependentReader) {
    const fs::path root = IMX_SAMPLES_DIR;
    if (!fs::is_directory(root)) GTEST_SKIP() << "samples folder " << root << " is absent; conformance test skipped";
    auto dec = make_tiff_decoder();
    int checked = 0;
    for (const auto& f : tiff_samples()) {
        const fs::path file = root / f.path;
        if (!fs::exists(file)) {
            ADD_FAILURE() << file << " is missing from the samples folder";
            continue;
        }
        SCOPED_TRACE(f.path);
        ASSERT_EQ(dec->page_count(*source::open(file)), f.pages.size());
        for (uint32_t p = 0; p < f.pages.size(); ++p) {
            SCOPED_TRACE("page " + std::to_string(p));
            Plane plane;
            dec->read(*source::open(file), {0, p, 0}, plane);
            ASSERT_EQ(plane.width, f.width);
            ASSERT_EQ(plane.height, f.height);
            ASSERT_EQ(plane.dtype, f.dtype);
            const PageCheck got = measure(plane);
            EXPECT_EQ(got.sum, f.pages[p].sum);
            EXPECT_EQ(got.weighted, f.pages[p].weighted);
            EXPECT_EQ(got.at_10_20, f.pages[p].at_10_20);
            EXPECT_EQ(got.at_100_140, f.pages[p].at_100_140);
            ++checked;
        }
    }
    EXPECT_EQ(checked, 79);
}

TEST(TiffSamples, OmeXmlIsInTheFirstDescription) {
    const fs::path root = IMX_SAMPLES_DIR;
    if (!fs::is_directory(root)) GTEST_SKIP() << "samples folder " << root << " is absent; conformance test skipped";
    const std::string d =
        tiff_image_description(*source::open(root / "ome-tiff/bioformats-artificial/multi-channel.ome.tiff"));
    EXPECT_EQ(d.rfind("<?xml", 0), 0u);
    EXPECT_NE(d.find("SizeC=\"3\""), std::string::npos);
    const auto imagej = source::open(root / "imagej-tiff/BioImageAnalysisNotebooks/Bead_Image1_crop.tif");
    EXPECT_NE(tiff_image_description(*imagej).find("ImageJ="), std::string::npos);
}
