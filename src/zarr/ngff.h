// OME-NGFF HCS plates on top of the Store interface: plate -> row -> column -> field image, each
// image a multiscale 5-D array (t, c, z, y, x) whose chunks are one plane, or tiles of it, per level.
//  * Chunk shape (1, 1, 1, Y, X): the whole plane by default; tiles (create --chunk) for planes a
//    viewer should not download whole. Edge tiles are full-size chunks padded with the fill value 0,
//    as Zarr requires. Each level is tiled with the same shape, cut to the level's size.
//  * NGFF 0.4: Zarr v2 (.zgroup/.zattrs/.zarray, '/' dimension separator), one object per chunk.
//  * NGFF 0.5: Zarr v3 (zarr.json, attributes under "ome", dimension_names), optionally with the
//    sharding codec: many planes in one object (per field or per z-stack), so a plate has orders of
//    magnitude fewer files.
#pragma once

#include <atomic>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"
#include "storage/store.h"
#include "zarr/codec.h"
#include "zarr/pyramid.h"

namespace imx {

struct ChannelRendering {
    std::string label;
    std::string color = "FFFFFF";  // RRGGBB
    double window_start = 0, window_end = 0;  // contrast limits; 0/0 = the dtype's full range
};

// Per-channel statistics and histograms of a plate (from collect): a JSON file of its own inside
// the plate, beside the root group's metadata, which Zarr readers ignore.
inline constexpr const char* kChannelStatsFile = "imextract_channel_stats.json";

struct WellLayout {
    int row = 0, col = 0;
    int sites = 0;  // field images 0..sites-1
};

// How planes are grouped into objects in NGFF 0.5.
enum class ShardMode { none, field, zstack };
ShardMode parse_shard_mode(const std::string& text);  // "none" | "field" | "zstack"; throws Error (usage)
std::string shard_mode_name(ShardMode m);

// Everything needed to lay out the plate's metadata, and to find a plane's chunk.
struct PlateLayout {
    std::string name;             // the plate name (shown by viewers)
    std::string path;             // key prefix of the plate inside the store, e.g. "myplate.zarr"
    int rows = 0, cols = 0;       // plate format
    std::vector<WellLayout> wells;
    std::vector<ChannelRendering> channels;
    int tpoints = 1, zplanes = 1;
    uint32_t width = 0, height = 0;
    DType dtype = DType::u16;
    std::optional<double> pixel_size_x, pixel_size_y, pixel_size_z;  // micrometres
    std::optional<double> time_interval_s;
    CodecSpec codec;
    int levels = 1;               // resolution levels, 1 = full resolution only
    uint32_t chunk_y = 0, chunk_x = 0;  // tile size; 0 = the whole plane (one chunk per plane)
    Downsample downsample = Downsample::mean;
    std::string ngff = "0.4";     // "0.4" (Zarr v2) or "0.5" (Zarr v3)
    ShardMode shard = ShardMode::none;  // only with 0.5
    // Per channel: min, max, percentiles, histogram (from collect); stored in kChannelStatsFile.
    nlohmann::json channel_stats;
    // Positions of the arrays that hold no stored plane (they read as the fill value 0): count and
    // the first ones with the reason; null when there are none.
    nlohmann::json holes;
    // Multiplexing cycles (0 / empty: one acquisition, every field image holds every channel).
    // Field image k*cycle_sites+s is site s of cycle k and holds channels k*cycle_channels ..
    // (k+1)*cycle_channels-1 of `channels`, as its own channels 0..cycle_channels-1.
    int cycle_channels = 0, cycle_sites = 0;
    std::vector<std::string> cycle_names;
    // The experiment channels this plate holds, in the order of its images' channel axis; empty:
    // all of `channels`. A plate whose planes use only some channels (OME-TIFFs of different channel
    // counts in one folder, each kind its own plate) gets no axis entries that would read as zeros.
    std::vector<int> plate_channels;
    // Stage position (x, y; micrometres) of each field image by (row, col, site), from the vendor
    // metadata: the images' translations. Not in to_json (the catalog has them; the root stays light).
    std::map<std::array<int, 3>, std::array<double, 2>> stage_positions;
    // (row, col, site) -> when the site's acquisition began (ISO 8601), where the metadata says;
    // the OME-XML image's AcquisitionDate. Like the positions, not part of the attributes.
    std::map<std::array<int, 3>, std::string> acquisition_starts;

    bool multiplexed() const { return cycle_channels > 0 && cycle_sites > 0; }
    int image_channels() const {
        return multiplexed() ? cycle_channels : plate_channels.empty() ? int(channels.size()) : int(plate_channels.size());
    }
    int acquisition_of_site(int site) const { return multiplexed() ? site / cycle_sites : 0; }
    // Experiment channels of the field image of acquisition `acquisition`, in axis order.
    std::vector<int> channels_of_image(int acquisition) const;
    // True when the field image `site` holds experiment channel `c`.
    bool image_has_channel(int site, int c) const;

    // Chunk (tile) height and width at `level`: the tile size cut to the level's size.
    std::array<uint32_t, 2> chunk_shape(int level) const;
    // Rows and columns of chunks that cover the plane at `level`.
    std::array<uint32_t, 2> chunk_grid(int level) const;

    nlohmann::json to_json() const;
    static PlateLayout from_json(const nlohmann::json& j);
};

// Parses create's --chunk "Y[,X]" (one number: square tiles); "" or "auto" gives {0, 0}.
std::array<uint32_t, 2> parse_chunk_option(const std::string& text);
// The tile size a plate of width x height gets: `requested` unless it is {0, 0} (auto): the whole
// plane up to kWholePlaneMax pixels on a side, tiles of kDefaultTile above.
constexpr uint32_t kWholePlaneMax = 4096, kDefaultTile = 1024;
constexpr uint32_t kMinTile = 16, kMaxTile = 65536;  // --chunk bounds
std::array<uint32_t, 2> chosen_chunk(std::array<uint32_t, 2> requested, uint32_t width, uint32_t height);

// A rectangle of a plane: rows y..y+height-1, columns x..x+width-1.
struct PlaneRegion {
    uint32_t y = 0, x = 0, height = 0, width = 0;
};

std::string column_name(int col);  // 0 -> "01": zero-padded so that keys sort like wells

// One plane encoded at every resolution level, ready to be stored.
struct EncodedPlane {
    // Per chunk (level by level, each level's tiles row by row) a buffer whose front `lengths[i]`
    // bytes are the chunk; the buffers keep the codec's worst-case size so that a worker thread
    // reuses them. Level l's chunks are first[l] .. first[l + 1] - 1.
    std::vector<std::string> buffers;
    std::vector<size_t> lengths;
    std::vector<size_t> first;
    // Pixel checksums of levels 1, 2, ...: collect proves each stored level by its own checksum
    // instead of computing the pyramid again.
    std::vector<std::string> level_checksums;
    size_t level_count() const { return first.empty() ? 0 : first.size() - 1; }
    size_t chunk_count(size_t level) const { return first.at(level + 1) - first.at(level); }
    std::string_view chunk(size_t level, size_t tile) const {
        const size_t i = first.at(level) + tile;
        return {buffers.at(i).data(), lengths.at(i)};
    }
    size_t bytes() const;
};

class NgffPlate {
public:
    NgffPlate(Store& store, PlateLayout layout);

    const PlateLayout& layout() const { return layout_; }
    Store& store() const { return store_; }
    bool v3() const { return layout_.ngff == "0.5"; }
    // A group node at `path` with `attrs`, as the plate's Zarr version writes one (v2 .zgroup and
    // .zattrs, v3 zarr.json); indent -1: compact JSON.
    void put_group(const std::string& path, const nlohmann::json& attrs, int indent = 1) const;
    bool sharded() const { return v3() && layout_.shard != ShardMode::none; }
    // Writes every group and array's metadata. Idempotent.
    void write_metadata() const;
    // Rewrites only the field images' omero metadata (after collect computed contrast windows).
    void write_rendering() const;
    // The array metadata (.zarray, or zarr.json of an array) write_metadata gives level `level` of
    // every field image: a reader of a plate without its workspace compares the stored one with it.
    nlohmann::json array_metadata(int level) const { return array_meta(level); }

    std::string image_path(int row, int col, int site) const;  // "<plate>/B/03/0"
    // The object holding tile (ty, tx) of the plane at `level`: its chunk, or with sharding its
    // shard (one shard holds whole planes: every tile of them).
    std::string chunk_key(int row, int col, int site, int t, int c, int z, int level = 0, uint32_t ty = 0,
                          uint32_t tx = 0) const;
    // Every object holding a part of the plane at `level` (its tiles' chunks, or its shard).
    std::vector<std::string> plane_keys(int row, int col, int site, int t, int c, int z, int level) const;
    // Extent of a shard in (t, c, z) planes; {1, 1, 1} without sharding.
    std::array<int, 3> shard_extent() const;
    // First (t, c, z) of the shard that holds (t, c, z).
    std::array<int, 3> shard_origin(int t, int c, int z) const;

    // Computes the pyramid of `plane` and encodes every level.
    EncodedPlane encode_plane(const Plane& plane) const;
    // The same into `out`, reusing its buffers (a run job's thread encodes plane after plane).
    void encode_plane(const Plane& plane, EncodedPlane& out) const;
    // Sizes out's chunk tables for one plane of this plate (every level's tiles).
    void size_encoded(EncodedPlane& out) const;
    // Encodes tile column `tx` of one tile row at `level` into the front of `buffer` (returns its
    // length): `rows` are that tile row's first `row_count` rows of the level, whole rows, from
    // a plane in memory or a band of one; edge tiles are padded.
    size_t encode_tile(int level, const std::byte* rows, uint32_t row_count, uint32_t tx, std::string& buffer) const;
    // Stores one encoded plane (not sharded); returns the stored bytes.
    size_t write_encoded(int row, int col, int site, int t, int c, int z, const EncodedPlane& plane) const;
    // Encodes and stores one plane (not sharded); returns the stored (compressed) size.
    size_t write_plane(int row, int col, int site, int t, int c, int z, const Plane& plane) const;
    // The shards (one object per level) of the shard starting at `origin`, written as their
    // planes' chunks come instead of held until the shard is complete: add() appends a chunk to
    // its level's object (in any order), a plane's index entries count once plane_done() says it
    // was stored whole, and finish() appends each level's CRC-checked index and commits the
    // objects (returns their bytes). Planes never done stay empty, as in write_shard. Not
    // thread-safe; destroyed unfinished, it leaves nothing in the store.
    class ShardStream {
    public:
        ShardStream(const NgffPlate& plate, int row, int col, int site, std::array<int, 3> origin);
        void add(int level, std::array<int, 3> tcz, size_t tile, std::string_view chunk);
        void plane_done(std::array<int, 3> tcz, bool stored);
        size_t finish();

    private:
        struct Entry {
            int level;
            size_t index;
            uint64_t offset, length;
        };
        size_t entry_index(int level, std::array<int, 3> tcz, size_t tile) const;
        const NgffPlate& plate_;
        int row_, col_, site_;
        std::array<int, 3> origin_;
        std::vector<std::unique_ptr<Store::Writer>> objects_;                 // per level
        std::vector<std::vector<std::pair<uint64_t, uint64_t>>> entries_;     // per level: offset, length
        std::map<std::array<int, 3>, std::vector<Entry>> pending_;            // chunks of planes not done yet
        bool broken_ = false;  // an append failed part-way: the offsets after it are unknown
    };
    // Stores the shards (one per level) of the shard starting at `origin`; `planes` maps the
    // (t, c, z) of each plane to its encoded levels. Planes absent from the map stay empty
    // (readers see the fill value, verify reports them missing). Returns the stored bytes.
    size_t write_shard(int row, int col, int site, std::array<int, 3> origin,
                       const std::map<std::array<int, 3>, EncodedPlane>& planes) const;
    // Reads one plane back; throws Error when the chunk is missing or corrupt.
    Plane read_plane(int row, int col, int site, int t, int c, int z, int level = 0) const;
    // The same into `out`, reusing its buffer (collect reads thousands of planes back).
    void read_plane_into(Plane& out, int row, int col, int site, int t, int c, int z, int level = 0) const;
    // A rectangle of the plane at `level`, fetching only the chunks (tiles) that cover it; throws
    // Error (usage) when the rectangle is empty or reaches past the plane.
    void read_region_into(Plane& out, int row, int col, int site, int t, int c, int z, int level,
                          PlaneRegion region) const;
    // Bytes fetched from the store by the reads so far: whole chunks, or a shard's index once
    // and then each plane's (or tile's) range of it.
    uint64_t bytes_read() const { return bytes_read_.load(); }

    // Reads the layout of an existing plate from the store (the plate's attributes carry it).
    static PlateLayout read_layout(const Store& store, const std::string& plate_path);

private:
    static constexpr uint64_t kNoChunk = ~uint64_t(0);  // a shard index entry of an absent chunk
    // Tiles (pads the edge ones) and encodes `plane`, the plane at `level`, into out's chunks.
    void encode_level(const Plane& plane, int level, EncodedPlane& out) const;
    // The CRC-checked index of the shard `key` (cached per thread) and the shard's size.
    const std::string& shard_index(const std::string& key, int level, uint64_t& total) const;
    nlohmann::json image_attrs(int acquisition) const;
    // The channel index inside the field image's array; throws when the image lacks channel `c`.
    int image_channel(int site, int c) const;
    nlohmann::json array_meta(int level) const;
    Store& store_;
    PlateLayout layout_;
    uint64_t instance_;  // tells this plate's cached shard index apart from another plate's
    mutable std::atomic<uint64_t> bytes_read_{0};
};

// CRC-32C (Castagnoli), as the Zarr v3 crc32c codec computes it over a shard index.
uint32_t crc32c(const void* data, size_t n);

}  // namespace imx
