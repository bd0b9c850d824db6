// The CZI unit tests' synthetic files and fixture: a plate folder per test, planes whose pixels say
// where they come from (test_czi.cpp, test_czi_files.cpp).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <filesystem>
#include <string>

#include "czi_writer.h"
#include "test_util.h"
#include "core/types.h"
#include "formats/reader.h"
#include "storage/source_files.h"

namespace imx::test {

namespace fs = std::filesystem;

constexpr int32_t W = 16, H = 8;

// Pixel (x, y) of a Gray16 subblock written with `base`.
inline uint16_t value16(uint16_t base, int x, int y) { return uint16_t(base + x + y * W); }

inline std::string gray16(uint16_t base, int w = W, int h = H) {
    std::string s;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) put<uint16_t>(s, uint16_t(base + x + y * w));
    return s;
}

inline std::string gray8(uint8_t base, int w = W, int h = H) {
    std::string s;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) s.push_back(char(uint8_t(base + x + 3 * y)));
    return s;
}

inline std::string zstd_compress(const std::string& raw) {
    std::string out(ZSTD_compressBound(raw.size()), '\0');
    const size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 3);
    EXPECT_FALSE(ZSTD_isError(n));
    out.resize(n);
    return out;
}

// Hi/lo byte packing of 16-bit words: all low bytes, then all high bytes.
inline std::string hilo_pack(const std::string& raw) {
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

inline const PlaneRecord* find(const ImageSet& set, int row, int col, int site, int c, int z, int t) {
    for (auto& p : set.planes)
        if (p.row == row && p.col == col && p.site == site && p.channel == c && p.zplane == z && p.tpoint == t) return &p;
    return nullptr;
}


}  // namespace imx::test
