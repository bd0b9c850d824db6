#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <unistd.h>

#include "contiguous_tiff.h"
#include "formats/reader.h"
#include "formats/tiff/tiff_decoder.h"
#include "test_util.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

const LayoutReader& files() { return *find_layout_reader("files"); }

using imx::test::fresh_dir;

const PlaneRecord* find(const ImageSet& s, int ch, int t, int z) {
    for (auto& p : s.planes)
        if (p.channel == ch && p.tpoint == t && p.zplane == z) return &p;
    return nullptr;
}

}  // namespace

// ImageJ's layout for files over 4 GB: one IFD, images= planes back to back. Small here, same shape.
TEST(ImageJ, ContiguousHyperstackBeyondTheIfds) {
    fs::path d = fresh_dir("contig");
    // 2 channels x 3 slices x 2 frames = 12 images, order c fastest, then z, then t.
    test::write_contiguous_tiff(d / "plate_B03_s1.tif", 6, 5, 12, 12, false, 100,
                                "\nchannels=2\nslices=3\nframes=2\nhyperstack=true\nunit=micron\nspacing=0.5", 0,
                                /* 4 pixels per micron */ 4000);
    ImageSet s = files().configure(d, {});
    ASSERT_EQ(s.planes.size(), 12u);
    ASSERT_EQ(s.channels.size(), 2u);
    ASSERT_TRUE(s.pixel_size_x);
    EXPECT_DOUBLE_EQ(*s.pixel_size_x, 0.25);
    EXPECT_DOUBLE_EQ(*s.pixel_size_y, 0.25);
    ASSERT_TRUE(s.pixel_size_z);
    EXPECT_DOUBLE_EQ(*s.pixel_size_z, 0.5);
    EXPECT_EQ(s.planes[0].row, 1);  // B03 from the default name pattern (no _w)
    EXPECT_EQ(s.planes[0].col, 2);
    // c=1, z=2, t=1 -> image (1 * 3 + 2) * 2 + 1 = 11.
    const PlaneRecord* p = find(s, 1, 1, 2);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->page, 11u);
    Plane out;
    read_plane(*source::open(d / p->file), {0, p->page, 0}, out);
    ASSERT_EQ(out.width, 6u);
    ASSERT_EQ(out.height, 5u);
    EXPECT_EQ(out.as<uint16_t>()[0], 100 + 11 * 1000);
    EXPECT_EQ(out.as<uint16_t>()[29], 100 + 11 * 1000 + 29);
    EXPECT_EQ(tiff_declared_planes(*source::open(d / p->file)), 12u);
    fs::remove_all(d);
}

TEST(ImageJ, TruncatedContiguousFile) {
    fs::path d = fresh_dir("trunc");
    // images=12 promised, 11 written: the last plane must fail cleanly, earlier ones still read.
    test::write_contiguous_tiff(d / "x.tif", 4, 4, 11, 12, false, 0, "\nslices=12");
    Plane out;
    read_plane(*source::open(d / "x.tif"), {0, 10, 0}, out);
    EXPECT_EQ(out.as<uint16_t>()[0], 10000);
    std::string e = test::error_of([&] { read_plane(*source::open(d / "x.tif"), {0, 11, 0}, out); });
    EXPECT_NE(e.find("beyond the end"), std::string::npos) << e;
    EXPECT_NE(e.find("x.tif"), std::string::npos) << e;
    // What a layout reader may list is capped by what the file holds.
    EXPECT_EQ(tiff_declared_planes(*source::open(d / "x.tif")), 11u);
    // A description promising more planes than any page count: no crash, input error on read.
    test::write_contiguous_tiff(d / "y.tif", 4, 4, 1, 2000000000, false, 0, "\nslices=2000000000");
    EXPECT_EQ(tiff_declared_planes(*source::open(d / "y.tif")), 1u);
    ImageSet s = files().configure(d, {});  // lists 11 + 1 planes, with a warning each, no huge list
    EXPECT_EQ(s.planes.size(), 12u);
    e = test::error_of([&] { read_plane(*source::open(d / "y.tif"), {0, 1999999999, 0}, out); });
    EXPECT_NE(e.find("beyond the end"), std::string::npos) << e;
    fs::remove_all(d);
}

// Conformance on the real ImageJ files; expected values from tifffile (ImageJ metadata and tags).
TEST(ImageJ, SampleFiles) {
    fs::path root = fs::path(IMX_SAMPLES_DIR) / "imagej-tiff";
    if (!fs::exists(root)) GTEST_SKIP() << root << " not present";
    {
        fs::path d = root / "BioImageAnalysisNotebooks_BBBC022";
        EXPECT_EQ(detect_layout(d).name(), "files");
        ImageSet s = files().configure(d, {});
        // images=3 channels=3 hyperstack=true; file named IXMtest_A02_s9.
        ASSERT_EQ(s.planes.size(), 3u);
        EXPECT_EQ(s.channels.size(), 3u);
        EXPECT_EQ(s.planes[0].row, 0);
        EXPECT_EQ(s.planes[0].col, 1);
        EXPECT_FALSE(s.pixel_size_x);  // no XResolution, no unit
    }
    {
        fs::path d = root / "BioImageAnalysisNotebooks";
        ImageSet s = files().configure(d, {});
        // images=41 slices=41 unit=\u00B5m spacing=0.125, XResolution 44460534/1000000.
        ASSERT_EQ(s.planes.size(), 41u);
        ASSERT_TRUE(s.pixel_size_x);
        EXPECT_NEAR(*s.pixel_size_x, 1.0 / 44.460534, 1e-6);
        ASSERT_TRUE(s.pixel_size_z);
        EXPECT_DOUBLE_EQ(*s.pixel_size_z, 0.125);
    }
}
