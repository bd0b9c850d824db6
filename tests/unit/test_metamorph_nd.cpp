#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <unistd.h>

#include "contiguous_tiff.h"
#include "render/image_writer.h"
#include "formats/reader.h"
#include "formats/tiff/tiff_decoder.h"
#include "test_util.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

const LayoutReader& nd() { return *find_layout_reader("metamorph-nd"); }

using imx::test::fresh_dir;

void tiff(const fs::path& f, uint16_t tag, const std::string& description = {}) {
    Plane p;
    p.allocate(DType::u16, 4, 3);
    for (size_t i = 0; i < p.pixel_count(); ++i) p.as<uint16_t>()[i] = uint16_t(tag + i);
    write_tiff(f, p, TiffCompression::none, description);
}

const PlaneRecord* find(const ImageSet& s, int row, int col, int site, int ch, int t, int z) {
    for (auto& p : s.planes)
        if (p.row == row && p.col == col && p.site == site && p.channel == ch && p.tpoint == t && p.zplane == z) return &p;
    return nullptr;
}

const char* kNd =
    "\"NDInfoFile\", Version 1.0\r\n\"DoTimelapse\", TRUE\r\n\"NTimePoints\", 2\r\n\"DoStage\", TRUE\r\n"
    "\"NStagePositions\", 2\r\n\"Stage1\", \"B02 site 1\"\r\n\"Stage2\", \"Row C, Column 3\"\r\n\"DoWave\", TRUE\r\n"
    "\"NWavelengths\", 2\r\n\"WaveName1\", \"GFP\"\r\n\"WaveDoZ1\", TRUE\r\n\"WaveName2\", \"BF\"\r\n\"WaveDoZ2\", FALSE\r\n"
    "\"DoZSeries\", TRUE\r\n\"NZSteps\", 3\r\n\"ZStepSize\", 1.5\r\n\"WaveInFileName\", TRUE\r\n\"EndFile\"\r\n";

}  // namespace

TEST(MetaMorphNd, StkAndTifPlanesWithWellStages) {
    fs::path d = fresh_dir("stk");
    test::write_bytes(d / "exp.nd", kNd);
    for (int s = 1; s <= 2; ++s)
        for (int t = 1; t <= 2; ++t) {
            std::string suffix = "_s" + std::to_string(s) + "_t" + std::to_string(t);
            test::write_contiguous_tiff(d / ("exp_w1GFP" + suffix + ".STK"), 5, 4, 3, 3, true, uint16_t(s * 10000 + t * 100));
            tiff(d / ("exp_w2BF" + suffix + ".TIF"), uint16_t(s * 10000 + t * 100 + 7));
        }
    EXPECT_EQ(nd().detect(d), 85);
    ImageSet set = nd().configure(d, {});
    // 2 stages x 2 time-points x (3 z of GFP + 1 plane of BF)
    EXPECT_EQ(set.planes.size(), 16u);
    ASSERT_EQ(set.channels.size(), 2u);
    EXPECT_EQ(set.channels[0].name, "GFP");
    EXPECT_EQ(set.channels[1].name, "BF");
    ASSERT_TRUE(set.pixel_size_z);
    EXPECT_DOUBLE_EQ(*set.pixel_size_z, 1.5);
    // Stage 2 "Row C, Column 3" -> C03.
    const PlaneRecord* p = find(set, 2, 2, 0, 0, 1, 2);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->file, "exp_w1GFP_s2_t2.STK");
    EXPECT_EQ(p->page, 2u);
    EXPECT_TRUE(find(set, 1, 1, 0, 1, 0, 0));   // B02 BF
    EXPECT_FALSE(find(set, 1, 1, 0, 1, 0, 1));  // BF has no z-series
    // The STK plane 2 beyond the single IFD: pixels base + 2 * 1000 + i.
    Plane out;
    read_plane(*source::open(d / p->file), {0, p->page, 0}, out);
    ASSERT_EQ(out.width, 5u);
    ASSERT_EQ(out.height, 4u);
    EXPECT_EQ(out.as<uint16_t>()[0], 2 * 10000 + 2 * 100 + 2000);
    EXPECT_EQ(out.as<uint16_t>()[19], 2 * 10000 + 2 * 100 + 2000 + 19);
    EXPECT_EQ(tiff_declared_planes(*source::open(d / p->file)), 3u);
    EXPECT_EQ(tiff_page_count(*source::open(d / p->file)), 1u);
    // Page 0 still goes through libtiff.
    read_plane(*source::open(d / p->file), {0, 0, 0}, out);
    EXPECT_EQ(out.as<uint16_t>()[1], 2 * 10000 + 2 * 100 + 1);
    fs::remove_all(d);
}

// A stage's position comes from the MetaMorph description of its first file; a stage whose files
// record none keeps none.
TEST(MetaMorphNd, StagePositionsFromTheTiffDescriptions) {
    fs::path d = fresh_dir("ndstage");
    test::write_bytes(d / "exp.nd",
                      "\"NDInfoFile\", Version 1.0\r\n\"DoStage\", TRUE\r\n\"NStagePositions\", 2\r\n\"Stage1\", \"B02\"\r\n"
                      "\"Stage2\", \"B03\"\r\n\"DoWave\", TRUE\r\n\"NWavelengths\", 2\r\n\"WaveName1\", \"GFP\"\r\n"
                      "\"WaveName2\", \"BF\"\r\n\"WaveInFileName\", TRUE\r\n\"EndFile\"\r\n");
    const std::string at = "<MetaData>\n<PlaneInfo>\n<prop id=\"stage-position-x\" type=\"float\" value=\"-150.25\"/>\n"
                           "<prop id=\"stage-position-y\" type=\"float\" value=\"75\"/>\n</PlaneInfo>\n</MetaData>";
    tiff(d / "exp_w1GFP_s1.TIF", 1, at);
    tiff(d / "exp_w2BF_s1.TIF", 2, at);
    tiff(d / "exp_w1GFP_s2.TIF", 3);
    tiff(d / "exp_w2BF_s2.TIF", 4);
    ImageSet set = nd().configure(d, {});
    ASSERT_EQ(set.planes.size(), 4u);
    for (auto& p : set.planes) {
        if (p.col == 2) {  // B03
            EXPECT_FALSE(p.stage_x || p.stage_y) << p.file;
            continue;
        }
        ASSERT_TRUE(p.stage_x && p.stage_y) << p.file;
        EXPECT_DOUBLE_EQ(*p.stage_x, -150.25);
        EXPECT_DOUBLE_EQ(*p.stage_y, 75);
    }
    fs::remove_all(d);
}

TEST(MetaMorphNd, TruncatedAndShortStkAreInputErrors) {
    fs::path d = fresh_dir("trunc");
    test::write_contiguous_tiff(d / "a.stk", 5, 4, 3, 3, true, 0, "", 7);
    EXPECT_NE(test::error_of([&] {
                  Plane p;
                  read_plane(*source::open(d / "a.stk"), {0, 2, 0}, p);
              }).find("beyond the end"),
              std::string::npos);
    test::write_contiguous_tiff(d / "b.stk", 5, 4, 3, 3, true, 0);
    std::string e = test::error_of([&] {
        Plane p;
        read_plane(*source::open(d / "b.stk"), {0, 3, 0}, p);
    });
    EXPECT_NE(e.find("page 3 does not exist"), std::string::npos) << e;
    EXPECT_NE(e.find("b.stk"), std::string::npos) << e;
    // A huge declared count does not allocate: only the requested plane is read, and bounds-checked.
    test::write_contiguous_tiff(d / "c.stk", 5, 4, 1, 100000, true, 0);
    EXPECT_NE(test::error_of([&] {
                  Plane p;
                  read_plane(*source::open(d / "c.stk"), {0, 99999, 0}, p);
              }).find("beyond the end"),
              std::string::npos);
    fs::remove_all(d);
}

TEST(MetaMorphNd, NonWellStagesAreSitesOfA01) {
    fs::path d = fresh_dir("sites");
    test::write_bytes(d / "run.nd",
                      "\"NDInfoFile\", Version 1.0\n\"DoStage\", TRUE\n\"NStagePositions\", 3\n\"Stage1\", \"Position1\"\n"
                      "\"Stage2\", \"A01\"\n\"Stage3\", \"x\"\n\"DoWave\", FALSE\n\"DoZSeries\", FALSE\n\"EndFile\"\n");
    for (int s = 1; s <= 3; ++s) tiff(d / ("run_s" + std::to_string(s) + ".TIF"), uint16_t(s));
    ImageSet set = nd().configure(d, {});
    ASSERT_EQ(set.planes.size(), 3u);
    const PlaneRecord* p = find(set, 0, 0, 2, 0, 0, 0);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->file, "run_s3.TIF");
    EXPECT_FALSE(set.warnings.empty());
    fs::remove_all(d);
}

TEST(MetaMorphNd, StageNameForms) {
    fs::path d = fresh_dir("forms");
    test::write_bytes(d / "f.nd",
                      "\"NDInfoFile\", Version 1.0\n\"DoStage\", TRUE\n\"NStagePositions\", 4\n\"Stage1\", \"A01 site 2\"\n"
                      "\"Stage2\", \"A1_s1\"\n\"Stage3\", \"H12\"\n\"Stage4\", \"Row B, Column 4\"\n\"EndFile\"\n");
    ImageSet set = nd().configure(d, {});
    ASSERT_EQ(set.planes.size(), 4u);
    EXPECT_EQ(set.planes[0].row, 0);
    EXPECT_EQ(set.planes[0].site, 1);
    EXPECT_EQ(set.planes[1].site, 0);
    EXPECT_EQ(set.planes[2].row, 7);
    EXPECT_EQ(set.planes[2].col, 11);
    EXPECT_EQ(set.planes[3].row, 1);
    EXPECT_EQ(set.planes[3].col, 3);
    EXPECT_EQ(set.planes[3].file, "f_s4.TIF");  // default name when the image is absent
    fs::remove_all(d);
}

TEST(MetaMorphNd, CorruptNdIsAnInputError) {
    fs::path d = fresh_dir("bad");
    test::write_bytes(d / "x.nd", "hello");
    EXPECT_NE(test::error_of([&] { nd().configure(d, {}); }).find("not a MetaMorph .nd file"), std::string::npos);
    test::write_bytes(d / "x.nd", "\"NDInfoFile\", Version 1.0\n\"DoStage\", TRUE\n\"NStagePositions\", -4\n");
    EXPECT_NE(test::error_of([&] { nd().configure(d, {}); }).find("NStagePositions"), std::string::npos);
    test::write_bytes(d / "x.nd",
                      "\"NDInfoFile\", Version 1.0\n\"DoStage\", TRUE\n\"NStagePositions\", 100000\n\"DoTimelapse\", TRUE\n"
                      "\"NTimePoints\", 100000\n");
    EXPECT_NE(test::error_of([&] { nd().configure(d, {}); }).find("more than"), std::string::npos);
    fs::remove_all(d);
}

// Conformance: the sample .nd files (no images). Expected counts from the .nd text itself:
// stages x time-points x sum over waves of (NZSteps if WaveDoZ else 1).
TEST(MetaMorphNd, SampleNdFiles) {
    fs::path dir = fs::path(IMX_SAMPLES_DIR) / "metamorph-nd/metamorph-mda-parser";
    if (!fs::exists(dir)) GTEST_SKIP() << dir << " not present";
    struct Case {
        const char* file;
        size_t planes, channels, sites, z;
    } cases[] = {{"sample_4ch_1pos_1z.nd", 4, 4, 1, 1},
                 {"sample_4ch_4pos.nd", 4 * 4 * 42, 4, 4, 42},
                 {"data/sample_3ch_2pos_mixed-z.nd", 2 * (1 + 42 + 42), 3, 2, 42}};
    for (auto& c : cases) {
        fs::path d = fresh_dir("sample");
        fs::copy_file(dir / c.file, d / fs::path(c.file).filename());
        EXPECT_EQ(detect_layout(d).name(), "metamorph-nd");
        ImageSet s = nd().configure(d, {});
        std::set<int> sites, z;
        for (auto& p : s.planes) sites.insert(p.site), z.insert(p.zplane);
        EXPECT_EQ(s.planes.size(), c.planes) << c.file;
        EXPECT_EQ(s.channels.size(), c.channels) << c.file;
        EXPECT_EQ(sites.size(), c.sites) << c.file;
        EXPECT_EQ(z.size(), c.z) << c.file;
        fs::remove_all(d);
    }
    // File names follow BASE_wN<WaveName>_sS.STK for z waves, .TIF otherwise.
    fs::path d = fresh_dir("names");
    fs::copy_file(dir / "data/sample_3ch_2pos_mixed-z.nd", d / "m.nd");
    ImageSet s = nd().configure(d, {});
    std::set<std::string> files;
    for (auto& p : s.planes) files.insert(p.file);
    EXPECT_TRUE(files.count("m_w1Conf640_s1.TIF"));
    EXPECT_TRUE(files.count("m_w2Conf561_s2.STK"));
    EXPECT_EQ(files.size(), 6u);
    fs::remove_all(d);
    // The whole folder: its .nd files and the one in data/ are two acquisitions, refused with both
    // named (reading the top-level ones would silently leave data/ out).
    const std::string e = test::error_of([&] { detect_layout(dir); });
    EXPECT_NE(e.find("holds 2 acquisitions"), std::string::npos) << e;
    EXPECT_NE(e.find((dir / "data").string()), std::string::npos) << e;
    EXPECT_EQ(find_acquisition(dir, "metamorph-nd").folder, dir);  // --format metamorph-nd: the folder itself
}
