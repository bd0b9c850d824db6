// The plate's metadata: the layout imextract records in the plate attributes, the OME-NGFF
// group and array documents (Zarr v2 .zattrs/.zarray, v3 zarr.json) and the rendering settings.
// Pixels (encode, write, read back, shards) are in ngff.cpp.
#include <algorithm>
#include <set>

#include "zarr/ngff.h"

namespace imx {

using nlohmann::json;

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

// The field image's attributes with a translation after each level's scale: the stage position of
// the field's first pixel, in micrometres. A level's first pixel is the mean of 2^level pixels of
// level 0, so its centre lies (2^level - 1) / 2 level-0 pixels further. Nothing without a stage
// position or without a pixel size (the axes then have no physical unit).
json with_stage_position(const json& image, const PlateLayout& L, bool v3, int row, int col, int site) {
    auto it = L.stage_positions.find({row, col, site});
    if (it == L.stage_positions.end() || !(L.pixel_size_x || L.pixel_size_y)) return image;
    const auto [x, y] = it->second;
    const double sy = L.pixel_size_y.value_or(L.pixel_size_x.value_or(1.0));
    const double sx = L.pixel_size_x.value_or(L.pixel_size_y.value_or(1.0));
    json out = image;
    json& ms = v3 ? out["ome"]["multiscales"][0] : out["multiscales"][0];
    for (auto& dataset : ms["datasets"]) {
        const int level = std::stoi(dataset["path"].get<std::string>());
        const double half = (double(uint64_t(1) << level) - 1) / 2;
        dataset["coordinateTransformations"].push_back(
            {{"type", "translation"}, {"translation", {0.0, 0.0, 0.0, y + half * sy, x + half * sx}}});
    }
    return out;
}

}  // namespace

json PlateLayout::to_json() const {
    // [row, col, sites] per well: a 384-well plate's list stays a few KB in the root attributes.
    json wells_j = json::array();
    for (auto& w : wells) wells_j.push_back({w.row, w.col, w.sites});
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
    // channel_stats go to their own file (kChannelStatsFile), not into the root attributes.
    if (!holes.is_null()) j["holes"] = holes;
    if (multiplexed())
        j["cycles"] = {{"channels", cycle_channels}, {"sites", cycle_sites}, {"names", cycle_names}};
    if (!plate_channels.empty()) j["plate_channels"] = plate_channels;
    if (chunk_y || chunk_x) j["chunk"] = {chunk_y, chunk_x};
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
    for (auto& w : j.at("wells")) {
        if (w.is_array()) l.wells.push_back({w.at(0).get<int>(), w.at(1).get<int>(), w.at(2).get<int>()});
        else l.wells.push_back({w.at("row").get<int>(), w.at("col").get<int>(), w.at("sites").get<int>()});  // plates written before the compact list
    }
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
    if (j.contains("chunk")) {  // absent: plates from before tiles, one chunk per plane
        l.chunk_y = j["chunk"].at(0).get<uint32_t>();
        l.chunk_x = j["chunk"].at(1).get<uint32_t>();
    }
    if (j.contains("channel_stats")) l.channel_stats = j["channel_stats"];  // plates written before the stats file
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
    // "type" and "metadata" also on single-level images: the strict schemas require them, and
    // they tell how further levels of this plate are (or would be) made.
    const char* method = L.downsample == Downsample::max ? "2x2 maximum" : "2x2 mean";
    json ms = {{"name", L.name},
               {"axes", axes},
               {"datasets", datasets},
               {"type", method},
               {"metadata", {{"method", std::string("imextract pyramid: ") + method + " of the level above"},
                             {"version", IMX_VERSION},
                             {"kwargs", {{"downscale", 2}, {"levels", L.levels}}}}}};
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
    const auto [tile_h, tile_w] = L.chunk_shape(level);
    const int nc = L.image_channels();
    if (!v3())
        return {{"zarr_format", 2},
                {"shape", {L.tpoints, nc, L.zplanes, h, w}},
                {"chunks", {1, 1, 1, tile_h, tile_w}},
                {"dtype", dtype_zarr(L.dtype)},
                {"compressor", compressor_json(L.codec)},
                {"fill_value", 0},
                {"order", "C"},
                {"filters", nullptr},
                {"dimension_separator", "/"}};
    json inner = json::array({1, 1, 1, tile_h, tile_w});
    json codecs = v3_codecs(L.codec, L.dtype);
    json chunk_shape = inner;
    if (sharded()) {
        auto e = shard_extent();
        const auto grid = L.chunk_grid(level);  // a shard holds whole planes: every tile, padded ones too
        chunk_shape = json::array({e[0], e[1], e[2], grid[0] * tile_h, grid[1] * tile_w});
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
            {"data_type", dtype_name(L.dtype)},  // our names are Zarr v3's data_type names
            {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", chunk_shape}}}}},
            {"chunk_key_encoding", {{"name", "default"}, {"configuration", {{"separator", "/"}}}}},
            {"fill_value", 0},
            {"codecs", codecs},
            {"attributes", json::object()},
            {"dimension_names", {"t", "c", "z", "y", "x"}}};
}

void NgffPlate::put_group(const std::string& path, const json& attrs, int indent) const {
    if (v3()) {
        json g = {{"zarr_format", 3}, {"node_type", "group"}, {"attributes", attrs.is_null() ? json::object() : attrs}};
        store_.put(path + "/zarr.json", g.dump(indent));
        return;
    }
    store_.put(path + "/.zgroup", json{{"zarr_format", 2}}.dump());
    if (!attrs.is_null()) store_.put(path + "/.zattrs", attrs.dump(indent));
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
    // maximumfieldcount: the strict schema asks for it (and it must be > 0).
    json acquisitions = json::array();
    if (L.multiplexed())
        for (size_t k = 0; k < L.cycle_names.size(); ++k)
            acquisitions.push_back({{"id", int(k)}, {"name", L.cycle_names[k]}, {"maximumfieldcount", std::max(1, L.cycle_sites)}});
    else
        acquisitions.push_back({{"id", 0}, {"name", L.name}, {"maximumfieldcount", std::max(1, field_count)}});
    json plate = {{"name", L.name},
                  {"acquisitions", acquisitions},
                  {"rows", rows},
                  {"columns", cols},
                  {"wells", wells},
                  {"field_count", field_count}};
    // Our own key "imextract": lets `get` and collect reopen the plate from the store alone.
    // "bioformats2raw.layout": the plate has an OME group with METADATA.ome.xml (ome_xml.h).
    json attrs = v3() ? json{{"ome", {{"version", "0.5"}, {"bioformats2raw.layout", 3}, {"plate", plate}}},
                             {"imextract", L.to_json()}}
                      : json{{"bioformats2raw.layout", 3},
                             {"plate", [&] { json p = plate; p["version"] = "0.4"; return p; }()},
                             {"imextract", L.to_json()}};
    // Compact: every viewer fetches the plate attributes before anything else.
    put_group(L.path, attrs, -1);

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
            put_group(img, with_stage_position(image(s), L, v3(), w.row, w.col, s));
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
            put_group(image_path(w.row, w.col, s), with_stage_position(image_by_acquisition[k], layout_, v3(), w.row, w.col, s));
        }
    if (!layout_.channel_stats.is_null())
        store_.put(layout_.path + "/" + kChannelStatsFile,
                   json{{"plate", layout_.name},
                        {"note", "per-channel statistics of the stored planes, written by imextract collect: min, max, "
                                 "the 0.1/99.9 percentiles the omero windows use, and the histogram"},
                        {"channels", layout_.channel_stats}}
                       .dump());
    // Keep the layout copy in the plate attributes in step with the windows.
    const std::string key = layout_.path + (v3() ? "/zarr.json" : "/.zattrs");
    auto text = store_.get(key);
    if (text) {
        json doc = json::parse(*text, nullptr, false);
        if (doc.is_discarded()) return;
        json& attrs = v3() ? doc["attributes"] : doc;
        attrs["imextract"] = layout_.to_json();
        store_.put(key, doc.dump());
    }
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
    PlateLayout layout = PlateLayout::from_json(attrs["imextract"]);
    if (auto stats = store.get(plate_path + "/" + kChannelStatsFile)) {
        json doc = json::parse(*stats, nullptr, false);
        if (!doc.is_discarded() && doc.is_object() && doc.contains("channels")) layout.channel_stats = doc["channels"];
    }
    return layout;
}

}  // namespace imx
