// TIFF helpers shared by layout readers (OME-TIFF, ImageJ, MetaMorph) that need TIFF metadata
// beyond pixels. The PixelDecoder itself comes from make_tiff_decoder() (builtin.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace imx {

namespace fs = std::filesystem;

// The ImageDescription tag of page `page` ("" when the page has none). Throws Error (Kind::input)
// naming the file when it is not a readable TIFF or the page does not exist.
std::string tiff_image_description(const fs::path& file, uint32_t page = 0);

// Number of pages (IFDs in the main chain). Throws Error naming the file when unreadable.
uint32_t tiff_page_count(const fs::path& file);

}  // namespace imx
