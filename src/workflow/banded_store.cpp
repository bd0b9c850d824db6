#include "workflow/banded_store.h"

namespace imx {

namespace {

BandedPlane encode_bands(const NgffPlate& plate, const std::vector<std::unique_ptr<PlaneRows>>& sources,
                         BandedPlaneEncoder::ChunkSink sink, int threads, std::vector<uint64_t>* histogram) {
    const PlateLayout& L = plate.layout();
    BandedPlaneEncoder encoder(plate, std::move(sink), threads);
    const size_t row_bytes = size_t(L.width) * dtype_size(L.dtype);
    std::vector<std::byte> other;  // a band of the second and further sources of a projection
    BandedPlane r;
    for (uint32_t y = 0, rows = encoder.next_band_rows(); rows > 0; y += rows, rows = encoder.next_band_rows()) {
        read_band(sources, L, y, rows, encoder.band(), other);
        r.read += uint64_t(rows) * row_bytes * sources.size();
        encoder.push_band();
    }
    BandedPlaneEncoder::Result done = encoder.finish(histogram);
    r.stats = done.stats;
    r.checksum = std::move(done.checksum);
    r.level_checksums = std::move(done.level_checksums);
    r.stored = done.bytes;
    return r;
}

}  // namespace

void read_band(const std::vector<std::unique_ptr<PlaneRows>>& sources, const PlateLayout& layout, uint32_t y,
               uint32_t count, std::byte* out, std::vector<std::byte>& other) {
    sources.at(0)->read(y, count, out);
    for (size_t k = 1; k < sources.size(); ++k) {
        other.resize(size_t(count) * layout.width * dtype_size(layout.dtype));
        sources[k]->read(y, count, other.data());
        max_project_pixels(layout.dtype, out, other.data(), size_t(count) * layout.width);
    }
}

bool stores_in_bands(const PlateLayout& layout) {
    return layout.chunk_y > 0 && layout.chunk_grid(0)[0] >= kBandedMinChunkRows;
}

BandedPlane store_in_bands(const NgffPlate& plate, const std::vector<std::unique_ptr<PlaneRows>>& sources, int row,
                           int col, int site, int t, int c, int z, int threads, std::vector<uint64_t>* histogram,
                           BandedPlaneEncoder::ChunkSink shard_sink) {
    const PlateLayout& L = plate.layout();
    if (sources.empty()) throw Error("internal: a banded plane without a source");
    const bool sharded = bool(shard_sink);
    BandedPlaneEncoder::ChunkSink sink = sharded ? std::move(shard_sink)
        : [&](int level, uint32_t ty, uint32_t tx, std::string_view chunk) {
              plate.store().put(plate.chunk_key(row, col, site, t, c, z, level, ty, tx), chunk);
          };
    try {
        return encode_bands(plate, sources, std::move(sink), threads, histogram);
    } catch (...) {
        // A plane that failed half-way leaves none of its chunks behind: a reader must not take the
        // stored bands for the plane (the position reads as empty, as a missing plane does). In a
        // shard, its chunks are never entered in the index (ShardStream::plane_done).
        if (!sharded)
            for (int level = 0; level < L.levels; ++level)
                for (const std::string& key : plate.plane_keys(row, col, site, t, c, z, level)) plate.store().remove(key);
        throw;
    }
}

}  // namespace imx
