// TIFF helpers shared by layout readers (OME-TIFF, ImageJ, MetaMorph) that need TIFF metadata
// beyond pixels. The PixelDecoder itself comes from make_tiff_decoder() (builtin.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <utility>
#include <string>

#include "storage/source_files.h"

namespace imx {

namespace fs = std::filesystem;

// Layout readers open the file through their folder handle (storage/source_folder.h) and pass it.

// The ImageDescription tag of page `page` ("" when the page has none). Throws Error (Kind::input)
// naming the file when it is not a readable TIFF or the page does not exist.
std::string tiff_image_description(const source::File& file, uint32_t page = 0);

// True when an ImageDescription is OME-XML (an OME-TIFF, whatever the file is named).
inline bool is_ome_xml(const std::string& description) {
    const size_t start = description.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) return false;
    return (description.compare(start, 5, "<?xml") == 0 || description.compare(start, 4, "<OME") == 0) &&
           description.find("<OME") != std::string::npos;
}

// Number of pages (IFDs in the main chain). Throws Error naming the file when unreadable.
uint32_t tiff_page_count(const source::File& file);

// Planes the file holds: its IFD count, or more when it declares planes stored contiguously after
// page 0's pixel data (MetaMorph STK: UIC2 tag count; ImageJ > 4 GB: images= with fewer IFDs).
// Capped at what the file's size can hold (and 10 million). The decoder reads such pages at
// offset(page 0's first strip) + page * plane bytes.
uint32_t tiff_declared_planes(const source::File& file);

// XResolution / YResolution of page 0 (pixels per resolution unit); nullopt when absent or not
// positive.
std::optional<std::pair<double, double>> tiff_resolution(const source::File& file);

}  // namespace imx
