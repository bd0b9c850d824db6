// Zeiss CZI (ZISRAW) internals, exposed for the unit tests and the fuzz entry point. The layout
// reader and the pixel decoder themselves are registered through builtin.h.
//
// Plane numbering (PlaneRecord::page): a CZI file holds subblocks, not planes. We number our own
// planes, in a fixed order both the layout reader and the decoder derive from the directory:
//  * mosaic planes (default): one per (scene, T, C, Z), sorted that way; all full-resolution
//    subblocks of that combination are placed by their logical X/Y position into one plane whose
//    origin is the scene's bounding box; page = index.
//  * tile planes (`--tiles as-sites`): one per (scene, tile, T, C, Z); page = kTilePageFlag | index.
// So a run job decodes the right plane without knowing the options `create` was given.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"
#include "formats/reader.h"
#include "storage/source_files.h"

namespace imx::czi {

namespace fs = std::filesystem;

constexpr uint32_t kTilePageFlag = 0x80000000u;

// CZI pixel type ids (ZISRAW specification).
enum PixelTypeId : int32_t {
    kGray8 = 0, kGray16 = 1, kGray32Float = 2, kBgr24 = 3, kBgr48 = 4,
    kBgr96Float = 8, kBgra32 = 9, kGray64ComplexFloat = 10, kBgr192ComplexFloat = 11, kGray32 = 12, kGray64 = 13,
};
// CZI compression ids.
enum CompressionId : int32_t { kUncompressed = 0, kJpeg = 1, kLzw = 2, kJpegXr = 4, kZstd0 = 5, kZstd1 = 6 };

std::string pixel_type_name(int32_t id);
std::string compression_name(int32_t id);
// Bytes per pixel of the supported pixel types (all samples), 0 for the others.
uint32_t bytes_per_pixel(int32_t pixel_type);

// One DirectoryEntryDV.
struct Subblock {
    int64_t file_pos = 0;      // of the ZISRAWSUBBLOCK segment
    int32_t pixel_type = 0;
    int32_t compression = 0;
    int32_t file_part = 0;
    uint8_t pyramid_type = 0;
    int32_t x = 0, y = 0;            // logical position (pixels)
    uint32_t width = 0, height = 0;  // logical size
    uint32_t stored_width = 0, stored_height = 0;
    int32_t c = 0, z = 0, t = 0, s = 0, b = 0, h = 0;
    int32_t other = 0;               // largest index of an unmapped dimension (R, I, V, ...)
    std::optional<int32_t> m;        // mosaic tile index, when the entry has an M dimension
    bool full_resolution() const { return width == stored_width && height == stored_height; }
};

struct PlaneEntry {
    int32_t s = 0, t = 0, c = 0, z = 0;  // raw dimension indices from the file
    int32_t tile = -1;                   // tile ordinal within its scene (tile planes), -1 for mosaics
    std::vector<uint32_t> blocks;        // indices into Index::subblocks, in drawing order
    int32_t x0 = 0, y0 = 0;              // logical position of the plane's top-left pixel
};

// What the file header and the subblock directory say; no XML.
struct Index {
    uint64_t file_size = 0;
    int32_t major = 0, minor = 0;
    int64_t directory_pos = 0, metadata_pos = 0;
    std::vector<Subblock> subblocks;
    int32_t pixel_type = -1;             // of the full-resolution subblocks used
    std::vector<PlaneEntry> mosaic_planes, tile_planes;
    uint32_t mosaic_width = 0, mosaic_height = 0;
    uint32_t tile_width = 0, tile_height = 0;
    std::string mosaic_error, tile_error;  // why that mode cannot be used, "" when it can
    std::vector<std::string> warnings;
    // Full-resolution subblocks no plane reads: of further B/H/R/I/V indices, in other file parts.
    size_t other_index_blocks = 0, other_part_blocks = 0;
    // Distinct raw indices, sorted: their position is the 0-based scene/channel/z/t.
    std::vector<int32_t> scenes, channels, zplanes, tpoints;
    std::vector<uint32_t> tiles_per_scene;  // by scene rank
};

struct SceneInfo {
    int32_t index = 0;
    std::string name;
    std::optional<int> row, col;  // well, 0-based, when the scene names one
};

struct Metadata {
    std::vector<std::string> channel_names;  // by C index
    std::optional<double> pixel_size_x, pixel_size_y, pixel_size_z;  // micrometres
    int component_bits = 0;
    std::vector<SceneInfo> scenes;
};

// Reads the file header and the subblock directory; throws Error (input) naming the file.
Index read_index(const source::File& file);
// The same, from a cache keyed by path, size and mtime (thread-safe, a few entries).
std::shared_ptr<const Index> cached_index(const source::File& file);
// Reads and parses the metadata segment's XML (empty Metadata when the file has none).
Metadata read_metadata(const source::File& file, const Index& index);
Metadata parse_metadata_xml(const std::string& file_label, std::string_view xml);

struct PlaneGeometry {
    uint32_t width = 0, height = 0, samples = 1;
    DType dtype = DType::u16;
    int bits = 0;
};
PlaneGeometry plane_geometry(const std::string& file_name, const Index& index, uint32_t page);
// Decodes sample `sample` (0 = R for colour) of plane `page`.
void decode_plane(const source::File& file, const Index& index, uint32_t page, uint32_t sample, Plane& out);

// Plane `page` read band by band (PlaneRows), composed like decode_plane but holding only a band and
// the subblocks it still needs: mosaics of any size (above 2 GiB, decode_plane refuses them).
std::unique_ptr<PlaneRows> open_plane_rows(const source::File& file, std::shared_ptr<const Index> index, uint32_t page,
                                           uint32_t sample);

// What the file holds (czi_contents.cpp): our mosaic and tile pages, the subblocks no page reaches,
// and which subblocks planes reading given pages leave out (not read, or partly hidden under
// overlapping mosaic tiles).
FileContents contents(const source::File& file, std::shared_ptr<const Index> index);

// JPEG-XR codestream -> width x height pixels of bits_per_pixel (czi_jxr.cpp); "" or the reason.
// colour: return B, G, R whatever order the codestream uses.
std::string jxr_decode_pixels(const unsigned char* data, size_t size, uint32_t width, uint32_t height,
                              uint32_t bits_per_pixel, bool colour, std::vector<unsigned char>& out);

}  // namespace imx::czi
