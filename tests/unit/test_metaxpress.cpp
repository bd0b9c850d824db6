#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <unistd.h>

#include "render/image_writer.h"
#include "formats/metamorph.h"
#include "formats/reader.h"
#include "test_util.h"
#include "workflow/inventory.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

const LayoutReader& mx() { return *find_layout_reader("metaxpress"); }

using imx::test::fresh_dir;

// A 4x3 16-bit plane whose pixels encode `tag`, so a test can tell files apart.
void tiff(const fs::path& f, uint16_t tag, const std::string& description = {}) {
    fs::create_directories(f.parent_path());
    Plane p;
    p.allocate(DType::u16, 4, 3);
    for (size_t i = 0; i < p.pixel_count(); ++i) p.as<uint16_t>()[i] = uint16_t(tag + i);
    write_tiff(f, p, TiffCompression::none, description);
}

std::string mm_xml(const std::string& illum, double z, double cal = 0.65, const std::string& units = "um",
                   const std::string& stage = {}) {
    return "<MetaData>\n<prop id=\"Description\" type=\"string\" value=\"x\"/>\n<PlaneInfo>\n" + stage +
           "<prop id=\"spatial-calibration-x\" type=\"float\" value=\"" + std::to_string(cal) + "\"/>\n"
           "<prop id=\"spatial-calibration-y\" type=\"float\" value=\"" + std::to_string(cal) + "\"/>\n"
           "<prop id=\"spatial-calibration-units\" type=\"string\" value=\"" + units + "\"/>\n"
           "<prop id=\"z-position\" type=\"float\" value=\"" + std::to_string(z) + "\"/>\n"
           "<prop id=\"wavelength\" type=\"float\" value=\"452\"/>\n"
           "<prop id=\"_IllumSetting_\" type=\"string\" value=\"" + illum + "\"/>\n</PlaneInfo>\n</MetaData>";
}

std::string htd(int waves, const std::string& extra = {}) {
    std::string s = "\"HTSInfoFile\", Version 1.0\r\n\"TimePoints\", 2\r\n\"ZSeries\", TRUE\r\n\"ZSteps\", 2\r\n"
                    "\"XWells\", 12\r\n\"YWells\", 8\r\n\"XSites\", 2\r\n\"YSites\", 1\r\n\"NWavelengths\", " +
                    std::to_string(waves) + "\r\n";
    const char* names[] = {"DAPI", "FITC", "Cy5"};
    for (int w = 1; w <= waves; ++w) s += "\"WaveName" + std::to_string(w) + "\", \"" + names[w - 1] + "\"\r\n";
    return s + extra + "\"UniquePlateIdentifier\", \"abc\"\r\n\"EndFile\"\r\n";
}

const PlaneRecord* find(const ImageSet& s, int row, int col, int site, int ch, int t, int z) {
    for (auto& p : s.planes)
        if (p.row == row && p.col == col && p.site == site && p.channel == ch && p.tpoint == t && p.zplane == z) return &p;
    return nullptr;
}

struct Dims {
    size_t planes, wells, sites, channels, z, t;
};
Dims dims(const ImageSet& s) {
    std::set<std::pair<int, int>> w;
    std::set<std::tuple<int, int, int>> si;
    std::set<int> z, t;
    for (auto& p : s.planes) {
        w.insert({p.row, p.col});
        si.insert({p.row, p.col, p.site});
        z.insert(p.zplane);
        t.insert(p.tpoint);
    }
    return {s.planes.size(), w.size(), si.size(), s.channels.size(), z.size(), t.size()};
}

fs::path samples() { return fs::path(IMX_SAMPLES_DIR) / "metaxpress"; }

}  // namespace

TEST(MetaXpress, DescriptionParser) {
    auto m = parse_metamorph_description(mm_xml("DAPI", 12.5, 0.325));
    ASSERT_TRUE(m);
    EXPECT_DOUBLE_EQ(*m->pixel_size_x, 0.325);
    EXPECT_DOUBLE_EQ(*m->z_position, 12.5);
    EXPECT_DOUBLE_EQ(*m->wavelength_nm, 452);
    EXPECT_EQ(m->illumination, "DAPI");
    // Uncalibrated ("pixel" units) gives no pixel size.
    auto u = parse_metamorph_description(mm_xml("DAPI", 1, 1.0, "pixel"));
    ASSERT_TRUE(u);
    EXPECT_FALSE(u->pixel_size_x);
    EXPECT_TRUE(is_metamorph_description("Experiment base name:X\r\nExposure: 5 ms\r\n"));
    EXPECT_FALSE(is_metamorph_description("ImageJ=1.53\nimages=3\n"));
    EXPECT_FALSE(parse_metamorph_description("ImageJ=1.53\n"));
    // Malformed XML: no crash, no metadata.
    EXPECT_FALSE(parse_metamorph_description("<MetaData><prop id=\"z-position\" value=\"1\""));
}

TEST(MetaXpress, ExportedPlateWithTimeAndZ) {
    fs::path d = fresh_dir("exported");
    fs::path plate = d / "P1";
    fs::create_directories(plate);
    test::write_bytes(plate / "P1.HTD", htd(2));
    // Copies of the HTD in the sub-folders must not make extra plates.
    for (int t = 1; t <= 2; ++t)
        for (int z = 1; z <= 2; ++z) {
            fs::path sub = plate / ("TimePoint_" + std::to_string(t)) / ("ZStep_" + std::to_string(z));
            fs::create_directories(sub);
            test::write_bytes(sub / "P1.HTD", htd(2));
            for (const char* well : {"B02", "C03"})
                for (int s = 1; s <= 2; ++s)
                    for (int w = 1; w <= 2; ++w)
                        tiff(sub / (std::string("P1_") + well + "_s" + std::to_string(s) + "_w" + std::to_string(w) + ".TIF"),
                             uint16_t(t * 10000 + z * 1000 + (well[0] == 'C') * 100 + s * 10 + w), mm_xml(w == 1 ? "DAPI-ill" : "FITC-ill", 100.0 + z * 2.5));
        }
    // detect() looks at plate folders only; find_acquisition finds the plate below `d`.
    EXPECT_EQ(mx().detect(d), 0);
    EXPECT_EQ(mx().detect(plate), 90);
    EXPECT_EQ(find_acquisition(d).folder, plate);
    EXPECT_EQ(find_acquisition(d).reader->name(), "metaxpress");
    ImageSet s = mx().configure(d, {});
    Dims k = dims(s);
    EXPECT_EQ(k.planes, 2u * 2 * 2 * 2 * 2);
    EXPECT_EQ(k.wells, 2u);
    EXPECT_EQ(k.sites, 4u);
    EXPECT_EQ(k.z, 2u);
    EXPECT_EQ(k.t, 2u);
    ASSERT_EQ(s.channels.size(), 2u);
    EXPECT_EQ(s.channels[0].name, "DAPI");  // HTD names win over the TIFF metadata
    EXPECT_EQ(s.channels[1].name, "FITC");
    ASSERT_EQ(s.plates.size(), 1u);
    EXPECT_EQ(s.plates[0].name, "P1");
    EXPECT_EQ(s.plates[0].rows, 8);
    EXPECT_EQ(s.plates[0].cols, 12);
    ASSERT_TRUE(s.pixel_size_x);
    EXPECT_NEAR(*s.pixel_size_x, 0.65, 1e-9);
    ASSERT_TRUE(s.pixel_size_z);
    EXPECT_NEAR(*s.pixel_size_z, 2.5, 1e-6);
    const PlaneRecord* p = find(s, 2, 2, 1, 1, 1, 0);  // C03 s2 w2, TimePoint_2, ZStep_1
    ASSERT_TRUE(p);
    EXPECT_EQ(p->file, "P1/TimePoint_2/ZStep_1/P1_C03_s2_w2.TIF");
    // The pixels behind that record are the ones written for it.
    Plane out;
    read_plane(*source::open(d / p->file), {0, p->page, 0}, out);
    ASSERT_EQ(out.width, 4u);
    EXPECT_EQ(out.as<uint16_t>()[0], 2 * 10000 + 1 * 1000 + 100 + 2 * 10 + 2);
    EXPECT_EQ(out.as<uint16_t>()[11], 2 * 10000 + 1 * 1000 + 100 + 2 * 10 + 2 + 11);
    fs::remove_all(d);
}

// Each site's stage position comes from its first file's description; a site whose files record
// none keeps none (no invented position), and the other channels of a site share its position.
TEST(MetaXpress, StagePositionsPerSiteFromTheDescription) {
    fs::path d = fresh_dir("stage");
    test::write_bytes(d / "P2.HTD", htd(2));
    auto stage = [](double x, double y) {
        return "<prop id=\"stage-position-x\" type=\"float\" value=\"" + std::to_string(x) + "\"/>\n"
               "<prop id=\"stage-position-y\" type=\"float\" value=\"" + std::to_string(y) + "\"/>\n";
    };
    for (int w = 1; w <= 2; ++w) {
        const std::string wave = "_w" + std::to_string(w) + ".TIF", illum = w == 1 ? "DAPI-ill" : "FITC-ill";
        tiff(d / ("P2_B02_s1" + wave), uint16_t(w), mm_xml(illum, 1, 0.65, "um", stage(1000.5, 2000)));
        tiff(d / ("P2_B02_s2" + wave), uint16_t(w), mm_xml(illum, 1, 0.65, "um", stage(1650.5, 2000)));
        tiff(d / ("P2_C03_s1" + wave), uint16_t(w), mm_xml(illum, 1));  // no stage position
    }
    ImageSet s = mx().configure(d, {});
    ASSERT_EQ(s.planes.size(), 6u);
    for (auto& p : s.planes) {
        if (p.row == 2) {
            EXPECT_FALSE(p.stage_x || p.stage_y) << p.file;
            continue;
        }
        ASSERT_TRUE(p.stage_x && p.stage_y) << p.file;
        EXPECT_DOUBLE_EQ(*p.stage_x, p.site == 0 ? 1000.5 : 1650.5) << p.file;
        EXPECT_DOUBLE_EQ(*p.stage_y, 2000) << p.file;
    }
    fs::remove_all(d);
}

TEST(MetaXpress, SingleSiteSingleWaveNamesAndThumbnails) {
    fs::path d = fresh_dir("single");
    test::write_bytes(d / "X.HTD", "\"HTSInfoFile\", Version 1.0\n\"XWells\", 24\n\"YWells\", 16\n\"WaveName1\", \"DAPI\"\n");
    tiff(d / "X_B02.tif", 7);
    tiff(d / "X_P24.tif", 8);
    tiff(d / "X_B02_thumb.tif", 9);
    ImageSet s = mx().configure(d, {});
    ASSERT_EQ(s.planes.size(), 2u);
    EXPECT_EQ(s.plates[0].rows, 16);
    EXPECT_EQ(s.channels.at(0).name, "DAPI");
    EXPECT_TRUE(find(s, 15, 23, 0, 0, 0, 0));
    bool warned = false;
    for (auto& w : s.warnings) warned |= w.find("thumbnail") != std::string::npos;
    EXPECT_TRUE(warned);
    fs::remove_all(d);
}

TEST(MetaXpress, WellOutsideHtdPlateIsAnError) {
    fs::path d = fresh_dir("outside");
    test::write_bytes(d / "X.HTD", "\"HTSInfoFile\", Version 1.0\n\"XWells\", 12\n\"YWells\", 8\n");
    tiff(d / "X_J02_s1_w1.tif", 1);
    EXPECT_NE(test::error_of([&] { mx().configure(d, {}); }).find("outside the 8x12 plate"), std::string::npos);
    fs::remove_all(d);
}

TEST(MetaXpress, CorruptHtdIsAnInputError) {
    fs::path d = fresh_dir("corrupt");
    tiff(d / "X_A01_s1_w1.tif", 1);
    test::write_bytes(d / "X.HTD", "garbage");
    EXPECT_NE(test::error_of([&] { mx().configure(d, {}); }).find("not a MetaXpress HTD file"), std::string::npos);
    test::write_bytes(d / "X.HTD", "\"HTSInfoFile\", Version 1.0\n\"XWells\", 99999999999999\n");
    EXPECT_NE(test::error_of([&] { mx().configure(d, {}); }).find("\"XWells\""), std::string::npos);
    // Plates of up to 702 rows (ZZ) and 999 columns, what well names can say; one more is refused.
    test::write_bytes(d / "X.HTD", "\"HTSInfoFile\", Version 1.0\n\"XWells\", 999\n\"YWells\", 702\n");
    ImageSet edge = mx().configure(d, {});
    EXPECT_EQ(edge.plates[0].rows, 702);
    EXPECT_EQ(edge.plates[0].cols, 999);
    test::write_bytes(d / "X.HTD", "\"HTSInfoFile\", Version 1.0\n\"XWells\", 1000\n");
    EXPECT_NE(test::error_of([&] { mx().configure(d, {}); }).find("\"XWells\": '1000' is not a whole number in 1..999"),
              std::string::npos)
        << test::error_of([&] { mx().configure(d, {}); });
    test::write_bytes(d / "X.HTD", "\"HTSInfoFile\", Version 1.0\n\"YWells\", 703\n");
    EXPECT_NE(test::error_of([&] { mx().configure(d, {}); }).find("1..702"), std::string::npos);
    test::write_bytes(d / "X.HTD", "\"HTSInfoFile\", Version 1.0\n\"WaveNamex\", \"a\"\n");
    EXPECT_NE(test::error_of([&] { mx().configure(d, {}); }).find("WaveNamex"), std::string::npos);
    fs::remove_all(d);
}

TEST(MetaXpress, DatabaseLayoutProjectionsAndGuids) {
    fs::path d = fresh_dir("db");
    fs::path root = d / "2024-01-02" / "4711";
    const char* g1 = "0A1B2C3D-1111-2222-3333-444455556666";
    // Projection (beside the ZStep folders) + 3 z-steps for w1; w2 only at ZStep_1.
    tiff(root / (std::string("Scr_A01_s1_w1") + g1 + ".tif"), 1000, mm_xml("DAPI", 0));
    tiff(root / (std::string("Scr_A01_s1_w1_thumb") + g1 + ".tif"), 1);
    for (int z = 1; z <= 3; ++z) {
        fs::path zd = root / ("ZStep_" + std::to_string(z));
        tiff(zd / (std::string("Scr_A01_s1_w1") + g1 + ".tif"), uint16_t(z * 10), mm_xml("DAPI", 50.0 + z * 1.5));
        if (z == 1) tiff(zd / (std::string("Scr_A01_s1_w2[") + g1 + "].tif"), 500, mm_xml("GFP", 50));
    }
    EXPECT_EQ(mx().detect(d), 0);
    EXPECT_EQ(mx().detect(root), 70);  // the plate folder, with its projections and ZStep_N folders
    EXPECT_EQ(mx().detect(root / "ZStep_2"), 70);
    EXPECT_EQ(find_acquisition(d).folder, root);  // two levels down; ZStep_N belong to the plate
    ImageSet s = mx().configure(d, {});
    ASSERT_EQ(s.plates.size(), 1u);
    EXPECT_EQ(s.plates[0].name, "Scr");
    ASSERT_EQ(s.channels.size(), 2u);
    EXPECT_EQ(s.channels[0].name, "DAPI");
    EXPECT_EQ(s.channels[1].name, "GFP");
    EXPECT_EQ(s.planes.size(), 5u);  // 3 z + projection for DAPI, 1 z for GFP
    // The file beside the ZStep folders is a projection (its description names no method); create
    // makes it a channel of its own (workflow/inventory.h place_projections).
    const PlaneRecord* proj = nullptr;
    for (auto& p : s.planes)
        if (!p.projection.empty()) proj = &p;
    ASSERT_TRUE(proj);
    EXPECT_EQ(proj->projection, "Z");
    EXPECT_EQ(proj->channel, 0);
    EXPECT_EQ(proj->file, std::string("2024-01-02/4711/Scr_A01_s1_w1") + g1 + ".tif");
    const PlaneRecord* z2 = find(s, 0, 0, 0, 0, 0, 1);
    ASSERT_TRUE(z2);
    EXPECT_EQ(z2->file, std::string("2024-01-02/4711/ZStep_2/Scr_A01_s1_w1") + g1 + ".tif");
    ASSERT_TRUE(s.pixel_size_z);
    EXPECT_NEAR(*s.pixel_size_z, 1.5, 1e-6);
    ImageSet kept = s, skipped = s;
    place_projections(kept, d, false);
    ASSERT_EQ(kept.channels.size(), 3u);
    EXPECT_EQ(kept.channels[2].name, "DAPI (Z projection)");
    place_projections(skipped, d, true);
    EXPECT_EQ(skipped.planes.size(), 4u);
    fs::remove_all(d);
}

// A plate of projections only (no ZStep folders): the description's "Z Projection Method" says so.
TEST(MetaXpress, ProjectionsWithoutAZStackAreKnownByTheirDescription) {
    fs::path d = fresh_dir("db_proj");
    std::string projected = mm_xml("FITC", 0);
    projected.insert(projected.find("</PlaneInfo>"), "<custom-prop id=\"Z Projection Method\" type=\"string\" value=\"Maximum\"/>\n");
    tiff(d / "P_A01_s1_w1.tif", 1, projected);
    tiff(d / "P_A01_s1_w2.tif", 2, mm_xml("DAPI", 0));
    ImageSet s = mx().configure(d, {});
    ASSERT_EQ(s.planes.size(), 2u);
    for (auto& p : s.planes) EXPECT_EQ(p.projection, p.file == "P_A01_s1_w1.tif" ? "Maximum" : "") << p.file;
    place_projections(s, d, false);
    std::vector<std::string> names;
    for (auto& c : s.channels) names.push_back(c.name);
    EXPECT_EQ(names, (std::vector<std::string>{"DAPI", "FITC (Maximum projection)"}));
    fs::remove_all(d);
}

TEST(MetaXpress, DetectIgnoresPlainTiffFolders) {
    fs::path d = fresh_dir("plain");
    tiff(d / "img_A01_s1_w1.tif", 1, "ImageJ=1.53\nimages=1\n");
    EXPECT_EQ(mx().detect(d), 0);
    fs::remove_all(d);
    // The same names with MetaMorph XML in the description (no GUID): ours, below HTD/GUID scores.
    fs::path m = fresh_dir("mm_nonguid");
    tiff(m / "img_A01_s1_w2.tif", 1, mm_xml("x", 0));
    EXPECT_EQ(mx().detect(m), 60);
    EXPECT_EQ(detect_layout(m).name(), "metaxpress");
    fs::remove_all(m);
}

// An export opened below its plate folder (PLATE/TimePoint_1, PLATE/TimePoint_1/ZStep_0, each
// holding a copy of the HTD) is named by the plate folder, not by "TimePoint_1".
TEST(MetaXpress, ExportOpenedInsideItsTimePointFolderIsNamedByThePlateFolder) {
    fs::path d = fresh_dir("tpname");
    const std::string h = "\"HTSInfoFile\", Version 1.0\n\"XWells\", 12\n\"YWells\", 8\n";
    fs::create_directories(d / "MyPlate" / "TimePoint_1" / "ZStep_1");
    test::write_bytes(d / "MyPlate" / "X.HTD", h);
    test::write_bytes(d / "MyPlate" / "TimePoint_1" / "X.HTD", h);
    test::write_bytes(d / "MyPlate" / "TimePoint_1" / "ZStep_1" / "X.HTD", h);
    tiff(d / "MyPlate" / "TimePoint_1" / "ZStep_1" / "X_B02_s1_w1.tif", 1);
    for (const fs::path& source : {d / "MyPlate", d / "MyPlate" / "TimePoint_1", d / "MyPlate" / "TimePoint_1" / "ZStep_1"}) {
        ImageSet s = mx().configure(source, {});
        ASSERT_EQ(s.plates.size(), 1u) << source;
        EXPECT_EQ(s.plates[0].name, "MyPlate") << source;
        ASSERT_EQ(s.planes.size(), 1u) << source;
        EXPECT_EQ(s.planes[0].plate, "MyPlate") << source;
    }
    fs::remove_all(d);
}

TEST(MetaXpress, SampleExportOpenedOneLevelDownOrUp) {
    fs::path d = samples() / "faim-ipa_ImageXpress_exported";
    if (!fs::exists(d)) GTEST_SKIP() << d << " not present";
    // One level down: the TimePoint_1 folder (it holds 9987.HTD and the image) of plate 3420, and
    // a ZStep folder of 3434; one level up: the folder of the three plates.
    EXPECT_EQ(mx().configure(d / "9987_Plate_3420" / "TimePoint_1", {}).plates.at(0).name, "9987_Plate_3420");
    EXPECT_EQ(mx().configure(d / "9987_Plate_3434" / "TimePoint_1" / "ZStep_0", {}).plates.at(0).name, "9987_Plate_3434");
    EXPECT_EQ(mx().configure(d / "9987_Plate_3420", {}).plates.at(0).name, "9987_Plate_3420");
    std::set<std::string> names;
    for (auto& p : mx().configure(d, {}).plates) names.insert(p.name);
    EXPECT_EQ(names, (std::set<std::string>{"9987_Plate_3420", "9987_Plate_3434", "9987_Plate_3435"}));
}

// ---- conformance on the real samples (expected values from `find` and tifffile, see comments) ----

TEST(MetaXpress, SampleExportedPlates) {
    fs::path d = samples() / "faim-ipa_ImageXpress_exported";
    if (!fs::exists(d)) GTEST_SKIP() << d << " not present";
    EXPECT_EQ(detect_layout(d).name(), "metaxpress");
    ImageSet s = mx().configure(d, {});
    // Three plate folders, each with a top-level 9987.HTD.
    ASSERT_EQ(s.plates.size(), 3u);
    std::map<std::string, std::vector<const PlaneRecord*>> by_plate;
    for (auto& p : s.planes) by_plate[p.plate].push_back(&p);
    // `find 9987_Plate_3434 -name '*.TIF' | wc -l` = 36; 3420: 1; 3435: 16.
    EXPECT_EQ(by_plate["9987_Plate_3434"].size(), 36u);
    EXPECT_EQ(by_plate["9987_Plate_3420"].size(), 1u);
    EXPECT_EQ(by_plate["9987_Plate_3435"].size(), 16u);
    std::set<int> z, t;
    for (auto* p : by_plate["9987_Plate_3434"]) z.insert(p->zplane);
    for (auto* p : by_plate["9987_Plate_3435"]) t.insert(p->tpoint);
    EXPECT_EQ(z.size(), 3u);
    EXPECT_EQ(t.size(), 2u);
    // HTD WaveName1..3 = DAPI, FITC, Texas Red.
    std::vector<std::string> names;
    for (auto& c : s.channels) names.push_back(c.name);
    EXPECT_EQ(names, (std::vector<std::string>{"DAPI", "FITC", "Texas Red"}));
    // spatial-calibration-x of the TIFFs (tifffile): 1.3672 um.
    ASSERT_TRUE(s.pixel_size_x);
    EXPECT_NEAR(*s.pixel_size_x, 1.3672, 1e-4);
}

TEST(MetaXpress, SampleDatabaseProjectionMix) {
    fs::path d = samples() / "faim-ipa_Projection-Mix";
    if (!fs::exists(d)) GTEST_SKIP() << d << " not present";
    EXPECT_EQ(detect_layout(d).name(), "metaxpress");
    ImageSet s = mx().configure(d, {});
    // 96 non-thumbnail TIFFs, 12 of them beside the 10 ZStep folders (projections).
    Dims k = dims(s);
    EXPECT_EQ(k.planes, 96u);
    EXPECT_EQ(k.wells, 2u);   // E07, E08
    EXPECT_EQ(k.sites, 4u);
    EXPECT_EQ(k.channels, 4u);  // w1..w4; all four carry _IllumSetting_ "FITC_05", hence w-numbers
    EXPECT_EQ(k.z, 10u);      // 10 z-steps; the projections are 2-D images
    EXPECT_EQ(s.channels[0].name, "w1");
    // "Z Projection Method" of the files beside the ZStep folders (tifffile): w1 Maximum, w2 Best
    // Focus, w3 Maximum; w3 exists only as a projection.
    ImageSet kept = s, skipped = s;
    place_projections(kept, d, false);
    std::vector<std::string> names;
    for (auto& c : kept.channels) names.push_back(c.name);
    EXPECT_EQ(names, (std::vector<std::string>{"w1", "w2", "w4", "w1 (Maximum projection)", "w2 (Best Focus projection)",
                                               "w3 (Maximum projection)"}));
    place_projections(skipped, d, true);
    EXPECT_EQ(skipped.planes.size(), 84u);
    // z-position of E07 s1 w1 at ZStep_1 / ZStep_2 (tifffile): 9318.24, 9323.18.
    ASSERT_TRUE(s.pixel_size_z);
    EXPECT_NEAR(*s.pixel_size_z, 4.94, 1e-3);
}

TEST(MetaXpress, SampleSingleChannelAndOldTiffs) {
    fs::path single = samples() / "faim-ipa_SingleChannel";
    if (!fs::exists(single)) GTEST_SKIP() << single << " not present";
    ImageSet s = mx().configure(single, {});
    EXPECT_EQ(s.planes.size(), 12u);  // 12 non-thumbnail files: 4 projections + 2 z-steps x 4 sites
    EXPECT_EQ(s.channels.size(), 1u);
    fs::path worms = samples() / "cellprofiler-examples_StraightenWorms";
    EXPECT_EQ(detect_layout(worms).name(), "metaxpress");
    ImageSet w = mx().configure(worms, {});
    ASSERT_EQ(w.planes.size(), 3u);
    EXPECT_TRUE(find(w, 2, 15, 0, 2, 0, 0));  // C16 w3
    EXPECT_EQ(w.plates[0].name, "101210OranePlt1");
    fs::path adsa = samples() / "cellprofiler-examples_ADSA";
    EXPECT_EQ(detect_layout(adsa).name(), "metaxpress");
    ImageSet a = mx().configure(adsa, {});
    ASSERT_EQ(a.planes.size(), 1u);
    EXPECT_EQ(a.channels[0].name, "w2");
    fs::path thumb = samples() / "faim-ipa_thumb";
    EXPECT_NE(test::error_of([&] { mx().configure(thumb, {}); }).find("only thumbnails"), std::string::npos);
}

// Exposure and objective from the MetaMorph description: the "Exposure Time" custom-prop (or the
// description text's "Exposure:" line), _MagSetting_ and _MagNA_; malformed values are dropped.
TEST(MetaXpress, DescriptionExposureAndObjective) {
    const std::string head = "<MetaData>\n<prop id=\"Description\" type=\"string\" value=\"Plate Name: 9987&#13;&#10;"
                             "Exposure: 120 ms&#13;&#10;Binning: 8 x 8\"/>\n<PlaneInfo>\n";
    auto parse = [&](const std::string& body) { return parse_metamorph_description(head + body + "</PlaneInfo>\n</MetaData>"); };
    auto m = parse("<prop id=\"_MagNA_\" type=\"float\" value=\"0.95\"/>\n"
                   "<prop id=\"_MagSetting_\" type=\"string\" value=\"40X Plan Apo Lambda\"/>\n"
                   "<custom-prop id=\"Exposure Time\" type=\"string\" value=\"100 ms\"/>\n");
    ASSERT_TRUE(m);
    EXPECT_DOUBLE_EQ(m->exposure_s.value(), 0.1);  // the custom-prop wins over the text
    EXPECT_EQ(m->objective, "40X Plan Apo Lambda");
    EXPECT_DOUBLE_EQ(m->objective_na.value(), 0.95);
    m = parse("<prop id=\"_MagNA_\" type=\"float\" value=\"high\"/>\n"
              "<custom-prop id=\"Exposure Time\" type=\"string\" value=\"100 parsecs\"/>\n");
    EXPECT_DOUBLE_EQ(m->exposure_s.value(), 0.12);  // the text's line, the custom-prop being malformed
    EXPECT_FALSE(m->objective_na);
    m = parse("<prop id=\"_MagNA_\" type=\"float\" value=\"7\"/>\n");
    EXPECT_FALSE(m->objective_na);  // no lens has an NA of 7
    m = parse_metamorph_description("<MetaData><prop id=\"Description\" value=\"Exposure: -3 ms\"/></MetaData>");
    EXPECT_FALSE(m->exposure_s);
    // The older plain-text description has the exposure too.
    m = parse_metamorph_description("Experiment base name:X\r\nExposure: 500 ms\r\nBinning: 1 x 1\r\n");
    EXPECT_DOUBLE_EQ(m->exposure_s.value(), 0.5);
}

// Values read with tifffile from every TIFF of the samples: each wave's files share one
// "Exposure Time" (15 ms; 10/500/500 ms in the older TIFFs) and the objective (_MagSetting_
// "20X Plan Apo Lambda", _MagNA_ 0.75).
TEST(MetaXpress, SampleExposureAndObjective) {
    fs::path single = samples() / "faim-ipa_SingleChannel";
    if (!fs::exists(single)) GTEST_SKIP() << single << " not present";
    ImageSet s = mx().configure(single, {});
    ASSERT_FALSE(s.planes.empty());
    for (auto& p : s.planes) EXPECT_DOUBLE_EQ(p.exposure_s.value(), 0.015) << p.file;
    ASSERT_TRUE(s.objective);
    EXPECT_EQ(s.objective->model, "20X Plan Apo Lambda");
    EXPECT_DOUBLE_EQ(s.objective->lens_na.value(), 0.75);
    EXPECT_FALSE(s.objective->magnification);
    fs::path worms = samples() / "cellprofiler-examples_StraightenWorms";
    if (!fs::exists(worms)) return;
    s = mx().configure(worms, {});
    std::map<std::string, double> by_channel;
    for (auto& p : s.planes) by_channel[s.channels[size_t(p.channel)].name] = p.exposure_s.value();
    ASSERT_EQ(by_channel.size(), 3u);
    std::vector<double> exposures;
    for (auto& [name, e] : by_channel) exposures.push_back(e);
    std::sort(exposures.begin(), exposures.end());
    EXPECT_EQ(exposures, (std::vector<double>{0.01, 0.5, 0.5}));
    EXPECT_FALSE(s.objective);  // the plain-text descriptions name none
}
