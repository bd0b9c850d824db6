// Detection (formats/detect.cpp): which acquisition a folder holds, one level up and down, and
// refusal of folders holding several.
#include <gtest/gtest.h>

#include <filesystem>

#include "formats/reader.h"
#include "layout_fixtures.h"
#include "test_util.h"

using namespace imx;
using imx::test::error_of;
using imx::test::fresh_dir;
using imx::test::write_fixture_tiff;
using imx::test::write_text;
namespace fs = std::filesystem;

namespace {

const char* kBts = "xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\"";

// A CV8000 measurement folder: 2 planes in the mlf, an mrf naming one shading image, and SC_/DC_
// correction images that are not planes.
void cv_measurement(const fs::path& dir) {
    std::string records;
    for (int f = 1; f <= 2; ++f) {
        const std::string name = "P_B03_T0001F00" + std::to_string(f) + "L01A01Z01C01.tif";
        write_fixture_tiff(dir / name, f);
        records += "<bts:MeasurementRecord bts:Type=\"IMG\" bts:Row=\"2\" bts:Column=\"3\" bts:FieldIndex=\"" +
                   std::to_string(f) + "\" bts:Ch=\"1\">" + name + "</bts:MeasurementRecord>\n";
    }
    write_text(dir / "MeasurementData.mlf", std::string("<?xml version=\"1.0\"?>\n<bts:MeasurementData ") + kBts +
                                                ">\n" + records + "</bts:MeasurementData>\n");
    write_text(dir / "MeasurementDetail.mrf",
               std::string("<?xml version=\"1.0\"?>\n<bts:MeasurementDetail ") + kBts +
                   " bts:RowCount=\"8\" bts:ColumnCount=\"12\"><bts:MeasurementChannel bts:Ch=\"1\" "
                   "bts:ShadingCorrectionSource=\"SC_BP445-45_20x v2_M01_CH01.tif\"/></bts:MeasurementDetail>\n");
    write_fixture_tiff(dir / "SC_BP445-45_20x v2_M01_CH01.tif", 50);
    write_fixture_tiff(dir / "SC_BP525-50_20x v2_M01_CH02.tif", 51);
    write_fixture_tiff(dir / "DC_sCMOS #1_CAM1.tif", 52);
}

// An exported MetaXpress plate: HTD + PLATE_WELL_sS_wC.tif.
void mx_plate(const fs::path& dir) {
    write_text(dir / "X.HTD", "\"HTSInfoFile\", Version 1.0\r\n\"XWells\", 12\r\n\"YWells\", 8\r\n\"EndFile\"\r\n");
    write_fixture_tiff(dir / "X_B02_s1_w1.tif", 1);
    write_fixture_tiff(dir / "X_B02_s1_w2.tif", 2);
}

void ome_file(const fs::path& file) {
    fs::create_directories(file.parent_path());
    const std::string xml =
        "<?xml version=\"1.0\"?><OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\"><Image ID=\"Image:0\">"
        "<Pixels ID=\"Pixels:0\" DimensionOrder=\"XYZCT\" Type=\"uint16\" SizeX=\"7\" SizeY=\"5\" SizeZ=\"1\" SizeC=\"1\" "
        "SizeT=\"1\"><Channel ID=\"Channel:0:0\"/><TiffData IFD=\"0\" PlaneCount=\"1\"/></Pixels></Image></OME>";
    write_tiff(file, test::fixture_plane(3), TiffCompression::none, xml);
}

}  // namespace

TEST(Detect, Cv8000TopFolderFindsTheMeasurementOneLevelDown) {
    const fs::path d = fresh_dir("cv8000");
    const fs::path top = d / "Plate1_20260101_120000";
    write_text(top / "TRACE_20260101_120000.log", "measurement start\n");
    cv_measurement(top / "Plate1");
    for (const fs::path& given : {top, d, top / "Plate1"}) {
        SCOPED_TRACE(given);
        const Acquisition a = find_acquisition(given);
        EXPECT_EQ(a.reader->name(), "cellvoyager");
        EXPECT_EQ(a.folder, top / "Plate1");
    }
    // --format cellvoyager above the measurement folder finds it too (it used to say "no mlf").
    EXPECT_EQ(find_acquisition(top, "cellvoyager").folder, top / "Plate1");
    // The planes are the mlf's; the correction images are named in a warning, not planes.
    const Acquisition a = find_acquisition(top);
    const ImageSet set = a.reader->configure(a.folder, {});
    ASSERT_EQ(set.planes.size(), 2u);
    for (auto& p : set.planes) EXPECT_EQ(p.file.rfind("P_B03_", 0), 0u) << p.file;
    bool named = false;
    for (auto& w : set.warnings)
        named = named || (w.find("3 shading (SC_) / dark-current (DC_)") != std::string::npos &&
                          w.find("DC_sCMOS #1_CAM1.tif") != std::string::npos &&
                          w.find("SC_BP525-50_20x v2_M01_CH02.tif") != std::string::npos);
    EXPECT_TRUE(named) << "no warning names the SC_/DC_ images";
}

TEST(Detect, SeveralAcquisitionsAreRefusedWithEachNamed) {
    const fs::path d = fresh_dir("mixed");
    cv_measurement(d / "run_20260101_120000" / "Plate1");
    mx_plate(d / "Exp_Plate_1");
    ome_file(d / "tiffs" / "a.ome.tif");
    const std::string e = error_of([&] { find_acquisition(d); });
    EXPECT_EQ(e.rfind(d.string() + ": holds 3 acquisitions", 0), 0u) << e;
    EXPECT_NE(e.find("cellvoyager   " + (d / "run_20260101_120000" / "Plate1").string()), std::string::npos) << e;
    EXPECT_NE(e.find("metaxpress    " + (d / "Exp_Plate_1").string()), std::string::npos) << e;
    EXPECT_NE(e.find("ome-tiff      " + (d / "tiffs").string()), std::string::npos) << e;
    EXPECT_NE(e.find("--source A --source B"), std::string::npos) << e;
    // Each alone, and --format on the parent when that format has one acquisition there.
    EXPECT_EQ(find_acquisition(d / "Exp_Plate_1").reader->name(), "metaxpress");
    EXPECT_EQ(find_acquisition(d / "tiffs").reader->name(), "ome-tiff");
    EXPECT_EQ(find_acquisition(d, "metaxpress").folder, d / "Exp_Plate_1");
    EXPECT_EQ(find_acquisition(d, "ome-tiff").folder, d / "tiffs");
}

TEST(Detect, ImageFilesBesideAnAcquisitionAreNotGuessed) {
    const fs::path d = fresh_dir("loose");
    cv_measurement(d / "Plate1");
    write_fixture_tiff(d / "snapshot.tif", 9);
    const std::string e = error_of([&] { find_acquisition(d); });
    EXPECT_NE(e.find("holds 2 acquisitions"), std::string::npos) << e;
    EXPECT_NE(e.find("1 image file(s) without microscope metadata outside them (snapshot.tif)"), std::string::npos) << e;
    // Without the acquisition the same folder is a folder of plain files.
    fs::remove_all(d / "Plate1");
    EXPECT_EQ(find_acquisition(d).reader->name(), "files");
    fs::remove_all(d);
    EXPECT_NE(error_of([&] { find_acquisition(d); }).find("not a folder"), std::string::npos);
}

TEST(Detect, FoldersALayoutOwnsAreNotSecondAcquisitions) {
    // Harmony: the export folder and its Images folder are one acquisition.
    const fs::path h = fresh_dir("harmony");
    write_text(h / "Images" / "Index.idx.xml", "<EvaluationInputData xmlns=\"x\"/>");
    write_fixture_tiff(h / "Images" / "r01c01f01p01-ch1sk1fk1fl1.tiff", 1);
    write_fixture_tiff(h / "Assaylayout" / "overview.tif", 2);  // in the acquisition: its own business
    EXPECT_EQ(find_acquisition(h).folder, h);
    EXPECT_EQ(find_acquisition(h.parent_path() / h.filename() / "Images").folder, h / "Images");
    // MetaXpress: several plates of one export are read together, as plates of one experiment.
    const fs::path m = fresh_dir("mx_export");
    mx_plate(m / "P1");
    mx_plate(m / "P2");
    write_text(m / "P2" / "TimePoint_1" / "X.HTD", "\"HTSInfoFile\", Version 1.0\r\n\"EndFile\"\r\n");
    const Acquisition a = find_acquisition(m);
    EXPECT_EQ(a.reader->name(), "metaxpress");
    EXPECT_EQ(a.folder, m);
    // ... but not with another format beside them.
    ome_file(m / "o" / "a.ome.tif");
    EXPECT_NE(error_of([&] { find_acquisition(m); }).find("holds 3 acquisitions"), std::string::npos);
    EXPECT_NE(error_of([&] { find_acquisition(m, "metaxpress"); }).find("holds 2 metaxpress acquisitions"),
              std::string::npos);
}

TEST(Detect, OmeXmlInPlainTiffNamesIsAnOmeTiff) {
    const fs::path d = fresh_dir("ome_tif_names");
    ome_file(d / "a.tif");
    EXPECT_EQ(find_acquisition(d).reader->name(), "ome-tiff");
    const ImageSet set = find_layout_reader("ome-tiff")->configure(d, {});
    ASSERT_EQ(set.planes.size(), 1u);
    EXPECT_EQ(set.planes[0].file, "a.tif");
    // The files layout refuses it rather than reading its pages as z-planes.
    const std::string e = error_of([&] { find_layout_reader("files")->configure(d, {}); });
    EXPECT_NE(e.find("carries OME-XML metadata"), std::string::npos) << e;
}

TEST(Detect, AHugeTreeIsNotSearchedForever) {
    // `files` reads the whole tree, so it may only be chosen after every folder was looked at;
    // beyond 5000 folders the search asks for the acquisition folder instead.
    const fs::path d = fresh_dir("huge");
    for (int i = 0; i <= 5000; ++i) fs::create_directory(d / ("f" + std::to_string(i)));
    const std::string e = error_of([&] { find_acquisition(d); });
    EXPECT_NE(e.find("more than 5000 folders"), std::string::npos) << e;
    EXPECT_EQ(find_acquisition(d, "files").reader->name(), "files");  // an explicit format is not searched
    fs::remove_all(d);
}

TEST(Detect, MeasurementFolderWithoutItsMlfIsRefusedNotReadAsPlainFiles) {
    const fs::path d = fresh_dir("no_mlf");
    cv_measurement(d);
    fs::remove(d / "MeasurementData.mlf");
    const Acquisition a = find_acquisition(d);
    EXPECT_EQ(a.reader->name(), "cellvoyager");  // not `files`, which would make the SC_/DC_ images sites
    const std::string e = error_of([&] { a.reader->configure(a.folder, {}); });
    EXPECT_NE(e.find("no MeasurementData.mlf in the folder beside its .mrf"), std::string::npos) << e;
    EXPECT_EQ(find_acquisition(d, "files").reader->name(), "files");  // what the message offers
}
