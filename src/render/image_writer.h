// Writing single planes as ordinary image files: `imextract get -o FILE`, the demo plate and
// test fixtures.
#pragma once

#include <filesystem>
#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"

namespace imx {

enum class TiffCompression { none, lzw, deflate, packbits, zstd };

// Writes `plane` as a single-page, single-sample TIFF (minisblack). `description` goes into
// ImageDescription when not empty. Atomic: written to a temporary name, then renamed.
void write_tiff(const std::filesystem::path& file, const Plane& plane,
                TiffCompression compression = TiffCompression::none,
                const std::string& description = {});

// The TIFF SampleFormat tag's value for a pixel type (also for test fixtures that write TIFFs).
uint16_t tiff_sample_format(DType t);

// Writes an 8- or 16-bit gray PNG (other pixel types are refused with an Error).
void write_png(const std::filesystem::path& file, const Plane& plane);

// Writes an 8-bit RGB picture (rgb: width*height*3 bytes, row by row).
void write_png_rgb(const std::filesystem::path& file, uint32_t width, uint32_t height,
                   const std::vector<uint8_t>& rgb);

// Picks the writer by extension (.tif/.tiff or .png); throws Error on other extensions.
void write_image(const std::filesystem::path& file, const Plane& plane);

}  // namespace imx
