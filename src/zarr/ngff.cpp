#include "zarr/ngff.h"

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

json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
std::optional<double> opt_from(const json& j, const char* key) {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    return j[key].get<double>();
}

std::pair<double, double> dtype_range(DType t) {
    switch (t) {
        case DType::u8: return {0, 255};
        case DType::i8: return {-128, 127};
        case DType::u16: return {0, 65535};
        case DType::i16: return {-32768, 32767};
        case DType::u32: return {0, 4294967295.0};
        case DType::i32: return {-2147483648.0, 2147483647.0};
        case DType::f32: return {0, 1};
    }
    return {0, 1};
}

// Zarr v3 data_type names.
std::string dtype_v3(DType t) {
    switch (t) {
        case DType::u8: return "uint8";
        case DType::i8: return "int8";
        case DType::u16: return "uint16";
        case DType::i16: return "int16";
        case DType::u32: return "uint32";
        case DType::i32: return "int32";
        case DType::f32: return "float32";
    }
    return "uint16";
}

// The Zarr v3 codec chain of one plane chunk: bytes (little endian), then the compressor.
json v3_codecs(const CodecSpec& c, DType dtype) {
    json codecs = json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}}});
    switch (c.kind) {
        case CodecSpec::Kind::none: break;
        case CodecSpec::Kind::blosc_lz4:
        case CodecSpec::Kind::blosc_zstd:
            codecs.push_back({{"name", "blosc"},
                              {"configuration",
                               {{"cname", c.kind == CodecSpec::Kind::blosc_lz4 ? "lz4" : "zstd"},
                                {"clevel", c.level},
                                {"shuffle", "shuffle"},
                                {"typesize", dtype_size(dtype)},
                                {"blocksize", 0}}}});
            break;
        case CodecSpec::Kind::zstd:
            codecs.push_back({{"name", "zstd"}, {"configuration", {{"level", c.level}, {"checksum", false}}}});
            break;
    }
    return codecs;
}

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

json PlateLayout::to_json() const {
    json wells_j = json::array();
    for (auto& w : wells) wells_j.push_back({{"row", w.row}, {"col", w.col}, {"sites", w.sites}});
    json ch = json::array();
    for (auto& c : channels)
        ch.push_back({{"label", c.label}, {"color", c.color}, {"start", c.window_start}, {"end", c.window_end}});
    json j = {{"name", name},       {"path", path},     {"rows", rows},
              {"cols", cols},       {"wells", wells_j}, {"channels", ch},
              {"tpoints", tpoints}, {"zplanes", zplanes}, {"width", width},
              {"height", height},   {"dtype", dtype_name(dtype)},
              {"pixel_size_x", opt(pixel_size_x)}, {"pixel_size_y", opt(pixel_size_y)},
              {"pixel_size_z", opt(pixel_size_z)}, {"time_interval_s", opt(time_interval_s)},
              {"compression", codec.name() + ":" + std::to_string(codec.level)},
              {"levels", levels}, {"downsample", downsample_name(downsample)},
              {"ngff", ngff}, {"shard", shard_mode_name(shard)}};
    if (!channel_stats.is_null()) j["channel_stats"] = channel_stats;
    if (!holes.is_null()) j["holes"] = holes;
    if (multiplexed())
        j["cycles"] = {{"channels", cycle_channels}, {"sites", cycle_sites}, {"names", cycle_names}};
    if (!plate_channels.empty()) j["plate_channels"] = plate_channels;
    return j;
}

std::vector<int> PlateLayout::channels_of_image(int acquisition) const {
    if (!plate_channels.empty()) return plate_channels;
    const int first = multiplexed() ? acquisition * cycle_channels : 0;
    std::vector<int> v;
    for (int i = first; i < first + image_channels() && i < int(channels.size()); ++i) v.push_back(i);
    return v;
}

bool PlateLayout::image_has_channel(int site, int c) const {
    if (!plate_channels.empty()) return std::find(plate_channels.begin(), plate_channels.end(), c) != plate_channels.end();
    return !multiplexed() || c / cycle_channels == site / cycle_sites;
}

PlateLayout PlateLayout::from_json(const json& j) {
    PlateLayout l;
    l.name = j.at("name").get<std::string>();
    l.path = j.at("path").get<std::string>();
    l.rows = j.at("rows").get<int>();
    l.cols = j.at("cols").get<int>();
    for (auto& w : j.at("wells")) l.wells.push_back({w.at("row").get<int>(), w.at("col").get<int>(), w.at("sites").get<int>()});
    for (auto& c : j.at("channels"))
        l.channels.push_back({c.at("label").get<std::string>(), c.at("color").get<std::string>(),
                              c.at("start").get<double>(), c.at("end").get<double>()});
    l.tpoints = j.at("tpoints").get<int>();
    l.zplanes = j.at("zplanes").get<int>();
    l.width = j.at("width").get<uint32_t>();
    l.height = j.at("height").get<uint32_t>();
    l.dtype = dtype_from_name(j.at("dtype").get<std::string>());
    l.pixel_size_x = opt_from(j, "pixel_size_x");
    l.pixel_size_y = opt_from(j, "pixel_size_y");
    l.pixel_size_z = opt_from(j, "pixel_size_z");
    l.time_interval_s = opt_from(j, "time_interval_s");
    l.codec = parse_codec(j.at("compression").get<std::string>());
    l.levels = std::max(1, j.value("levels", 1));
    l.downsample = parse_downsample(j.value("downsample", "mean"));
    l.ngff = j.value("ngff", "0.4");
    l.shard = parse_shard_mode(j.value("shard", "none"));
    if (j.contains("channel_stats")) l.channel_stats = j["channel_stats"];
    if (j.contains("holes")) l.holes = j["holes"];
    if (j.contains("cycles")) {
        const json& c = j["cycles"];
        l.cycle_channels = c.at("channels").get<int>();
        l.cycle_sites = c.at("sites").get<int>();
        l.cycle_names = c.at("names").get<std::vector<std::string>>();
    }
    if (j.contains("plate_channels")) l.plate_channels = j["plate_channels"].get<std::vector<int>>();
    return l;
}

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

json NgffPlate::image_attrs(int acquisition) const {
    const auto& L = layout_;
    const int image_channels = L.image_channels();
    json axes = json::array();
    json t_axis = {{"name", "t"}, {"type", "time"}};
    if (L.time_interval_s) t_axis["unit"] = "second";
    axes.push_back(t_axis);
    axes.push_back({{"name", "c"}, {"type", "channel"}});
    for (const char* n : {"z", "y", "x"}) {
        json a = {{"name", n}, {"type", "space"}};
        if (L.pixel_size_x || L.pixel_size_y) a["unit"] = "micrometer";
        axes.push_back(a);
    }
    const double sy = L.pixel_size_y.value_or(L.pixel_size_x.value_or(1.0));
    const double sx = L.pixel_size_x.value_or(L.pixel_size_y.value_or(1.0));
    json datasets = json::array();
    for (int level = 0; level < L.levels; ++level) {
        const double f = double(uint64_t(1) << level);
        json scale = {L.time_interval_s.value_or(1.0), 1.0, L.pixel_size_z.value_or(1.0), sy * f, sx * f};
        datasets.push_back({{"path", std::to_string(level)},
                            {"coordinateTransformations", json::array({{{"type", "scale"}, {"scale", scale}}})}});
    }
    json ms = {{"name", L.name}, {"axes", axes}, {"datasets", datasets}};
    if (L.levels > 1)
        ms["type"] = L.downsample == Downsample::max ? "2x2 maximum" : "2x2 mean";
    if (!v3()) ms["version"] = "0.4";
    auto [lo, hi] = dtype_range(L.dtype);
    json channels = json::array();
    for (int i : L.channels_of_image(acquisition)) {
        const ChannelRendering& c = L.channels[size_t(i)];
        double start = c.window_start, end = c.window_end;
        if (start == 0 && end == 0) {
            start = lo;
            end = hi;
        }
        channels.push_back({{"label", c.label},
                            {"color", c.color},
                            {"active", true},
                            {"coefficient", 1},
                            {"family", "linear"},
                            {"inverted", false},
                            {"window", {{"min", lo}, {"max", hi}, {"start", start}, {"end", end}}}});
    }
    json omero = {{"name", L.name},
                  {"version", L.ngff},
                  {"channels", channels},
                  {"rdefs", {{"model", image_channels == 1 ? "greyscale" : "color"},
                             {"defaultT", 0},
                             {"defaultZ", L.zplanes / 2}}}};
    if (v3()) return {{"ome", {{"version", "0.5"}, {"multiscales", json::array({ms})}, {"omero", omero}}}};
    return {{"multiscales", json::array({ms})}, {"omero", omero}};
}

json NgffPlate::array_meta(int level) const {
    const auto& L = layout_;
    auto [w, h] = level_size(L.width, L.height, level);
    const int nc = L.image_channels();
    if (!v3())
        return {{"zarr_format", 2},
                {"shape", {L.tpoints, nc, L.zplanes, h, w}},
                {"chunks", {1, 1, 1, h, w}},
                {"dtype", dtype_zarr(L.dtype)},
                {"compressor", compressor_json(L.codec)},
                {"fill_value", 0},
                {"order", "C"},
                {"filters", nullptr},
                {"dimension_separator", "/"}};
    json inner = json::array({1, 1, 1, h, w});
    json codecs = v3_codecs(L.codec, L.dtype);
    json chunk_shape = inner;
    if (sharded()) {
        auto e = shard_extent();
        chunk_shape = json::array({e[0], e[1], e[2], h, w});
        codecs = json::array({{{"name", "sharding_indexed"},
                               {"configuration",
                                {{"chunk_shape", inner},
                                 {"codecs", codecs},
                                 {"index_codecs", json::array({{{"name", "bytes"}, {"configuration", {{"endian", "little"}}}},
                                                               {{"name", "crc32c"}}})},
                                 {"index_location", "end"}}}}});
    }
    return {{"zarr_format", 3},
            {"node_type", "array"},
            {"shape", {L.tpoints, nc, L.zplanes, h, w}},
            {"data_type", dtype_v3(L.dtype)},
            {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", chunk_shape}}}}},
            {"chunk_key_encoding", {{"name", "default"}, {"configuration", {{"separator", "/"}}}}},
            {"fill_value", 0},
            {"codecs", codecs},
            {"attributes", json::object()},
            {"dimension_names", {"t", "c", "z", "y", "x"}}};
}

void NgffPlate::put_group(const std::string& path, const json& attrs) const {
    if (v3()) {
        json g = {{"zarr_format", 3}, {"node_type", "group"}, {"attributes", attrs.is_null() ? json::object() : attrs}};
        store_.put(path + "/zarr.json", g.dump(1));
        return;
    }
    store_.put(path + "/.zgroup", json{{"zarr_format", 2}}.dump());
    if (!attrs.is_null()) store_.put(path + "/.zattrs", attrs.dump(1));
}

void NgffPlate::write_metadata() const {
    const auto& L = layout_;
    json rows = json::array(), cols = json::array(), wells = json::array();
    for (int r = 0; r < L.rows; ++r) rows.push_back({{"name", row_name(r)}});
    for (int c = 0; c < L.cols; ++c) cols.push_back({{"name", column_name(c)}});
    int field_count = 0;
    std::vector<WellLayout> sorted = L.wells;
    std::sort(sorted.begin(), sorted.end(),
              [](auto& a, auto& b) { return std::tie(a.row, a.col) < std::tie(b.row, b.col); });
    for (auto& w : sorted) {
        wells.push_back({{"path", row_name(w.row) + "/" + column_name(w.col)}, {"rowIndex", w.row}, {"columnIndex", w.col}});
        field_count = std::max(field_count, w.sites);
    }
    json acquisitions = json::array();
    if (L.multiplexed())
        for (size_t k = 0; k < L.cycle_names.size(); ++k)
            acquisitions.push_back({{"id", int(k)}, {"name", L.cycle_names[k]}});
    else
        acquisitions.push_back({{"id", 0}, {"name", L.name}});
    json plate = {{"name", L.name},
                  {"acquisitions", acquisitions},
                  {"rows", rows},
                  {"columns", cols},
                  {"wells", wells},
                  {"field_count", field_count}};
    // Our own key "imextract": lets `get` and collect reopen the plate from the store alone.
    json attrs = v3() ? json{{"ome", {{"version", "0.5"}, {"plate", plate}}}, {"imextract", L.to_json()}}
                      : json{{"plate", [&] { json p = plate; p["version"] = "0.4"; return p; }()},
                             {"imextract", L.to_json()}};
    put_group(L.path, attrs);

    std::set<int> rows_used;
    for (auto& w : sorted) rows_used.insert(w.row);
    for (int r : rows_used) put_group(L.path + "/" + row_name(r), nullptr);

    std::vector<std::string> arrays;
    for (int level = 0; level < L.levels; ++level) arrays.push_back(array_meta(level).dump(1));
    std::vector<json> image_by_acquisition;
    for (int k = 0; k < std::max<int>(1, int(L.cycle_names.size())); ++k) image_by_acquisition.push_back(image_attrs(k));
    auto image = [&](int site) -> const json& {
        return image_by_acquisition.at(size_t(std::min<int>(L.acquisition_of_site(site), int(image_by_acquisition.size()) - 1)));
    };
    for (auto& w : sorted) {
        std::string well = L.path + "/" + row_name(w.row) + "/" + column_name(w.col);
        json images = json::array();
        for (int s = 0; s < w.sites; ++s)
            images.push_back({{"path", std::to_string(s)}, {"acquisition", L.acquisition_of_site(s)}});
        json well_attrs = v3() ? json{{"ome", {{"version", "0.5"}, {"well", {{"images", images}}}}}}
                               : json{{"well", {{"version", "0.4"}, {"images", images}}}};
        put_group(well, well_attrs);
        for (int s = 0; s < w.sites; ++s) {
            std::string img = well + "/" + std::to_string(s);
            put_group(img, image(s));
            for (int level = 0; level < L.levels; ++level)
                store_.put(img + "/" + std::to_string(level) + (v3() ? "/zarr.json" : "/.zarray"), arrays[size_t(level)]);
        }
    }
}

void NgffPlate::write_rendering() const {
    std::map<int, json> image_by_acquisition;
    for (auto& w : layout_.wells)
        for (int s = 0; s < w.sites; ++s) {
            int k = layout_.acquisition_of_site(s);
            if (!image_by_acquisition.count(k)) image_by_acquisition[k] = image_attrs(k);
            put_group(image_path(w.row, w.col, s), image_by_acquisition[k]);
        }
    // Keep the layout copy in the plate attributes in step with the windows.
    const std::string key = layout_.path + (v3() ? "/zarr.json" : "/.zattrs");
    auto text = store_.get(key);
    if (text) {
        json doc = json::parse(*text, nullptr, false);
        if (doc.is_discarded()) return;
        json& attrs = v3() ? doc["attributes"] : doc;
        attrs["imextract"] = layout_.to_json();
        store_.put(key, doc.dump(1));
    }
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
    const size_t ts = dtype_size(plane.dtype);
    out.lengths[0] = encode_chunk_into(layout_.codec, plane.data.data(), plane.byte_size(), ts, out.buffers[0]);
    thread_local Plane a, b;
    const Plane* prev = &plane;
    for (int level = 1; level < layout_.levels; ++level) {
        Plane& next = (level % 2) ? a : b;
        downsample_2x2(*prev, next, layout_.downsample);
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
    if (level < 0 || level >= layout_.levels)
        throw Error("resolution level " + std::to_string(level) + " does not exist (the plate has " +
                        std::to_string(layout_.levels) + ")", Error::Kind::usage);
    const std::string key = chunk_key(row, col, site, t, c, z, level);
    const std::string where = store_.url() + "/" + key;
    auto [w, h] = level_size(layout_.width, layout_.height, level);
    Plane p;
    p.allocate(layout_.dtype, w, h);
    std::string_view chunk;
    std::optional<std::string> object;
    if (!sharded()) {
        object = store_.get(key);
        if (!object) throw Error(where + ": chunk is missing", Error::Kind::verification);
        bytes_read_ += object->size();
        chunk = *object;
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
    return p;
}

PlateLayout NgffPlate::read_layout(const Store& store, const std::string& plate_path) {
    json attrs;
    if (auto v2 = store.get(plate_path + "/.zattrs")) {
        attrs = json::parse(*v2, nullptr, false);
    } else if (auto v3 = store.get(plate_path + "/zarr.json")) {
        json doc = json::parse(*v3, nullptr, false);
        if (!doc.is_discarded() && doc.contains("attributes")) attrs = doc["attributes"];
    } else {
        throw Error(store.url() + "/" + plate_path + ": no plate here (neither .zattrs nor zarr.json)",
                    Error::Kind::storage);
    }
    if (attrs.is_discarded() || !attrs.is_object() || !attrs.contains("imextract"))
        throw Error(store.url() + "/" + plate_path + ": not a plate written by imextract", Error::Kind::storage);
    return PlateLayout::from_json(attrs["imextract"]);
}

}  // namespace imx
