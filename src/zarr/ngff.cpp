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

size_t EncodedPlane::bytes() const {
    size_t n = 0;
    for (size_t l : lengths) n += l;
    return n;
}

void EncodedPlane::compact() {
    for (size_t i = 0; i < buffers.size(); ++i) {
        buffers[i].resize(lengths[i]);
        buffers[i].shrink_to_fit();
    }
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

constexpr uint64_t kNoChunk = std::numeric_limits<uint64_t>::max();

void put_u64(std::string& s, uint64_t v) {
    for (int i = 0; i < 8; ++i) s.push_back(char((v >> (8 * i)) & 0xFF));
}
uint64_t get_u64(const char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | uint64_t(static_cast<unsigned char>(p[i]));
    return v;
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

std::string NgffPlate::chunk_key(int row, int col, int site, int t, int c, int z, int level) const {
    c = image_channel(site, c);  // experiment channel -> the image's own channel axis
    std::string base = image_path(row, col, site) + "/" + std::to_string(level) + "/";
    if (!v3())
        return base + std::to_string(t) + "/" + std::to_string(c) + "/" + std::to_string(z) + "/0/0";
    auto e = shard_extent();
    return base + "c/" + std::to_string(t / e[0]) + "/" + std::to_string(c / e[1]) + "/" + std::to_string(z / e[2]) +
           "/0/0";
}

EncodedPlane NgffPlate::encode_plane(const Plane& plane) const {
    EncodedPlane out;
    encode_plane(plane, out);
    return out;
}

void NgffPlate::encode_plane(const Plane& plane, EncodedPlane& out) const {
    if (plane.width != layout_.width || plane.height != layout_.height || plane.dtype != layout_.dtype)
        throw Error("plane of " + std::to_string(plane.width) + "x" + std::to_string(plane.height) + " " +
                        dtype_name(plane.dtype) + " does not fit the plate's " + std::to_string(layout_.width) + "x" +
                        std::to_string(layout_.height) + " " + dtype_name(layout_.dtype),
                    Error::Kind::input);
    out.buffers.resize(size_t(layout_.levels));
    out.lengths.resize(size_t(layout_.levels));
    out.level_checksums.resize(size_t(layout_.levels - 1));
    const size_t ts = dtype_size(plane.dtype);
    out.lengths[0] = encode_chunk_into(layout_.codec, plane.data.data(), plane.byte_size(), ts, out.buffers[0]);
    thread_local Plane a, b;
    const Plane* prev = &plane;
    for (int level = 1; level < layout_.levels; ++level) {
        Plane& next = (level % 2) ? a : b;
        downsample_2x2(*prev, next, layout_.downsample);
        out.level_checksums[size_t(level - 1)] = pixel_checksum(next.data.data(), next.byte_size());
        out.lengths[size_t(level)] =
            encode_chunk_into(layout_.codec, next.data.data(), next.byte_size(), ts, out.buffers[size_t(level)]);
        prev = &next;
    }
}

size_t NgffPlate::write_encoded(int row, int col, int site, int t, int c, int z, const EncodedPlane& plane) const {
    if (sharded()) throw Error("internal: write_encoded on a sharded plate; use write_shard");
    for (size_t level = 0; level < plane.level_count(); ++level)
        store_.put(chunk_key(row, col, site, t, c, z, int(level)), plane.level(level));
    return plane.bytes();
}

size_t NgffPlate::write_plane(int row, int col, int site, int t, int c, int z, const Plane& plane) const {
    return write_encoded(row, col, site, t, c, z, encode_plane(plane));
}

size_t NgffPlate::write_shard(int row, int col, int site, std::array<int, 3> origin,
                              const std::map<std::array<int, 3>, EncodedPlane>& planes) const {
    const auto e = shard_extent();
    const size_t n = size_t(e[0]) * size_t(e[1]) * size_t(e[2]);
    size_t total = 0;
    for (int level = 0; level < layout_.levels; ++level) {
        std::string shard, index;
        std::vector<std::pair<uint64_t, uint64_t>> entries(n, {kNoChunk, kNoChunk});
        for (auto& [tcz, enc] : planes) {
            const int dt = tcz[0] - origin[0], dc = tcz[1] - origin[1], dz = tcz[2] - origin[2];
            if (dt < 0 || dc < 0 || dz < 0 || dt >= e[0] || dc >= e[1] || dz >= e[2])
                throw Error("internal: plane outside its shard");
            const size_t i = (size_t(dt) * size_t(e[1]) + size_t(dc)) * size_t(e[2]) + size_t(dz);
            const std::string_view chunk = enc.level(size_t(level));
            entries[i] = {shard.size(), chunk.size()};
            shard += chunk;
        }
        for (auto& [off, len] : entries) put_u64(index, off), put_u64(index, len);
        uint32_t crc = crc32c(index.data(), index.size());
        for (int i = 0; i < 4; ++i) index.push_back(char((crc >> (8 * i)) & 0xFF));
        shard += index;
        total += shard.size();
        store_.put(chunk_key(row, col, site, origin[0], origin[1], origin[2], level), shard);
    }
    return total;
}

Plane NgffPlate::read_plane(int row, int col, int site, int t, int c, int z, int level) const {
    Plane p;
    read_plane_into(p, row, col, site, t, c, z, level);
    return p;
}

void NgffPlate::read_plane_into(Plane& p, int row, int col, int site, int t, int c, int z, int level) const {
    if (level < 0 || level >= layout_.levels)
        throw Error("resolution level " + std::to_string(level) + " does not exist (the plate has " +
                        std::to_string(layout_.levels) + ")", Error::Kind::usage);
    const std::string key = chunk_key(row, col, site, t, c, z, level);
    const std::string where = store_.url() + "/" + key;
    auto [w, h] = level_size(layout_.width, layout_.height, level);
    p.allocate(layout_.dtype, w, h);  // reuses a buffer of the right size as it is (no zero-filling)
    std::string_view chunk;
    std::optional<std::string> object;
    if (!sharded()) {
        // One buffer per reading thread and level, reused from chunk to chunk: chunks of one level
        // have about the same size, so a buffer neither moves nor gets zero-filled again.
        thread_local std::vector<std::string> buffers;
        if (buffers.size() <= size_t(level)) buffers.resize(size_t(level) + 1);
        std::string& buffer = buffers[size_t(level)];
        if (!store_.get_into(key, buffer)) throw Error(where + ": chunk is missing", Error::Kind::verification);
        bytes_read_ += buffer.size();
        chunk = buffer;
    } else {
        // A viewer-style read wants one plane of a shard: the index (cached per thread, as planes
        // are mostly read in order) and then that plane's byte range, never the whole shard.
        const auto e = shard_extent();
        const size_t n = size_t(e[0]) * size_t(e[1]) * size_t(e[2]);
        const size_t index_size = n * 16 + 4;
        thread_local uint64_t cached_instance = 0, cached_total = 0;
        thread_local std::string cached_key, index;
        if (cached_instance != instance_ || cached_key != key) {
            cached_instance = 0;
            auto total = store_.size(key);
            if (!total) throw Error(where + ": shard is missing", Error::Kind::verification);
            if (*total < index_size)
                throw Error(where + ": shard of " + std::to_string(*total) + " bytes is shorter than its index",
                            Error::Kind::verification);
            auto got = store_.get_range(key, *total - index_size, index_size);
            if (!got || got->size() != index_size)
                throw Error(where + ": cannot read the shard index (shard changed while reading?)",
                            Error::Kind::verification);
            bytes_read_ += index_size;
            uint32_t crc = 0;
            for (int i = 3; i >= 0; --i) crc = (crc << 8) | static_cast<unsigned char>((*got)[n * 16 + size_t(i)]);
            if (crc != crc32c(got->data(), n * 16))
                throw Error(where + ": shard index is corrupt (CRC-32C mismatch)", Error::Kind::verification);
            index = std::move(*got);
            cached_total = *total;
            cached_key = key;
            cached_instance = instance_;
        }
        auto o = shard_origin(t, c, z);
        const size_t i = (size_t(t - o[0]) * size_t(e[1]) + size_t(c - o[1])) * size_t(e[2]) + size_t(z - o[2]);
        uint64_t off = get_u64(index.data() + 16 * i), len = get_u64(index.data() + 16 * i + 8);
        if (off == kNoChunk && len == kNoChunk)
            throw Error(where + ": plane t=" + std::to_string(t) + " c=" + std::to_string(c) + " z=" + std::to_string(z) +
                            " is missing from its shard", Error::Kind::verification);
        if (off > cached_total - index_size || len > cached_total - index_size - off)
            throw Error(where + ": shard index points past the end of the shard", Error::Kind::verification);
        object = store_.get_range(key, off, len);
        if (!object || object->size() != len) {
            cached_instance = 0;  // the shard was rewritten: read its index again next time
            throw Error(where + ": shard is shorter than its index says (rewritten while reading?)",
                        Error::Kind::verification);
        }
        bytes_read_ += len;
        chunk = *object;
    }
    try {
        decode_chunk(layout_.codec, chunk, p.data.data(), p.byte_size());
    } catch (const Error& err) {
        throw Error(where + ": " + err.what(), Error::Kind::verification);
    }
}

}  // namespace imx
