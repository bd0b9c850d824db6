// TIFF decoder: synthetic fixtures written with libtiff itself (every pixel checked), hostile and
// truncated files. Conformance against the real samples: test_tiff_samples.cpp.
#include <gtest/gtest.h>
#include <tiffio.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include "test_util.h"
#include "tiff_fixture.h"
#include "core/types.h"
#include "formats/builtin.h"
#include "formats/reader.h"
#include "formats/tiff/tiff_decoder.h"
#include "storage/source_files.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {

class TiffDecoderTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::path(::testing::TempDir()) /
               ("imx_tiff_" + std::to_string(::getpid()) + "_" + info->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // Writes, then decodes every page and sample through the decoder and the registry.
    void round_trip(const TiffSpec& spec, uint32_t pages = 1, const std::string& name = "fixture.tif") {
        const fs::path file = dir_ / name;
        write_fixture(file, spec, pages);
        auto dec = make_tiff_decoder();
        ASSERT_EQ(dec->page_count(*source::open(file)), pages);
        for (uint32_t p = 0; p < pages; ++p) {
            PageInfo info = dec->page_info(*source::open(file), p);
            EXPECT_EQ(info.width, spec.width);
            EXPECT_EQ(info.height, spec.height);
            EXPECT_EQ(info.samples, spec.spp);
            EXPECT_EQ(info.dtype, spec.dtype);
            EXPECT_EQ(info.bits_per_sample, int(dtype_size(spec.dtype) * 8));
            for (uint32_t s = 0; s < spec.spp; ++s) {
                Plane plane;
                dec->read(*source::open(file), {0, p, s}, plane);
                expect_plane(plane, spec, p, s);
            }
        }
        // Band by band (bands of 7 rows cut strips of 5 and tiles of 16) gives the same pixels.
        const auto handle = source::open(file);
        for (uint32_t p = 0; p < pages; ++p)
            for (uint32_t s = 0; s < spec.spp; ++s) {
                auto rows = dec->open_rows(*handle, {0, p, s});
                ASSERT_TRUE(rows);
                Plane banded;
                banded.allocate(spec.dtype, rows->width(), rows->height());
                const size_t row_bytes = size_t(spec.width) * dtype_size(spec.dtype);
                for (uint32_t y = 0; y < spec.height; y += 7)
                    rows->read(y, std::min(7u, spec.height - y), banded.data.data() + y * row_bytes);
                expect_plane(banded, spec, p, s);
            }
        Plane via_registry;
        read_plane(*source::open(file), {0, pages - 1, uint32_t(spec.spp - 1)}, via_registry);
        expect_plane(via_registry, spec, pages - 1, spec.spp - 1);
    }

    fs::path dir_;
};

using test::error_of;

using test::write_bytes;

std::string read_bytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// A classic little-endian TIFF built by hand: header, one IFD right after it, then `data`.
// Lets tests claim sizes and offsets that libtiff would never write.
std::string craft_tiff(uint32_t width, uint32_t height, uint16_t bps, uint16_t compression,
                       const std::string& data, uint32_t strip_bytes_claimed = 0) {
    struct Tag { uint16_t tag, type; uint32_t count, value; };
    const uint16_t ntags = 9;
    const uint32_t data_offset = 8 + 2 + ntags * 12 + 4;
    std::vector<Tag> tags = {
        {256, 4, 1, width}, {257, 4, 1, height}, {258, 3, 1, bps}, {259, 3, 1, compression},
        {262, 3, 1, 1}, {273, 4, 1, data_offset}, {277, 3, 1, 1}, {278, 4, 1, height},
        {279, 4, 1, strip_bytes_claimed ? strip_bytes_claimed : uint32_t(data.size())}};
    std::string out = std::string("II*\0", 4);
    auto put32 = [&](uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
    auto put16 = [&](uint16_t v) { out.append(reinterpret_cast<const char*>(&v), 2); };
    put32(8);
    put16(ntags);
    for (auto& t : tags) {
        put16(t.tag);
        put16(t.type);
        put32(t.count);
        if (t.type == 3) {
            put16(uint16_t(t.value));
            put16(0);
        } else {
            put32(t.value);
        }
    }
    put32(0);
    return out + data;
}

}  // namespace

// ---- pixel types, layouts, compressions ---------------------------------------------------------

TEST_F(TiffDecoderTest, Uint8Strips) {
    TiffSpec s;
    s.dtype = DType::u8;
    round_trip(s);
}

TEST_F(TiffDecoderTest, Uint16LzwWithPredictor) {
    TiffSpec s;
    s.compression = COMPRESSION_LZW;
    s.predictor = PREDICTOR_HORIZONTAL;
    round_trip(s);
}

TEST_F(TiffDecoderTest, Int16DeflateTiles) {
    TiffSpec s;
    s.dtype = DType::i16;
    s.compression = COMPRESSION_ADOBE_DEFLATE;
    s.tiled = true;
    round_trip(s);
}

TEST_F(TiffDecoderTest, Uint32PackBits) {
    TiffSpec s;
    s.dtype = DType::u32;
    s.compression = COMPRESSION_PACKBITS;
    round_trip(s);
}

TEST_F(TiffDecoderTest, Int8AndInt32) {
    TiffSpec s;
    s.dtype = DType::i8;
    round_trip(s, 1, "i8.tif");
    s.dtype = DType::i32;
    s.compression = COMPRESSION_LZW;
    round_trip(s, 1, "i32.tif");
}

TEST_F(TiffDecoderTest, Float32ZstdWithFloatPredictor) {
    TiffSpec s;
    s.dtype = DType::f32;
    s.compression = COMPRESSION_ZSTD;
    s.predictor = PREDICTOR_FLOATINGPOINT;
    round_trip(s);
    // Spot-check real values, not just bytes: x*0.5 - y*1.25 + page + sample*0.1.
    Plane p;
    make_tiff_decoder()->read(*source::open(dir_ / "fixture.tif"), {0, 0, 0}, p);
    EXPECT_FLOAT_EQ(p.as<float>()[3 * 37 + 10], 10 * 0.5f - 3 * 1.25f);
}

TEST_F(TiffDecoderTest, BigTiffMultiPageTiles) {
    TiffSpec s;
    s.mode = "w8";
    s.tiled = true;
    s.compression = COMPRESSION_ZSTD;
    round_trip(s, 3);
    EXPECT_EQ(read_bytes(dir_ / "fixture.tif").substr(0, 4), std::string("II+\0", 4));
}

TEST_F(TiffDecoderTest, MultiPageStripsReadInAnyOrder) {
    TiffSpec s;
    s.compression = COMPRESSION_LZW;
    const fs::path file = dir_ / "pages.tif";
    write_fixture(file, s, 6);
    auto dec = make_tiff_decoder();
    ASSERT_EQ(dec->page_count(*source::open(file)), 6u);
    for (uint32_t p : {5u, 0u, 3u, 1u, 4u, 2u}) {
        Plane plane;
        dec->read(*source::open(file), {0, p, 0}, plane);
        expect_plane(plane, s, p, 0);
    }
}

TEST_F(TiffDecoderTest, BigEndianFileGivesLittleEndianPlanes) {
    TiffSpec s;
    s.mode = "wb";
    round_trip(s, 2);
    EXPECT_EQ(read_bytes(dir_ / "fixture.tif").substr(0, 2), "MM");
    TiffSpec f;
    f.mode = "wb";
    f.dtype = DType::f32;
    round_trip(f, 1, "float_be.tif");
}

TEST_F(TiffDecoderTest, RgbContiguousStripsSplitIntoChannels) {
    TiffSpec s;
    s.dtype = DType::u8;
    s.spp = 3;
    round_trip(s);
}

TEST_F(TiffDecoderTest, RgbSeparatePlanesStrips) {
    TiffSpec s;
    s.spp = 3;
    s.planar = PLANARCONFIG_SEPARATE;
    s.compression = COMPRESSION_LZW;
    round_trip(s);
}

TEST_F(TiffDecoderTest, MultiSampleTilesContiguousAndSeparate) {
    TiffSpec s;
    s.spp = 4;
    s.tiled = true;
    s.compression = COMPRESSION_ADOBE_DEFLATE;
    round_trip(s, 2, "contig.tif");
    s.planar = PLANARCONFIG_SEPARATE;
    s.dtype = DType::f32;
    round_trip(s, 2, "separate.tif");
}

TEST_F(TiffDecoderTest, WholeImageInOneStrip) {
    TiffSpec s;
    s.rows_per_strip = 1000;  // larger than the image: libtiff clamps it
    s.spp = 2;
    round_trip(s);
}

// ---- metadata helpers -------------------------------------------------------------------------

TEST_F(TiffDecoderTest, ImageDescriptionPerPage) {
    TiffSpec s;
    s.descriptions = {"<OME>first</OME>", "", "third page"};
    const fs::path file = dir_ / "desc.tif";
    write_fixture(file, s, 3);
    EXPECT_EQ(tiff_image_description(*source::open(file)), "<OME>first</OME>");
    EXPECT_EQ(tiff_image_description(*source::open(file), 1), "");
    EXPECT_EQ(tiff_image_description(*source::open(file), 2), "third page");
    EXPECT_EQ(tiff_page_count(*source::open(file)), 3u);
    std::string e = error_of([&] { tiff_image_description(*source::open(file), 3); });
    EXPECT_NE(e.find(file.string()), std::string::npos) << e;
    EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
}

TEST_F(TiffDecoderTest, AcceptsByMagicAndShortHeadByExtension) {
    auto dec = make_tiff_decoder();
    const unsigned char ii[] = {'I', 'I', 42, 0, 8, 0, 0, 0};
    const unsigned char mm[] = {'M', 'M', 0, 42, 0, 0, 0, 8};
    const unsigned char big_ii[] = {'I', 'I', 43, 0, 8, 0, 0, 0};
    const unsigned char big_mm[] = {'M', 'M', 0, 43, 0, 8, 0, 0};
    const unsigned char png[] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10};
    EXPECT_TRUE(dec->accepts("x.dat", ii, sizeof ii));
    EXPECT_TRUE(dec->accepts("x.dat", mm, sizeof mm));
    EXPECT_TRUE(dec->accepts("x.dat", big_ii, sizeof big_ii));
    EXPECT_TRUE(dec->accepts("x.dat", big_mm, sizeof big_mm));
    EXPECT_FALSE(dec->accepts("x.tif", png, sizeof png));  // a PNG misnamed .tif is not ours
    EXPECT_TRUE(dec->accepts("short.TIF", ii, 2));
    EXPECT_TRUE(dec->accepts("short.stk", nullptr, 0));
    EXPECT_TRUE(dec->accepts("short.tiff", nullptr, 0));
    EXPECT_FALSE(dec->accepts("short.png", nullptr, 0));
    EXPECT_EQ(dec->name(), "tiff");
}

// ---- errors and untrusted input ---------------------------------------------------------------

TEST_F(TiffDecoderTest, PageAndSampleOutOfRange) {
    TiffSpec s;
    const fs::path file = dir_ / "two.tif";
    write_fixture(file, s, 2);
    auto dec = make_tiff_decoder();
    Plane p;
    std::string e = error_of([&] { dec->read(*source::open(file), {0, 2, 0}, p); });
    EXPECT_NE(e.find(file.string()), std::string::npos) << e;
    EXPECT_NE(e.find("page 2 does not exist (the file has 2 pages)"), std::string::npos) << e;
    e = error_of([&] { dec->page_info(*source::open(file), 99); });
    EXPECT_NE(e.find("does not exist"), std::string::npos) << e;
    e = error_of([&] { dec->read(*source::open(file), {0, 1, 1}, p); });
    EXPECT_NE(e.find("sample 1 does not exist"), std::string::npos) << e;
}

TEST_F(TiffDecoderTest, TruncatedFilesThrowNamingTheFile) {
    for (uint16_t compression : {uint16_t(COMPRESSION_NONE), uint16_t(COMPRESSION_LZW)}) {
        TiffSpec s;
        s.width = 300;
        s.height = 200;
        s.rows_per_strip = 16;
        s.compression = compression;
        const fs::path file = dir_ / ("cut" + std::to_string(compression) + ".tif");
        write_fixture(file, s, 1);
        const std::string bytes = read_bytes(file);
        write_bytes(file, bytes.substr(0, bytes.size() / 2));  // libtiff puts the IFD at the end
        Plane p;
        std::string e = error_of([&] { make_tiff_decoder()->read(*source::open(file), {0, 0, 0}, p); });
        EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;  // message starts with the file
        EXPECT_EQ(error_of([&] { make_tiff_decoder()->page_count(*source::open(file)); }).find("no exception"), std::string::npos);
    }
}

TEST_F(TiffDecoderTest, TruncatedStripDataWithIntactDirectory) {
    // IFD first, pixels after it; the last 100 bytes of pixels are missing.
    std::string pixels(64 * 64, '\x07');
    std::string bytes = craft_tiff(64, 64, 8, COMPRESSION_NONE, pixels);
    const fs::path file = dir_ / "short_strip.tif";
    write_bytes(file, bytes.substr(0, bytes.size() - 100));
    Plane p;
    std::string e = error_of([&] { make_tiff_decoder()->read(*source::open(file), {0, 0, 0}, p); });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    EXPECT_NE(e.find("strip 0"), std::string::npos) << e;
    // The intact version decodes: the hand-made writer itself is right.
    write_bytes(file, bytes);
    make_tiff_decoder()->read(*source::open(file), {0, 0, 0}, p);
    EXPECT_EQ(p.as<uint8_t>()[64 * 64 - 1], 7);
}

TEST_F(TiffDecoderTest, GarbageWithTiffMagicThrows) {
    const fs::path file = dir_ / "garbage.tif";
    std::string bytes("II*\0", 4);
    for (int i = 0; i < 4000; ++i) bytes += char((i * 7919) % 251);
    write_bytes(file, bytes);
    auto dec = make_tiff_decoder();
    Plane p;
    std::string e = error_of([&] {
        dec->page_count(*source::open(file));
        dec->read(*source::open(file), {0, 0, 0}, p);
    });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    // A header that points past the end of the file.
    write_bytes(file, std::string("MM\0*\x7f\xff\xff\xf0", 8));
    e = error_of([&] { dec->read(*source::open(file), {0, 0, 0}, p); });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    // Empty and missing files.
    write_bytes(file, "");
    EXPECT_EQ(error_of([&] { dec->page_count(*source::open(file)); }).rfind(file.string(), 0), 0u);
    EXPECT_NE(error_of([&] { dec->page_count(*source::open(dir_ / "missing.tif")); }).find("missing.tif"), std::string::npos);
}

TEST_F(TiffDecoderTest, HostileSizesAreRefusedBeforeAllocating) {
    auto dec = make_tiff_decoder();
    Plane p;
    // Uncompressed 100000 x 100000 x 16 bit in a 300-byte file.
    const fs::path file = dir_ / "huge.tif";
    write_bytes(file, craft_tiff(100000, 100000, 16, COMPRESSION_NONE, std::string(128, '\0'), 0xFFFFFFF0u));
    std::string e = error_of([&] { dec->read(*source::open(file), {0, 0, 0}, p); });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    EXPECT_NE(e.find("100000 x 100000"), std::string::npos) << e;
    EXPECT_TRUE(p.data.empty());
    // Read band by band, the plane is never allocated whole, but the claim is refused all the same.
    e = error_of([&] { dec->open_rows(*source::open(file), {0, 0, 0}); });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    EXPECT_NE(e.find("100000 x 100000"), std::string::npos) << e;
    // Deflate claiming 60000 x 60000 x 32 bit (14 GB) from a few bytes.
    write_bytes(file, craft_tiff(60000, 60000, 32, COMPRESSION_ADOBE_DEFLATE, std::string(64, 'x')));
    e = error_of([&] { dec->read(*source::open(file), {0, 0, 0}, p); });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    EXPECT_TRUE(p.data.empty());
    e = error_of([&] { dec->open_rows(*source::open(file), {0, 0, 0}); });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    // The geometry is still reported honestly.
    EXPECT_EQ(dec->page_info(*source::open(file), 0).width, 60000u);
}

TEST_F(TiffDecoderTest, UnsupportedBitDepthIsAClearError) {
    auto dec = make_tiff_decoder();
    const fs::path file = dir_ / "twelve.tif";
    write_bytes(file, craft_tiff(16, 4, 12, COMPRESSION_NONE, std::string(16 * 4 * 12 / 8, '\0')));
    Plane p;
    std::string e = error_of([&] { dec->read(*source::open(file), {0, 0, 0}, p); });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    EXPECT_NE(e.find("unsupported bit depth: 12"), std::string::npos) << e;
    write_bytes(file, craft_tiff(16, 4, 1, COMPRESSION_NONE, std::string(8, '\0')));
    e = error_of([&] { dec->page_info(*source::open(file), 0); });
    EXPECT_NE(e.find("unsupported bit depth: 1 "), std::string::npos) << e;
}

TEST_F(TiffDecoderTest, LibtiffMessagesAreCapturedNotPrinted) {
    const fs::path file = dir_ / "garbage.tif";
    write_bytes(file, std::string("II*\0\x10\0\0\0", 8) + std::string(64, '\xff'));
    Plane p;
    ::testing::internal::CaptureStderr();
    std::string e = error_of([&] { make_tiff_decoder()->read(*source::open(file), {0, 0, 0}, p); });
    const std::string printed = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(printed, "");
    EXPECT_NE(e.find("libtiff:"), std::string::npos) << e;  // libtiff's reason travels in the Error
}

TEST_F(TiffDecoderTest, ThreadsDecodeDifferentFilesAtOnce) {
    TiffSpec s;
    s.compression = COMPRESSION_LZW;
    s.tiled = true;
    write_fixture(dir_ / "good.tif", s, 3);
    write_bytes(dir_ / "bad.tif", std::string("II*\0\x10\0\0\0", 8) + std::string(64, '\xee'));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            auto dec = make_tiff_decoder();
            for (int i = 0; i < 25; ++i) {
                if ((t + i) % 2) {
                    std::string e = error_of([&] {
                        Plane p;
                        dec->read(*source::open(dir_ / "bad.tif"), {0, 0, 0}, p);
                    });
                    if (e.rfind((dir_ / "bad.tif").string(), 0) != 0) ++failures;
                } else {
                    Plane p;
                    const uint32_t page = uint32_t(i % 3);
                    dec->read(*source::open(dir_ / "good.tif"), {0, page, 0}, p);
                    unsigned char want[2];
                    value_bytes(DType::u16, page, 0, 36, 22, want);
                    if (std::memcmp(want, &p.data[(22 * 37 + 36) * 2], 2) != 0) ++failures;
                }
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
}

// ---- system calls -------------------------------------------------------------------------------

namespace {
// A local file that counts the reads made through it.
class CountingFile final : public source::File {
public:
    explicit CountingFile(const fs::path& p) : inner_(source::open(p)) {
        path_ = inner_->path();
        size_ = inner_->size();
    }
    void read_at(uint64_t offset, void* out, size_t len) const override {
        ++reads;
        inner_->read_at(offset, out, len);
    }
    mutable int reads = 0;

private:
    std::unique_ptr<source::File> inner_;
};
}  // namespace

// Uncompressed strips back to back (one strip per row, as many microscopes write them) are read
// with one read for the plane, not one per row; compressed strips and tiles that lie together are
// fetched with one read and decoded from memory; pixels as written. Big-endian uncompressed files
// take libtiff's strip-by-strip path (it swaps the bytes) and decode the same.
TEST_F(TiffDecoderTest, APlaneTakesAFewReadsNotOnePerStripOrTile) {
    struct Case {
        TiffSpec spec;
        bool one_read;
    };
    std::vector<Case> cases;
    TiffSpec rows;  // one strip per row
    rows.width = 64;
    rows.height = 300;
    rows.rows_per_strip = 1;
    cases.push_back({rows, true});
    TiffSpec rgb = rows;  // interleaved samples
    rgb.spp = 3;
    rgb.dtype = DType::u8;
    cases.push_back({rgb, true});
    TiffSpec planar = rgb;  // one plane per sample
    planar.planar = PLANARCONFIG_SEPARATE;
    cases.push_back({planar, true});
    TiffSpec whole = rows;  // one strip
    whole.rows_per_strip = 300;
    whole.dtype = DType::f32;
    cases.push_back({whole, true});
    TiffSpec deflate = rows;  // compressed strips: fetched together, decoded from memory
    deflate.compression = COMPRESSION_ADOBE_DEFLATE;
    cases.push_back({deflate, true});
    TiffSpec tiles = rows;  // 76 tiles of 16 x 16
    tiles.tiled = true;
    tiles.compression = COMPRESSION_LZW;
    cases.push_back({tiles, true});
    TiffSpec big_endian = rows;
    big_endian.mode = "wb";
    cases.push_back({big_endian, false});
    for (const Case& c : cases) {
        const fs::path file = dir_ / "strips.tif";
        write_fixture(file, c.spec, 2);
        for (uint32_t page = 0; page < 2; ++page)
            for (uint32_t s = 0; s < c.spec.spp; ++s) {
                CountingFile counted(file);
                Plane plane;
                read_plane(counted, {0, page, s}, plane);
                expect_plane(plane, c.spec, page, s);
                // Header, directories and strip tables take 6 to 23 reads (measured); rows took 300.
                if (c.one_read) {
                    EXPECT_LE(counted.reads, 24) << "spp " << c.spec.spp << " page " << page;
                }
            }
    }
}
