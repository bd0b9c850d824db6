// ND2 and LIF planes read band by band (PixelDecoder::open_rows, issue 18): every band of every
// plane equals the same rows of the plane read whole, for the layouts the formats allow (ND2 row
// padding, interleaved components, zlib frames; LIF dimensions in any order, interleaved channels,
// mosaic tiles), damaged frames fail naming the file, and a LIF plane larger than the 4 GiB a plane
// read whole may take is read in bands (a sparse file).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "formats/reader.h"
#include "nd2_legacy_writer.h"
#include "nd2_test_util.h"
#include "storage/source_files.h"
#include "lif_writer.h"
#include "test_util.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {

// Reads plane `at` band by band (bands of `band` rows, cutting any row grouping) and compares each
// band with the rows of the plane read whole.
void expect_bands_equal_whole(const fs::path& file, const PlaneAddress& at, uint32_t band) {
    const auto handle = source::open(file);
    const PixelDecoder& dec = decoder_for(*handle);
    Plane whole;
    dec.read(*handle, at, whole);
    auto rows = dec.open_rows(*handle, at);
    ASSERT_TRUE(rows) << file;
    ASSERT_EQ(rows->width(), whole.width);
    ASSERT_EQ(rows->height(), whole.height);
    ASSERT_EQ(rows->dtype(), whole.dtype);
    const size_t row_bytes = size_t(whole.width) * dtype_size(whole.dtype);
    std::vector<std::byte> got;
    for (uint32_t y = 0; y < whole.height; y += band) {
        const uint32_t n = std::min(band, whole.height - y);
        got.assign(n * row_bytes, std::byte{0x5A});
        rows->read(y, n, got.data());
        ASSERT_EQ(std::memcmp(got.data(), whole.data.data() + y * row_bytes, n * row_bytes), 0)
            << file << " page " << at.page << " sample " << at.sample << " rows " << y << "+" << n;
    }
}

// ---- ND2 ---------------------------------------------------------------------------------------

Nd2Spec big_frame(Nd2Layout layout, uint32_t comp, uint32_t padding, bool zlib, uint32_t bits = 16) {
    Nd2Spec s;
    s.layout = layout;
    s.width = 37;
    s.height = 29;
    s.comp = comp;
    s.padding = padding;
    s.zlib = zlib;
    s.bits = bits;
    s.loops = {{4, 2, 1.0}};
    s.names.clear();
    for (uint32_t c = 0; c < comp; ++c) s.names.push_back("C" + std::to_string(c));
    return s;
}

TEST(ContainerRows, Nd2BandsEqualTheWholeFrame) {
    const fs::path d = fresh_dir("nd2_rows");
    struct Case {
        const char* name;
        Nd2Spec spec;
    };
    const std::vector<Case> cases = {
        {"lv_raw_3c_pad.nd2", big_frame(Nd2Layout::nis4_lv, 3, 4, false)},
        {"lv_raw_1c_nopad.nd2", big_frame(Nd2Layout::nis4_lv, 1, 0, false)},  // rows straight into the band
        {"lv_raw_1c_pad.nd2", big_frame(Nd2Layout::nis4_lv, 1, 6, false)},
        {"xml_raw_2c.nd2", big_frame(Nd2Layout::nis3_xml, 2, 2, false)},
        {"aligned_raw_8bit.nd2", big_frame(Nd2Layout::nis5_aligned, 3, 1, false, 8)},
        {"lv_zlib_2c_pad.nd2", big_frame(Nd2Layout::nis4_lv, 2, 4, true)},
        {"lv_zlib_1c.nd2", big_frame(Nd2Layout::nis4_lv, 1, 0, true)},
        {"lv_raw_u32.nd2", big_frame(Nd2Layout::nis4_lv, 2, 0, false, 32)},
    };
    for (const Case& c : cases) {
        write_bytes(d / c.name, make_nd2(c.spec));
        for (uint32_t seq = 0; seq < 2; ++seq)
            for (uint32_t k = 0; k < c.spec.comp; ++k)
                for (uint32_t band : {1u, 7u, 29u}) expect_bands_equal_whole(d / c.name, {0, seq, k}, band);
    }
    // Rows of several MB: a band takes several reads of whole rows (8 MB at most), a zlib frame
    // several pieces of packed data.
    struct Wide {
        const char* name;
        uint32_t width, comp, padding;
        bool zlib;
    };
    for (const Wide& c : {Wide{"wide_raw_1c.nd2", 1000000, 1, 2, false}, Wide{"wide_raw_2c.nd2", 600000, 2, 4, false},
                          Wide{"wide_zlib_2c.nd2", 500000, 2, 0, true}}) {
        Nd2Spec s = big_frame(Nd2Layout::nis4_lv, c.comp, c.padding, c.zlib);
        s.width = c.width;
        s.height = 5;
        s.loops = {};
        write_bytes(d / c.name, make_nd2(s));
        for (uint32_t k = 0; k < c.comp; ++k) expect_bands_equal_whole(d / c.name, {0, 0, k}, 5);
    }
    // And against the writer's own pixels, not only the whole-frame path.
    const auto handle = source::open(d / "lv_zlib_2c_pad.nd2");
    auto rows = decoder_for(*handle).open_rows(*handle, {0, 1, 1});
    ASSERT_TRUE(rows);
    std::vector<uint16_t> band(37 * 5);
    rows->read(20, 5, reinterpret_cast<std::byte*>(band.data()));
    for (uint32_t y = 0; y < 5; ++y)
        for (uint32_t x = 0; x < 37; ++x) ASSERT_EQ(band[y * 37 + x], pixel(1, 1, x, 20 + y)) << x << "," << y;
    fs::remove_all(d);
}

TEST(ContainerRows, Nd2ZlibBandsOutOfOrderRestartTheStream) {
    const fs::path d = fresh_dir("nd2_rows_order");
    const Nd2Spec s = big_frame(Nd2Layout::nis4_lv, 2, 4, true);
    write_bytes(d / "z.nd2", make_nd2(s));
    const auto handle = source::open(d / "z.nd2");
    auto rows = decoder_for(*handle).open_rows(*handle, {0, 0, 1});
    ASSERT_TRUE(rows);
    std::vector<uint16_t> band(37 * 3);
    for (uint32_t y0 : {20u, 3u, 26u, 0u, 0u}) {
        rows->read(y0, 3, reinterpret_cast<std::byte*>(band.data()));
        for (uint32_t y = 0; y < 3; ++y)
            for (uint32_t x = 0; x < 37; ++x) ASSERT_EQ(band[y * 37 + x], pixel(0, 1, x, y0 + y)) << y0;
    }
    fs::remove_all(d);
}

TEST(ContainerRows, Nd2DamagedFramesFailNamingTheFile) {
    const fs::path d = fresh_dir("nd2_rows_bad");
    // A zlib frame whose stream is cut: the bands before the cut read, the band past it fails.
    Nd2Spec cut = big_frame(Nd2Layout::nis4_lv, 1, 0, true);
    cut.edit = [](const std::string& name, std::string& data) {
        if (name.rfind("ImageDataSeq|", 0) == 0) data.resize(data.size() * 2 / 3);
    };
    write_bytes(d / "cut.nd2", make_nd2(cut));
    {
        const auto handle = source::open(d / "cut.nd2");
        auto rows = decoder_for(*handle).open_rows(*handle, {0, 0, 0});
        ASSERT_TRUE(rows);
        std::vector<uint16_t> band(37 * 29);
        const std::string e = error_of([&] { rows->read(0, 29, reinterpret_cast<std::byte*>(band.data())); });
        EXPECT_NE(e.find("cut.nd2"), std::string::npos) << e;
        EXPECT_NE(e.find("zlib"), std::string::npos) << e;
    }
    // Corrupt zlib data.
    Nd2Spec bad = big_frame(Nd2Layout::nis4_lv, 1, 0, true);
    bad.edit = [](const std::string& name, std::string& data) {
        if (name.rfind("ImageDataSeq|", 0) == 0)
            for (size_t i = 8 + 2; i < data.size(); i += 3) data[i] = char(data[i] ^ 0x5A);
    };
    write_bytes(d / "bad.nd2", make_nd2(bad));
    {
        const auto handle = source::open(d / "bad.nd2");
        auto rows = decoder_for(*handle).open_rows(*handle, {0, 0, 0});
        ASSERT_TRUE(rows);
        std::vector<uint16_t> band(37 * 29);
        const std::string e = error_of([&] { rows->read(0, 29, reinterpret_cast<std::byte*>(band.data())); });
        EXPECT_NE(e.find("bad.nd2"), std::string::npos) << e;
    }
    // A raw frame chunk shorter than its rows: refused when opened, before any read.
    Nd2Spec shortraw = big_frame(Nd2Layout::nis4_lv, 2, 0, false);
    shortraw.edit = [](const std::string& name, std::string& data) {
        if (name.rfind("ImageDataSeq|", 0) == 0) data.resize(data.size() - 10);
    };
    write_bytes(d / "short.nd2", make_nd2(shortraw));
    {
        const auto handle = source::open(d / "short.nd2");
        const std::string e = error_of([&] { decoder_for(*handle).open_rows(*handle, {0, 0, 0}); });
        EXPECT_NE(e.find("short.nd2"), std::string::npos) << e;
        EXPECT_NE(e.find("fewer than"), std::string::npos) << e;
        EXPECT_NE(error_of([&] { decoder_for(*handle).open_rows(*handle, {0, 0, 2}); }).find("component 2 does not exist"),
                  std::string::npos);
    }
    fs::remove_all(d);
}

TEST(ContainerRows, Nd2LegacyFramesAreReadWhole) {
    const fs::path d = fresh_dir("nd2_rows_legacy");
    Nd2LegacySpec s;
    write_bytes(d / "old.nd2", make_nd2_legacy(s).bytes);
    const auto handle = source::open(d / "old.nd2");
    EXPECT_EQ(decoder_for(*handle).open_rows(*handle, {0, 0, 0}), nullptr);
    fs::remove_all(d);
}

// ---- LIF ---------------------------------------------------------------------------------------

struct LifDim {
    int id;
    uint64_t count, inc;
};

// The XML header of a file with one image of `dims` (ids 1 X, 2 Y, 3 Z, 10 tiles) and channels at
// byte offsets `channels`, 16-bit, up to the header of its memory block of `block` bytes.
std::string lif_header(const std::vector<LifDim>& dims, const std::vector<uint64_t>& channels, uint64_t block) {
    std::string chans, ds;
    for (uint64_t c : channels) chans += lif::channel(c, 16, "C" + std::to_string(c));
    for (auto& d : dims) ds += lif::dim(d.id, d.count, d.inc);
    return lif::make_lif(lif::document(lif::image("img", chans, ds, "MemBlock_1", block)), {{"MemBlock_0", ""}}) +
           lif::block_header("MemBlock_1", block);
}

// A file whose memory block holds a distinct 16-bit value at every even offset.
std::string lif_file(const std::vector<LifDim>& dims, const std::vector<uint64_t>& channels, uint64_t block) {
    std::string data(block, '\0');
    for (uint64_t i = 0; i + 1 < block; i += 2) {
        const uint16_t v = uint16_t(i * 7 / 2 + 13);
        std::memcpy(data.data() + i, &v, 2);
    }
    return lif_header(dims, channels, block) + data;
}

TEST(ContainerRows, LifBandsEqualTheWholePlaneInAnyDimensionOrder) {
    const fs::path d = fresh_dir("lif_rows");
    constexpr uint64_t w = 23, h = 17, b = 2;
    struct Case {
        const char* name;
        std::vector<LifDim> dims;
        std::vector<uint64_t> channels;
        uint64_t block;
    };
    const std::vector<Case> cases = {
        // X, Y back to back, two channel planes, Z outermost.
        {"plain.lif", {{1, w, b}, {2, h, w * b}, {3, 2, 2 * w * h * b}}, {0, w * h * b}, 4 * w * h * b},
        // Three channels interleaved per pixel.
        {"interleaved.lif", {{1, w, 3 * b}, {2, h, 3 * w * b}}, {0, b, 2 * b}, 3 * w * h * b},
        // Y innermost (column-major planes), two channels after the plane.
        {"y_inner.lif", {{2, h, b}, {1, w, h * b}}, {0, w * h * b}, 2 * w * h * b},
        // Z between X and Y, with rows padded by 6 bytes.
        {"z_between.lif", {{1, w, b}, {3, 3, w * b}, {2, h, 3 * w * b + 6}}, {0}, (3 * w * b + 6) * h},
        // Mosaic tiles (DimID 10), each tile a plane of its own.
        {"tiles.lif", {{1, w, b}, {2, h, w * b}, {10, 3, w * h * b}}, {0}, 3 * w * h * b},
        // Rows of 4 MB (two interleaved channels): a band read two rows at a time (8 MB at most).
        {"wide_rows.lif", {{1, 1000000, 2 * b}, {2, 7, 2 * b * 1000000}}, {0, b}, 2 * b * 1000000 * 7},
        // Y innermost, a million columns of 5 rows: a band read a few hundred thousand columns at a time.
        {"wide_columns.lif", {{2, 5, b}, {1, 1000000, 5 * b}}, {0}, 5 * b * 1000000},
    };
    for (const Case& c : cases) {
        write_bytes(d / c.name, lif_file(c.dims, c.channels, c.block));
        const auto handle = source::open(d / c.name);
        const uint32_t pages = decoder_for(*handle).page_count(*handle);
        ASSERT_GE(pages, 1u) << c.name;
        for (uint32_t p = 0; p < pages; ++p)
            for (uint32_t band : {1u, 5u, 17u}) expect_bands_equal_whole(d / c.name, {0, p, 0}, band);
    }
    // And against the block's own values: y_inner.lif, channel 1, pixel (x, y) at
    // w*h*b + x*h*b + y*b, holding (offset * 7 / 2 + 13).
    const auto handle = source::open(d / "y_inner.lif");
    auto rows = decoder_for(*handle).open_rows(*handle, {0, 1, 0});
    ASSERT_TRUE(rows);
    std::vector<uint16_t> band(w * 4);
    rows->read(9, 4, reinterpret_cast<std::byte*>(band.data()));
    for (uint64_t y = 0; y < 4; ++y)
        for (uint64_t x = 0; x < w; ++x) {
            const uint64_t off = w * h * b + x * h * b + (9 + y) * b;
            ASSERT_EQ(band[y * w + x], uint16_t(off * 7 / 2 + 13)) << x << "," << y;
        }
    EXPECT_NE(error_of([&] { decoder_for(*handle).open_rows(*handle, {0, 1, 1}); }).find("one sample"), std::string::npos);
    fs::remove_all(d);
}

// A plane of 47000 x 47000 uint16 (4.1 GiB, more than a plane read whole may take) in a sparse
// file: read whole it is refused, band by band its first and last rows are read.
TEST(ContainerRows, LifPlaneAbove4GiBIsReadInBands) {
    const fs::path d = fresh_dir("lif_rows_big");
    constexpr uint64_t w = 47000, h = 47000;
    const std::string head = lif_header({{1, w, 2}, {2, h, 2 * w}}, {0}, 2 * w * h);
    {
        std::ofstream out(d / "big.lif", std::ios::binary);
        out.write(head.data(), std::streamsize(head.size()));
    }
    // Rows 1 and h - 1 start with a known value; the rest stays a hole of zeros.
    std::error_code ec;
    fs::resize_file(d / "big.lif", head.size() + 2 * w * h, ec);
    if (ec) GTEST_SKIP() << "cannot make a sparse file of " << 2 * w * h << " bytes: " << ec.message();
    {
        std::fstream out(d / "big.lif", std::ios::binary | std::ios::in | std::ios::out);
        const uint16_t a = 4242, z = 999;
        out.seekp(std::streamoff(head.size() + 2 * w + 2));
        out.write(reinterpret_cast<const char*>(&a), 2);
        out.seekp(std::streamoff(head.size() + 2 * w * (h - 1) + 2 * (w - 1)));
        out.write(reinterpret_cast<const char*>(&z), 2);
    }
    const auto handle = source::open(d / "big.lif");
    const PixelDecoder& dec = decoder_for(*handle);
    Plane whole;
    EXPECT_NE(error_of([&] { dec.read(*handle, {0, 0, 0}, whole); }).find("more than 4 GiB"), std::string::npos);
    auto rows = dec.open_rows(*handle, {0, 0, 0});
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->width(), w);
    EXPECT_EQ(rows->height(), h);
    std::vector<uint16_t> band(w * 2);
    rows->read(0, 2, reinterpret_cast<std::byte*>(band.data()));
    EXPECT_EQ(band[w + 1], 4242);
    EXPECT_EQ(band[0], 0);
    rows->read(uint32_t(h - 2), 2, reinterpret_cast<std::byte*>(band.data()));
    EXPECT_EQ(band[2 * w - 1], 999);
    fs::remove_all(d);
}

}  // namespace
