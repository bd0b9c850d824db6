// Zeiss CZI: synthetic files written by tests/unit/czi_writer.h (plane mapping checked by the
// pixels each subblock holds), zstd and JPEG-XR subblocks, mosaics, plates, corrupted variants,
// and the real samples (values confirmed by tests/oracle/czi_oracle.py and a Bio-Formats OME-TIFF).
#include <gtest/gtest.h>
#include <tiffio.h>
#include <unistd.h>
#include <zstd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "czi_writer.h"
#include "test_util.h"
#include "core/types.h"
#include "formats/builtin.h"
#include "formats/czi/czi.h"
#include "formats/reader.h"
#include "storage/source_files.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {

constexpr int32_t W = 16, H = 8;

// Pixel (x, y) of a Gray16 subblock written with `base`.
uint16_t value16(uint16_t base, int x, int y) { return uint16_t(base + x + y * W); }

std::string gray16(uint16_t base, int w = W, int h = H) {
    std::string s;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) put<uint16_t>(s, uint16_t(base + x + y * w));
    return s;
}

std::string gray8(uint8_t base, int w = W, int h = H) {
    std::string s;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) s.push_back(char(uint8_t(base + x + 3 * y)));
    return s;
}

std::string zstd_compress(const std::string& raw) {
    std::string out(ZSTD_compressBound(raw.size()), '\0');
    const size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 3);
    EXPECT_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

// Hi/lo byte packing of 16-bit words: all low bytes, then all high bytes.
std::string hilo_pack(const std::string& raw) {
    const size_t n = raw.size() / 2;
    std::string out(raw.size(), '\0');
    for (size_t i = 0; i < n; ++i) {
        out[i] = raw[2 * i];
        out[n + i] = raw[2 * i + 1];
    }
    return out;
}

class CziTest : public ::testing::Test {
protected:
    fs::path dir;
    void SetUp() override {
        dir = fs::temp_directory_path() /
              ("imx_czi_" + std::to_string(::getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir / "plate1");
    }
    void TearDown() override { fs::remove_all(dir); }
    fs::path src() const { return dir / "plate1"; }
    fs::path write(const std::string& name, const std::string& bytes) {
        write_bytes(src() / name, bytes);
        return src() / name;
    }
    ImageSet configure(const std::string& tiles = "") {
        LayoutOptions o;
        o.tiles = tiles;
        return find_layout_reader("czi")->configure(src(), o);
    }
    Plane read(const PlaneRecord& r) {
        Plane p;
        read_plane(*source::open(src() / r.file), {0, r.page, r.sample}, p);
        return p;
    }
};

const PlaneRecord* find(const ImageSet& set, int row, int col, int site, int c, int z, int t) {
    for (auto& p : set.planes)
        if (p.row == row && p.col == col && p.site == site && p.channel == c && p.zplane == z && p.tpoint == t) return &p;
    return nullptr;
}

// ---- dimensions, names, pixel size, values --------------------------------------------------------

TEST_F(CziTest, Gray16StackMapsEveryPlaneWithNamesAndPixelSize) {
    std::vector<CziBlock> blocks;
    // Written in a scrambled order; each subblock's pixels say which (c, z, t) it is.
    for (int t : {1, 0})
        for (int z : {2, 0, 1})
            for (int c : {1, 0}) blocks.push_back({1, 0, czi_dims(W, H, c, z, t), gray16(uint16_t(1000 * t + 100 * z + 10 * c))});
    write("a.czi", build_czi(blocks, czi_xml({"DAPI", "GFP"}, 0.65e-6, 2e-6)));
    ImageSet set = configure();
    EXPECT_EQ(set.format, "czi");
    ASSERT_EQ(set.plates.size(), 1u);
    EXPECT_EQ(set.plates[0].name, "plate1");
    EXPECT_EQ(set.width, uint32_t(W));
    EXPECT_EQ(set.height, uint32_t(H));
    ASSERT_TRUE(set.dtype);
    EXPECT_EQ(*set.dtype, DType::u16);
    EXPECT_EQ(set.bits_per_sample, 12);
    ASSERT_EQ(set.channels.size(), 2u);
    EXPECT_EQ(set.channels[0].name, "DAPI");
    EXPECT_EQ(set.channels[1].name, "GFP");
    ASSERT_TRUE(set.pixel_size_x && set.pixel_size_y && set.pixel_size_z);
    EXPECT_NEAR(*set.pixel_size_x, 0.65, 1e-12);
    EXPECT_NEAR(*set.pixel_size_y, 0.65, 1e-12);
    EXPECT_NEAR(*set.pixel_size_z, 2.0, 1e-12);
    ASSERT_EQ(set.planes.size(), 12u);
    for (int t = 0; t < 2; ++t)
        for (int z = 0; z < 3; ++z)
            for (int c = 0; c < 2; ++c) {
                const PlaneRecord* r = find(set, 0, 0, 0, c, z, t);
                ASSERT_NE(r, nullptr) << c << z << t;
                EXPECT_EQ(r->file, "a.czi");
                Plane p = read(*r);
                ASSERT_EQ(p.dtype, DType::u16);
                ASSERT_EQ(p.width, uint32_t(W));
                ASSERT_EQ(p.height, uint32_t(H));
                const uint16_t base = uint16_t(1000 * t + 100 * z + 10 * c);
                for (int y = 0; y < H; ++y)
                    for (int x = 0; x < W; ++x) ASSERT_EQ(p.as<uint16_t>()[y * W + x], value16(base, x, y));
            }
}

TEST_F(CziTest, ChannelNamesAreMadeUniqueAndMissingOnesNumbered) {
    std::vector<CziBlock> blocks;
    for (int c = 0; c < 3; ++c) blocks.push_back({1, 0, czi_dims(W, H, c, 0, 0), gray16(uint16_t(c))});
    write("a.czi", build_czi(blocks, czi_xml({"GFP", "GFP"})));
    ImageSet set = configure();
    ASSERT_EQ(set.channels.size(), 3u);
    // The one rule for repeated channel names (container_util.h make_unique_names), as ND2 and LIF.
    EXPECT_EQ(set.channels[0].name, "GFP");
    EXPECT_EQ(set.channels[1].name, "GFP (2)");
    EXPECT_EQ(set.channels[2].name, "C2");
    EXPECT_FALSE(set.pixel_size_x);
}

TEST_F(CziTest, Gray8Gray32FloatAndColourSamples) {
    write("a.czi", build_czi({{0, 0, czi_dims(W, H, 0, 0, 0), gray8(7)}}, ""));
    ImageSet set = configure();
    ASSERT_EQ(set.planes.size(), 1u);
    Plane p = read(set.planes[0]);
    ASSERT_EQ(p.dtype, DType::u8);
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) ASSERT_EQ(p.as<uint8_t>()[y * W + x], uint8_t(7 + x + 3 * y));
    EXPECT_EQ(set.channels.at(0).name, "C0");

    fs::remove(src() / "a.czi");
    std::string f32;
    for (int i = 0; i < W * H; ++i) put<float>(f32, 0.5f * float(i) - 3.0f);
    write("f.czi", build_czi({{2, 0, czi_dims(W, H, 0, 0, 0), f32}}, ""));
    set = configure();
    p = read(set.planes.at(0));
    ASSERT_EQ(p.dtype, DType::f32);
    for (int i = 0; i < W * H; ++i) ASSERT_EQ(p.as<float>()[i], 0.5f * float(i) - 3.0f);

    // Bgr24: stored B, G, R; samples come out R, G, B as channels NAME_R, NAME_G, NAME_B.
    fs::remove(src() / "f.czi");
    std::string bgr;
    for (int i = 0; i < W * H; ++i) {
        bgr.push_back(char(uint8_t(200)));      // B
        bgr.push_back(char(uint8_t(i)));        // G
        bgr.push_back(char(uint8_t(100 + i / 2)));  // R
    }
    std::string bgr48;
    for (int i = 0; i < W * H; ++i) {
        put<uint16_t>(bgr48, 50000);
        put<uint16_t>(bgr48, uint16_t(i * 100));
        put<uint16_t>(bgr48, uint16_t(7 + i));
    }
    write("rgb.czi", build_czi({{3, 0, czi_dims(W, H, 0, 0, 0), bgr}}, czi_xml({"Colour"})));
    set = configure();
    ASSERT_EQ(set.channels.size(), 3u);
    EXPECT_EQ(set.channels[0].name, "Colour_R");
    EXPECT_EQ(set.channels[2].name, "Colour_B");
    ASSERT_EQ(set.planes.size(), 3u);
    for (auto& r : set.planes) {
        Plane q = read(r);
        ASSERT_EQ(q.dtype, DType::u8);
        for (int i = 0; i < W * H; ++i) {
            const uint8_t want = r.channel == 0 ? uint8_t(100 + i / 2) : r.channel == 1 ? uint8_t(i) : uint8_t(200);
            ASSERT_EQ(q.as<uint8_t>()[i], want) << "channel " << r.channel;
        }
    }
    fs::remove(src() / "rgb.czi");
    write("rgb48.czi", build_czi({{4, 0, czi_dims(W, H, 0, 0, 0), bgr48}}, ""));
    set = configure();
    ASSERT_EQ(set.planes.size(), 3u);
    for (auto& r : set.planes) {
        Plane q = read(r);
        ASSERT_EQ(q.dtype, DType::u16);
        for (int i = 0; i < W * H; ++i) {
            const uint16_t want = r.channel == 0 ? uint16_t(7 + i) : r.channel == 1 ? uint16_t(i * 100) : uint16_t(50000);
            ASSERT_EQ(q.as<uint16_t>()[i], want) << "channel " << r.channel;
        }
    }
}

// ---- compression ------------------------------------------------------------------------------------

TEST_F(CziTest, Zstd0AndZstd1WithAndWithoutHiLoPacking) {
    const std::string raw16 = gray16(500), raw8 = gray8(9);
    std::vector<CziBlock> blocks = {
        {1, 5, czi_dims(W, H, 0, 0, 0), zstd_compress(raw16)},                                   // zstd0
        {1, 6, czi_dims(W, H, 1, 0, 0), std::string("\x03\x01\x01", 3) + zstd_compress(hilo_pack(gray16(600)))},  // zstd1 hi/lo
        {1, 6, czi_dims(W, H, 2, 0, 0), std::string("\x01", 1) + zstd_compress(gray16(700))},    // zstd1, no chunk
        {1, 6, czi_dims(W, H, 3, 0, 0), std::string("\x03\x01\x00", 3) + zstd_compress(gray16(800))},  // flag off
    };
    write("z.czi", build_czi(blocks, ""));
    ImageSet set = configure();
    ASSERT_EQ(set.planes.size(), 4u);
    const uint16_t bases[] = {500, 600, 700, 800};
    for (int c = 0; c < 4; ++c) {
        Plane p = read(*find(set, 0, 0, 0, c, 0, 0));
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) ASSERT_EQ(p.as<uint16_t>()[y * W + x], value16(bases[c], x, y)) << "c" << c;
    }
    fs::remove(src() / "z.czi");
    write("z8.czi", build_czi({{0, 6, czi_dims(W, H, 0, 0, 0), std::string("\x01", 1) + zstd_compress(raw8)}}, ""));
    set = configure();
    Plane p = read(set.planes.at(0));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.data.data()), p.data.size()), raw8);
}

// JPEG-XR subblocks, encoded losslessly by Debian's JxrEncApp (an encoder we did not write).
TEST_F(CziTest, JpegXrSubblocksDecodeLosslessly) {
    if (std::system("command -v JxrEncApp >/dev/null 2>&1") != 0) GTEST_SKIP() << "JxrEncApp (libjxr-tools) not installed";
    auto encode = [&](const std::string& name, uint16_t bits, uint16_t spp, const std::string& pixels) {
        const fs::path tif = dir / (name + ".tif"), jxr = dir / (name + ".jxr");
        TIFF* t = TIFFOpen(tif.c_str(), "w");
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, uint32_t(W));
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, uint32_t(H));
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, uint32_t(H));
        std::string buf = pixels;
        TIFFWriteEncodedStrip(t, 0, buf.data(), tmsize_t(buf.size()));
        TIFFClose(t);
        const std::string cmd = "JxrEncApp -i '" + tif.string() + "' -o '" + jxr.string() + "' -q 1 >/dev/null 2>&1";
        EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
        std::ifstream in(jxr, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    const std::string g8 = gray8(3), g16 = gray16(40000);
    std::string rgb;  // R, G, B in the TIFF
    for (int i = 0; i < W * H; ++i) {
        rgb.push_back(char(uint8_t(10 + i)));
        rgb.push_back(char(uint8_t(2 * i)));
        rgb.push_back(char(uint8_t(250 - i)));
    }
    write("j.czi", build_czi({{0, 4, czi_dims(W, H, 0, 0, 0), encode("g8", 8, 1, g8)},
                              {0, 4, czi_dims(W, H, 0, 0, 1), std::string()}}, ""));
    // The second subblock has no data: it fails with the file, its offset and the reason.
    ImageSet set = configure();
    ASSERT_EQ(set.planes.size(), 2u);
    Plane p = read(*find(set, 0, 0, 0, 0, 0, 0));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.data.data()), p.data.size()), g8);
    const std::string err = error_of([&] { read(*find(set, 0, 0, 0, 0, 0, 1)); });
    EXPECT_NE(err.find("j.czi: subblock at offset "), std::string::npos) << err;
    EXPECT_NE(err.find("JPEG-XR"), std::string::npos) << err;

    fs::remove(src() / "j.czi");
    write("j16.czi", build_czi({{1, 4, czi_dims(W, H, 0, 0, 0), encode("g16", 16, 1, g16)}}, ""));
    set = configure();
    p = read(set.planes.at(0));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.data.data()), p.data.size()), g16);

    fs::remove(src() / "j16.czi");
    write("jrgb.czi", build_czi({{3, 4, czi_dims(W, H, 0, 0, 0), encode("rgb", 8, 3, rgb)}}, ""));
    set = configure();
    ASSERT_EQ(set.planes.size(), 3u);
    for (auto& r : set.planes) {
        Plane q = read(r);
        for (int i = 0; i < W * H; ++i) ASSERT_EQ(q.as<uint8_t>()[i], uint8_t(rgb[size_t(3 * i) + r.sample])) << r.sample;
    }

    // jxrlib asserts (aborts) on some corrupt codestreams; the decoder runs it in a child process,
    // so every corrupted header byte gives a plane or an input error naming the subblock.
    fs::remove(src() / "jrgb.czi");
    const std::string jxr = encode("g8b", 8, 1, g8);
    CziLayoutInfo li;
    const std::string good = build_czi({{0, 4, czi_dims(W, H, 0, 0, 0), jxr}}, "", &li);
    const size_t payload = li.block_pos[0] + 32 + 256;
    int decoded = 0, refused = 0;
    for (size_t i = payload; i < payload + std::min<size_t>(jxr.size(), 48); ++i) {
        std::string bad = good;
        bad[i] = char(bad[i] ^ 0x5A);
        const auto f = source::open(write("bad.czi", bad));
        czi::Index idx = czi::read_index(*f);
        try {
            Plane out;
            czi::decode_plane(*f, idx, 0, 0, out);
            ++decoded;
        } catch (const Error& e) {
            ASSERT_NE(std::string(e.what()).find("bad.czi: subblock at offset " + std::to_string(li.block_pos[0]) + ": JPEG-XR"),
                      std::string::npos)
                << e.what();
            ++refused;
        }
    }
    EXPECT_GT(refused, 0);
}

TEST_F(CziTest, UnsupportedCompressionNamesFileOffsetAndId) {
    CziLayoutInfo li;
    write("j.czi", build_czi({{1, 1, czi_dims(W, H, 0, 0, 0), "JPEGDATA"}, {1, 2, czi_dims(W, H, 1, 0, 0), "LZW"}}, "", &li));
    ImageSet set = configure();
    std::string err = error_of([&] { read(*find(set, 0, 0, 0, 0, 0, 0)); });
    EXPECT_NE(err.find("j.czi: subblock at offset " + std::to_string(li.block_pos[0]) + ": compression 1 (JPEG) is not supported"),
              std::string::npos)
        << err;
    err = error_of([&] { read(*find(set, 0, 0, 0, 1, 0, 0)); });
    EXPECT_NE(err.find("offset " + std::to_string(li.block_pos[1]) + ": compression 2 (LZW)"), std::string::npos) << err;
}

// ---- mosaics, scenes, wells ----------------------------------------------------------------------

TEST_F(CziTest, MosaicTilesArePlacedByPositionOrKeptAsSites) {
    // 2 x 2 tiles of 16 x 8 at logical (100, 200)...; tile 3 overlaps tile 0's right half by 4 px
    // and, drawn later (higher M), wins there.
    std::vector<CziBlock> blocks;
    const int pos[4][2] = {{100, 200}, {116, 200}, {100, 208}, {112, 200}};
    for (int c = 0; c < 2; ++c)
        for (int m = 3; m >= 0; --m)
            blocks.push_back({1, 0, czi_dims(W, H, c, 0, 0, 0, m, pos[m][0], pos[m][1]), gray16(uint16_t(1000 * c + 200 * m))});
    // A downscaled pyramid subblock (stored 16 x 8 for a logical 32 x 16): ignored.
    blocks.push_back({1, 0, {{'X', 100, 32, 16}, {'Y', 200, 16, 8}, {'C', 0, 1, 1}, {'M', 9, 1, 1}}, gray16(60000)});
    write("m.czi", build_czi(blocks, ""));

    ImageSet set = configure();
    EXPECT_EQ(set.width, 32u);
    EXPECT_EQ(set.height, 16u);
    ASSERT_EQ(set.planes.size(), 2u);
    for (int c = 0; c < 2; ++c) {
        Plane p = read(*find(set, 0, 0, 0, c, 0, 0));
        ASSERT_EQ(p.width, 32u);
        ASSERT_EQ(p.height, 16u);
        auto at = [&](int x, int y) { return p.as<uint16_t>()[y * 32 + x]; };
        for (int y = 0; y < 16; ++y)
            for (int x = 0; x < 32; ++x) {
                uint16_t want = 0;  // (16..31, 8..15) is covered by no tile
                if (y < 8 && x >= 12 && x < 28) want = value16(uint16_t(1000 * c + 600), x - 12, y);  // tile 3 on top
                else if (y < 8 && x < 12) want = value16(uint16_t(1000 * c), x, y);
                else if (y < 8) want = value16(uint16_t(1000 * c + 200), x - 16, y);
                else if (x < 16) want = value16(uint16_t(1000 * c + 400), x, y - 8);
                ASSERT_EQ(at(x, y), want) << "c" << c << " x" << x << " y" << y;
            }
    }

    set = configure("as-sites");
    EXPECT_EQ(set.width, uint32_t(W));
    ASSERT_EQ(set.planes.size(), 8u);
    std::set<int> sites;
    for (auto& r : set.planes) {
        sites.insert(r.site);
        Plane p = read(r);
        ASSERT_EQ(p.width, uint32_t(W));
        // Site k is tile M = k; its pixels say so.
        EXPECT_EQ(p.as<uint16_t>()[0], uint16_t(1000 * r.channel + 200 * r.site));
    }
    EXPECT_EQ(sites, (std::set<int>{0, 1, 2, 3}));
    EXPECT_NE(error_of([&] { configure("diagonal"); }).find("--tiles"), std::string::npos);
}

// The inventory: which subblocks the pages planes read cover. Stitched mosaics lose the part of a
// tile drawn over by a later one; tiles kept as sites lose nothing; pyramid levels are copies.
TEST_F(CziTest, InventoryCountsSubblocksOfThePagesReadAndTilesHiddenInMosaics) {
    std::vector<CziBlock> blocks;
    const int pos[4][2] = {{100, 200}, {116, 200}, {100, 208}, {112, 200}};  // tile 3 overlaps tiles 0 and 1
    for (int c = 0; c < 2; ++c)
        for (int m = 3; m >= 0; --m)
            blocks.push_back({1, 0, czi_dims(W, H, c, 0, 0, 0, m, pos[m][0], pos[m][1]), gray16(uint16_t(1000 * c + 200 * m))});
    blocks.push_back({1, 0, {{'X', 100, 32, 16}, {'Y', 200, 16, 8}, {'C', 0, 1, 1}, {'M', 9, 1, 1}}, gray16(60000)});
    const fs::path f = write("m.czi", build_czi(blocks, ""));
    const FileContents c = make_czi_decoder()->contents(*source::open(f));
    ASSERT_EQ(c.runs.size(), 2u);  // mosaic pages 0-1, tile pages flag|0-7
    EXPECT_EQ(c.runs[0].count, 2u);
    EXPECT_EQ(c.runs[1].first, czi::kTilePageFlag);
    EXPECT_EQ(c.runs[1].count, 8u);
    EXPECT_TRUE(c.unreachable.empty());
    ASSERT_TRUE(c.composed_left_out);
    auto left = [&](std::vector<PlaneRef> refs) {
        std::string s;
        for (auto& part : c.composed_left_out(refs)) s += part + "|";
        return s;
    };
    EXPECT_EQ(left({{0, 0}, {1, 0}}),
              "4 subblock(s) partly hidden under overlapping mosaic tiles (create --tiles as-sites keeps every tile)|");
    EXPECT_EQ(left({{0, 0}}), "4 of 8 full-resolution subblock(s) not in any plane|2 subblock(s) partly hidden under "
                              "overlapping mosaic tiles (create --tiles as-sites keeps every tile)|");
    std::vector<PlaneRef> tiles;
    for (uint32_t k = 0; k < 8; ++k) tiles.push_back({czi::kTilePageFlag | k, 0});
    EXPECT_EQ(left(tiles), "");
    EXPECT_EQ(left({}), "8 of 8 full-resolution subblock(s) not in any plane|");

    // Subblocks of a further phase or block: no page reaches them.
    auto dims = [](int h) {
        auto d = czi_dims(W, H, 0, 0, 0);
        d.push_back({'H', h, 1, 1});
        return d;
    };
    const fs::path h = write("h.czi", build_czi({{1, 0, dims(0), gray16(1)}, {1, 0, dims(1), gray16(2)}}, ""));
    const FileContents hc = make_czi_decoder()->contents(*source::open(h));
    ASSERT_EQ(hc.unreachable.size(), 1u);
    EXPECT_EQ(hc.unreachable[0], "1 subblock(s) of further B (block), H (phase), R, I or V indices");
}

TEST_F(CziTest, ScatteredTilesAreNotStitchedIntoAHugeEmptyPlane) {
    // Two tiles 100000 pixels apart: a stitched plane would be almost all zeros.
    write("far.czi", build_czi({{1, 0, czi_dims(W, H, 0, 0, 0, 0, 0, 0, 0), gray16(1)},
                                {1, 0, czi_dims(W, H, 0, 0, 0, 0, 1, 100000, 0), gray16(2)}}, ""));
    const std::string err = error_of([&] { configure(); });
    EXPECT_NE(err.find("far.czi: the tiles of scene 0 cover less than 1/16 of their 100016 x 8 pixel bounding box"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("--tiles as-sites"), std::string::npos) << err;
    ImageSet set = configure("as-sites");
    ASSERT_EQ(set.planes.size(), 2u);
    EXPECT_EQ(read(*find(set, 0, 0, 1, 0, 0, 0)).as<uint16_t>()[0], 2);
}

TEST_F(CziTest, FilesBecomeWellsAndScenesSites) {
    std::vector<CziBlock> two_scenes = {{1, 0, czi_dims(W, H, 0, 0, 0, 0), gray16(10)},
                                        {1, 0, czi_dims(W, H, 0, 0, 0, 1, -1, 5000, 0), gray16(20)}};
    write("b.czi", build_czi(two_scenes, ""));
    write("a.czi", build_czi({{1, 0, czi_dims(W, H, 0, 0, 0), gray16(30)}}, ""));
    write("notes.txt", "not a czi");
    ImageSet set = configure();
    ASSERT_EQ(set.planes.size(), 3u);
    // File-name order: a.czi -> A01, b.czi -> A02; its scenes are sites 0 and 1.
    ASSERT_NE(find(set, 0, 0, 0, 0, 0, 0), nullptr);
    EXPECT_EQ(find(set, 0, 0, 0, 0, 0, 0)->file, "a.czi");
    EXPECT_EQ(read(*find(set, 0, 1, 0, 0, 0, 0)).as<uint16_t>()[0], 10);
    EXPECT_EQ(read(*find(set, 0, 1, 1, 0, 0, 0)).as<uint16_t>()[0], 20);
}

TEST_F(CziTest, PlateScenesGoToTheWellsTheMetadataNames) {
    const std::string scenes =
        "<Scene Index=\"0\" Name=\"B4-1\"><ArrayName>B4</ArrayName></Scene>"
        "<Scene Index=\"1\" Name=\"B4-2\"><ArrayName>B4</ArrayName></Scene>"
        "<Scene Index=\"2\" Name=\"P1\"><Shape Name=\"X\"><RowIndex>2</RowIndex><ColumnIndex>6</ColumnIndex></Shape></Scene>";
    std::vector<CziBlock> blocks;
    for (int s = 0; s < 3; ++s) blocks.push_back({1, 0, czi_dims(W, H, 0, 0, 0, s), gray16(uint16_t(100 * s))});
    write("plate.czi", build_czi(blocks, czi_xml({"DAPI"}, 0, 0, scenes)));
    ImageSet set = configure();
    ASSERT_EQ(set.planes.size(), 3u);
    EXPECT_EQ(read(*find(set, 1, 3, 0, 0, 0, 0)).as<uint16_t>()[0], 0);    // B04 site 0
    EXPECT_EQ(read(*find(set, 1, 3, 1, 0, 0, 0)).as<uint16_t>()[0], 100);  // B04 site 1
    EXPECT_EQ(read(*find(set, 2, 6, 0, 0, 0, 0)).as<uint16_t>()[0], 200);  // C07
}

TEST_F(CziTest, OnlyTheFirstPhaseAndBlockAreExtractedWithAWarning) {
    auto dims = [](int h, int b) {
        auto d = czi_dims(W, H, 0, 0, 0);
        d.push_back({'H', h, 1, 1});
        d[6].start = b;  // the B entry
        return d;
    };
    write("h.czi", build_czi({{1, 0, dims(1, 0), gray16(11)}, {1, 0, dims(0, 0), gray16(22)}, {1, 0, dims(0, 1), gray16(33)}}, ""));
    ImageSet set = configure();
    ASSERT_EQ(set.planes.size(), 1u);
    EXPECT_EQ(read(set.planes[0]).as<uint16_t>()[0], 22);
    ASSERT_EQ(set.warnings.size(), 1u);
    EXPECT_NE(set.warnings[0].find("h.czi: 2 subblocks of further B (block), H (phase)"), std::string::npos) << set.warnings[0];
}

TEST_F(CziTest, DifferentPlaneSizesAcrossFilesAreRefused) {
    write("a.czi", build_czi({{1, 0, czi_dims(W, H, 0, 0, 0), gray16(1)}}, ""));
    write("b.czi", build_czi({{1, 0, czi_dims(8, 8, 0, 0, 0), gray16(1, 8, 8)}}, ""));
    const std::string err = error_of([&] { configure(); });
    EXPECT_NE(err.find("b.czi: planes are 8 x 8"), std::string::npos) << err;
}

TEST_F(CziTest, DirectoryIsCachedPerFileAndRereadWhenItChanges) {
    const fs::path f = write("a.czi", build_czi({{1, 0, czi_dims(W, H, 0, 0, 0), gray16(1)}}, ""));
    auto a = czi::cached_index(*source::open(f)), b = czi::cached_index(*source::open(f));
    EXPECT_EQ(a.get(), b.get());
    write("a.czi", build_czi({{1, 0, czi_dims(W, H, 0, 0, 0), gray16(1)}, {1, 0, czi_dims(W, H, 1, 0, 0), gray16(2)}}, ""));
    auto c = czi::cached_index(*source::open(f));
    EXPECT_NE(a.get(), c.get());
    EXPECT_EQ(c->mosaic_planes.size(), 2u);
}

// ---- corrupt files ------------------------------------------------------------------------------

TEST_F(CziTest, TruncatedAndCorruptFilesGiveClearErrors) {
    CziLayoutInfo li;
    const std::string good = build_czi({{1, 0, czi_dims(W, H, 0, 0, 0), gray16(1)}, {1, 5, czi_dims(W, H, 1, 0, 0), zstd_compress(gray16(2))}},
                                       czi_xml({"A", "B"}), &li);
    // Directory cut off.
    write("t.czi", good.substr(0, li.directory_pos + 40));
    std::string err = error_of([&] { configure(); });
    EXPECT_NE(err.find("t.czi"), std::string::npos) << err;
    EXPECT_NE(err.find("truncated"), std::string::npos) << err;
    fs::remove(src() / "t.czi");

    // Not a CZI at all.
    write("x.czi", "ZISRAWFILX" + std::string(100, '\0'));
    err = error_of([&] { configure(); });
    EXPECT_NE(err.find("x.czi: file header at offset 0: expected a ZISRAWFILE segment"), std::string::npos) << err;
    fs::remove(src() / "x.czi");

    // Directory entry count far beyond the file.
    std::string bad = good;
    const int32_t huge = 100000000;
    std::memcpy(bad.data() + li.directory_pos + 32, &huge, 4);
    write("c.czi", bad);
    err = error_of([&] { configure(); });
    EXPECT_NE(err.find("declares 100000000 entries"), std::string::npos) << err;
    fs::remove(src() / "c.czi");

    // The metadata XML may reach the end of the file (the segment is last), not one byte past it.
    bad = good;
    int32_t xml_bytes = int32_t(bad.size() - (li.metadata_pos + 32 + 256));
    std::memcpy(bad.data() + li.metadata_pos + 32, &xml_bytes, 4);
    write("m.czi", bad);
    EXPECT_EQ(configure().channels.size(), 2u);
    fs::remove(src() / "m.czi");
    ++xml_bytes;
    std::memcpy(bad.data() + li.metadata_pos + 32, &xml_bytes, 4);
    write("n.czi", bad);
    err = error_of([&] { configure(); });
    EXPECT_NE(err.find("n.czi: metadata segment at offset " + std::to_string(li.metadata_pos) + " declares " +
                       std::to_string(xml_bytes) + " bytes of XML, past the end of the file"),
              std::string::npos)
        << err;
    fs::remove(src() / "n.czi");

    // Subblock pixels cut short: configure works, that plane fails naming file and offset.
    bad = good;
    const int64_t big = 1 << 20;
    std::memcpy(bad.data() + li.block_pos[0] + 32 + 8, &big, 8);  // DataSize of subblock 0
    write("p.czi", bad);
    ImageSet set = configure();
    err = error_of([&] { read(*find(set, 0, 0, 0, 0, 0, 0)); });
    EXPECT_NE(err.find("p.czi: subblock at offset " + std::to_string(li.block_pos[0]) + ": pixel data"), std::string::npos) << err;
    EXPECT_NE(err.find("beyond the end of the file"), std::string::npos) << err;
    // The other plane still decodes.
    EXPECT_EQ(read(*find(set, 0, 0, 0, 1, 0, 0)).as<uint16_t>()[5], 7);
    fs::remove(src() / "p.czi");

    // Corrupt zstd stream.
    bad = good;
    const size_t zstd_at = li.block_pos[1] + 32 + 256;
    for (size_t i = zstd_at + 4; i < zstd_at + 12; ++i) bad[i] = char(0xA5);
    write("z.czi", bad);
    set = configure();
    err = error_of([&] { read(*find(set, 0, 0, 0, 1, 0, 0)); });
    EXPECT_NE(err.find("z.czi: subblock at offset " + std::to_string(li.block_pos[1]) + ": zstd"), std::string::npos) << err;
    fs::remove(src() / "z.czi");

    // Subblock position pointing elsewhere.
    bad = good;
    const int64_t nowhere = int64_t(good.size()) + 1000;
    // In the directory entry (the one the reader trusts): first entry starts after 128 bytes.
    std::memcpy(bad.data() + li.directory_pos + 32 + 128 + 6, &nowhere, 8);
    write("o.czi", bad);
    set = configure();
    err = error_of([&] { read(*find(set, 0, 0, 0, 0, 0, 0)); });
    EXPECT_NE(err.find("o.czi: subblock at offset " + std::to_string(nowhere)), std::string::npos) << err;

    // Malformed metadata XML.
    fs::remove(src() / "o.czi");
    write("m.czi", build_czi({{1, 0, czi_dims(W, H, 0, 0, 0), gray16(1)}}, "<ImageDocument><Metadata>"));
    err = error_of([&] { configure(); });
    EXPECT_NE(err.find("m.czi: metadata XML is not well-formed"), std::string::npos) << err;
}

// Every byte of a small file set to 0xFF or 0x00 in turn: parsing and decoding either work or
// throw imx::Error, never crash or hang (run under ASan in the sanitizer build).
TEST_F(CziTest, EveryCorruptedByteIsHandled) {
    const std::string good = build_czi(
        {{1, 0, czi_dims(W, H, 0, 0, 0, 0, 0, 0, 0), gray16(1)},
         {1, 6, czi_dims(W, H, 0, 0, 0, 0, 1, 16, 0), std::string("\x03\x01\x01", 3) + zstd_compress(hilo_pack(gray16(2)))}},
        czi_xml({"A"}, 1e-6, 0, "<Scene Index=\"0\"><ArrayName>A1</ArrayName></Scene>"));
    const fs::path f = src() / "f.czi";
    // Long runs of zeros are padding and reserved fields: one byte of each run is enough.
    std::vector<bool> padding(good.size(), false);
    for (size_t i = 0; i < good.size();) {
        size_t j = i;
        while (j < good.size() && good[j] == 0) ++j;
        if (j - i >= 8)
            for (size_t k = i + 1; k < j; ++k) padding[k] = true;
        i = j + 1;
    }
    write_bytes(f, good);
    auto write_byte = [](const fs::path& file, size_t at, char byte) {
        std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
        io.seekp(std::streamoff(at));
        io.put(byte);
    };
    size_t ok = 0;
    for (size_t i = 0; i < good.size(); ++i)
        for (char v : {char(0xFF), char(0)}) {
            if (good[i] == v || padding[i]) continue;
            // Same size every time: patch the one byte in place (no truncate, which is slow).
            write_byte(f, i, v);
            try {
                const auto file = source::open(f);
                czi::Index idx = czi::read_index(*file);
                czi::read_metadata(*file, idx);
                // The inventory of a corrupt directory: pages and subblocks, never a crash.
                const FileContents c = czi::contents(*file, std::make_shared<czi::Index>(idx));
                c.composed_left_out({{0, 0}, {1, 0}, {czi::kTilePageFlag, 0}});
                for (uint32_t p = 0; p < idx.mosaic_planes.size(); ++p) {
                    Plane out;
                    czi::decode_plane(*file, idx, p, 0, out);
                }
                for (uint32_t p = 0; p < idx.tile_planes.size(); ++p) {
                    Plane out;
                    czi::decode_plane(*file, idx, p | czi::kTilePageFlag, 0, out);
                }
                ++ok;
            } catch (const Error& e) {
                ASSERT_EQ(e.kind(), Error::Kind::input) << e.what();
                ASSERT_EQ(std::string(e.what()).rfind(f.string(), 0), 0u) << e.what();
            }
            write_byte(f, i, good[i]);
        }
    EXPECT_GT(ok, 0u);  // bytes in padding and reserved fields change nothing
}

// ---- the real samples ---------------------------------------------------------------------------

const fs::path kSamples = fs::path(IMX_SAMPLES_DIR) / "czi" / "aicspylibczi";

class CziSamples : public ::testing::Test {
protected:
    fs::path dir;
    void SetUp() override {
        dir = fs::temp_directory_path() / ("imx_czi_samples_" + std::to_string(::getpid()));
        fs::remove_all(dir);
    }
    void TearDown() override { fs::remove_all(dir); }
    // The sample copied alone into a folder (the samples differ in plane size).
    ImageSet configure(const std::string& name) {
        if (!fs::exists(kSamples / name)) return {};
        fs::create_directories(dir / "src");
        fs::copy_file(kSamples / name, dir / "src" / name, fs::copy_options::overwrite_existing);
        return find_layout_reader("czi")->configure(dir / "src", {});
    }
    Plane read(const PlaneRecord& r) {
        Plane p;
        read_plane(*source::open(dir / "src" / r.file), {0, r.page, r.sample}, p);
        return p;
    }
};

uint64_t sum_of(const Plane& p) {
    uint64_t s = 0;
    for (size_t i = 0; i < p.pixel_count(); ++i) s += p.dtype == DType::u8 ? p.as<uint8_t>()[i] : p.as<uint16_t>()[i];
    return s;
}
uint32_t px(const Plane& p, uint32_t x, uint32_t y) {
    const size_t i = size_t(y) * p.width + x;
    return p.dtype == DType::u8 ? p.as<uint8_t>()[i] : p.as<uint16_t>()[i];
}

// Expected values: tests/oracle/czi_oracle.py (describe / stats), an independent Python reader.
TEST_F(CziSamples, StackT3C2Z5) {
    if (!fs::exists(kSamples / "CD_s_1_t_3_c_2_z_5.czi")) GTEST_SKIP() << "sample absent";
    ImageSet set = configure("CD_s_1_t_3_c_2_z_5.czi");
    EXPECT_EQ(set.width, 240u);
    EXPECT_EQ(set.height, 170u);
    EXPECT_EQ(*set.dtype, DType::u16);
    EXPECT_EQ(set.bits_per_sample, 14);
    ASSERT_EQ(set.channels.size(), 2u);
    EXPECT_EQ(set.channels[0].name, "LED555");
    EXPECT_EQ(set.channels[1].name, "LED470");
    EXPECT_NEAR(*set.pixel_size_x, 0.090576674152210312, 1e-12);
    EXPECT_NEAR(*set.pixel_size_z, 0.32, 1e-12);
    ASSERT_EQ(set.planes.size(), 30u);
    std::set<std::tuple<int, int, int>> seen;
    for (auto& p : set.planes) {
        EXPECT_EQ(p.row, 0);
        EXPECT_EQ(p.col, 0);
        EXPECT_EQ(p.site, 0);
        seen.insert({p.channel, p.zplane, p.tpoint});
    }
    EXPECT_EQ(seen.size(), 30u);
    Plane a = read(*find(set, 0, 0, 0, 0, 0, 0));
    EXPECT_EQ(sum_of(a), 8951607u);
    EXPECT_EQ(px(a, 120, 85), 1428u);
    Plane b = read(*find(set, 0, 0, 0, 1, 4, 2));
    EXPECT_EQ(sum_of(b), 79096864u);
    EXPECT_EQ(px(b, 0, 0), 24u);
    EXPECT_EQ(px(b, 120, 85), 486u);
    EXPECT_EQ(px(b, 239, 169), 780u);
}

TEST_F(CziSamples, Rgb8Bit) {
    if (!fs::exists(kSamples / "RGB-8bit.czi")) GTEST_SKIP() << "sample absent";
    ImageSet set = configure("RGB-8bit.czi");
    EXPECT_EQ(set.width, 924u);
    EXPECT_EQ(set.height, 624u);
    EXPECT_EQ(*set.dtype, DType::u8);
    ASSERT_EQ(set.channels.size(), 3u);
    EXPECT_EQ(set.channels[0].name, "C1_R");
    EXPECT_NEAR(*set.pixel_size_x, 1.0833333333333333, 1e-12);
    ASSERT_EQ(set.planes.size(), 3u);
    const uint64_t sums[] = {7962120, 16158347, 8516690};
    const uint32_t first[] = {4, 14, 7};
    for (int c = 0; c < 3; ++c) {
        Plane p = read(*find(set, 0, 0, 0, c, 0, 0));
        EXPECT_EQ(sum_of(p), sums[c]) << c;
        EXPECT_EQ(px(p, 0, 0), first[c]) << c;
    }
}

// The same acquisition converted to OME-TIFF by Bio-Formats (shared/samples/ome-tiff): pixel-exact.
TEST_F(CziSamples, SinglePlaneMatchesBioFormatsOmeTiff) {
    const fs::path ome = fs::path(IMX_SAMPLES_DIR) / "ome-tiff" / "aicsimageio" / "s_1_t_1_c_1_z_1.ome.tiff";
    if (!fs::exists(kSamples / "s_1_t_1_c_1_z_1.czi") || !fs::exists(ome)) GTEST_SKIP() << "sample absent";
    ImageSet set = configure("s_1_t_1_c_1_z_1.czi");
    EXPECT_EQ(set.width, 475u);
    EXPECT_EQ(set.height, 325u);
    ASSERT_EQ(set.channels.size(), 1u);
    EXPECT_EQ(set.channels[0].name, "Bright");
    ASSERT_EQ(set.planes.size(), 1u);
    Plane p = read(set.planes[0]);
    EXPECT_EQ(sum_of(p), 563709458u);  // czi_oracle.py stats
    Plane q;
    read_plane(*source::open(ome), {0, 0, 0}, q);
    ASSERT_EQ(q.width, p.width);
    ASSERT_EQ(q.height, p.height);
    EXPECT_TRUE(q.data == p.data);
}

}  // namespace
