// OME-TIFF layout reader: synthetic OME-TIFFs written with libtiff (plane mapping checked by the
// pixels each page holds), HCS plates, multi-file sets, hostile metadata, and the real samples.
#include <gtest/gtest.h>
#include <tiffio.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "test_util.h"
#include "core/types.h"
#include "formats/builtin.h"
#include "formats/reader.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

constexpr uint32_t W = 16, H = 8;

// Pixel (x, y) of a page written with `base`: base + x + y * W (uint16), or base + 10 * sample for
// RGB pages.
uint16_t pixel_value(uint16_t base, uint32_t x, uint32_t y, uint32_t sample = 0) {
    return uint16_t(base + x + y * W + 10 * sample);
}

// Writes one page per entry of `bases`; `description` goes into page 0. spp 3 = contiguous RGB.
void write_ome_tiff(const fs::path& file, const std::vector<uint16_t>& bases, const std::string& description,
                    uint16_t spp = 1, uint32_t width = W, uint32_t height = H) {
    TIFF* tif = TIFFOpen(file.c_str(), "w");
    ASSERT_NE(tif, nullptr);
    for (size_t p = 0; p < bases.size(); ++p) {
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(16));
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, spp);
        TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, uint16_t(SAMPLEFORMAT_UINT));
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, height);
        if (p == 0 && !description.empty()) TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, description.c_str());
        std::vector<uint16_t> buf(size_t(width) * height * spp);
        for (uint32_t y = 0; y < height; ++y)
            for (uint32_t x = 0; x < width; ++x)
                for (uint32_t s = 0; s < spp; ++s) buf[(size_t(y) * width + x) * spp + s] = pixel_value(bases[p], x, y, s);
        ASSERT_GE(TIFFWriteEncodedStrip(tif, 0, buf.data(), tmsize_t(buf.size() * 2)), 0);
        ASSERT_TRUE(TIFFWriteDirectory(tif));
    }
    TIFFClose(tif);
}

std::string ome_open(const std::string& uuid = "") {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\"" +
           (uuid.empty() ? std::string() : " UUID=\"" + uuid + "\"") + ">";
}

std::string pixels_open(int sz, int sc, int st, const std::string& order, const std::string& extra = "") {
    return "<Pixels ID=\"Pixels:0\" DimensionOrder=\"" + order + "\" Type=\"uint16\" SizeX=\"" + std::to_string(W) +
           "\" SizeY=\"" + std::to_string(H) + "\" SizeZ=\"" + std::to_string(sz) + "\" SizeC=\"" +
           std::to_string(sc) + "\" SizeT=\"" + std::to_string(st) + "\" " + extra + ">";
}

std::string tiff_data(int ifd, int z, int c, int t, const std::string& file = "", const std::string& uuid = "") {
    std::string s = "<TiffData IFD=\"" + std::to_string(ifd) + "\" FirstZ=\"" + std::to_string(z) + "\" FirstC=\"" +
                    std::to_string(c) + "\" FirstT=\"" + std::to_string(t) + "\" PlaneCount=\"1\"";
    if (file.empty()) return s + "/>";
    return s + "><UUID FileName=\"" + file + "\">" + uuid + "</UUID></TiffData>";
}

using test::error_of;

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
}

// Decodes the plane a record points at and returns pixel (x, y).
uint16_t decoded_pixel(const fs::path& source, const PlaneRecord& r, uint32_t x, uint32_t y) {
    Plane p;
    read_plane(*source::open(source / r.file), {0, r.page, r.sample}, p);
    EXPECT_EQ(p.dtype, DType::u16);
    return p.as<uint16_t>()[size_t(y) * p.width + x];
}

class OmeTiffTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        root_ = fs::path(::testing::TempDir()) / ("imx_ome_" + std::to_string(::getpid()) + "_" + info->name());
        fs::remove_all(root_);
        dir_ = root_ / "plateA";
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(root_); }

    ImageSet configure() const { return make_ome_tiff_layout()->configure(dir_, LayoutOptions{}); }

    fs::path root_, dir_;
};

}  // namespace

TEST_F(OmeTiffTest, ZctStackFollowsTiffDataAndDimensionOrder) {
    // SizeZ=2 SizeC=3 SizeT=2, XYCZT: plane index p = c + 3 * (z + 2 * t). The TiffData put plane p
    // into IFD 11 - p, so a reader that ignores TiffData gets every plane wrong.
    std::string xml = ome_open() + "<Image ID=\"Image:0\" Name=\"stack\">" +
                      pixels_open(2, 3, 2, "XYCZT",
                                  "PhysicalSizeX=\"650\" PhysicalSizeXUnit=\"nm\" PhysicalSizeY=\"0.65\" "
                                  "PhysicalSizeZ=\"2.5\" TimeIncrement=\"1500\" TimeIncrementUnit=\"ms\"") +
                      "<Channel ID=\"Channel:0:0\" Name=\"DAPI\" EmissionWavelength=\"461\" ExcitationWavelength=\"0.405\" "
                      "ExcitationWavelengthUnit=\"µm\" SamplesPerPixel=\"1\"/>"
                      "<Channel ID=\"Channel:0:1\" Name=\"GFP\" EmissionWavelength=\"509\" SamplesPerPixel=\"1\"/>"
                      "<Channel ID=\"Channel:0:2\" SamplesPerPixel=\"1\"/>";
    std::vector<uint16_t> bases(12);
    for (int t = 0; t < 2; ++t)
        for (int z = 0; z < 2; ++z)
            for (int c = 0; c < 3; ++c) {
                const int p = c + 3 * (z + 2 * t);
                xml += tiff_data(11 - p, z, c, t, "stack.ome.tif", "urn:uuid:1111");
                bases[size_t(11 - p)] = uint16_t(1000 * z + 100 * c + 10 * t);
            }
    xml += "</Pixels></Image></OME>";
    write_ome_tiff(dir_ / "stack.ome.tif", bases, xml);

    auto reader = make_ome_tiff_layout();
    EXPECT_EQ(reader->name(), "ome-tiff");
    EXPECT_EQ(reader->detect(dir_), 80);
    const ImageSet set = configure();
    EXPECT_EQ(set.format, "ome-tiff");
    ASSERT_EQ(set.plates.size(), 1u);
    EXPECT_EQ(set.plates[0].name, "plateA");  // no Plate element: named after the folder
    EXPECT_EQ(set.width, W);
    EXPECT_EQ(set.height, H);
    ASSERT_TRUE(set.dtype.has_value());
    EXPECT_EQ(*set.dtype, DType::u16);
    ASSERT_TRUE(set.pixel_size_x && set.pixel_size_y && set.pixel_size_z && set.time_interval_s);
    EXPECT_DOUBLE_EQ(*set.pixel_size_x, 0.65);  // 650 nm
    EXPECT_DOUBLE_EQ(*set.pixel_size_y, 0.65);
    EXPECT_DOUBLE_EQ(*set.pixel_size_z, 2.5);
    EXPECT_DOUBLE_EQ(*set.time_interval_s, 1.5);
    ASSERT_EQ(set.channels.size(), 3u);
    EXPECT_EQ(set.channels[0].name, "DAPI");
    EXPECT_EQ(set.channels[1].name, "GFP");
    EXPECT_EQ(set.channels[2].name, "C2");
    EXPECT_DOUBLE_EQ(set.channels[0].emission_nm.value_or(0), 461);
    EXPECT_DOUBLE_EQ(set.channels[0].excitation_nm.value_or(0), 405);
    EXPECT_FALSE(set.channels[2].emission_nm.has_value());

    ASSERT_EQ(set.planes.size(), 12u);
    std::set<std::tuple<int, int, int>> seen;
    for (const auto& r : set.planes) {
        EXPECT_EQ(r.plate, "plateA");
        EXPECT_EQ(r.row, 0);
        EXPECT_EQ(r.col, 0);
        EXPECT_EQ(r.site, 0);
        EXPECT_EQ(r.file, "stack.ome.tif");
        EXPECT_EQ(r.series, 0u);
        EXPECT_EQ(r.sample, 0u);
        const int p = r.channel + 3 * (r.zplane + 2 * r.tpoint);
        EXPECT_EQ(r.page, uint32_t(11 - p)) << "c" << r.channel << " z" << r.zplane << " t" << r.tpoint;
        EXPECT_EQ(decoded_pixel(dir_, r, 3, 2), pixel_value(uint16_t(1000 * r.zplane + 100 * r.channel + 10 * r.tpoint), 3, 2));
        seen.insert({r.zplane, r.channel, r.tpoint});
    }
    EXPECT_EQ(seen.size(), 12u);
}

TEST_F(OmeTiffTest, DefaultTiffDataPrefixedNamespaceAndOtherOrders) {
    // An older schema with a namespace prefix; one TiffData without attributes means "all IFDs of
    // this file, in dimension order". XYZTC: p = z + 2 * (t + 3 * c).
    std::string xml =
        "<?xml version=\"1.0\"?><ome:OME xmlns:ome=\"http://www.openmicroscopy.org/Schemas/OME/2010-06\">"
        "<ome:Image ID=\"Image:0\"><ome:Pixels ID=\"Pixels:0\" DimensionOrder=\"XYZTC\" Type=\"uint16\" SizeX=\"16\" "
        "SizeY=\"8\" SizeZ=\"2\" SizeC=\"2\" SizeT=\"3\"><ome:Channel Name=\"a\"/><ome:Channel Name=\"a\"/>"
        "<ome:TiffData/></ome:Pixels></ome:Image></ome:OME>";
    std::vector<uint16_t> bases;
    for (int p = 0; p < 12; ++p) bases.push_back(uint16_t(p * 100));
    write_ome_tiff(dir_ / "x.ome.tiff", bases, xml);
    const ImageSet set = configure();
    ASSERT_EQ(set.planes.size(), 12u);
    ASSERT_EQ(set.channels.size(), 2u);
    EXPECT_EQ(set.channels[0].name, "a");
    EXPECT_NE(set.channels[1].name, "a");  // duplicate names are made unique
    for (const auto& r : set.planes) {
        const int p = r.zplane + 2 * (r.tpoint + 3 * r.channel);
        EXPECT_EQ(r.page, uint32_t(p));
        EXPECT_EQ(decoded_pixel(dir_, r, 0, 0), uint16_t(p * 100));
    }

    // No TiffData at all: consecutive IFDs as well. XYTCZ with Z=3 C=1 T=2: p = t + 2 * (c + z).
    fs::remove(dir_ / "x.ome.tiff");
    xml = ome_open() + "<Image ID=\"Image:0\">" + pixels_open(3, 1, 2, "XYTCZ") + "</Pixels></Image></OME>";
    write_ome_tiff(dir_ / "y.ome.tif", {0, 100, 200, 300, 400, 500}, xml);
    const ImageSet set2 = configure();
    ASSERT_EQ(set2.planes.size(), 6u);
    for (const auto& r : set2.planes) {
        EXPECT_EQ(r.page, uint32_t(r.tpoint + 2 * r.zplane));
        EXPECT_EQ(decoded_pixel(dir_, r, 1, 1), pixel_value(uint16_t(100 * r.page), 1, 1));
    }
}

TEST_F(OmeTiffTest, PlateWellsAndMultiFileSetCountedOnce) {
    // Two files, each carrying the whole OME-XML (as Bio-Formats writes multi-file sets).
    // Image:0/1 live in a.ome.tif pages 0/1, Image:2/3 in b.ome.tif pages 0/1.
    std::string images;
    for (int i = 0; i < 4; ++i) {
        const std::string file = i < 2 ? "a.ome.tif" : "b.ome.tif";
        const std::string uuid = i < 2 ? "urn:uuid:aaaa" : "urn:uuid:bbbb";
        images += "<Image ID=\"Image:" + std::to_string(i) + "\">" + pixels_open(1, 1, 1, "XYZCT") +
                  "<Channel Name=\"BF\" SamplesPerPixel=\"1\"/>" + tiff_data(i % 2, 0, 0, 0, file, uuid) +
                  "</Pixels></Image>";
    }
    const std::string plate =
        "<Plate ID=\"Plate:0\" Name=\"Screen1\" Rows=\"8\" Columns=\"12\">"
        "<Well ID=\"Well:0\" Row=\"1\" Column=\"2\">"
        "<WellSample ID=\"WS:0\" Index=\"0\" PositionX=\"100\" PositionY=\"200\"><ImageRef ID=\"Image:0\"/></WellSample>"
        "<WellSample ID=\"WS:1\" Index=\"1\" PositionX=\"1\" PositionXUnit=\"mm\"><ImageRef ID=\"Image:1\"/></WellSample>"
        "</Well><Well ID=\"Well:1\" Row=\"3\" Column=\"0\">"
        "<WellSample ID=\"WS:3\" Index=\"3\"><ImageRef ID=\"Image:3\"/></WellSample>"
        "<WellSample ID=\"WS:2\" Index=\"2\"><ImageRef ID=\"Image:2\"/></WellSample>"
        "</Well></Plate>";
    write_ome_tiff(dir_ / "a.ome.tif", {0, 1000}, ome_open("urn:uuid:aaaa") + images + plate + "</OME>");
    write_ome_tiff(dir_ / "b.ome.tif", {2000, 3000}, ome_open("urn:uuid:bbbb") + images + plate + "</OME>");

    const ImageSet set = configure();
    ASSERT_EQ(set.plates.size(), 1u);
    EXPECT_EQ(set.plates[0].name, "Screen1");
    EXPECT_EQ(set.plates[0].rows, 8);
    EXPECT_EQ(set.plates[0].cols, 12);
    ASSERT_EQ(set.planes.size(), 4u) << "the second file's copy of the metadata must not add Images";
    ASSERT_EQ(set.channels.size(), 1u);
    EXPECT_EQ(set.channels[0].name, "BF");
    std::map<std::tuple<int, int, int>, const PlaneRecord*> by_site;
    for (const auto& r : set.planes) by_site[{r.row, r.col, r.site}] = &r;
    ASSERT_EQ(by_site.size(), 4u);
    struct Want { int row, col, site; const char* file; uint32_t page; uint16_t base; };
    for (const Want& w : {Want{1, 2, 0, "a.ome.tif", 0, 0}, Want{1, 2, 1, "a.ome.tif", 1, 1000},
                          Want{3, 0, 0, "b.ome.tif", 0, 2000}, Want{3, 0, 1, "b.ome.tif", 1, 3000}}) {
        auto it = by_site.find({w.row, w.col, w.site});
        ASSERT_NE(it, by_site.end()) << well_name(w.row, w.col) << " site " << w.site;
        EXPECT_EQ(it->second->plate, "Screen1");
        EXPECT_EQ(it->second->file, w.file);
        EXPECT_EQ(it->second->page, w.page);
        EXPECT_EQ(decoded_pixel(dir_, *it->second, 5, 5), pixel_value(w.base, 5, 5));
    }
    const PlaneRecord& b03_0 = *by_site[std::make_tuple(1, 2, 0)];
    const PlaneRecord& b03_1 = *by_site[std::make_tuple(1, 2, 1)];
    EXPECT_DOUBLE_EQ(b03_0.stage_x.value_or(-1), 100);
    EXPECT_DOUBLE_EQ(b03_0.stage_y.value_or(-1), 200);
    EXPECT_DOUBLE_EQ(b03_1.stage_x.value_or(-1), 1000);  // 1 mm
    EXPECT_FALSE(b03_1.stage_y.has_value());
}

TEST_F(OmeTiffTest, IndependentFilesWithoutPlateBecomeSitesOfOneWell) {
    // The files call their Image "Image:0"; they are different images nonetheless. f0 has one
    // channel, f1 and f2 two: f0 is the plate, f1 and f2 (another shape) two sites of a second one.
    for (int i = 0; i < 3; ++i) {
        const std::string name = "f" + std::to_string(i) + ".ome.tif";
        const std::string xml = ome_open() + "<Image ID=\"Image:0\">" + pixels_open(1, i == 0 ? 1 : 2, 1, "XYZCT") +
                                "<Channel Name=\"ch0\"/>" + (i == 0 ? "" : "<Channel Name=\"ch1\"/>") +
                                tiff_data(0, 0, 0, 0) + (i == 0 ? "" : tiff_data(1, 0, 1, 0)) +
                                "</Pixels></Image></OME>";
        std::vector<uint16_t> bases = {uint16_t(i * 100)};
        if (i) bases.push_back(uint16_t(i * 100 + 50));
        write_ome_tiff(dir_ / name, bases, xml);
    }
    write_text(dir_ / "notes.txt", "not an image");
    const ImageSet set = configure();
    ASSERT_EQ(set.plates.size(), 2u);
    EXPECT_EQ(set.plates[0].name, "plateA");
    EXPECT_EQ(set.plates[1].name, "plateA_t1c2z1");
    EXPECT_FALSE(set.plates[1].own_geometry());  // same plane size and type: only the channels differ
    ASSERT_EQ(set.planes.size(), 5u);
    ASSERT_EQ(set.channels.size(), 2u);  // shared by name: f0's ch0 is f1's and f2's ch0
    EXPECT_EQ(set.channels[1].name, "ch1");
    ASSERT_EQ(set.warnings.size(), 1u);
    EXPECT_NE(set.warnings[0].find("stored as plate plateA_t1c2z1"), std::string::npos) << set.warnings[0];
    for (const auto& r : set.planes) {
        const int file = r.file[1] - '0';
        EXPECT_EQ(r.row, 0);
        EXPECT_EQ(r.col, 0);
        EXPECT_EQ(r.plate, file == 0 ? "plateA" : "plateA_t1c2z1");
        EXPECT_EQ(r.site, file == 0 ? 0 : file - 1);  // sites follow sorted file names, dense per plate
        EXPECT_EQ(decoded_pixel(dir_, r, 0, 0), uint16_t(file * 100 + 50 * r.channel));
    }
}

TEST_F(OmeTiffTest, RgbChannelBecomesThreeChannelsBySample) {
    const std::string xml = ome_open() + "<Image ID=\"Image:0\">" + pixels_open(1, 3, 1, "XYCZT") +
                            "<Channel ID=\"Channel:0:0\" SamplesPerPixel=\"3\"/>" + tiff_data(0, 0, 0, 0) +
                            "</Pixels></Image></OME>";
    write_ome_tiff(dir_ / "rgb.ome.tif", {500}, xml, 3);
    const ImageSet set = configure();
    ASSERT_EQ(set.channels.size(), 3u);
    EXPECT_EQ(set.channels[0].name, "R");
    EXPECT_EQ(set.channels[2].name, "B");
    ASSERT_EQ(set.planes.size(), 3u);
    for (const auto& r : set.planes) {
        EXPECT_EQ(r.page, 0u);
        EXPECT_EQ(r.sample, uint32_t(r.channel));
        EXPECT_EQ(decoded_pixel(dir_, r, 2, 3), pixel_value(500, 2, 3, r.sample));
    }
}

TEST_F(OmeTiffTest, CompanionFileWithBinaryOnlyTiffs) {
    const std::string xml =
        ome_open("urn:uuid:master") + "<Image ID=\"Image:0\">" + pixels_open(1, 1, 2, "XYZCT") +
        tiff_data(0, 0, 0, 0, "t0.ome.tif", "urn:uuid:t0") +
        "<TiffData FirstT=\"1\"><UUID>urn:uuid:t1</UUID></TiffData>"  // no FileName: found by UUID
        "</Pixels></Image></OME>";
    write_text(dir_ / "set.companion.ome", xml);
    auto binary_only = [](const std::string& uuid) {
        return ome_open(uuid) + "<BinaryOnly MetadataFile=\"set.companion.ome\" UUID=\"urn:uuid:master\"/></OME>";
    };
    write_ome_tiff(dir_ / "t0.ome.tif", {10}, binary_only("urn:uuid:t0"));
    write_ome_tiff(dir_ / "t1.ome.tif", {20}, binary_only("urn:uuid:t1"));
    const ImageSet set = configure();
    ASSERT_EQ(set.planes.size(), 2u);
    for (const auto& r : set.planes) {
        EXPECT_EQ(r.file, "t" + std::to_string(r.tpoint) + ".ome.tif");
        EXPECT_EQ(decoded_pixel(dir_, r, 0, 0), uint16_t(10 + 10 * r.tpoint));
    }
}

TEST_F(OmeTiffTest, FileNamesLeavingTheFolderAreRefused) {
    write_ome_tiff(root_ / "outside.tif", {1}, "");
    for (const std::string name : {"../outside.tif", "/etc/passwd", "sub/../../outside.tif"}) {
        const std::string xml = ome_open() + "<Image ID=\"Image:0\">" + pixels_open(1, 1, 1, "XYZCT") +
                                tiff_data(0, 0, 0, 0, name, "urn:uuid:x") + "</Pixels></Image></OME>";
        write_ome_tiff(dir_ / "evil.ome.tif", {1}, xml);
        const std::string e = error_of([&] { configure(); });
        EXPECT_EQ(e.rfind((dir_ / "evil.ome.tif").string(), 0), 0u) << e;
        EXPECT_NE(e.find(name), std::string::npos) << e;
        EXPECT_NE(e.find("refused"), std::string::npos) << e;
    }
}

TEST_F(OmeTiffTest, InconsistentOrBrokenMetadataIsAClearError) {
    auto simple = [](int sx, const std::string& extra_tiffdata = "", const std::string& type = "uint16") {
        std::string px = pixels_open(1, 1, 1, "XYZCT");
        px.replace(px.find("SizeX=\"16\""), 10, "SizeX=\"" + std::to_string(sx) + "\"");
        px.replace(px.find("uint16"), 6, type);
        return ome_open() + "<Image ID=\"Image:0\">" + px + (extra_tiffdata.empty() ? tiff_data(0, 0, 0, 0) : extra_tiffdata) +
               "</Pixels></Image></OME>";
    };
    // Images of different sizes cannot share a plate: the second becomes a plate of its own size.
    write_ome_tiff(dir_ / "a.ome.tif", {1}, simple(16));
    write_ome_tiff(dir_ / "b.ome.tif", {1}, simple(12), 1, 12, H);
    const ImageSet sizes = configure();
    ASSERT_EQ(sizes.plates.size(), 2u);
    EXPECT_EQ(sizes.width, 16u);
    EXPECT_EQ(sizes.plates[1].name, "plateA_12x8");
    EXPECT_EQ(sizes.plates[1].width, 12u);
    EXPECT_EQ(sizes.plates[1].height, H);
    ASSERT_EQ(sizes.warnings.size(), 1u);
    EXPECT_EQ(sizes.warnings[0].rfind((dir_ / "b.ome.tif").string(), 0), 0u) << sizes.warnings[0];
    // ... but its TIFF must be what its OME-XML says.
    write_ome_tiff(dir_ / "b.ome.tif", {1}, simple(12), 1, 14, H);
    std::string e = error_of([&] { configure(); });
    EXPECT_EQ(e.rfind((dir_ / "b.ome.tif").string(), 0), 0u) << e;
    EXPECT_NE(e.find("14 x 8 pixels but the OME-XML"), std::string::npos) << e;
    fs::remove(dir_ / "b.ome.tif");

    // Malformed XML.
    write_ome_tiff(dir_ / "a.ome.tif", {1}, ome_open() + "<Image ID=\"Image:0\"><Pixels SizeX=\"16\"></Image></OME>");
    e = error_of([&] { configure(); });
    EXPECT_EQ(e.rfind((dir_ / "a.ome.tif").string(), 0), 0u) << e;
    EXPECT_NE(e.find("not well-formed"), std::string::npos) << e;

    // A referenced file is missing.
    write_ome_tiff(dir_ / "a.ome.tif", {1}, simple(16, tiff_data(0, 0, 0, 0, "gone.ome.tif", "urn:uuid:g")));
    e = error_of([&] { configure(); });
    EXPECT_NE(e.find("gone.ome.tif"), std::string::npos) << e;
    EXPECT_NE(e.find("missing"), std::string::npos) << e;

    // An IFD beyond the end of the file.
    write_ome_tiff(dir_ / "a.ome.tif", {1}, simple(16, tiff_data(5, 0, 0, 0)));
    e = error_of([&] { configure(); });
    EXPECT_NE(e.find("only 1 pages"), std::string::npos) << e;

    // Unsupported pixel type; metadata that disagrees with the TIFF.
    write_ome_tiff(dir_ / "a.ome.tif", {1}, simple(16, "", "double"));
    e = error_of([&] { configure(); });
    EXPECT_NE(e.find("'double' is not supported"), std::string::npos) << e;
    write_ome_tiff(dir_ / "a.ome.tif", {1}, simple(16, "", "uint8"));
    e = error_of([&] { configure(); });
    EXPECT_NE(e.find("uint16 pixels but the OME-XML says uint8"), std::string::npos) << e;

    // Absurd sizes are refused before allocating anything: every plane is at least a byte of the
    // folder's files. As many planes as bytes get as far as the TIFF (which has one page).
    auto with_planes = [&](uint64_t z) {  // SizeZ = z, then = the file's size, which holds that number too
        for (int i = 0; i < 5; ++i) {
            std::string xml = simple(16);
            xml.replace(xml.find("SizeZ=\"1\""), 9, "SizeZ=\"" + std::to_string(z) + "\"");
            write_ome_tiff(dir_ / "a.ome.tif", {1}, xml);
            if (fs::file_size(dir_ / "a.ome.tif") == z) break;
            z = fs::file_size(dir_ / "a.ome.tif");
        }
        return z;
    };
    const uint64_t bytes = with_planes(1000);
    ASSERT_EQ(fs::file_size(dir_ / "a.ome.tif"), bytes);
    EXPECT_EQ(error_of([&] { configure(); }), "no exception");  // the planes beyond the TIFF's one are missing
    std::string past = simple(16);
    past.replace(past.find("SizeZ=\"1\""), 9, "SizeZ=\"" + std::to_string(bytes + 1) + "\"");
    write_ome_tiff(dir_ / "a.ome.tif", {1}, past);
    ASSERT_EQ(fs::file_size(dir_ / "a.ome.tif"), bytes);
    e = error_of([&] { configure(); });
    EXPECT_NE(e.find("declares " + std::to_string(bytes + 1) + " x 1 x 1 planes, more than the " + std::to_string(bytes) +
                     " bytes of the folder's files hold"),
              std::string::npos)
        << e;
    std::string huge = simple(16);
    huge.replace(huge.find("SizeZ=\"1\""), 9, "SizeZ=\"2000000000\"");
    huge.replace(huge.find("SizeT=\"1\""), 9, "SizeT=\"2000000000\"");
    write_ome_tiff(dir_ / "a.ome.tif", {1}, huge);
    e = error_of([&] { configure(); });
    EXPECT_NE(e.find("declares 2000000000 x 1 x 2000000000 planes, more than the " +
                     std::to_string(fs::file_size(dir_ / "a.ome.tif")) + " bytes of the folder's files hold"),
              std::string::npos)
        << e;

    // Bad numbers.
    std::string bad = simple(16);
    bad.replace(bad.find("SizeX=\"16\""), 10, "SizeX=\"16px\"");
    write_ome_tiff(dir_ / "a.ome.tif", {1}, bad);
    e = error_of([&] { configure(); });
    EXPECT_NE(e.find("SizeX='16px' is not a non-negative integer"), std::string::npos) << e;
}

// The bound on declared planes counts the files the reader takes (OME-TIFFs, companions and the
// files their TiffData name), not every file of the folder: a big unrelated file raises nothing.
TEST_F(OmeTiffTest, PlaneBoundCountsTheFilesTakenOnly) {
    write_ome_tiff(dir_ / "a.ome.tif", {1},
                   ome_open() + "<Image ID=\"Image:0\">" + pixels_open(100000, 1, 1, "XYZCT") + tiff_data(0, 0, 0, 0) +
                       "</Pixels></Image></OME>");
    { std::ofstream(dir_ / "scan.raw"); }
    fs::resize_file(dir_ / "scan.raw", 1 << 20);  // sparse: a megabyte the bound must not count
    std::string e = error_of([&] { configure(); });
    EXPECT_NE(e.find("declares 100000 x 1 x 1 planes, more than the " + std::to_string(fs::file_size(dir_ / "a.ome.tif")) +
                     " bytes"),
              std::string::npos)
        << e;

    // A companion's planes live in the TIFFs it names, whatever their names: those count.
    fs::remove(dir_ / "a.ome.tif");
    write_ome_tiff(dir_ / "t0.tif", {7}, std::string(4000, ' ') + "pixels only");
    const std::string companion = ome_open() + "<Image ID=\"Image:0\">" + pixels_open(2000, 1, 1, "XYZCT") +
                                  tiff_data(0, 0, 0, 0, "t0.tif", "urn:uuid:t0") + "</Pixels></Image></OME>";
    write_text(dir_ / "set.companion.ome", companion);
    ASSERT_LT(fs::file_size(dir_ / "set.companion.ome"), 2000u);
    const ImageSet set = configure();
    ASSERT_EQ(set.planes.size(), 1u);
    EXPECT_EQ(set.planes[0].file, "t0.tif");
    EXPECT_EQ(decoded_pixel(dir_, set.planes[0], 1, 0), pixel_value(7, 1, 0));
}

TEST_F(OmeTiffTest, EntitiesAreNotExpanded) {
    write_text(root_ / "secret.txt", "SECRET");
    const std::string xml = "<?xml version=\"1.0\"?><!DOCTYPE OME [<!ENTITY xxe SYSTEM \"file://" +
                            (root_ / "secret.txt").string() + "\"><!ENTITY big \"xxxxxxxxxxxxxxxx\">]>" +
                            "<OME xmlns=\"http://www.openmicroscopy.org/Schemas/OME/2016-06\"><Image ID=\"Image:0\">" +
                            pixels_open(1, 1, 1, "XYZCT") + "<Channel Name=\"&xxe;&big;\"/>" + tiff_data(0, 0, 0, 0) +
                            "</Pixels></Image></OME>";
    write_ome_tiff(dir_ / "a.ome.tif", {1}, xml);
    const ImageSet set = configure();
    ASSERT_EQ(set.channels.size(), 1u);
    EXPECT_EQ(set.channels[0].name.find("SECRET"), std::string::npos);
    EXPECT_EQ(set.channels[0].name.find("xxxxxxxx"), std::string::npos);
}

TEST_F(OmeTiffTest, DetectLooksAtNamesOnly) {
    auto reader = make_ome_tiff_layout();
    EXPECT_EQ(reader->detect(dir_), 0);
    write_text(dir_ / "plain.tif", "x");
    EXPECT_EQ(reader->detect(dir_), 0);
    write_text(dir_ / "x.OME.TIFF", "x");
    EXPECT_EQ(reader->detect(dir_), 80);
    fs::remove(dir_ / "x.OME.TIFF");
    write_text(dir_ / "x.companion.ome", "x");
    EXPECT_EQ(reader->detect(dir_), 80);
    EXPECT_EQ(reader->detect(dir_ / "does-not-exist"), 0);
    fs::remove(dir_ / "x.companion.ome");
    const std::string e = error_of([&] { configure(); });
    EXPECT_NE(e.find("no OME-TIFF files"), std::string::npos) << e;
}

// ---- the real Bio-Formats samples -------------------------------------------------------------

TEST(OmeTiffSamples, BioformatsArtificialFolder) {
    const fs::path folder = fs::path(IMX_SAMPLES_DIR) / "ome-tiff/bioformats-artificial";
    if (!fs::is_directory(folder)) GTEST_SKIP() << "samples folder " << folder << " is absent; conformance test skipped";
    const ImageSet set = make_ome_tiff_layout()->configure(folder, LayoutOptions{});
    EXPECT_EQ(set.width, 439u);
    EXPECT_EQ(set.height, 167u);
    EXPECT_EQ(set.dtype, DType::i8);
    // Five files of five shapes (expected Z/C/T from the OME-XML and tifffile's series): five
    // plates, each holding exactly its file's planes, none padded to another's shape.
    struct Want { const char* file; int z, c, t; const char* plate; };
    const Want want[] = {{"multi-channel-z-series.ome.tiff", 5, 3, 1, "bioformats-artificial"},
                         {"multi-channel.ome.tiff", 1, 3, 1, "bioformats-artificial_t1c3z1"},
                         {"single-channel.ome.tiff", 1, 1, 1, "bioformats-artificial_t1c1z1"},
                         {"time-series.ome.tif", 1, 1, 7, "bioformats-artificial_t7c1z1"},
                         {"z-series.ome.tiff", 5, 1, 1, "bioformats-artificial_t1c1z5"}};
    ASSERT_EQ(set.plates.size(), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(set.plates[size_t(i)].name, want[i].plate);
    EXPECT_EQ(set.channels.size(), 3u);
    ASSERT_EQ(set.planes.size(), 31u);
    // Per-page pixel sums from tifffile, to check the decoded planes too.
    const std::map<std::string, std::vector<int64_t>> sums = {
        {"multi-channel-z-series.ome.tiff",
         {3460118, 3459897, 3459785, 3459788, 3459730, 3459863, 3459642, 3459530, 3459533, 3459475, 3459732, 3459511,
          3459399, 3459402, 3459344}},
        {"multi-channel.ome.tiff", {3480851, 3480630, 3480518}},
        {"single-channel.ome.tiff", {3489081}},
        {"time-series.ome.tif", {3484207, 3483986, 3483874, 3483877, 3483819, 3483652, 3484056}},
        {"z-series.ome.tiff", {3486270, 3486049, 3485937, 3485940, 3485882}}};
    for (int site = 0; site < 5; ++site) {
        SCOPED_TRACE(want[site].file);
        std::set<int> zs, cs, ts;
        std::set<uint32_t> pages;
        for (const auto& r : set.planes) {
            if (r.plate != want[site].plate) continue;
            EXPECT_EQ(r.file, want[site].file);
            EXPECT_EQ(r.site, 0);
            zs.insert(r.zplane);
            cs.insert(r.channel);
            ts.insert(r.tpoint);
            pages.insert(r.page);
            // Bio-Formats wrote XYZCT: IFD = z + Z * (c + C * t).
            EXPECT_EQ(r.page, uint32_t(r.zplane + want[site].z * (r.channel + want[site].c * r.tpoint)));
            Plane p;
            read_plane(*source::open(folder / r.file), {0, r.page, r.sample}, p);
            int64_t sum = 0;
            for (size_t i = 0; i < p.pixel_count(); ++i) sum += p.as<int8_t>()[i];
            EXPECT_EQ(sum, sums.at(r.file)[r.page]);
        }
        EXPECT_EQ(int(zs.size()), want[site].z);
        EXPECT_EQ(int(cs.size()), want[site].c);
        EXPECT_EQ(int(ts.size()), want[site].t);
        EXPECT_EQ(int(pages.size()), want[site].z * want[site].c * want[site].t);
    }
}

TEST(OmeTiffSamples, AicsSinglePlaneWithPhysicalSizes) {
    const fs::path folder = fs::path(IMX_SAMPLES_DIR) / "ome-tiff/aicsimageio";
    if (!fs::is_directory(folder)) GTEST_SKIP() << "samples folder " << folder << " is absent; conformance test skipped";
    auto reader = make_ome_tiff_layout();
    EXPECT_EQ(reader->detect(folder), 80);
    const ImageSet set = reader->configure(folder, LayoutOptions{});
    EXPECT_EQ(set.width, 475u);
    EXPECT_EQ(set.height, 325u);
    EXPECT_EQ(set.dtype, DType::u16);
    EXPECT_EQ(set.bits_per_sample, 16);
    ASSERT_TRUE(set.pixel_size_x.has_value());
    EXPECT_NEAR(*set.pixel_size_x, 1.0833333333333333, 1e-12);
    ASSERT_EQ(set.channels.size(), 1u);
    EXPECT_EQ(set.channels[0].name, "Bright");
    ASSERT_EQ(set.planes.size(), 1u);
    const PlaneRecord& r = set.planes[0];
    EXPECT_EQ(r.file, "s_1_t_1_c_1_z_1.ome.tiff");
    EXPECT_EQ(r.page, 0u);
    EXPECT_NEAR(r.stage_x.value_or(0), 43427.982, 1e-6);  // from the Plane element
    EXPECT_NEAR(r.stage_z.value_or(0), 9801.29, 1e-6);
    Plane p;
    read_plane(*source::open(folder / r.file), {0, r.page, r.sample}, p);
    int64_t sum = 0;
    for (size_t i = 0; i < p.pixel_count(); ++i) sum += p.as<uint16_t>()[i];
    EXPECT_EQ(sum, 563709458);  // Pillow (tifffile lacks LZW here)
    EXPECT_EQ(p.as<uint16_t>()[10 * 475 + 20], 3828);
}
