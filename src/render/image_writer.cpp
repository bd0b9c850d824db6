#include "render/image_writer.h"

#include <png.h>
#include <tiffio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "core/fileutil.h"

namespace imx {

uint16_t tiff_sample_format(DType t) {
    switch (t) {
        case DType::i8:
        case DType::i16:
        case DType::i32: return SAMPLEFORMAT_INT;
        case DType::f32: return SAMPLEFORMAT_IEEEFP;
        default: return SAMPLEFORMAT_UINT;
    }
}

namespace {

uint16_t tiff_compression(TiffCompression c) {
    switch (c) {
        case TiffCompression::lzw: return COMPRESSION_LZW;
        case TiffCompression::deflate: return COMPRESSION_ADOBE_DEFLATE;
        case TiffCompression::packbits: return COMPRESSION_PACKBITS;
        case TiffCompression::zstd: return COMPRESSION_ZSTD;
        default: return COMPRESSION_NONE;
    }
}

}  // namespace

void write_tiff(const std::filesystem::path& file, const Plane& plane, TiffCompression compression,
                const std::string& description) {
    if (plane.width == 0 || plane.height == 0 || plane.data.size() < plane.byte_size())
        throw Error(file.string() + ": refusing to write an empty or inconsistent plane");
    std::filesystem::path tmp = temporary_sibling(file);
    TIFF* tif = TIFFOpen(tmp.c_str(), plane.byte_size() > 0xF0000000ull ? "w8" : "w");
    if (!tif) throw Error(file.string() + ": cannot create TIFF file", Error::Kind::storage);
    std::unique_ptr<TIFF, void (*)(TIFF*)> guard(tif, TIFFClose);
    const size_t bps = dtype_size(plane.dtype);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, plane.width);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, plane.height);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, uint16_t(bps * 8));
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, uint16_t(1));
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, tiff_sample_format(plane.dtype));
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, tiff_compression(compression));
    if (!description.empty()) TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, description.c_str());
    // About 64 KiB strips: what most microscope software writes and what readers expect.
    const size_t row_bytes = size_t(plane.width) * bps;
    uint32_t rows_per_strip = uint32_t(std::max<size_t>(1, (64 * 1024) / row_bytes));
    rows_per_strip = std::min(rows_per_strip, plane.height);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows_per_strip);
    const auto* base = reinterpret_cast<const unsigned char*>(plane.data.data());
    uint32_t strip = 0;
    for (uint32_t row = 0; row < plane.height; row += rows_per_strip, ++strip) {
        uint32_t rows = std::min(rows_per_strip, plane.height - row);
        if (TIFFWriteEncodedStrip(tif, strip, const_cast<unsigned char*>(base + row * row_bytes),
                                  tmsize_t(rows * row_bytes)) < 0) {
            guard.reset();
            std::filesystem::remove(tmp);
            throw Error(file.string() + ": writing TIFF strip failed (disk full?)", Error::Kind::storage);
        }
    }
    guard.reset();
    commit_temporary(tmp, file);
}

namespace {

// Writes rows of `row_bytes` each from `base`; 16-bit samples are little endian in memory.
void write_png_rows(const std::filesystem::path& file, uint32_t width, uint32_t height, int depth, int color_type,
                    size_t row_bytes, const unsigned char* pixels) {
    std::filesystem::path tmp = temporary_sibling(file);
    FILE* fp = std::fopen(tmp.c_str(), "wb");
    if (!fp) throw Error(file.string() + ": cannot create PNG file", Error::Kind::storage);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!png || !info) {
        std::fclose(fp);
        throw Error("libpng: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        std::fclose(fp);
        std::filesystem::remove(tmp);
        throw Error(file.string() + ": writing PNG failed", Error::Kind::storage);
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, width, height, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 1);
    png_write_info(png, info);
    if (depth == 16) png_set_swap(png);  // PNG is big endian, our planes are little endian
    auto* base = const_cast<png_bytep>(pixels);
    for (uint32_t y = 0; y < height; ++y) png_write_row(png, base + size_t(y) * row_bytes);
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    if (std::fclose(fp) != 0) {
        std::filesystem::remove(tmp);
        throw Error(file.string() + ": writing PNG failed (disk full?)", Error::Kind::storage);
    }
    commit_temporary(tmp, file);
}

}  // namespace

void write_png(const std::filesystem::path& file, const Plane& plane) {
    if (plane.dtype != DType::u8 && plane.dtype != DType::u16)
        throw Error(file.string() + ": PNG holds only 8- or 16-bit unsigned pixels; this plane is " +
                    dtype_name(plane.dtype) + " (write a .tif instead)");
    const int depth = plane.dtype == DType::u8 ? 8 : 16;
    write_png_rows(file, plane.width, plane.height, depth, PNG_COLOR_TYPE_GRAY, size_t(plane.width) * (depth / 8),
                   reinterpret_cast<const unsigned char*>(plane.data.data()));
}

void write_png_rgb(const std::filesystem::path& file, uint32_t width, uint32_t height,
                   const std::vector<uint8_t>& rgb) {
    if (rgb.size() != size_t(width) * height * 3) throw Error("internal: RGB buffer of the wrong size");
    write_png_rows(file, width, height, 8, PNG_COLOR_TYPE_RGB, size_t(width) * 3, rgb.data());
}

void write_image(const std::filesystem::path& file, const Plane& plane) {
    std::string ext = lower_extension(file);
    if (ext == ".tif" || ext == ".tiff") return write_tiff(file, plane);
    if (ext == ".png") return write_png(file, plane);
    throw Error(file.string() + ": unknown output format '" + ext + "' (use .tif, .tiff or .png)",
                Error::Kind::usage);
}

}  // namespace imx
