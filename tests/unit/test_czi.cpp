// Zeiss CZI: synthetic files written by tests/unit/czi_writer.h (plane mapping checked by the
// pixels each subblock holds), zstd and JPEG-XR subblocks, mosaics and plates. Corrupted files and
// the real samples: test_czi_files.cpp.
#include <gtest/gtest.h>
#include <tiffio.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "czi_test_util.h"
#include "core/types.h"
#include "formats/builtin.h"
#include "formats/czi/czi.h"
#include "formats/reader.h"
#include "storage/source_files.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {


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

// A mosaic read band by band (open_rows, as a run job reads a plane of many rows of chunks) equals
// the plane read whole, for every band height: the bands compose the subblocks that cross them in
// the same drawing order. 5 x 4 tiles of 16 x 8 overlapping by 3 columns and 2 rows, drawn in an
// order that is not their raster order; uncompressed, zstd0, zstd1 and zstd1 hi/lo subblocks; and
// the same with Bgr24 tiles (each sample its own plane).
TEST_F(CziTest, MosaicReadBandByBandEqualsTheWholePlane) {
    for (const int32_t ptype : {1, 3}) {
        std::vector<CziBlock> blocks;
        const int bpp = ptype == 1 ? 2 : 3;
        int k = 0;
        for (int c = 0; c < 2; ++c)
            for (int ty = 0; ty < 4; ++ty)
                for (int tx = 0; tx < 5; ++tx, ++k) {
                    const int m = (ty * 5 + tx) * 7 % 20;  // drawing order unlike the raster order
                    std::string raw;
                    for (int i = 0; i < W * H * bpp; ++i) raw.push_back(char((i * 13 + k * 29 + m) & 0xff));
                    int comp = ptype == 1 ? k % 4 : (k % 2) * 5;
                    std::string payload = raw;
                    if (comp == 1) comp = 5, payload = zstd_compress(raw);
                    else if (comp == 2) comp = 6, payload = std::string("\x01", 1) + zstd_compress(raw);
                    else if (comp == 3) comp = 6, payload = std::string("\x03\x01\x01", 3) + zstd_compress(hilo_pack(raw));
                    else if (comp == 5) payload = zstd_compress(raw);
                    blocks.push_back({ptype, comp, czi_dims(W, H, c, 0, 0, 0, m, 50 + tx * (W - 3), 70 + ty * (H - 2)),
                                      payload});
                }
        fs::remove_all(src());
        fs::create_directories(src());
        write("bands.czi", build_czi(blocks, ""));
        ImageSet set = configure();
        ASSERT_EQ(set.width, uint32_t(5 * (W - 3) + 3));
        ASSERT_EQ(set.height, uint32_t(4 * (H - 2) + 2));
        auto decoder = make_czi_decoder();
        for (const PlaneRecord& r : set.planes) {
            const Plane whole = read(r);
            const auto file = source::open(src() / r.file);
            for (uint32_t band : {1u, 3u, 7u, 11u, set.height}) {
                auto rows = decoder->open_rows(*file, {0, r.page, r.sample});
                ASSERT_TRUE(rows);
                ASSERT_EQ(rows->width(), whole.width);
                ASSERT_EQ(rows->height(), whole.height);
                ASSERT_EQ(rows->dtype(), whole.dtype);
                const size_t row_bytes = size_t(whole.width) * dtype_size(whole.dtype);
                std::vector<std::byte> got(whole.data.size(), std::byte{0x5a});  // each band must write every byte
                for (uint32_t y = 0; y < whole.height; y += band) {
                    const uint32_t n = std::min(band, whole.height - y);
                    rows->read(y, n, got.data() + y * row_bytes);
                }
                ASSERT_TRUE(got == whole.data) << "pixel type " << ptype << " channel " << r.channel << " bands of " << band;
            }
        }
    }
}

// Above 2 GiB a mosaic is read band by band only, but its declared tiles must be backed by the
// file's bytes: two uncompressed tiles claiming 40000 x 30000 pixels each, and zstd ones, in a
// file of a few hundred bytes, are refused before any pixel is allocated.
TEST_F(CziTest, HugeMosaicClaimsMustBeBackedByTheFile) {
    for (const int32_t comp : {0, 5}) {
        const std::string payload = comp == 0 ? gray16(1) : zstd_compress(gray16(1));
        fs::remove_all(src());
        fs::create_directories(src());
        write("huge.czi", build_czi({{1, comp, czi_dims(40000, 30000, 0, 0, 0, 0, 0, 0, 0), payload},
                                     {1, comp, czi_dims(40000, 30000, 0, 0, 0, 0, 1, 40000, 0), payload}},
                                    ""));
        const std::string err = error_of([&] { configure(); });
        EXPECT_NE(err.find("huge.czi: the subblocks of scene 0 can hold at most"), std::string::npos) << err;
        EXPECT_NE(err.find("less than 1/16 of their 80000 x 30000 pixel mosaic"), std::string::npos) << err;
    }
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

}  // namespace
