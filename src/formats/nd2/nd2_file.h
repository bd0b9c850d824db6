// Nikon NIS-Elements ND2: what a file holds (frame geometry, frames, experiment loops, channel
// names, calibration), parsed once per file and used by the layout reader and the pixel decoder
// (nd2.cpp).
//
// Chunked files ("Ver2.x" from NIS-Elements 3.x, "Ver3.0" from 4.0 on) are a sequence of chunks
// `u32 magic 0x0ABECEDA, u32 name field length, u64 data length, name field, data`. The name field
// is the chunk name ending in '!' followed by zero padding: current versions pad it so that the
// data starts on a 4096-byte boundary (the file map's field is 4128 bytes long), so its length is
// bounded only by the file. The file ends with "ND2 CHUNK MAP SIGNATURE 0000001!" and the u64
// offset of the file map chunk ("ND2 FILEMAP SIGNATURE NAME 0001!"), which lists every chunk as
// `name ending in '!', u64 offset, u64 size`. When that map is missing or damaged (a file cut short
// by a crash, a bad offset), the chunks are found by scanning the chunk headers, as Bio-Formats and
// the nd2 Python package do. Frames are `ImageDataSeq|N!` chunks: an 8-byte time stamp, then the
// pixels (or a zlib stream of them), rows `uiWidthBytes` apart, the components of a pixel
// interleaved. Metadata chunks are LV or XML variants (nd2_meta.h).
//
// Version 2 files (JPEG 2000 boxes, nd2_legacy.h) are described by the same structure.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"
#include "formats/container_util.h"
#include "formats/nd2/nd2_legacy.h"

namespace imx::nd2 {

using container::RandomAccessFile;

constexpr uint32_t kChunkMagic = 0x0ABECEDA;
// Deflate cannot shrink data more than 1032:1 (zlib's documented maximum compression factor): a
// zlib frame of N bytes takes at least N / 1032 bytes of the file.
constexpr uint64_t kZlibMaxRatio = 1032;

// Offset of a chunk's data and its length.
struct ChunkData {
    uint64_t offset = 0, length = 0;
};

// Checks that an ND2 chunk named `name` starts at `offset` and fits in the file.
ChunkData chunk_at(const RandomAccessFile& f, uint64_t offset, std::string_view name);

enum class Axis { time, xy, z };

struct Loop {
    Axis axis;
    uint32_t count;
};

struct Structure {
    uint32_t width = 0, height = 0, components = 1, width_bytes = 0;
    uint32_t bytes_per_sample = 2;
    int bits_significant = 0;
    DType dtype = DType::u16;
    bool zlib = false;
    std::vector<uint64_t> frames;  // chunk offset per sequence index; 0 = not in the file
    std::vector<Loop> loops;       // outermost first
    uint64_t frame_count = 0;      // frames the loops describe that the file can hold
    std::vector<std::string> channel_names;  // one per component, unique
    std::optional<double> pixel_size, z_step, time_interval_s;
    std::vector<std::array<std::optional<double>, 3>> positions;  // per XY site
    std::vector<std::string> warnings;
    // Version 2 (JPEG 2000) files: where the codestreams are; components = channels x components
    // per codestream, frames[seq] = the first channel's box.
    std::shared_ptr<const nd2legacy::Info> legacy;

    // Site, time point and z plane of frame `seq`.
    void coords(uint64_t seq, uint32_t& site, uint32_t& t, uint32_t& z) const;
};

// Parses a version 3 or version 2 file; throws an input error naming the file, the offset and the
// reason when it cannot be read.
std::shared_ptr<const Structure> parse(const RandomAccessFile& f);

}  // namespace imx::nd2
