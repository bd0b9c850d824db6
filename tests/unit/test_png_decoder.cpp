// PNG decoder: fixtures written with libpng in every colour type and depth (every pixel checked),
// truncated and hostile files, and the real 16-bit samples (expected values from Pillow).
#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include "test_util.h"
#include "core/types.h"
#include "formats/builtin.h"
#include "formats/reader.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

struct PngSpec {
    uint32_t width = 29, height = 13;
    int color_type = PNG_COLOR_TYPE_GRAY;
    int bit_depth = 8;
    bool interlaced = false;
    bool trns = false;  // adds a tRNS chunk: a palette's becomes alpha (a sample), a gray image's does not
};

int channels_of(int color_type) {
    switch (color_type) {
        case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
        case PNG_COLOR_TYPE_RGB: return 3;
        case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
        default: return 1;
    }
}

// The value stored in the file at (x, y), channel c (palette index for palette images).
unsigned stored(const PngSpec& s, uint32_t x, uint32_t y, int c) {
    const unsigned max = (1u << s.bit_depth) - 1;
    return (x * 37 + y * 101 + unsigned(c) * 5003 + 7) % (max + 1);
}

png_color palette_entry(unsigned i) { return png_color{png_byte(i * 3), png_byte(255 - i), png_byte(i * 7 + 1)}; }

// Samples the decoder gives: every channel of the file; palettes R, G, B (+ A from tRNS).
unsigned samples_of(const PngSpec& s) {
    return s.color_type == PNG_COLOR_TYPE_PALETTE ? (s.trns ? 4 : 3) : unsigned(channels_of(s.color_type));
}

// What the decoder must return for (x, y) and sample s.
unsigned expected(const PngSpec& s, uint32_t x, uint32_t y, unsigned sample) {
    if (s.color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color e = palette_entry(stored(s, x, y, 0));
        return sample == 0 ? e.red : sample == 1 ? e.green : sample == 2 ? e.blue : 128;  // tRNS alpha: 128
    }
    unsigned v = stored(s, x, y, int(sample));
    if (s.bit_depth < 8) v = v * 255 / ((1u << s.bit_depth) - 1);  // libpng scales to the 8-bit range
    return v;
}

void write_png_fixture(const fs::path& file, const PngSpec& s) {
    FILE* fp = std::fopen(file.c_str(), "wb");
    ASSERT_NE(fp, nullptr);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    ASSERT_FALSE(setjmp(png_jmpbuf(png)));
    png_init_io(png, fp);
    png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type,
                 s.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s.color_type == PNG_COLOR_TYPE_PALETTE) {
        std::vector<png_color> pal;
        for (unsigned i = 0; i < (1u << s.bit_depth); ++i) pal.push_back(palette_entry(i));
        png_set_PLTE(png, info, pal.data(), int(pal.size()));
        if (s.trns) {
            std::vector<png_byte> alpha(pal.size(), 128);
            png_set_tRNS(png, info, alpha.data(), int(alpha.size()), nullptr);
        }
    } else if (s.trns) {
        png_color_16 t{};
        t.gray = 3;
        png_set_tRNS(png, info, nullptr, 0, &t);
    }
    png_write_info(png, info);
    const int ch = channels_of(s.color_type);
    const size_t row_bytes = (size_t(s.width) * ch * s.bit_depth + 7) / 8;
    std::vector<std::vector<png_byte>> rows(s.height, std::vector<png_byte>(row_bytes, 0));
    for (uint32_t y = 0; y < s.height; ++y)
        for (uint32_t x = 0; x < s.width; ++x)
            for (int c = 0; c < ch; ++c) {
                const unsigned v = stored(s, x, y, c);
                const size_t bit = (size_t(x) * ch + c) * s.bit_depth;
                if (s.bit_depth == 16) {
                    rows[y][bit / 8] = png_byte(v >> 8);  // PNG is big endian
                    rows[y][bit / 8 + 1] = png_byte(v & 0xff);
                } else if (s.bit_depth == 8) {
                    rows[y][bit / 8] = png_byte(v);
                } else {
                    rows[y][bit / 8] |= png_byte(v << (8 - s.bit_depth - bit % 8));  // MSB first
                }
            }
    std::vector<png_bytep> ptrs;
    for (auto& r : rows) ptrs.push_back(r.data());
    png_write_image(png, ptrs.data());
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    std::fclose(fp);
}

std::string read_bytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

using test::write_bytes;

using test::error_of;

uint32_t crc32_png(const unsigned char* p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

class PngDecoderTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::path(::testing::TempDir()) / ("imx_png_" + std::to_string(::getpid()) + "_" + info->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    void round_trip(const PngSpec& s, const std::string& name = "fixture.png") {
        const fs::path file = dir_ / name;
        write_png_fixture(file, s);
        auto dec = make_png_decoder();
        ASSERT_EQ(dec->page_count(*source::open(file)), 1u);
        const PageInfo info = dec->page_info(*source::open(file), 0);
        const bool colour = s.color_type & PNG_COLOR_MASK_COLOR;
        const unsigned samples = samples_of(s);
        // The inventory says the same: one page, every sample, RGB for colour images.
        const FileContents c = dec->contents(*source::open(file));
        ASSERT_EQ(c.runs.size(), 1u);
        EXPECT_EQ(c.runs[0].count, 1u);
        EXPECT_EQ(c.runs[0].samples, samples);
        EXPECT_EQ(c.runs[0].rgb, colour);
        EXPECT_TRUE(c.unreachable.empty());
        const DType dtype = s.bit_depth == 16 ? DType::u16 : DType::u8;
        EXPECT_EQ(info.width, s.width);
        EXPECT_EQ(info.height, s.height);
        EXPECT_EQ(info.samples, samples);
        EXPECT_EQ(info.dtype, dtype);
        for (unsigned sample = 0; sample < samples; ++sample) {
            Plane p;
            dec->read(*source::open(file), {0, 0, sample}, p);
            ASSERT_EQ(p.dtype, dtype);
            ASSERT_EQ(p.width, s.width);
            ASSERT_EQ(p.height, s.height);
            ASSERT_EQ(p.data.size(), p.byte_size());
            size_t bad = 0;
            for (uint32_t y = 0; y < s.height; ++y)
                for (uint32_t x = 0; x < s.width; ++x) {
                    const size_t i = size_t(y) * s.width + x;
                    const unsigned got = dtype == DType::u16 ? p.as<uint16_t>()[i] : p.as<uint8_t>()[i];
                    const unsigned want = expected(s, x, y, sample);
                    if (got != want && bad++ < 3)
                        ADD_FAILURE() << "(" << x << ", " << y << ") sample " << sample << ": got " << got
                                      << ", want " << want;
                }
            EXPECT_EQ(bad, 0u);
        }
        // The registry picks the PNG decoder by signature.
        Plane p;
        read_plane(*source::open(file), {0, 0, 0}, p);
        EXPECT_EQ(p.byte_size(), size_t(s.width) * s.height * dtype_size(dtype));
    }

    fs::path dir_;
};

}  // namespace

TEST_F(PngDecoderTest, Gray8) { round_trip(PngSpec{}); }

TEST_F(PngDecoderTest, Gray16IsSwappedToLittleEndian) {
    PngSpec s;
    s.bit_depth = 16;
    round_trip(s);
    Plane p;
    make_png_decoder()->read(*source::open(dir_ / "fixture.png"), {0, 0, 0}, p);
    // Explicit value check at (x=3, y=2): (3*37 + 2*101 + 7) % 65536 = 320 = 0x0140.
    EXPECT_EQ(p.as<uint16_t>()[2 * s.width + 3], 320);
}

TEST_F(PngDecoderTest, Rgb8And16SamplesAreChannels) {
    PngSpec s;
    s.color_type = PNG_COLOR_TYPE_RGB;
    round_trip(s, "rgb8.png");
    s.bit_depth = 16;
    round_trip(s, "rgb16.png");
}

TEST_F(PngDecoderTest, AlphaIsASampleOfItsOwn) {
    PngSpec s;
    s.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
    round_trip(s, "ga8.png");
    s.bit_depth = 16;
    round_trip(s, "ga16.png");
    s.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
    s.bit_depth = 8;
    round_trip(s, "rgba8.png");
    s.bit_depth = 16;
    round_trip(s, "rgba16.png");
    Plane p;
    EXPECT_NE(error_of([&] { make_png_decoder()->read(*source::open(dir_ / "rgba16.png"), {0, 0, 4}, p); }).find("sample 4 does not exist"),
              std::string::npos);
}

TEST_F(PngDecoderTest, PaletteExpandsToRgb) {
    PngSpec s;
    s.color_type = PNG_COLOR_TYPE_PALETTE;
    round_trip(s, "pal8.png");
    s.bit_depth = 4;
    s.trns = true;  // palette transparency becomes alpha: a fourth sample
    round_trip(s, "pal4_trns.png");
}

TEST_F(PngDecoderTest, LowBitGrayExpandsTo8Bit) {
    for (int depth : {1, 2, 4}) {
        PngSpec s;
        s.bit_depth = depth;
        round_trip(s, "gray" + std::to_string(depth) + ".png");
    }
    PngSpec s;
    s.trns = true;
    round_trip(s, "gray8_trns.png");
}

TEST_F(PngDecoderTest, InterlacedImages) {
    PngSpec s;
    s.interlaced = true;
    s.bit_depth = 16;
    round_trip(s, "adam7_gray16.png");
    s.color_type = PNG_COLOR_TYPE_RGB;
    s.bit_depth = 8;
    round_trip(s, "adam7_rgb8.png");
}

TEST_F(PngDecoderTest, AcceptsBySignatureOrExtension) {
    auto dec = make_png_decoder();
    const unsigned char sig[] = {0x89, 'P', 'N', 'G', 13, 10, 26, 10};
    const unsigned char tif[] = {'I', 'I', 42, 0, 8, 0, 0, 0};
    EXPECT_TRUE(dec->accepts("x.bin", sig, sizeof sig));
    EXPECT_FALSE(dec->accepts("x.png", tif, sizeof tif));
    EXPECT_TRUE(dec->accepts("short.PNG", sig, 3));
    EXPECT_FALSE(dec->accepts("short.tif", sig, 3));
    EXPECT_EQ(dec->name(), "png");
}

TEST_F(PngDecoderTest, TruncatedFileThrowsNamingTheFile) {
    PngSpec s;
    s.width = 300;
    s.height = 200;
    s.bit_depth = 16;
    const fs::path file = dir_ / "cut.png";
    write_png_fixture(file, s);
    const std::string bytes = read_bytes(file);
    for (size_t keep : {bytes.size() / 2, bytes.size() - 20, size_t(30), size_t(5)}) {
        write_bytes(file, bytes.substr(0, keep));
        Plane p;
        ::testing::internal::CaptureStderr();
        const std::string e = error_of([&] { make_png_decoder()->read(*source::open(file), {0, 0, 0}, p); });
        EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");  // libpng says nothing itself
        EXPECT_EQ(e.rfind(file.string(), 0), 0u) << "kept " << keep << " bytes: " << e;
        // The inventory reads the header only: it says what a cut file with a whole header holds,
        // and names the file when the header itself is cut.
        if (keep >= 100) {
            EXPECT_EQ(make_png_decoder()->contents(*source::open(file)).runs.at(0).samples, 1u);
        } else {
            const std::string c = error_of([&] { make_png_decoder()->contents(*source::open(file)); });
            EXPECT_EQ(c.rfind(file.string(), 0), 0u) << "kept " << keep << " bytes: " << c;
        }
    }
}

TEST_F(PngDecoderTest, CorruptDataAndBadPagesThrow) {
    PngSpec s;
    s.width = 64;
    s.height = 64;
    const fs::path file = dir_ / "corrupt.png";
    write_png_fixture(file, s);
    std::string bytes = read_bytes(file);
    const size_t idat = bytes.find("IDAT");
    ASSERT_NE(idat, std::string::npos);
    for (size_t i = idat + 8; i < bytes.size() - 16; ++i) bytes[i] = char(bytes[i] ^ 0x5a);
    write_bytes(file, bytes);
    Plane p;
    std::string e = error_of([&] { make_png_decoder()->read(*source::open(file), {0, 0, 0}, p); });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    EXPECT_NE(e.find("libpng:"), std::string::npos) << e;  // libpng's reason travels in the Error

    write_png_fixture(file, s);
    e = error_of([&] { make_png_decoder()->read(*source::open(file), {0, 1, 0}, p); });
    EXPECT_NE(e.find("page 1 does not exist"), std::string::npos) << e;
    write_bytes(file, "not a png at all");
    e = error_of([&] { make_png_decoder()->page_count(*source::open(file)); });
    EXPECT_NE(e.find("not a PNG"), std::string::npos) << e;
}

TEST_F(PngDecoderTest, HostileDimensionsAreRefused) {
    PngSpec s;
    const fs::path file = dir_ / "huge.png";
    write_png_fixture(file, s);
    std::string bytes = read_bytes(file);
    // IHDR data starts at byte 16: width, height (big endian). Claim 900000 x 900000.
    auto put_be = [&](size_t at, uint32_t v) {
        for (int i = 0; i < 4; ++i) bytes[at + size_t(i)] = char((v >> (24 - 8 * i)) & 0xff);
    };
    put_be(16, 900000);
    put_be(20, 900000);
    put_be(29, crc32_png(reinterpret_cast<const unsigned char*>(bytes.data()) + 12, 17));  // "IHDR" + 13 bytes
    write_bytes(file, bytes);
    Plane p;
    const std::string e = error_of([&] { make_png_decoder()->read(*source::open(file), {0, 0, 0}, p); });
    EXPECT_EQ(e.rfind(file.string(), 0), 0u) << e;
    EXPECT_TRUE(p.data.empty()) << "allocated before refusing";
    // Sides up to the format's 2^31 - 1 are a header PNG allows (the plane is refused when read);
    // 2^31 is not a PNG.
    put_be(16, 0x7FFFFFFFu);
    put_be(29, crc32_png(reinterpret_cast<const unsigned char*>(bytes.data()) + 12, 17));
    write_bytes(file, bytes);
    EXPECT_EQ(make_png_decoder()->page_info(*source::open(file), 0).width, 0x7FFFFFFFu);
    EXPECT_NE(error_of([&] { make_png_decoder()->read(*source::open(file), {0, 0, 0}, p); }).find("-byte PNG can hold"), std::string::npos);
    put_be(16, 0x80000000u);
    put_be(29, crc32_png(reinterpret_cast<const unsigned char*>(bytes.data()) + 12, 17));
    write_bytes(file, bytes);
    EXPECT_EQ(error_of([&] { make_png_decoder()->page_info(*source::open(file), 0); }).rfind(file.string(), 0), 0u);
}

TEST(PngSamples, Real16BitImagesMatchAnIndependentReader) {
    const fs::path root = IMX_SAMPLES_DIR;
    if (!fs::is_directory(root)) GTEST_SKIP() << "samples folder " << root << " is absent; conformance test skipped";
    struct Expect {
        const char* path;
        int64_t sum, weighted;
        unsigned at_10_20, at_100_140, last;  // last = bottom-right pixel
    };
    // From Pillow: sum, sum of v[i] * (i % 7 + 1), a[10, 20], a[100, 140], a[-1, -1].
    const Expect files[] = {
        {"png16/cellprofiler-examples/0_1_N_G.png", 52355325938, 209429327679, 33279, 33023, 33023},
        {"png16/cellprofiler-examples/0_1_N_R.png", 23308394488, 93233508568, 15360, 16128, 16128},
    };
    auto dec = make_png_decoder();
    for (const auto& f : files) {
        SCOPED_TRACE(f.path);
        Plane p;
        dec->read(*source::open(root / f.path), {0, 0, 0}, p);
        ASSERT_EQ(p.dtype, DType::u16);
        ASSERT_EQ(p.width, 1392u);
        ASSERT_EQ(p.height, 1040u);
        int64_t sum = 0, weighted = 0;
        for (size_t i = 0; i < p.pixel_count(); ++i) {
            sum += p.as<uint16_t>()[i];
            weighted += int64_t(p.as<uint16_t>()[i]) * int64_t(i % 7 + 1);
        }
        EXPECT_EQ(sum, f.sum);
        EXPECT_EQ(weighted, f.weighted);
        EXPECT_EQ(p.as<uint16_t>()[10 * 1392 + 20], f.at_10_20);
        EXPECT_EQ(p.as<uint16_t>()[100 * 1392 + 140], f.at_100_140);
        EXPECT_EQ(p.as<uint16_t>()[p.pixel_count() - 1], f.last);
        EXPECT_EQ(dec->page_info(*source::open(root / f.path), 0).bits_per_sample, 16);
    }
}
