// Reading a plate's pixels back: whole planes or rectangles of them, from plain chunks or from a
// shard's CRC-32C checked index, fetching only the chunks (tiles) that cover what is asked.
#include <algorithm>
#include <cstring>
#include <optional>

#include "zarr/ngff.h"

namespace imx {

namespace {

uint64_t get_u64(const char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | uint64_t(static_cast<unsigned char>(p[i]));
    return v;
}

// Copies the part of a decoded tile (of tile_w pixels a row, its top left at plane pixel (ty0, tx0))
// that lies inside `region` into `out` (the region's pixels).
void copy_tile_part(const std::byte* tile, uint32_t tile_w, uint32_t ty0, uint32_t tx0, uint32_t tile_h_valid,
                    uint32_t tile_w_valid, const PlaneRegion& region, Plane& out, size_t ts) {
    const uint32_t y_begin = std::max(ty0, region.y), y_end = std::min(ty0 + tile_h_valid, region.y + region.height);
    const uint32_t x_begin = std::max(tx0, region.x), x_end = std::min(tx0 + tile_w_valid, region.x + region.width);
    if (y_begin >= y_end || x_begin >= x_end) return;
    for (uint32_t y = y_begin; y < y_end; ++y)
        std::memcpy(out.data.data() + ((size_t(y) - region.y) * region.width + (x_begin - region.x)) * ts,
                    tile + ((size_t(y) - ty0) * tile_w + (x_begin - tx0)) * ts, size_t(x_end - x_begin) * ts);
}

// The last shard index this thread read (planes are mostly read in order, shard after shard).
struct ShardIndexCache {
    uint64_t instance = 0, total = 0;  // instance 0: nothing cached
    std::string key, index;
};
thread_local ShardIndexCache shard_cache;

}  // namespace

Plane NgffPlate::read_plane(int row, int col, int site, int t, int c, int z, int level) const {
    Plane p;
    read_plane_into(p, row, col, site, t, c, z, level);
    return p;
}

void NgffPlate::read_plane_into(Plane& p, int row, int col, int site, int t, int c, int z, int level) const {
    // read_region_into refuses a level the plate does not have.
    auto [w, h] = level_size(layout_.width, layout_.height, level);
    read_region_into(p, row, col, site, t, c, z, level, {0, 0, h, w});
}

const std::string& NgffPlate::shard_index(const std::string& key, int level, uint64_t& total) const {
    const std::string where = store_.url() + "/" + key;
    const auto e = shard_extent();
    const auto grid = layout_.chunk_grid(level);
    const size_t n = size_t(e[0]) * size_t(e[1]) * size_t(e[2]) * grid[0] * grid[1];
    const size_t size = n * 16 + 4;
    // A viewer-style read wants one plane (or tile) of a shard: the index, cached per thread as
    // planes are mostly read in order, then that plane's byte ranges, never the whole shard.
    ShardIndexCache& cache = shard_cache;
    if (cache.instance == instance_ && cache.key == key) {
        total = cache.total;
        return cache.index;
    }
    cache.instance = 0;
    auto got_total = store_.size(key);
    if (!got_total) throw Error(where + ": shard is missing", Error::Kind::verification);
    if (*got_total < size)
        throw Error(where + ": shard of " + std::to_string(*got_total) + " bytes is shorter than its index",
                    Error::Kind::verification);
    auto got = store_.get_range(key, *got_total - size, size);
    if (!got || got->size() != size)
        throw Error(where + ": cannot read the shard index (shard changed while reading?)", Error::Kind::verification);
    bytes_read_ += size;
    uint32_t crc = 0;
    for (int i = 3; i >= 0; --i) crc = (crc << 8) | static_cast<unsigned char>((*got)[n * 16 + size_t(i)]);
    if (crc != crc32c(got->data(), n * 16))
        throw Error(where + ": shard index is corrupt (CRC-32C mismatch)", Error::Kind::verification);
    cache.index = std::move(*got);
    cache.total = total = *got_total;
    cache.key = key;
    cache.instance = instance_;
    return cache.index;
}

void NgffPlate::read_region_into(Plane& out, int row, int col, int site, int t, int c, int z, int level,
                                 PlaneRegion region) const {
    if (level < 0 || level >= layout_.levels)
        throw Error("resolution level " + std::to_string(level) + " does not exist (the plate has " +
                        std::to_string(layout_.levels) + ")", Error::Kind::usage);
    const auto level_dims = level_size(layout_.width, layout_.height, level);
    const uint32_t w = level_dims.first, h = level_dims.second;  // plain names: the lambdas below use them
    if (region.width == 0 || region.height == 0 || uint64_t(region.y) + region.height > h ||
        uint64_t(region.x) + region.width > w)
        throw Error("region y=" + std::to_string(region.y) + " x=" + std::to_string(region.x) + " height=" +
                        std::to_string(region.height) + " width=" + std::to_string(region.width) +
                        " is empty or reaches past the plane of " + std::to_string(h) + " rows and " + std::to_string(w) +
                        " columns (level " + std::to_string(level) + ")",
                    Error::Kind::usage);
    const size_t ts = dtype_size(layout_.dtype);
    out.allocate(layout_.dtype, region.width, region.height);  // reuses a buffer of the right size (no zero-filling)
    const auto shape = layout_.chunk_shape(level), grid = layout_.chunk_grid(level);
    // One chunk that is the plane, and the whole plane asked: decoded straight into `out`.
    const bool whole = grid[0] == 1 && grid[1] == 1 && shape[0] == h && shape[1] == w && region.height == h &&
                       region.width == w;
    const uint32_t ty_first = region.y / shape[0], ty_last = (region.y + region.height - 1) / shape[0];
    const uint32_t tx_first = region.x / shape[1], tx_last = (region.x + region.width - 1) / shape[1];
    thread_local std::vector<std::byte> tile;
    if (!whole) tile.resize(size_t(shape[0]) * shape[1] * ts);
    auto decode = [&](std::string_view chunk, uint32_t ty, uint32_t tx, const std::string& where) {
        try {
            if (whole) return decode_chunk(layout_.codec, chunk, out.data.data(), out.byte_size());
            decode_chunk(layout_.codec, chunk, tile.data(), tile.size());
        } catch (const Error& err) {
            throw Error(where + ": " + err.what(), Error::Kind::verification);
        }
        const uint32_t y0 = ty * shape[0], x0 = tx * shape[1];
        copy_tile_part(tile.data(), shape[1], y0, x0, std::min(shape[0], h - y0), std::min(shape[1], w - x0), region,
                       out, ts);
    };
    if (!sharded()) {
        // One buffer per reading thread and level, reused from chunk to chunk: chunks of one level
        // have about the same size, so a buffer neither moves nor gets zero-filled again.
        thread_local std::vector<std::string> buffers;
        if (buffers.size() <= size_t(level)) buffers.resize(size_t(level) + 1);
        std::string& buffer = buffers[size_t(level)];
        for (uint32_t ty = ty_first; ty <= ty_last; ++ty)
            for (uint32_t tx = tx_first; tx <= tx_last; ++tx) {
                const std::string key = chunk_key(row, col, site, t, c, z, level, ty, tx);
                const std::string where = store_.url() + "/" + key;
                if (!store_.get_into(key, buffer)) throw Error(where + ": chunk is missing", Error::Kind::verification);
                bytes_read_ += buffer.size();
                decode(buffer, ty, tx, where);
            }
        return;
    }
    const std::string key = chunk_key(row, col, site, t, c, z, level);
    const std::string where = store_.url() + "/" + key;
    uint64_t total = 0;
    const std::string& index = shard_index(key, level, total);
    const auto e = shard_extent();
    const auto o = shard_origin(t, c, z);
    const size_t plane_index = (size_t(t - o[0]) * size_t(e[1]) + size_t(c - o[1])) * size_t(e[2]) + size_t(z - o[2]);
    const uint64_t data_end = total - (index.size());
    struct Range {
        uint32_t ty, tx;
        uint64_t off, len;
    };
    std::vector<Range> ranges;
    for (uint32_t ty = ty_first; ty <= ty_last; ++ty)
        for (uint32_t tx = tx_first; tx <= tx_last; ++tx) {
            const size_t i = (plane_index * grid[0] + ty) * grid[1] + tx;
            const uint64_t off = get_u64(index.data() + 16 * i), len = get_u64(index.data() + 16 * i + 8);
            if (off == kNoChunk && len == kNoChunk)
                throw Error(where + ": plane t=" + std::to_string(t) + " c=" + std::to_string(c) + " z=" +
                                std::to_string(z) + (grid[0] * grid[1] > 1 ? " tile " + std::to_string(ty) + "," +
                                                                                 std::to_string(tx) : std::string()) +
                                " is missing from its shard",
                            Error::Kind::verification);
            if (off > data_end || len > data_end - off)
                throw Error(where + ": shard index points past the end of the shard", Error::Kind::verification);
            ranges.push_back({ty, tx, off, len});
        }
    // Tiles that lie back to back in the shard (as the writer stores a plane's) come in one read.
    bool adjacent = true;
    for (size_t k = 1; k < ranges.size(); ++k) adjacent = adjacent && ranges[k].off == ranges[k - 1].off + ranges[k - 1].len;
    auto fetch = [&](uint64_t off, uint64_t len) {
        auto object = store_.get_range(key, off, len);
        if (!object || object->size() != len) {
            shard_cache.instance = 0;  // the shard was rewritten: read its index again next time
            throw Error(where + ": shard is shorter than its index says (rewritten while reading?)",
                        Error::Kind::verification);
        }
        bytes_read_ += len;
        return std::move(*object);
    };
    if (adjacent) {
        const std::string span = fetch(ranges.front().off, ranges.back().off + ranges.back().len - ranges.front().off);
        for (const Range& r : ranges)
            decode(std::string_view(span).substr(r.off - ranges.front().off, r.len), r.ty, r.tx, where);
    } else {
        for (const Range& r : ranges) decode(fetch(r.off, r.len), r.ty, r.tx, where);
    }
}

}  // namespace imx
