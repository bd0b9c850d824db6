// The run job's path for planes too large to hold whole (issue 18): read band by band from sources
// that can (PixelDecoder::open_rows) and stored through BandedPlaneEncoder, so that memory holds a
// few bands per level instead of the plane and its pyramid.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/reader.h"
#include "render/pixel_ops.h"
#include "zarr/banded_plane.h"
#include "zarr/ngff.h"

namespace imx {

// Planes of a plate with at least this many rows of chunks are read band by band when their
// source can be.
constexpr uint32_t kBandedMinChunkRows = 4;
bool stores_in_bands(const PlateLayout& layout);

// Rows y .. y + count - 1 of the plane `sources` give (their maximum pixel by pixel when there are
// several, each of the plate's geometry) into `out`; `other` holds the further sources' bands.
void read_band(const std::vector<std::unique_ptr<PlaneRows>>& sources, const PlateLayout& layout, uint32_t y,
               uint32_t count, std::byte* out, std::vector<std::byte>& other);

struct BandedPlane {
    PlaneStats stats;
    std::string checksum;
    std::vector<std::string> level_checksums;
    size_t stored = 0;   // encoded bytes
    uint64_t read = 0;   // decoded source bytes
};

// Reads the plane (the maximum of `sources` pixel by pixel when there are several, each of the
// plate's geometry) band by band and encodes it on `threads` threads. Without `shard_sink`, every
// chunk is stored at (row, col, site, t, c, z) as soon as it is encoded; with it, each chunk is
// handed to it (a shard being written, NgffPlate::ShardStream; it may be called from several
// threads at once). `histogram` as in plane_stats.
BandedPlane store_in_bands(const NgffPlate& plate, const std::vector<std::unique_ptr<PlaneRows>>& sources, int row,
                           int col, int site, int t, int c, int z, int threads, std::vector<uint64_t>* histogram,
                           BandedPlaneEncoder::ChunkSink shard_sink = {});

}  // namespace imx
