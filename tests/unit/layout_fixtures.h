// Helpers for the screening-layout tests (Harmony, InCell, ScanR): temporary folders, small
// 16-bit TIFF planes whose pixels encode a number, and the check that a plane record decodes to
// exactly those pixels through the registry's decoders.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "render/image_writer.h"
#include "formats/reader.h"
#include "storage/source_files.h"

namespace imx::test {

inline std::filesystem::path layout_dir(const std::string& name) {
    auto d = std::filesystem::temp_directory_path() / ("imx_layout_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
}

inline void write_text(const std::filesystem::path& f, const std::string& s) {
    std::filesystem::create_directories(f.parent_path());
    std::ofstream(f, std::ios::binary) << s;
}

constexpr uint32_t kFixtureW = 7, kFixtureH = 5;

// Pixel (x, y) of fixture plane `tag` is tag * 100 + y * kFixtureW + x.
inline Plane fixture_plane(int tag) {
    Plane p;
    p.allocate(DType::u16, kFixtureW, kFixtureH);
    for (uint32_t i = 0; i < p.pixel_count(); ++i) p.as<uint16_t>()[i] = uint16_t(tag * 100 + int(i));
    return p;
}

inline void write_fixture_tiff(const std::filesystem::path& f, int tag, TiffCompression c = TiffCompression::none) {
    std::filesystem::create_directories(f.parent_path());
    write_tiff(f, fixture_plane(tag), c);
}

// Decodes the plane that `rec` points at and checks it is fixture plane `tag`, pixel by pixel.
inline void expect_fixture_pixels(const std::filesystem::path& source, const PlaneRecord& rec, int tag) {
    Plane got;
    read_plane(*source::open(resolve_inside(source, rec.file)), {0, rec.page, rec.sample}, got);
    ASSERT_EQ(got.dtype, DType::u16) << rec.file;
    ASSERT_EQ(got.width, kFixtureW) << rec.file;
    ASSERT_EQ(got.height, kFixtureH) << rec.file;
    Plane want = fixture_plane(tag);
    for (uint32_t i = 0; i < want.pixel_count(); ++i)
        ASSERT_EQ(got.as<uint16_t>()[i], want.as<uint16_t>()[i]) << rec.file << " pixel " << i;
}

}  // namespace imx::test
