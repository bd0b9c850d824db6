#include <gtest/gtest.h>

#include <map>
#include <set>

#include "layout_fixtures.h"
#include "test_util.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {

const LayoutReader& scanr() { return *find_layout_reader("scanr"); }

std::string scalar(const char* type, const std::string& name, const std::string& val) {
    return std::string("<") + type + "><Name>" + name + "</Name><Val>" + val + "</Val></" + type + ">\n";
}
std::string channel(const std::string& name, int idle) {
    return "<Cluster><Name>channel</Name><NumElts>3</NumElts>\n" + scalar("String", "name", name) +
           scalar("U8", "idle", std::to_string(idle)) + scalar("DBL", "exposure time", "20.0") + "</Cluster>\n";
}

// LabVIEW XML as ScanR writes it: scalars <TYPE><Name/><Val/></TYPE> nested in clusters and arrays.
std::string descriptor(const std::string& format = "", const std::string& extra = "", const std::string& px = "0.645") {
    std::string f = format.empty() ? "<Cluster><Name>format typedef</Name><NumElts>3</NumElts>\n" + scalar("String", "plate type", "96 wells") +
                                         scalar("I32", "Rows", "8") + scalar("I32", "Columns", "12") + "</Cluster>\n"
                                   : format;
    return "<?xml version='1.0' standalone='yes' ?>\n<LVData xmlns=\"http://www.ni.com/LVData\">\n<Version>8.6.1</Version>\n"
           "<Cluster>\n<Name>experiment descriptor</Name>\n<NumElts>9</NumElts>\n" +
           scalar("String", "plate name", "ScanR plate 1") + f + scalar("I32", "rows/well", "3") + scalar("I32", "Rows", "99") +
           scalar("DBL", "conversion factor um/pixel", px) +
           "<Array><Name>channels</Name><Dimsize>4</Dimsize>\n" + channel("DAPI", 0) + channel("Autofocus", 0) +
           channel("GFP", 0) + channel("Cy5", 1) + "</Array>\n"
           "<Array><Name>well selection table + cDNA</Name><Dimsize>2</Dimsize>\n"
           "<Cluster><Name></Name><NumElts>2</NumElts><U16><Name></Name><Val>14</Val></U16><String><Name></Name><Val>B2</Val></String></Cluster>\n"
           "<Cluster><Name></Name><NumElts>2</NumElts><U16><Name></Name><Val>1</Val></U16><String><Name></Name><Val>A1</Val></String></Cluster>\n"
           "</Array>\n" + extra + "</Cluster>\n</LVData>\n";
}

std::string file_name(const std::string& label, int w, int p, int z, int t, const std::string& ch) {
    char b[160];
    std::snprintf(b, sizeof b, "%s--W%05d--P%05d--Z%05d--T%05d--%s.tif", label.c_str(), w, p, z, t, ch.c_str());
    return b;
}

struct SFile {
    std::string label;
    int w, p, z, t;
    std::string ch;
    int row, col, site, zi, ti, ci;  // expected
};

std::vector<SFile> plate() {
    std::vector<SFile> v;
    // W14 is B02 in a 96-well plate; its files carry the label (newer ScanR). W1 has none.
    for (auto [label, w, row, col] : {std::tuple{std::string("B2"), 14, 1, 1}, std::tuple{std::string(""), 1, 0, 0}})
        for (auto [p, site] : {std::pair{1, 0}, std::pair{3, 1}})
            for (int z : {0, 1})
                for (int t : {0, 1})
                    for (auto [ch, ci] : {std::pair{std::string("GFP"), 1}, std::pair{std::string("DAPI"), 0}})
                        v.push_back({label, w, p, z, t, ch, row, col, site, z, t, ci});
    return v;
}

int tag_of(const SFile& f) { return f.w * 8 + f.p * 4 + f.z * 2 + f.t + (f.ch == "GFP" ? 200 : 0); }

void expect_refused(const fs::path& d, const std::string& needle) {
    std::string msg = error_of([&] { scanr().configure(d, {}); });
    EXPECT_NE(msg.find(needle), std::string::npos) << "want '" << needle << "', got: " << msg;
}

}  // namespace

TEST(Scanr, SyntheticPlateMapsEveryPlaneAndDecodesItsPixels) {
    fs::path d = layout_dir("scanr");
    write_text(d / "experiment_descriptor.xml", descriptor());
    write_text(d / "AcquisitionLog.dat", "binary");
    auto files = plate();
    for (auto& f : files) write_fixture_tiff(d / "data" / file_name(f.label, f.w, f.p, f.z, f.t, f.ch), tag_of(f));
    write_fixture_tiff(d / "data/overview.tif", 1);  // not a plane file: ignored with a warning
    EXPECT_EQ(scanr().detect(d), 90);
    EXPECT_EQ(detect_layout(d).name(), "scanr");
    ImageSet s = scanr().configure(d, {});
    EXPECT_EQ(s.format, "scanr");
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("ignored 1 TIFF file(s)"), std::string::npos) << s.warnings[0];
    EXPECT_NE(s.warnings[0].find("overview.tif"), std::string::npos) << s.warnings[0];
    ASSERT_EQ(s.channels.size(), 2u);
    EXPECT_EQ(s.channels[0].name, "DAPI");  // descriptor order; Autofocus and idle Cy5 are not channels
    EXPECT_EQ(s.channels[1].name, "GFP");
    EXPECT_DOUBLE_EQ(s.pixel_size_x.value(), 0.645);
    EXPECT_DOUBLE_EQ(s.pixel_size_y.value(), 0.645);
    ASSERT_EQ(s.plates.size(), 1u);
    EXPECT_EQ(s.plates[0].name, "ScanR plate 1");
    EXPECT_EQ(s.plates[0].rows, 8);  // not the "Rows 99" outside the format cluster
    EXPECT_EQ(s.plates[0].cols, 12);
    ASSERT_EQ(s.planes.size(), files.size());
    std::map<std::string, const SFile*> by_name;
    for (auto& f : files) by_name["data/" + file_name(f.label, f.w, f.p, f.z, f.t, f.ch)] = &f;
    std::set<std::string> wells;
    for (auto& p : s.planes) {
        auto it = by_name.find(p.file);
        ASSERT_NE(it, by_name.end()) << p.file;
        const SFile& f = *it->second;
        EXPECT_EQ(p.row, f.row) << p.file;
        EXPECT_EQ(p.col, f.col) << p.file;
        EXPECT_EQ(p.site, f.site) << p.file;
        EXPECT_EQ(p.zplane, f.zi) << p.file;
        EXPECT_EQ(p.tpoint, f.ti) << p.file;
        EXPECT_EQ(p.channel, f.ci) << p.file;
        EXPECT_EQ(p.plate, "ScanR plate 1");
        wells.insert(well_name(p.row, p.col));
        expect_fixture_pixels(d, p, tag_of(f));
    }
    EXPECT_EQ(wells, (std::set<std::string>{"A01", "B02"}));
    fs::remove_all(d);
}

TEST(Scanr, WellsFromTheDescriptorTableTheLabelOrTheIndex) {
    fs::path d = layout_dir("scanr_wells");
    write_text(d / "experiment_descriptor.xml", descriptor());
    // No label in the name: the descriptor's table says W14 is B2.
    write_fixture_tiff(d / "data" / file_name("", 14, 1, 0, 0, "DAPI"), 1);
    // A label that disagrees with W wins, with a warning; W30 without any label is C06 (row-major).
    write_fixture_tiff(d / "data" / file_name("D7", 2, 1, 0, 0, "DAPI"), 2);
    write_fixture_tiff(d / "data" / file_name("", 30, 1, 0, 0, "DAPI"), 3);
    ImageSet s = scanr().configure(d, {});
    std::set<std::string> wells;
    for (auto& p : s.planes) wells.insert(well_name(p.row, p.col));
    EXPECT_EQ(wells, (std::set<std::string>{"B02", "D07", "C06"}));
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("1 file(s) whose well label disagrees"), std::string::npos) << s.warnings[0];
    fs::remove_all(d);
}

TEST(Scanr, BinaryDescriptorOnlyAndNoPlateFormat) {
    fs::path d = layout_dir("scanr_dat");
    write_text(d / "experiment_descriptor.dat", std::string("\0\0\0\x10LabVIEW", 11));
    write_fixture_tiff(d / "data" / file_name("", 200, 1, 0, 0, "DAPI"), 1);
    EXPECT_EQ(scanr().detect(d), 90);
    ImageSet s = scanr().configure(d, {});
    ASSERT_EQ(s.planes.size(), 1u);
    EXPECT_EQ(s.plates[0].rows, 16);  // W200 needs a 384-well plate
    EXPECT_EQ(s.plates[0].cols, 24);
    EXPECT_EQ(well_name(s.planes[0].row, s.planes[0].col), "I08");  // 199 = 8 * 24 + 7
    EXPECT_EQ(s.plates[0].name, d.filename().string());
    ASSERT_FALSE(s.warnings.empty());
    EXPECT_NE(s.warnings[0].find("experiment_descriptor.dat"), std::string::npos);
    EXPECT_FALSE(s.pixel_size_x);
    fs::remove_all(d);
}

TEST(Scanr, RefusesHostileAndBrokenInput) {
    fs::path d = layout_dir("scanr_hostile");
    write_text(d / "experiment_descriptor.xml", descriptor());
    fs::create_directories(d / "data");
    expect_refused(d, "no ScanR image files");
    write_fixture_tiff(d / "data" / file_name("", 97, 1, 0, 0, "DAPI"), 1);
    expect_refused(d, "well index W97 is outside the 8x12 plate");
    fs::remove_all(d / "data");
    write_fixture_tiff(d / "data" / file_name("", 0, 1, 0, 0, "DAPI"), 1);
    expect_refused(d, "well index W0 is outside");
    fs::remove_all(d / "data");
    // Same well through a label and through the table: one plane twice.
    write_fixture_tiff(d / "data" / file_name("B2", 14, 1, 0, 0, "DAPI"), 1);
    write_fixture_tiff(d / "data" / file_name("", 14, 1, 0, 0, "DAPI"), 2);
    expect_refused(d, "a second file for well B02 position P1 Z0 T0 channel DAPI");
    fs::remove_all(d / "data");
    // A position number far beyond anything real is ranked, not used as a size.
    write_fixture_tiff(d / "data" / file_name("", 1, 99999999, 99999999, 99999999, "DAPI"), 1);
    ImageSet s = scanr().configure(d, {});
    ASSERT_EQ(s.planes.size(), 1u);
    EXPECT_EQ(s.planes[0].site, 0);
    EXPECT_EQ(s.planes[0].zplane, 0);
    // Broken descriptors name the file.
    write_text(d / "experiment_descriptor.xml", descriptor().substr(0, 200));
    expect_refused(d, "experiment_descriptor.xml: malformed XML");
    write_text(d / "experiment_descriptor.xml", descriptor("", "", "-3"));
    expect_refused(d, "'conversion factor um/pixel' must be positive");
    // Plates of up to 702 rows (ZZ) and 999 columns, what well names can say; one more is refused.
    auto format = [&](const char* rows, const char* cols) {
        return "<Cluster><Name>format typedef</Name>" + scalar("I32", "Rows", rows) + scalar("I32", "Columns", cols) +
               "</Cluster>";
    };
    write_text(d / "experiment_descriptor.xml", descriptor(format("702", "999")));
    ImageSet at_limit = scanr().configure(d, {});
    EXPECT_EQ(at_limit.plates[0].rows, 702);
    EXPECT_EQ(at_limit.plates[0].cols, 999);
    write_text(d / "experiment_descriptor.xml", descriptor(format("703", "12")));
    expect_refused(d, "plate format 'Rows' value 703 is outside 1..702");
    write_text(d / "experiment_descriptor.xml", descriptor(format("8", "1000")));
    expect_refused(d, "plate format 'Columns' value 1000 is outside 1..999");
    std::string lol = descriptor();
    lol.insert(lol.find("<LVData"), "<!DOCTYPE LVData [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>");
    lol.replace(lol.find("ScanR plate 1"), 13, "&b;&b;&b;&b;");
    write_text(d / "experiment_descriptor.xml", lol);
    std::string msg = error_of([&] { s = scanr().configure(d, {}); });
    if (msg == "no exception") {
        EXPECT_LT(s.plates.at(0).name.size(), 20u) << "entity expanded";
    }
    fs::remove_all(d);
    fs::create_directories(d);
    EXPECT_EQ(scanr().detect(d), 0);
    expect_refused(d, "no experiment_descriptor.xml");
    fs::remove_all(d);
}
