// ND2 version 2 (JPEG 2000 box files) on fixtures from nd2_legacy_writer.h: the layout, every
// decoded plane against the values the fixture encoded, and corrupt variants.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "formats/reader.h"
#include "nd2_legacy_writer.h"
#include "test_util.h"
#include "storage/source_files.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {

using imx::test::fresh_dir;

const LayoutReader& nd2() { return *find_layout_reader("nd2"); }

}  // namespace

TEST(Nd2Legacy, FramesAndChannelsMapToSitesTimeAndChannelsPixelExact) {
    fs::path d = fresh_dir("map");
    Nd2LegacySpec spec;  // T(2) x XY(3), 2 channels, 12-bit in 16
    write_bytes(d / "old.nd2", make_nd2_legacy(spec).bytes);
    EXPECT_EQ(detect_layout(d).name(), "nd2");
    ImageSet set = nd2().configure(d, {});
    EXPECT_EQ(set.width, 16u);
    EXPECT_EQ(set.height, 12u);
    EXPECT_EQ(set.dtype, DType::u16);
    EXPECT_EQ(set.bits_per_sample, 12);
    ASSERT_EQ(set.channels.size(), 2u);
    EXPECT_EQ(set.channels[0].name, "DAPI");
    EXPECT_EQ(set.channels[1].name, "FITC");
    EXPECT_DOUBLE_EQ(set.pixel_size_x.value(), 0.5);
    EXPECT_DOUBLE_EQ(set.pixel_size_z.value(), 0.75);
    ASSERT_EQ(set.planes.size(), 6u * 2);
    std::set<std::tuple<int, int, int>> seen;
    for (auto& p : set.planes) {
        // T outer, XY inner: frame = t * 3 + site.
        EXPECT_EQ(int(p.page), p.tpoint * 3 + p.site);
        EXPECT_EQ(int(p.sample), p.channel);
        seen.insert({p.tpoint, p.site, p.channel});
        Plane px;
        read_plane(*source::open(d / "old.nd2"), {0, p.page, p.sample}, px);
        ASSERT_EQ(px.width, 16u);
        ASSERT_EQ(px.dtype, DType::u16);
        for (uint32_t y = 0; y < 12; ++y)
            for (uint32_t x = 0; x < 16; ++x)
                ASSERT_EQ(px.as<uint16_t>()[y * 16 + x], spec.value(p.page, uint32_t(p.channel), 0, x, y))
                    << "frame " << p.page << " channel " << p.channel << " at " << x << "," << y;
    }
    EXPECT_EQ(seen.size(), 12u);
    fs::remove_all(d);
}

TEST(Nd2Legacy, RgbFramesBecomeThreeChannels) {
    fs::path d = fresh_dir("rgb");
    Nd2LegacySpec spec;
    spec.components = 3;
    spec.bits = 8;
    spec.channels = {"Brightfield"};
    spec.dimensions = "T(4)";
    spec.frames = 4;
    spec.value = [](uint32_t f, uint32_t, uint32_t k, uint32_t x, uint32_t y) { return (f * 40 + k * 70 + x * 3 + y) % 256; };
    write_bytes(d / "rgb.nd2", make_nd2_legacy(spec).bytes);
    ImageSet set = nd2().configure(d, {});
    ASSERT_EQ(set.channels.size(), 3u);
    EXPECT_EQ(set.channels[2].name, "Brightfield_B");
    EXPECT_EQ(set.dtype, DType::u8);
    ASSERT_EQ(set.planes.size(), 12u);
    Plane px;
    read_plane(*source::open(d / "rgb.nd2"), {0, 3, 2}, px);
    EXPECT_EQ(px.as<uint8_t>()[5 * 16 + 7], uint8_t((3 * 40 + 2 * 70 + 7 * 3 + 5) % 256));
    fs::remove_all(d);
}

TEST(Nd2Legacy, DimensionsThatDoNotMatchTheFramesFallBackToTimeWithAWarning) {
    fs::path d = fresh_dir("dims");
    Nd2LegacySpec spec;
    spec.dimensions = "T(5) x XY(2)";  // 10, but the file holds 6 frames
    write_bytes(d / "x.nd2", make_nd2_legacy(spec).bytes);
    ImageSet set = nd2().configure(d, {});
    int max_t = 0;
    for (auto& p : set.planes) max_t = std::max(max_t, p.tpoint);
    EXPECT_EQ(max_t, 5);
    bool warned = false;
    for (auto& w : set.warnings) warned = warned || w.find("describes 10 frames but the file holds 6") != std::string::npos;
    EXPECT_TRUE(warned);
    fs::remove_all(d);
}

TEST(Nd2Legacy, CorruptFilesGiveClearErrorsAndNeverCrash) {
    fs::path d = fresh_dir("corrupt");
    Nd2LegacySpec spec;
    spec.frames = 2;
    spec.dimensions = "T(2)";
    const Nd2LegacyFile good = make_nd2_legacy(spec);
    auto error_for = [&](const std::string& bytes, uint32_t page = 0) {
        write_bytes(d / "c.nd2", bytes);
        return error_of([&] {
            Plane p;
            read_plane(*source::open(d / "c.nd2"), {0, page, 0}, p);
        });
    };
    // Truncated: the box map trailer is gone.
    EXPECT_NE(error_for(good.bytes.substr(0, good.bytes.size() - 20)).find("BOX MAP"), std::string::npos);
    // A map that claims more boxes than it holds.
    std::string many = good.bytes;
    many[good.map_offset] = char(0x7F);
    EXPECT_NE(error_for(many).find("box map declares"), std::string::npos);
    // A codestream box whose length runs past the end.
    std::string longbox = good.bytes;
    longbox[good.image_offsets[0]] = char(0x7F);
    EXPECT_NE(error_for(longbox, 0).find("do not fit the file"), std::string::npos);
    // A codestream that is not JPEG 2000.
    std::string notj2k = good.bytes;
    notj2k[good.image_offsets[0] + 8] = 'X';
    EXPECT_NE(error_for(notj2k).find("holds no JPEG 2000 codestream"), std::string::npos);
    // A codestream of another size than the header says: refused before decoding.
    Nd2LegacySpec lie = spec;
    lie.width = 8;
    std::string lying = make_nd2_legacy(lie).bytes;
    // Patch the ihdr width (after signature 12 + ftyp 20 + jp2h header 8 + ihdr header 8 + height 4).
    const size_t width_at = 12 + 20 + 8 + 8 + 4;
    lying[width_at + 3] = char(16);
    EXPECT_NE(error_for(lying).find("codestream is 8 x 12"), std::string::npos);
    // Every byte of the file flipped in turn: errors, never a crash (ASan build), and no plane of
    // another size.
    size_t errors = 0, decoded = 0;
    for (size_t i = 0; i < good.bytes.size(); i += 3) {
        std::string bad = good.bytes;
        bad[i] = char(bad[i] ^ 0x5A);
        const fs::path file = d / ("f" + std::to_string(i) + ".nd2");  // a new name: no cached parse
        write_bytes(file, bad);
        try {
            Plane p;
            read_plane(*source::open(file), {0, 1, 0}, p);
            EXPECT_EQ(p.width * p.height, 16u * 12u);
            ++decoded;
        } catch (const Error&) {
            ++errors;
        }
        fs::remove(file);
    }
    EXPECT_GT(errors, 0u);
    EXPECT_GT(decoded, 0u);
    fs::remove_all(d);
}

TEST(Nd2Legacy, DeeplyNestedMetadataIsSearchedWithoutRecursion) {
    // 200,000 nested elements and no PicturePlanes: the search walks them all, without the stack.
    fs::path d = fresh_dir("deep");
    Nd2LegacySpec spec;
    spec.channels = {"DAPI"};
    spec.frames = 2;
    spec.dimensions = "T(2)";
    std::string nest;
    for (int i = 0; i < 200000; ++i) nest += "<n>";
    for (int i = 0; i < 200000; ++i) nest += "</n>";
    spec.vimd = "<?xml version=\"1.0\"?><variant version=\"1.0\"><no_name runtype=\"CLxListVariant\">" + nest +
                "<dCalibration runtype=\"double\" value=\"0.25\"/></no_name></variant>";
    write_bytes(d / "deep.nd2", make_nd2_legacy(spec).bytes);
    ImageSet set = find_layout_reader("nd2")->configure(d, {});
    EXPECT_DOUBLE_EQ(set.pixel_size_x.value(), 0.25);
    EXPECT_EQ(set.planes.size(), 2u);
    fs::remove_all(d);
}
