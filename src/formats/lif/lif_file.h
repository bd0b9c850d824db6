// Leica LAS X / LAS AF image files (.lif).
//
// File layout: `u32 0x70, u32 length, u8 0x2A, u32 character count, UTF-16LE XML` (the
// LMSDataContainerHeader), then memory blocks, each `u32 0x70, u32 length, u8 0x2A, block size
// (u32 in version 1, u64 in version 2), u8 0x2A, u32 character count, UTF-16LE block ID, data`.
// Every Element of the XML tree with Data/Image is an image: its Memory element names the block
// holding its pixels, its DimensionDescriptions give each dimension (DimID 1 X, 2 Y, 3 Z, 4 T,
// 5 emission lambda, 9 excitation lambda, 10 mosaic tile) with the element count and the byte
// step (BytesInc) between elements, and its ChannelDescriptions give each channel's byte offset
// and resolution. A pixel's bytes are at sum(index_d * BytesInc_d) + channel BytesInc.
//
// Every offset and size read from the file is checked against the file size before it is used.
//
// This file: the parsed structure of a LIF file (images, dimensions, channels) and the parser;
// the decoder and the layout reader are in lif.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "formats/container_util.h"
#include "storage/source_files.h"

namespace imx::lif {

namespace fs = std::filesystem;
using container::RandomAccessFile;

constexpr uint32_t kLifMagic = 0x70;
constexpr unsigned char kLifSeparator = 0x2A;
// A plane read whole is held in memory: the limit TIFF and PNG planes have too. Planes read band
// by band (open_rows) have no such bound.
constexpr uint64_t kMaxPlaneBytes = 4ull << 30;

struct Dim {
    int id = 0;
    uint64_t count = 1;
    uint64_t bytes_inc = 0;
    std::optional<double> step_um;  // Length / (count - 1), in micrometres (seconds for T)
};

struct LifChannel {
    uint64_t bytes_inc = 0;
    std::string name;
};

struct LifImage {
    std::string name;
    uint32_t width = 0, height = 0;
    DType dtype = DType::u8;
    uint32_t bytes_per_sample = 1;
    int resolution = 8;
    Dim x, y;                // the two dimensions of a plane
    std::vector<Dim> z, t, lambda, tiles;  // dimensions planes are stacked along (at most one each)
    std::vector<LifChannel> channels;      // lambda x channel, lambda outermost, names unique in the file
    uint64_t data_offset = 0, data_size = 0;  // the memory block's data in the file
    uint64_t first_plane = 0;                 // global index of this image's first plane
    std::optional<double> pixel_size_x, pixel_size_y, pixel_size_z, time_interval_s;

    uint64_t count(const std::vector<Dim>& d) const { return d.empty() ? 1 : d[0].count; }
    uint64_t tile_count() const { return count(tiles); }
    uint64_t plane_count() const { return count(z) * count(t) * channels.size() * tile_count(); }
};

// Where plane `p` of an image lives: (tile, t, z, channel), channel fastest.
struct PlaneCoords {
    uint64_t tile = 0, t = 0, z = 0, channel = 0;
};
inline PlaneCoords coords_of(const LifImage& im, uint64_t p) {
    PlaneCoords c;
    c.channel = p % im.channels.size();
    p /= im.channels.size();
    c.z = p % im.count(im.z);
    p /= im.count(im.z);
    c.t = p % im.count(im.t);
    c.tile = p / im.count(im.t);
    return c;
}

struct LifStructure {
    std::vector<LifImage> images;  // images with pixel data, in document order
    uint64_t plane_count = 0;
    std::vector<std::string> warnings;
    std::vector<std::string> unread;  // images with pixel data that the decoder cannot read
};

// Parses the container header and the XML, checking every image's blocks against the file.
std::shared_ptr<const LifStructure> parse_lif(const RandomAccessFile& f);
// parse_lif through a small per-file cache (path, size, mtime).
std::shared_ptr<const LifStructure> structure_of(const source::File& file);
// The image holding global plane `page`; throws naming the file when there is none.
const LifImage& image_of(const source::File& file, const LifStructure& s, uint32_t page);
bool is_lif_name(const fs::path& p);

}  // namespace imx::lif
