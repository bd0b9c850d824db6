#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>

#include "formats/reader.h"
#include "test_util.h"
#include "workflow/inventory.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

const LayoutReader& cv() { return *find_layout_reader("cellvoyager"); }

struct Counts {
    size_t planes = 0, wells = 0, sites = 0, channels = 0, zplanes = 0, tpoints = 0;
};
Counts count(const ImageSet& s) {
    std::set<std::pair<int, int>> wells;
    std::set<std::tuple<int, int, int>> sites;
    std::set<int> z, t;
    for (auto& p : s.planes) {
        wells.insert({p.row, p.col});
        sites.insert({p.row, p.col, p.site});
        z.insert(p.zplane);
        t.insert(p.tpoint);
    }
    return {s.planes.size(), wells.size(), sites.size(), s.channels.size(), z.size(), t.size()};
}

fs::path samples() { return fs::path(IMX_SAMPLES_DIR) / "yokogawa"; }

using imx::test::fresh_dir;

const char* kHead =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<bts:MeasurementData bts:Version=\"1.0\" "
    "xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\">\n";
std::string record(int row, int col, int field, int z, int ch, const std::string& file, const char* type = "IMG") {
    return std::string("<bts:MeasurementRecord bts:Type=\"") + type + "\" bts:Column=\"" + std::to_string(col) +
           "\" bts:Row=\"" + std::to_string(row) + "\" bts:TimePoint=\"1\" bts:FieldIndex=\"" + std::to_string(field) +
           "\" bts:ZIndex=\"" + std::to_string(z) + "\" bts:TimelineIndex=\"1\" bts:ActionIndex=\"1\" bts:X=\"1.5\" "
           "bts:Y=\"2.5\" bts:Z=\"" + std::to_string(z * 3) + "\" bts:Ch=\"" + std::to_string(ch) + "\">" + file +
           "</bts:MeasurementRecord>\n";
}
void write(const fs::path& f, const std::string& s) { std::ofstream(f, std::ios::binary) << s; }

}  // namespace

// Expected counts come from an independent parse of each mlf with Python's ElementTree (IMG
// records; distinct (Row, Column), (Row, Column, FieldIndex), (ActionIndex, Ch), ZIndex,
// (TimelineIndex, TimePoint)), run once when these tests were written.
TEST(CellVoyager, SamplePngPlate) {
    fs::path d = samples() / "fractal-tasks-core_png";
    if (!fs::exists(d)) GTEST_SKIP() << "samples not found at " << d;
    EXPECT_EQ(cv().detect(d), 90);
    ImageSet s = cv().configure(d, {});
    Counts c = count(s);
    EXPECT_EQ(c.planes, 4u);
    EXPECT_EQ(c.wells, 1u);
    EXPECT_EQ(c.sites, 2u);
    EXPECT_EQ(c.channels, 1u);
    EXPECT_EQ(c.zplanes, 2u);
    EXPECT_EQ(c.tpoints, 1u);  // TimePoint="2" only: re-indexed densely to 0
    EXPECT_EQ(s.planes[0].row, 1);
    EXPECT_EQ(s.planes[0].col, 2);  // B03
    EXPECT_EQ(s.channels[0].name, "A01_C01");
    EXPECT_EQ(s.plates.at(0).name, "20200812-CardiomyocyteDifferentiation14-Cycle1");
    EXPECT_EQ(s.plates[0].rows, 8);
    EXPECT_EQ(s.plates[0].cols, 12);
    EXPECT_DOUBLE_EQ(s.pixel_size_x.value(), 0.1625);
    EXPECT_DOUBLE_EQ(s.pixel_size_z.value(), 1.0);
    EXPECT_EQ(s.width, 2560u);
    EXPECT_EQ(s.height, 2160u);
    EXPECT_DOUBLE_EQ(s.planes[0].stage_x.value(), -1448.3);
}

TEST(CellVoyager, SampleMetadataSets) {
    struct Want {
        const char* dir;
        Counts c;
        size_t err_warnings;
    };
    const Want wants[] = {
        {"cellvoyager-types_metadata", {1984, 4, 64, 4, 31, 4}, 0},
        {"cellvoyager-types_metadata/CV7000-example", {1984, 4, 64, 4, 31, 4}, 0},
        {"cellvoyager-types_metadata/CV7000_z_processed", {135, 5, 45, 3, 1, 1}, 0},
        {"cellvoyager-types_metadata/CV8000_AF_Error", {1860, 4, 60, 4, 31, 4}, 4},
        {"fractal-uzh-converters_CQ3K_metadata", {2, 2, 2, 1, 1, 1}, 0},
    };
    int checked = 0;
    for (auto& w : wants) {
        fs::path d = samples() / w.dir;
        if (!fs::exists(d)) continue;
        ImageSet s = cv().configure(d, {});
        Counts c = count(s);
        EXPECT_EQ(c.planes, w.c.planes) << w.dir;
        EXPECT_EQ(c.wells, w.c.wells) << w.dir;
        EXPECT_EQ(c.sites, w.c.sites) << w.dir;
        EXPECT_EQ(c.channels, w.c.channels) << w.dir;
        EXPECT_EQ(c.zplanes, w.c.zplanes) << w.dir;
        EXPECT_EQ(c.tpoints, w.c.tpoints) << w.dir;
        size_t errs = 0;
        for (auto& m : s.warnings) errs += m.find("ERR record") != std::string::npos;
        EXPECT_EQ(errs, w.err_warnings) << w.dir;
        ++checked;
    }
    if (!checked) GTEST_SKIP() << "samples not found";
}

TEST(CellVoyager, Sample1536WellPlate) {
    fs::path d = samples() / "fractal-tasks-core_syn_1536";
    if (!fs::exists(d)) GTEST_SKIP() << "samples not found";
    ImageSet s = cv().configure(d, {});
    ASSERT_EQ(s.planes.size(), 2u);
    EXPECT_EQ(s.plates[0].rows, 32);
    EXPECT_EQ(s.plates[0].cols, 48);
    EXPECT_EQ(well_name(s.planes[0].row, s.planes[0].col), "E09");
}

TEST(CellVoyager, MetadataVariantsFromOtherFileNames) {
    fs::path src = samples() / "fractal-tasks-core_metadata_files";
    if (!fs::exists(src)) GTEST_SKIP() << "samples not found";
    struct V {
        const char *mlf, *mrf;
        Counts c;
    };
    const V vs[] = {{"MeasurementData_2x2_well.mlf", "MeasurementDetail_2x2_well.mrf", {120, 1, 4, 3, 10, 1}},
                    {"MeasurementData_SingleWell2Sites_MultiZ_another_well_name_in_plate_name.mlf", "MeasurementDetail.mrf",
                     {16, 3, 8, 1, 2, 1}}};
    for (auto& v : vs) {
        fs::path d = fresh_dir("variant");
        fs::copy_file(src / v.mlf, d / "MeasurementData.mlf");
        fs::copy_file(src / v.mrf, d / "MeasurementDetail.mrf");
        Counts c = count(cv().configure(d, {}));
        EXPECT_EQ(c.planes, v.c.planes) << v.mlf;
        EXPECT_EQ(c.wells, v.c.wells) << v.mlf;
        EXPECT_EQ(c.sites, v.c.sites) << v.mlf;
        EXPECT_EQ(c.channels, v.c.channels) << v.mlf;
        EXPECT_EQ(c.zplanes, v.c.zplanes) << v.mlf;
        fs::remove_all(d);
    }
}

TEST(CellVoyager, SeveralMlfFilesAreExplained) {
    fs::path src = samples() / "fractal-tasks-core_metadata_files";
    if (!fs::exists(src)) GTEST_SKIP() << "samples not found";
    // The folder and its overlapping_ROIs sub-folder each hold CellVoyager metadata: two
    // acquisitions, refused by detection with both named.
    const std::string several = test::error_of([&] { detect_layout(src); });
    EXPECT_NE(several.find("holds 2 acquisitions"), std::string::npos) << several;
    EXPECT_NE(several.find((src / "overlapping_ROIs").string()), std::string::npos) << several;
    EXPECT_NE(several.find(src.string() + " (the folder itself)"), std::string::npos) << several;
    try {
        cv().configure(src, {});
        ADD_FAILURE() << "several mlf files accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("several .mlf files"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("MeasurementData_2x2_well.mlf"), std::string::npos) << e.what();
    }
}

TEST(CellVoyager, ChannelsAreActionAndChAndTwoLetterRows) {
    fs::path d = fresh_dir("synthetic");
    write(d / "MeasurementData.mlf", std::string(kHead) + record(30, 40, 1, 1, 2, "a.tif") + record(30, 40, 1, 1, 1, "b.tif") +
                                         record(1, 1, 2, 2, 1, "c.tif") +
                                         record(1, 1, 1, 1, 1, "AF", "ERR") + "</bts:MeasurementData>\n");
    ImageSet s = cv().configure(d, {});  // no mrf: the plate format comes from the wells
    ASSERT_EQ(s.planes.size(), 3u);
    EXPECT_EQ(s.channels.size(), 2u);
    EXPECT_EQ(s.channels[1].name, "A01_C02");
    EXPECT_EQ(well_name(s.planes[0].row, s.planes[0].col), "AD40");
    EXPECT_EQ(s.planes[0].channel, 1);
    EXPECT_EQ(s.plates[0].rows, 32);
    EXPECT_EQ(s.plates[0].cols, 48);
    EXPECT_DOUBLE_EQ(s.planes[0].stage_y.value(), 2.5);
    bool err_warned = false, mrf_warned = false;
    for (auto& w : s.warnings) {
        err_warned |= w.find("ERR record") != std::string::npos;
        mrf_warned |= w.find("MeasurementDetail.mrf") != std::string::npos;
    }
    EXPECT_TRUE(err_warned);
    EXPECT_TRUE(mrf_warned);
    fs::remove_all(d);
}

// ZImageProcessing records are images the instrument projected over z: marked as projections, so
// create stores them as channels of their own (or leaves them out), not as z-plane 1 of the stack.
TEST(CellVoyager, ZImageProcessingRecordsAreProjections) {
    fs::path d = fresh_dir("projection");
    std::string projected = record(2, 3, 1, 1, 1, "max.tif");
    projected.insert(projected.find("bts:Ch="), "bts:ZImageProcessing=\"Maximum\" ");
    write(d / "MeasurementData.mlf", std::string(kHead) + record(2, 3, 1, 1, 1, "z1.tif") + record(2, 3, 1, 2, 1, "z2.tif") +
                                         projected + "</bts:MeasurementData>\n");
    ImageSet s = cv().configure(d, {});  // the projection shares ZIndex 1 with the stack: no clash
    ASSERT_EQ(s.planes.size(), 3u);
    EXPECT_EQ(s.planes[2].projection, "Maximum");
    EXPECT_EQ(s.planes[0].projection, "");
    EXPECT_EQ(s.pixel_size_z.value(), 3.0);  // from the stack, not the projection's z
    place_projections(s, d, false);
    ASSERT_EQ(s.channels.size(), 2u);
    EXPECT_EQ(s.channels[1].name, "A01_C01 (Maximum projection)");
    EXPECT_EQ(s.planes[2].channel, 1);
    fs::path z = samples() / "cellvoyager-types_metadata/CV7000_z_processed";
    if (fs::exists(z)) {
        for (auto& p : cv().configure(z, {}).planes) EXPECT_EQ(p.projection, "Maximum") << p.file;
    }
    fs::remove_all(d);
}

TEST(CellVoyager, RefusesHostileAndBrokenMetadata) {
    fs::path d = fresh_dir("hostile");
    auto expect_error = [&](const std::string& mlf, const std::string& needle) {
        write(d / "MeasurementData.mlf", mlf);
        try {
            cv().configure(d, {});
            ADD_FAILURE() << "accepted: " << needle;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
            EXPECT_EQ(e.kind(), Error::Kind::input);
        }
    };
    expect_error(std::string(kHead) + record(1, 1, 1, 1, 1, "../outside.tif") + "</bts:MeasurementData>", "leaves the source folder");
    expect_error(std::string(kHead) + record(1, 1, 1, 1, 1, "/etc/passwd") + "</bts:MeasurementData>", "absolute");
    expect_error(std::string(kHead) + "<bts:MeasurementRecord bts:Type=\"IMG\"", "malformed XML");
    expect_error(std::string(kHead) + record(1, 1, 1, 1, 1, "a.tif") + record(1, 1, 1, 1, 1, "b.tif") +
                     "</bts:MeasurementData>", "two records");
    std::string bad = record(1, 1, 1, 1, 1, "a.tif");
    bad.replace(bad.find("bts:Row=\"1\""), 11, "bts:Row=\"x\"");
    expect_error(std::string(kHead) + bad + "</bts:MeasurementData>", "attribute Row");
    expect_error(std::string(kHead) + record(1, 1, 0, 1, 1, "a.tif") + "</bts:MeasurementData>", "FieldIndex");
    expect_error(std::string(kHead) + "</bts:MeasurementData>", "no IMG records");
    expect_error(std::string(kHead) + "<bts:x/>", "malformed XML");
    // Rows up to ZZ (702) and columns up to 999, what well names can say; one more is refused.
    write(d / "MeasurementData.mlf", std::string(kHead) + record(702, 999, 1, 1, 1, "a.tif") + "</bts:MeasurementData>");
    ImageSet edge = cv().configure(d, {});
    EXPECT_EQ(well_name(edge.planes[0].row, edge.planes[0].col), "ZZ999");
    expect_error(std::string(kHead) + record(703, 1, 1, 1, 1, "a.tif") + "</bts:MeasurementData>",
                 "attribute Row value 703 is outside 1..702");
    expect_error(std::string(kHead) + record(1, 1000, 1, 1, 1, "a.tif") + "</bts:MeasurementData>",
                 "attribute Column value 1000 is outside 1..999");
    // Field and z indices are stored as given: at most the file's size in bytes.
    std::string mlf = std::string(kHead) + record(1, 1, 1, 1, 1, "a.tif") + "</bts:MeasurementData>";
    const std::string digits = std::to_string(mlf.size() + 8);  // the new number is longer than "1"
    std::string at_size = std::string(kHead) + record(1, 1, 1, 1, 1, "a.tif") + "</bts:MeasurementData>";
    at_size.replace(at_size.find("bts:FieldIndex=\"1\""), 18, "bts:FieldIndex=\"" + std::string(digits.size(), '0') + "\"");
    const std::string size = std::to_string(at_size.size());
    ASSERT_EQ(size.size(), digits.size());
    at_size.replace(at_size.find("bts:FieldIndex=\""), 16 + size.size(), "bts:FieldIndex=\"" + size);
    write(d / "MeasurementData.mlf", at_size);
    EXPECT_EQ(cv().configure(d, {}).planes[0].site, std::stoi(size) - 1);
    std::string past = at_size;
    past.replace(past.find("bts:FieldIndex=\""), 16 + size.size(), "bts:FieldIndex=\"" + std::to_string(std::stoi(size) + 1));
    ASSERT_EQ(past.size(), at_size.size());
    expect_error(past, "attribute FieldIndex value " + std::to_string(std::stoi(size) + 1) + " is outside 1.." + size);
    fs::remove_all(d);
}

// The measurement settings (.mes) the .mrf names give each channel's exposure time (ms) and the
// objective: values read from QC_dyes_20x__Cellvis_glass.mes by eye (Ch 1-4: 250, 150, 50, 70 ms;
// Objective "20x", Magnification 20).
TEST(CellVoyager, SampleExposureAndObjectiveFromMes) {
    fs::path d = samples() / "cellvoyager-types_metadata/CV7000-example";
    if (!fs::exists(d)) GTEST_SKIP() << "samples not found";
    ImageSet s = cv().configure(d, {});
    const std::map<std::string, double> want = {{"A01_C01", 0.25}, {"A01_C02", 0.15}, {"A01_C03", 0.05}, {"A01_C04", 0.07}};
    ASSERT_EQ(s.channels.size(), 4u);
    for (const PlaneRecord& p : s.planes) EXPECT_DOUBLE_EQ(p.exposure_s.value(), want.at(s.channels[size_t(p.channel)].name));
    ASSERT_TRUE(s.objective);
    EXPECT_EQ(s.objective->model, "20x");
    EXPECT_DOUBLE_EQ(s.objective->magnification.value(), 20);
    EXPECT_FALSE(s.objective->lens_na);
    for (auto& w : s.warnings) EXPECT_EQ(w.find(".mes"), std::string::npos) << w;

    // The PNG sample's .mrf names a .mes that is not there: no exposure, no objective, a warning.
    fs::path png = samples() / "fractal-tasks-core_png";
    if (!fs::exists(png)) return;
    s = cv().configure(png, {});
    EXPECT_FALSE(s.objective);
    for (const PlaneRecord& p : s.planes) EXPECT_FALSE(p.exposure_s);
    bool warned = false;
    for (auto& w : s.warnings) warned = warned || w.find("no 20200812-Joel-CardiomyocyteDifferentiation14-Cycle1.mes") != std::string::npos;
    EXPECT_TRUE(warned);
}

// Malformed .mes values are dropped with a warning; a broken .mes only costs its facts; channels
// with different objectives give no objective.
TEST(CellVoyager, MesMalformedValuesAreDropped) {
    fs::path d = fresh_dir("cv_mes");
    write(d / "MeasurementData.mlf", std::string(kHead) + record(1, 1, 1, 1, 1, "a.tif") + record(1, 1, 1, 1, 2, "b.tif") +
                                         record(1, 1, 1, 1, 3, "c.tif") + "</bts:MeasurementData>\n");
    write(d / "MeasurementDetail.mrf",
          "<?xml version=\"1.0\"?><bts:MeasurementDetail xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\" "
          "bts:MeasurementSettingFileName=\"m.mes\" bts:RowCount=\"8\" bts:ColumnCount=\"12\"/>");
    auto mes = [&](const std::string& channels) {
        write(d / "m.mes", "<?xml version=\"1.0\"?><bts:MeasurementSetting xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\">"
                           "<bts:ChannelList>" + channels + "</bts:ChannelList></bts:MeasurementSetting>");
        return cv().configure(d, {});
    };
    auto channel = [](int ch, const char* exposure, const char* objective, const char* magnification) {
        return std::string("<bts:Channel bts:Ch=\"") + std::to_string(ch) + "\" bts:ExposureTime=\"" + exposure +
               "\" bts:Objective=\"" + objective + "\" bts:Magnification=\"" + magnification + "\"/>";
    };
    ImageSet s = mes(channel(1, "100", "40x", "40") + channel(2, "ten", "40x", "40") + channel(3, "-5", "40x", "40"));
    ASSERT_EQ(s.planes.size(), 3u);
    EXPECT_DOUBLE_EQ(s.planes[0].exposure_s.value(), 0.1);
    EXPECT_FALSE(s.planes[1].exposure_s);
    EXPECT_FALSE(s.planes[2].exposure_s);
    ASSERT_TRUE(s.objective);
    EXPECT_EQ(s.objective->model, "40x");
    bool warned = false;
    for (auto& w : s.warnings) warned = warned || w.find("2 malformed ExposureTime or Magnification") != std::string::npos;
    EXPECT_TRUE(warned);

    s = mes(channel(1, "100", "40x", "40") + channel(2, "100", "60x W", "60") + channel(3, "100", "40x", "40"));
    EXPECT_FALSE(s.objective);
    EXPECT_DOUBLE_EQ(s.planes[1].exposure_s.value(), 0.1);
    s = mes(channel(1, "100", "40x", "0") + channel(2, "100", "40x", "0") + channel(3, "100", "40x", "0"));
    ASSERT_TRUE(s.objective);  // the model stays, the malformed magnification is dropped
    EXPECT_FALSE(s.objective->magnification);

    write(d / "m.mes", "<bts:MeasurementSetting><unclosed>");
    s = cv().configure(d, {});
    EXPECT_FALSE(s.objective);
    EXPECT_FALSE(s.planes[0].exposure_s);
    warned = false;
    for (auto& w : s.warnings) warned = warned || (w.find("m.mes") != std::string::npos && w.find("malformed XML") != std::string::npos);
    EXPECT_TRUE(warned);
}
