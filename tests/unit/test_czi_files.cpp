// Zeiss CZI: truncated and corrupted variants of synthetic files (clear errors, never a crash), and
// the real samples (values confirmed by tests/oracle/czi_oracle.py and a Bio-Formats OME-TIFF).
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
