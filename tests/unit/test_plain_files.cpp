#include <gtest/gtest.h>
#include <tiffio.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "render/image_writer.h"
#include "formats/reader.h"
#include "test_util.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

const LayoutReader& files() { return *find_layout_reader("files"); }
LayoutOptions with_pattern(const std::string& pattern) {
    LayoutOptions o;
    o.pattern = pattern;
    return o;
}

using imx::test::fresh_dir;

Plane small(uint16_t v) {
    Plane p;
    p.allocate(DType::u16, 8, 6);
    for (size_t i = 0; i < p.pixel_count(); ++i) p.as<uint16_t>()[i] = uint16_t(v + i);
    return p;
}

// A multi-page TIFF with an optional ImageDescription on page 0.
void write_pages(const fs::path& f, int pages, const std::string& description) {
    TIFF* t = TIFFOpen(f.c_str(), "w");
    ASSERT_NE(t, nullptr);
    for (int p = 0; p < pages; ++p) {
        Plane pl = small(uint16_t(p * 100));
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, pl.width);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, pl.height);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, pl.height);
        if (p == 0 && !description.empty()) TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, description.c_str());
        TIFFWriteEncodedStrip(t, 0, pl.data.data(), tmsize_t(pl.byte_size()));
        TIFFWriteDirectory(t);
    }
    TIFFClose(t);
}

}  // namespace

TEST(PlainFiles, NamedGroupsMapWellsSitesChannels) {
    fs::path d = fresh_dir("groups");
    for (const char* w : {"B03", "C10"})
        for (int s : {1, 2, 10})
            for (int c : {1, 2}) write_tiff(d / (std::string("plate_") + w + "_s" + std::to_string(s) + "_w" + std::to_string(c) + ".tif"), small(1));
    write_tiff(d / "notes_unrelated.tif", small(1));
    ImageSet set = files().configure(d, with_pattern(R"(plate_(?P<well>[A-P]\d\d)_s(?P<site>\d+)_w(?P<channel>\d)\.tif)"));
    EXPECT_EQ(set.planes.size(), 12u);
    ASSERT_EQ(set.channels.size(), 2u);
    EXPECT_EQ(set.channels[0].name, "1");
    int max_site = 0;
    bool c10 = false;
    for (auto& p : set.planes) {
        max_site = std::max(max_site, p.site);
        if (p.row == 2 && p.col == 9) c10 = true;
        if (p.file == "plate_B03_s10_w2.tif") {
            EXPECT_EQ(p.site, 2);  // 1, 2, 10 sorted numerically -> 0, 1, 2
            EXPECT_EQ(p.channel, 1);
        }
    }
    EXPECT_EQ(max_site, 2);
    EXPECT_TRUE(c10);
    ASSERT_EQ(set.warnings.size(), 1u);  // the unrelated file, named
    EXPECT_NE(set.warnings[0].find("1 of the 13 image files do not match the pattern and are not stored: notes_unrelated.tif"),
              std::string::npos) << set.warnings[0];
    // Without a pattern the default names are not guessed around an unrelated file: refused.
    const std::string e = test::error_of([&] { files().configure(d, {}); });
    EXPECT_NE(e.find("do not follow the NAME_WELL_sS[_wC] names of the others (notes_unrelated.tif)"), std::string::npos) << e;
    fs::remove(d / "notes_unrelated.tif");
    // ... and recognises the same MetaXpress-like names on their own.
    EXPECT_EQ(files().configure(d, {}).planes.size(), 12u);
    fs::remove_all(d);
}

TEST(PlainFiles, RowColumnGroupsAndNonCapturingGroups) {
    fs::path d = fresh_dir("rowcol");
    write_tiff(d / "r03c12_(x)_z1.tif", small(1));
    write_tiff(d / "r03c12_(x)_z2.tif", small(2));
    ImageSet set = files().configure(d, with_pattern(R"(r(?P<row>\d+)c(?P<col>\d+)_(?:\(x\))_z(?P<z>\d)\.tif)"));
    ASSERT_EQ(set.planes.size(), 2u);
    EXPECT_EQ(well_name(set.planes[0].row, set.planes[0].col), "C12");
    EXPECT_EQ(set.planes[1].zplane, 1);
    fs::remove_all(d);
}

TEST(PlainFiles, MultiPageTiffsBecomeZOrImageJChannels) {
    fs::path d = fresh_dir("pages");
    write_pages(d / "stack.tif", 5, "");
    ImageSet z = files().configure(d, {});
    ASSERT_EQ(z.planes.size(), 5u);
    EXPECT_EQ(z.planes[4].zplane, 4);
    EXPECT_EQ(z.planes[4].page, 4u);
    fs::remove(d / "stack.tif");
    write_pages(d / "hyper.tif", 6, "ImageJ=1.53t\nimages=6\nchannels=3\nslices=2\nhyperstack=true\n");
    ImageSet h = files().configure(d, {});
    ASSERT_EQ(h.planes.size(), 6u);
    EXPECT_EQ(h.channels.size(), 3u);
    for (auto& p : h.planes) EXPECT_EQ(p.page, uint32_t(p.zplane * 3 + p.channel));  // ImageJ: c fastest
    fs::remove_all(d);
}

TEST(PlainFiles, ClearErrors) {
    fs::path d = fresh_dir("errors");
    write_tiff(d / "a_1.tif", small(1));
    write_tiff(d / "b_1.tif", small(1));
    EXPECT_THROW(files().configure(d, with_pattern(R"(nomatch_(?P<site>\d)\.tif)")), Error);
    try {
        files().configure(d, with_pattern(R"(._(?P<site>\d)\.tif)"));
        ADD_FAILURE() << "two files for one plane accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("same plane"), std::string::npos) << e.what();
    }
    try {
        files().configure(d, with_pattern(R"((?P<bogus>.)_1\.tif)"));
        ADD_FAILURE() << "unknown group accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), Error::Kind::usage);
    }
    EXPECT_THROW(files().configure(d, with_pattern("(unclosed")), Error);
    fs::path empty = fresh_dir("empty");
    EXPECT_EQ(files().detect(empty), 0);
    EXPECT_THROW(files().configure(empty, {}), Error);
    fs::remove_all(d);
    fs::remove_all(empty);
}

// Wells given by number count row by row on the --plate-format plate; a number beyond it, or
// one without a plate format, is refused naming the file.
TEST(PlainFiles, NumberedWellsOnThePlateFormat) {
    fs::path d = fresh_dir("numbered");
    for (const char* n : {"0001", "0049", "1536"}) write_tiff(d / (std::string("W") + n + ".tif"), small(1));
    LayoutOptions o = with_pattern(R"(W(?P<well>\d+)\.tif)");
    o.plate_format = 1536;
    ImageSet set = files().configure(d, o);
    ASSERT_EQ(set.planes.size(), 3u);
    std::map<std::string, std::pair<int, int>> at;
    for (auto& p : set.planes) at[p.file] = {p.row, p.col};
    EXPECT_EQ(at["W0001.tif"], std::make_pair(0, 0));    // A01
    EXPECT_EQ(at["W0049.tif"], std::make_pair(1, 0));    // B01: 48 columns
    EXPECT_EQ(at["W1536.tif"], std::make_pair(31, 47));  // AF48
    EXPECT_EQ(set.plates.at(0).rows, 32);
    EXPECT_EQ(set.plates.at(0).cols, 48);
    o.plate_format = 384;
    try {
        files().configure(d, o);
        ADD_FAILURE() << "well 1536 accepted on a 384-well plate";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("W1536.tif: well number 1536 is not a well of a 384-well plate"),
                  std::string::npos) << e.what();
    }
    o.plate_format = 0;
    try {
        files().configure(d, o);
        ADD_FAILURE() << "numbered wells accepted without a plate size";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("give --plate-format 96, 384 or 1536"), std::string::npos) << e.what();
    }
    fs::remove_all(d);
}

// Numbered wells without --plate-format: the plate size the vendor metadata in the folder gives
// (a MetaXpress .HTD, a ScanR experiment_descriptor.xml); --plate-format wins; two top-level
// files that disagree are refused, naming the option.
TEST(PlainFiles, NumberedWellsOnThePlateSizeOfTheMetadata) {
    fs::path d = fresh_dir("numbered_meta");
    fs::create_directories(d / "images");
    for (const char* n : {"0001", "0025", "0384"}) write_tiff(d / "images" / (std::string("W") + n + ".tif"), small(1));
    LayoutOptions o = with_pattern(R"(W(?P<well>\d+)\.tif)");
    // MetaXpress: 24 x 16 wells.
    test::write_bytes(d / "X.HTD", "\"HTSInfoFile\", Version 1.0\n\"XWells\", 24\n\"YWells\", 16\n");
    ImageSet set = files().configure(d, o);
    std::map<std::string, std::pair<int, int>> at;
    for (auto& p : set.planes) at[p.file] = {p.row, p.col};
    EXPECT_EQ(at["images/W0025.tif"], std::make_pair(1, 0));    // B01: 24 columns
    EXPECT_EQ(at["images/W0384.tif"], std::make_pair(15, 23));  // P24
    EXPECT_EQ(set.plates.at(0).rows, 16);
    EXPECT_EQ(set.plates.at(0).cols, 24);
    // --plate-format is what the user says: it wins over the metadata.
    o.plate_format = 1536;
    set = files().configure(d, o);
    for (auto& p : set.planes) at[p.file] = {p.row, p.col};
    EXPECT_EQ(at["images/W0025.tif"], std::make_pair(0, 24));  // A25: 48 columns
    o.plate_format = 0;
    // An HTD deeper down (a TimePoint copy) does not count against the top-level one.
    test::write_bytes(d / "images" / "X.HTD", "\"HTSInfoFile\", Version 1.0\n\"XWells\", 12\n\"YWells\", 8\n");
    EXPECT_EQ(files().configure(d, o).plates.at(0).rows, 16);
    // ScanR's descriptor at the same level, of another plate size: refused, naming the option.
    test::write_bytes(d / "experiment_descriptor.xml",
                      "<?xml version='1.0' standalone='yes' ?>\n<LVData xmlns=\"http://www.ni.com/LVData\">\n"
                      "<Cluster><Name>experiment descriptor</Name><NumElts>1</NumElts>\n"
                      "<Cluster><Name>format typedef</Name><NumElts>2</NumElts>\n"
                      "<I32><Name>Rows</Name><Val>8</Val></I32><I32><Name>Columns</Name><Val>12</Val></I32></Cluster>\n"
                      "</Cluster>\n</LVData>\n");
    std::string msg = test::error_of([&] { files().configure(d, o); });
    EXPECT_NE(msg.find("give --plate-format"), std::string::npos) << msg;
    // The descriptor alone: a 96-well plate, where well 384 does not exist.
    fs::remove(d / "X.HTD");
    msg = test::error_of([&] { files().configure(d, o); });
    EXPECT_NE(msg.find("W0384.tif: well number 0384 is not a well of a 96-well plate"), std::string::npos) << msg;
    EXPECT_NE(msg.find("experiment_descriptor.xml"), std::string::npos) << msg;
    fs::remove(d / "images" / "W0384.tif");
    set = files().configure(d, o);
    for (auto& p : set.planes) at[p.file] = {p.row, p.col};
    EXPECT_EQ(at["images/W0025.tif"], std::make_pair(2, 0));  // C01: 12 columns
    EXPECT_EQ(set.plates.at(0).rows, 8);
    fs::remove_all(d);
}
