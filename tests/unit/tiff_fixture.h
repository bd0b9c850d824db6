// TIFF fixtures written with libtiff itself in a chosen layout (strips or tiles, samples, codec,
// byte order, BigTIFF), with a value at every pixel that the reading tests check.
#pragma once

#include <gtest/gtest.h>
#include <tiffio.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/types.h"
#include "render/image_writer.h"

namespace imx::test {

namespace fs = std::filesystem;

struct TiffSpec {
    uint32_t width = 37, height = 23;  // odd sizes: partial strips and edge tiles
    DType dtype = DType::u16;
    uint16_t spp = 1;
    uint16_t planar = PLANARCONFIG_CONTIG;
    uint16_t compression = COMPRESSION_NONE;
    uint16_t predictor = 0;
    bool tiled = false;
    uint32_t tile = 16;
    uint32_t rows_per_strip = 5;
    std::string mode = "w";  // "w8" BigTIFF, "wb" big endian
    std::vector<std::string> descriptions;  // per page, optional
};

// The value written at (x, y) of sample s of page p, as the raw bytes of the dtype.
inline void value_bytes(DType t, uint32_t page, uint32_t s, uint32_t x, uint32_t y, unsigned char* out) {
    const int64_t k = int64_t(x) * 31 + int64_t(y) * 17 + page * 1000 + s * 7000;
    switch (t) {
        case DType::u8: { uint8_t v = uint8_t(k * 7 + s * 50); std::memcpy(out, &v, 1); break; }
        case DType::i8: { int8_t v = int8_t(k % 256 - 128); std::memcpy(out, &v, 1); break; }
        case DType::u16: { uint16_t v = uint16_t(k * 13); std::memcpy(out, &v, 2); break; }
        case DType::i16: { int16_t v = int16_t(k * 13 - 20000); std::memcpy(out, &v, 2); break; }
        case DType::u32: { uint32_t v = uint32_t(k * 100003 + 3000000000u); std::memcpy(out, &v, 4); break; }
        case DType::i32: { int32_t v = int32_t(-k * 100003); std::memcpy(out, &v, 4); break; }
        case DType::f32: { float v = float(x) * 0.5f - float(y) * 1.25f + float(page) + float(s) * 0.1f; std::memcpy(out, &v, 4); break; }
    }
}

// Writes `pages` pages with libtiff in the layout of `spec`.
inline void write_fixture(const fs::path& file, const TiffSpec& spec, uint32_t pages) {
    TIFF* tif = TIFFOpen(file.c_str(), spec.mode.c_str());
    ASSERT_NE(tif, nullptr);
    const size_t bpp = dtype_size(spec.dtype);
    const bool separate = spec.planar == PLANARCONFIG_SEPARATE;
    for (uint32_t p = 0; p < pages; ++p) {
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, spec.width);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, spec.height);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(bpp * 8));
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, spec.spp);
        TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, tiff_sample_format(spec.dtype));
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, spec.spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        TIFFSetField(tif, TIFFTAG_PLANARCONFIG, spec.planar);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, spec.compression);
        if (spec.predictor) TIFFSetField(tif, TIFFTAG_PREDICTOR, spec.predictor);
        if (p < spec.descriptions.size() && !spec.descriptions[p].empty())
            TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, spec.descriptions[p].c_str());
        if (pages > 1) {
            TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
            TIFFSetField(tif, TIFFTAG_PAGENUMBER, uint16_t(p), uint16_t(pages));
        }
        const unsigned seg_spp = separate ? 1 : spec.spp;
        const unsigned planes = separate ? spec.spp : 1;
        if (spec.tiled) {
            TIFFSetField(tif, TIFFTAG_TILEWIDTH, spec.tile);
            TIFFSetField(tif, TIFFTAG_TILELENGTH, spec.tile);
            std::vector<unsigned char> buf(size_t(spec.tile) * spec.tile * seg_spp * bpp);
            for (unsigned plane = 0; plane < planes; ++plane)
                for (uint32_t ty = 0; ty < spec.height; ty += spec.tile)
                    for (uint32_t tx = 0; tx < spec.width; tx += spec.tile) {
                        std::fill(buf.begin(), buf.end(), 0);
                        for (uint32_t y = 0; y < spec.tile; ++y)
                            for (uint32_t x = 0; x < spec.tile; ++x)
                                for (unsigned s = 0; s < seg_spp; ++s) {
                                    if (tx + x >= spec.width || ty + y >= spec.height) continue;
                                    value_bytes(spec.dtype, p, separate ? plane : s, tx + x, ty + y,
                                                &buf[((size_t(y) * spec.tile + x) * seg_spp + s) * bpp]);
                                }
                        const uint32_t t = TIFFComputeTile(tif, tx, ty, 0, uint16_t(plane));
                        ASSERT_GE(TIFFWriteEncodedTile(tif, t, buf.data(), tmsize_t(buf.size())), 0);
                    }
        } else {
            TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, spec.rows_per_strip);
            const uint32_t per_plane = (spec.height + spec.rows_per_strip - 1) / spec.rows_per_strip;
            for (unsigned plane = 0; plane < planes; ++plane)
                for (uint32_t k = 0; k < per_plane; ++k) {
                    const uint32_t row = k * spec.rows_per_strip;
                    const uint32_t rows = std::min(spec.rows_per_strip, spec.height - row);
                    std::vector<unsigned char> buf(size_t(rows) * spec.width * seg_spp * bpp);
                    for (uint32_t y = 0; y < rows; ++y)
                        for (uint32_t x = 0; x < spec.width; ++x)
                            for (unsigned s = 0; s < seg_spp; ++s)
                                value_bytes(spec.dtype, p, separate ? plane : s, x, row + y,
                                            &buf[((size_t(y) * spec.width + x) * seg_spp + s) * bpp]);
                    ASSERT_GE(TIFFWriteEncodedStrip(tif, plane * per_plane + k, buf.data(), tmsize_t(buf.size())), 0);
                }
        }
        ASSERT_TRUE(TIFFWriteDirectory(tif));
    }
    TIFFClose(tif);
}

// Compares every pixel of (page, sample) with what write_fixture wrote.
inline void expect_plane(const Plane& plane, const TiffSpec& spec, uint32_t page, uint32_t sample) {
    ASSERT_EQ(plane.dtype, spec.dtype);
    ASSERT_EQ(plane.width, spec.width);
    ASSERT_EQ(plane.height, spec.height);
    ASSERT_EQ(plane.data.size(), plane.byte_size());
    const size_t bpp = dtype_size(spec.dtype);
    size_t bad = 0;
    for (uint32_t y = 0; y < spec.height; ++y)
        for (uint32_t x = 0; x < spec.width; ++x) {
            unsigned char want[4];
            value_bytes(spec.dtype, page, sample, x, y, want);
            if (std::memcmp(want, &plane.data[(size_t(y) * spec.width + x) * bpp], bpp) != 0 && bad++ < 3)
                ADD_FAILURE() << "pixel (" << x << ", " << y << ") of page " << page << " sample " << sample
                              << " differs";
        }
    EXPECT_EQ(bad, 0u);
}

}  // namespace imx::test
