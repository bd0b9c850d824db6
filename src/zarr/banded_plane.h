// A plane too large to hold whole (issue 18), stored band by band: the caller fills level 0 one row
// of chunks at a time; each band's tiles are encoded (on several threads) and handed on at once,
// and every lower level is built from the bands as they arrive (2x2 blocks of two level-k rows
// make a level-k+1 row, the rule of pyramid.h), so memory holds about one band per level whatever
// the plane's height. Statistics, histogram and checksums are accumulated band by band and equal
// the whole plane's (plane_stats, encode_plane).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/checksum.h"
#include "render/pixel_ops.h"
#include "zarr/ngff.h"

namespace imx {

class BandedPlaneEncoder {
public:
    // Receives every chunk once: level, tile row, tile column and the encoded bytes. Called from
    // several threads at once (distinct tiles).
    using ChunkSink = std::function<void(int level, uint32_t ty, uint32_t tx, std::string_view chunk)>;

    // `threads`: how many threads encode a band's tiles (the caller's included).
    BandedPlaneEncoder(const NgffPlate& plate, ChunkSink sink, int threads);
    ~BandedPlaneEncoder();

    // Rows of level 0 the next band takes (one row of chunks, the last one shorter); 0 when the
    // plane is complete.
    uint32_t next_band_rows() const;
    // Where the caller puts the next band: next_band_rows() rows of the plane's width.
    std::byte* band();
    // The band is filled: encodes and hands on its tiles and those of every level it completes.
    void push_band();

    struct Result {
        PlaneStats stats;
        std::string checksum;                     // of level 0 (pixel_checksum of the whole plane)
        std::vector<std::string> level_checksums;  // levels 1, 2, ...
        size_t bytes = 0;                          // encoded bytes of every chunk
    };
    // After the last band; `histogram` as in plane_stats.
    Result finish(std::vector<uint64_t>* histogram);

private:
    struct Level;
    // Appends `count` rows of level `k` (taking level k-1's carry into account) and flushes the
    // level's band whenever it is full.
    void add_rows(size_t k, const std::byte* rows, uint32_t count);
    void flush(size_t k);
    void encode_band(size_t k);

    const NgffPlate& plate_;
    ChunkSink sink_;
    int threads_;
    std::vector<std::string> buffers_;  // one encoding buffer per thread, kept from band to band
    std::vector<std::unique_ptr<Level>> levels_;
    PlaneStatsStream stats_;
    std::atomic<size_t> bytes_{0};
};

}  // namespace imx
