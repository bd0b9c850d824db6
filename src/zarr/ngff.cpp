// The plate's pixels: planes encoded with their pyramid levels, written as chunks or shards (a
// CRC-32C checked index), read back; chunk keys. The metadata documents are in ngff_metadata.cpp.
#include "zarr/ngff.h"

#include "core/checksum.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <set>

namespace imx {

using nlohmann::json;

std::string column_name(int col) {
    std::string s = std::to_string(col + 1);
    return s.size() < 2 ? "0" + s : s;
}

ShardMode parse_shard_mode(const std::string& text) {
    if (text == "none" || text.empty()) return ShardMode::none;
    if (text == "field") return ShardMode::field;
    if (text == "zstack") return ShardMode::zstack;
    throw Error("--shard must be 'none', 'field' (one object per field image and level) or 'zstack' "
                "(one per channel and time-point), not '" + text + "'",
                Error::Kind::usage);
}

std::string shard_mode_name(ShardMode m) {
    switch (m) {
        case ShardMode::none: return "none";
        case ShardMode::field: return "field";
        case ShardMode::zstack: return "zstack";
    }
    return "none";
}

std::array<uint32_t, 2> parse_chunk_option(const std::string& text) {
    if (text.empty() || text == "auto") return {0, 0};
    auto bad = [&] {
        return Error("--chunk must be Y or Y,X (tile height and width in pixels, each " + std::to_string(kMinTile) +
                         ".." + std::to_string(kMaxTile) + ") or auto, not '" + text + "'",
                     Error::Kind::usage);
    };
    std::array<uint32_t, 2> v{};
    size_t pos = 0;
    for (int i = 0; i < 2; ++i) {
        size_t end = text.find(',', pos);
        const std::string part = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        if (part.empty() || part.size() > 6 || part.find_first_not_of("0123456789") != std::string::npos) throw bad();
        v[size_t(i)] = uint32_t(std::stoul(part));
        if (v[size_t(i)] < kMinTile || v[size_t(i)] > kMaxTile) throw bad();
        if (end == std::string::npos) {
            if (i == 0) v[1] = v[0];  // one number: square tiles
            break;
        }
        if (i == 1) throw bad();  // a third number
        pos = end + 1;
    }
    return v;
}

std::array<uint32_t, 2> chosen_chunk(std::array<uint32_t, 2> requested, uint32_t width, uint32_t height) {
    if (requested[0] || requested[1]) return requested;
    if (std::max(width, height) > kWholePlaneMax) return {kDefaultTile, kDefaultTile};
    return {0, 0};
}

std::array<uint32_t, 2> PlateLayout::chunk_shape(int level) const {
    auto [w, h] = level_size(width, height, level);
    return {chunk_y ? std::min(chunk_y, h) : h, chunk_x ? std::min(chunk_x, w) : w};
}

std::array<uint32_t, 2> PlateLayout::chunk_grid(int level) const {
    auto [w, h] = level_size(width, height, level);
    const auto shape = chunk_shape(level);
    return {(h + shape[0] - 1) / shape[0], (w + shape[1] - 1) / shape[1]};
}

size_t EncodedPlane::bytes() const {
    size_t n = 0;
    for (size_t l : lengths) n += l;
    return n;
}

uint32_t crc32c(const void* data, size_t n) {
    static const auto table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0x82F63B78u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    uint32_t c = 0xFFFFFFFFu;
    auto p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

namespace {

void put_u64(std::string& s, uint64_t v) {
    for (int i = 0; i < 8; ++i) s.push_back(char((v >> (8 * i)) & 0xFF));
}

std::atomic<uint64_t> next_instance{1};

}  // namespace

NgffPlate::NgffPlate(Store& store, PlateLayout layout)
    : store_(store), layout_(std::move(layout)), instance_(next_instance++) {
    if (layout_.width == 0 || layout_.height == 0)
        throw Error("plate '" + layout_.name + "' has no plane size", Error::Kind::generic);
    if (layout_.ngff != "0.4" && layout_.ngff != "0.5")
        throw Error("NGFF version '" + layout_.ngff + "' is not supported (0.4 or 0.5)", Error::Kind::usage);
    if (layout_.shard != ShardMode::none && !v3())
        throw Error("sharding needs NGFF 0.5 (Zarr v3): add --ngff 0.5", Error::Kind::usage);
    if (layout_.levels < 1 || layout_.levels > 32)
        throw Error("--levels must be between 1 and 32", Error::Kind::usage);
    for (uint32_t tile : {layout_.chunk_y, layout_.chunk_x})  // plate attributes are read from the store too
        if (tile != 0 && (tile < kMinTile || tile > kMaxTile))
            throw Error("plate '" + layout_.name + "': tile size " + std::to_string(tile) + " is not 0 (whole plane) or " +
                        std::to_string(kMinTile) + ".." + std::to_string(kMaxTile));
    if (layout_.cycle_channels < 0 || layout_.cycle_sites < 0 ||
        (layout_.multiplexed() && (int(layout_.channels.size()) % layout_.cycle_channels != 0 ||
                                   layout_.channels.size() / size_t(layout_.cycle_channels) != layout_.cycle_names.size())))
        throw Error("plate '" + layout_.name + "': " + std::to_string(layout_.channels.size()) +
                    " channels do not split into " + std::to_string(layout_.cycle_names.size()) + " cycles of " +
                    std::to_string(layout_.cycle_channels));
    for (int c : layout_.plate_channels)
        if (c < 0 || size_t(c) >= layout_.channels.size() || layout_.multiplexed())
            throw Error("plate '" + layout_.name + "': channel subset " + std::to_string(c) + " is not one of its " +
                        std::to_string(layout_.channels.size()) + " channels (or the plate is multiplexed)");
}

int NgffPlate::image_channel(int site, int c) const {
    const auto& own = layout_.plate_channels;
    if (!own.empty()) {
        auto it = std::find(own.begin(), own.end(), c);
        if (it == own.end())
            throw Error("plate '" + layout_.name + "' does not hold channel " + std::to_string(c) +
                            (size_t(c) < layout_.channels.size() ? " (" + layout_.channels[size_t(c)].label + ")" : ""),
                        Error::Kind::usage);
        return int(it - own.begin());
    }
    if (!layout_.image_has_channel(site, c))
        throw Error("plate '" + layout_.name + "': field image " + std::to_string(site) + " belongs to cycle " +
                        std::to_string(layout_.acquisition_of_site(site) + 1) + " and does not hold channel " +
                        std::to_string(c) + " (cycle " + std::to_string(c / layout_.cycle_channels + 1) + ")",
                    Error::Kind::usage);
    return layout_.multiplexed() ? c % layout_.cycle_channels : c;
}

std::string NgffPlate::image_path(int row, int col, int site) const {
    return layout_.path + "/" + row_name(row) + "/" + column_name(col) + "/" + std::to_string(site);
}

std::array<int, 3> NgffPlate::shard_extent() const {
    if (!sharded()) return {1, 1, 1};
    if (layout_.shard == ShardMode::field) return {layout_.tpoints, layout_.image_channels(), layout_.zplanes};
    return {1, 1, layout_.zplanes};
}

std::array<int, 3> NgffPlate::shard_origin(int t, int c, int z) const {
    auto e = shard_extent();
    return {t - t % e[0], c - c % e[1], z - z % e[2]};
}

std::string NgffPlate::chunk_key(int row, int col, int site, int t, int c, int z, int level, uint32_t ty,
                                 uint32_t tx) const {
    c = image_channel(site, c);  // experiment channel -> the image's own channel axis
    std::string base = image_path(row, col, site) + "/" + std::to_string(level) + "/";
    const std::string tile = "/" + std::to_string(ty) + "/" + std::to_string(tx);
    if (!v3()) return base + std::to_string(t) + "/" + std::to_string(c) + "/" + std::to_string(z) + tile;
    auto e = shard_extent();
    return base + "c/" + std::to_string(t / e[0]) + "/" + std::to_string(c / e[1]) + "/" + std::to_string(z / e[2]) +
           (sharded() ? "/0/0" : tile);  // a shard spans the plane: every tile of it
}

std::vector<std::string> NgffPlate::plane_keys(int row, int col, int site, int t, int c, int z, int level) const {
    if (sharded()) return {chunk_key(row, col, site, t, c, z, level)};
    const auto grid = layout_.chunk_grid(level);
    std::vector<std::string> keys;
    for (uint32_t ty = 0; ty < grid[0]; ++ty)
        for (uint32_t tx = 0; tx < grid[1]; ++tx) keys.push_back(chunk_key(row, col, site, t, c, z, level, ty, tx));
    return keys;
}

EncodedPlane NgffPlate::encode_plane(const Plane& plane) const {
    EncodedPlane out;
    encode_plane(plane, out);
    return out;
}

void NgffPlate::size_encoded(EncodedPlane& out) const {
    out.first.assign(1, 0);
    for (int level = 0; level < layout_.levels; ++level) {
        const auto grid = layout_.chunk_grid(level);
        out.first.push_back(out.first.back() + size_t(grid[0]) * grid[1]);
    }
    out.buffers.resize(out.first.back());
    out.lengths.resize(out.first.back());
    out.level_checksums.resize(size_t(layout_.levels - 1));
}

void NgffPlate::encode_plane(const Plane& plane, EncodedPlane& out) const {
    if (plane.width != layout_.width || plane.height != layout_.height || plane.dtype != layout_.dtype)
        throw Error("plane of " + std::to_string(plane.width) + "x" + std::to_string(plane.height) + " " +
                        dtype_name(plane.dtype) + " does not fit the plate's " + std::to_string(layout_.width) + "x" +
                        std::to_string(layout_.height) + " " + dtype_name(layout_.dtype),
                    Error::Kind::input);
    size_encoded(out);
    thread_local Plane a, b;
    const Plane* prev = &plane;
    for (int level = 0; level < layout_.levels; ++level) {
        if (level > 0) {
            Plane& next = (level % 2) ? a : b;
            downsample_2x2(*prev, next, layout_.downsample);
            out.level_checksums[size_t(level - 1)] = pixel_checksum(next.data.data(), next.byte_size());
            prev = &next;
        }
        encode_level(*prev, level, out);
    }
}

void NgffPlate::encode_level(const Plane& plane, int level, EncodedPlane& out) const {
    const auto shape = layout_.chunk_shape(level), grid = layout_.chunk_grid(level);
    const size_t first = out.first.at(size_t(level));
    if (grid[0] == 1 && grid[1] == 1 && shape[0] == plane.height && shape[1] == plane.width) {
        out.lengths[first] = encode_chunk_into(layout_.codec, plane.data.data(), plane.byte_size(),
                                               dtype_size(plane.dtype), out.buffers[first]);
        return;
    }
    const size_t row_bytes = size_t(plane.width) * dtype_size(plane.dtype);
    for (uint32_t ty = 0; ty < grid[0]; ++ty) {
        const uint32_t y0 = ty * shape[0];
        const uint32_t rows = std::min(shape[0], plane.height - y0);
        for (uint32_t tx = 0; tx < grid[1]; ++tx) {
            const size_t i = first + size_t(ty) * grid[1] + tx;
            out.lengths[i] = encode_tile(level, plane.data.data() + y0 * row_bytes, rows, tx, out.buffers[i]);
        }
    }
}

size_t NgffPlate::encode_tile(int level, const std::byte* rows, uint32_t row_count, uint32_t tx,
                              std::string& buffer) const {
    const size_t ts = dtype_size(layout_.dtype);
    const uint32_t width = level_size(layout_.width, layout_.height, level).first;
    const auto shape = layout_.chunk_shape(level);
    thread_local std::vector<std::byte> tile;
    const size_t row_bytes = size_t(shape[1]) * ts;
    tile.resize(row_bytes * shape[0]);
    const uint32_t x0 = tx * shape[1];
    const uint32_t h = std::min(shape[0], row_count), w = std::min(shape[1], width - x0);
    if (h < shape[0] || w < shape[1]) std::fill(tile.begin(), tile.end(), std::byte{0});  // edge: padded
    for (uint32_t y = 0; y < h; ++y)
        std::memcpy(tile.data() + y * row_bytes, rows + (size_t(y) * width + x0) * ts, size_t(w) * ts);
    return encode_chunk_into(layout_.codec, tile.data(), tile.size(), ts, buffer);
}

size_t NgffPlate::write_encoded(int row, int col, int site, int t, int c, int z, const EncodedPlane& plane) const {
    if (sharded()) throw Error("internal: write_encoded on a sharded plate; use write_shard");
    for (size_t level = 0; level < plane.level_count(); ++level) {
        const uint32_t columns = layout_.chunk_grid(int(level))[1];
        for (size_t k = 0; k < plane.chunk_count(level); ++k)
            store_.put(chunk_key(row, col, site, t, c, z, int(level), uint32_t(k / columns), uint32_t(k % columns)),
                       plane.chunk(level, k));
    }
    return plane.bytes();
}

size_t NgffPlate::write_plane(int row, int col, int site, int t, int c, int z, const Plane& plane) const {
    return write_encoded(row, col, site, t, c, z, encode_plane(plane));
}

NgffPlate::ShardStream::ShardStream(const NgffPlate& plate, int row, int col, int site, std::array<int, 3> origin)
    : plate_(plate), row_(row), col_(col), site_(site), origin_(origin) {
    const auto e = plate.shard_extent();
    for (int level = 0; level < plate.layout_.levels; ++level) {
        // The inner chunk grid is (t, c, z, tile row, tile column) in C order.
        const auto grid = plate.layout_.chunk_grid(level);
        const size_t n = size_t(e[0]) * size_t(e[1]) * size_t(e[2]) * size_t(grid[0]) * grid[1];
        entries_.emplace_back(n, std::pair<uint64_t, uint64_t>{kNoChunk, kNoChunk});
        objects_.push_back(plate.store_.open_writer(
            plate.chunk_key(row, col, site, origin[0], origin[1], origin[2], level)));
    }
}

size_t NgffPlate::ShardStream::entry_index(int level, std::array<int, 3> tcz, size_t tile) const {
    const auto e = plate_.shard_extent();
    const auto grid = plate_.layout_.chunk_grid(level);
    const size_t tiles = size_t(grid[0]) * grid[1];
    const int dt = tcz[0] - origin_[0], dc = tcz[1] - origin_[1], dz = tcz[2] - origin_[2];
    if (level < 0 || size_t(level) >= entries_.size() || dt < 0 || dc < 0 || dz < 0 || dt >= e[0] || dc >= e[1] ||
        dz >= e[2] || tile >= tiles)
        throw Error("internal: a chunk outside its shard");
    return ((size_t(dt) * size_t(e[1]) + size_t(dc)) * size_t(e[2]) + size_t(dz)) * tiles + tile;
}

void NgffPlate::ShardStream::add(int level, std::array<int, 3> tcz, size_t tile, std::string_view chunk) {
    const size_t index = entry_index(level, tcz, tile);
    Store::Writer& out = *objects_[size_t(level)];
    if (broken_) throw Error("internal: a shard written to after a failed write", Error::Kind::storage);
    broken_ = true;
    const uint64_t offset = out.size();
    out.append(chunk);
    broken_ = false;
    pending_[tcz].push_back({level, index, offset, chunk.size()});
}

void NgffPlate::ShardStream::plane_done(std::array<int, 3> tcz, bool stored) {
    auto it = pending_.find(tcz);
    if (it == pending_.end()) return;
    // A plane that failed half-way leaves its chunks' bytes in the object, unreferenced: readers
    // go by the index, where the plane stays empty.
    if (stored)
        for (const Entry& en : it->second) entries_[size_t(en.level)][en.index] = {en.offset, en.length};
    pending_.erase(it);
}

size_t NgffPlate::ShardStream::finish() {
    if (broken_)
        throw Error(plate_.chunk_key(row_, col_, site_, origin_[0], origin_[1], origin_[2]) +
                        ": a write to the shard failed; it is not stored",
                    Error::Kind::storage);
    size_t total = 0;
    for (size_t level = 0; level < objects_.size(); ++level) {
        std::string index;
        index.reserve(entries_[level].size() * 16 + 4);
        for (auto& [off, len] : entries_[level]) put_u64(index, off), put_u64(index, len);
        const uint32_t crc = crc32c(index.data(), index.size());
        for (int i = 0; i < 4; ++i) index.push_back(char((crc >> (8 * i)) & 0xFF));
        objects_[level]->append(index);
        total += objects_[level]->size();
        objects_[level]->commit();
    }
    return total;
}

size_t NgffPlate::write_shard(int row, int col, int site, std::array<int, 3> origin,
                              const std::map<std::array<int, 3>, EncodedPlane>& planes) const {
    ShardStream stream(*this, row, col, site, origin);
    for (auto& [tcz, enc] : planes) {
        for (int level = 0; level < layout_.levels; ++level) {
            const auto grid = layout_.chunk_grid(level);
            const size_t tiles = size_t(grid[0]) * grid[1];
            if (enc.chunk_count(size_t(level)) != tiles) throw Error("internal: plane of another tiling than its shard");
            for (size_t k = 0; k < tiles; ++k) stream.add(level, tcz, k, enc.chunk(size_t(level), k));
        }
        stream.plane_done(tcz, true);
    }
    return stream.finish();
}

}  // namespace imx
