#include "zarr/ngff.h"

#include <algorithm>
#include <limits>
#include <set>

namespace imx {

using nlohmann::json;

std::string column_name(int col) {
    std::string s = std::to_string(col + 1);
    return s.size() < 2 ? "0" + s : s;
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

}  // namespace

json PlateLayout::to_json() const {
    json wells_j = json::array();
    for (auto& w : wells) wells_j.push_back({{"row", w.row}, {"col", w.col}, {"sites", w.sites}});
    json ch = json::array();
    for (auto& c : channels)
        ch.push_back({{"label", c.label}, {"color", c.color}, {"start", c.window_start}, {"end", c.window_end}});
    return {{"name", name},       {"path", path},     {"rows", rows},
            {"cols", cols},       {"wells", wells_j}, {"channels", ch},
            {"tpoints", tpoints}, {"zplanes", zplanes}, {"width", width},
            {"height", height},   {"dtype", dtype_name(dtype)},
            {"pixel_size_x", opt(pixel_size_x)}, {"pixel_size_y", opt(pixel_size_y)},
            {"pixel_size_z", opt(pixel_size_z)}, {"time_interval_s", opt(time_interval_s)},
            {"compression", codec.name() + ":" + std::to_string(codec.level)}};
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
    return l;
}

NgffPlate::NgffPlate(Store& store, PlateLayout layout) : store_(store), layout_(std::move(layout)) {
    if (layout_.width == 0 || layout_.height == 0)
        throw Error("plate '" + layout_.name + "' has no plane size", Error::Kind::generic);
}

std::string NgffPlate::image_path(int row, int col, int site) const {
    return layout_.path + "/" + row_name(row) + "/" + column_name(col) + "/" + std::to_string(site);
}

std::string NgffPlate::chunk_key(int row, int col, int site, int t, int c, int z) const {
    return image_path(row, col, site) + "/0/" + std::to_string(t) + "/" + std::to_string(c) + "/" +
           std::to_string(z) + "/0/0";
}

json NgffPlate::image_attrs() const {
    const auto& L = layout_;
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
    json scale = {L.time_interval_s.value_or(1.0), 1.0, L.pixel_size_z.value_or(1.0),
                  L.pixel_size_y.value_or(L.pixel_size_x.value_or(1.0)),
                  L.pixel_size_x.value_or(L.pixel_size_y.value_or(1.0))};
    json multiscales = json::array({{{"version", "0.4"},
                                     {"name", L.name},
                                     {"axes", axes},
                                     {"datasets", json::array({{{"path", "0"},
                                                                {"coordinateTransformations",
                                                                 json::array({{{"type", "scale"}, {"scale", scale}}})}}})}}});
    auto [lo, hi] = dtype_range(L.dtype);
    json channels = json::array();
    for (auto& c : L.channels) {
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
                  {"version", "0.4"},
                  {"channels", channels},
                  {"rdefs", {{"model", L.channels.size() == 1 ? "greyscale" : "color"},
                             {"defaultT", 0},
                             {"defaultZ", L.zplanes / 2}}}};
    return {{"multiscales", multiscales}, {"omero", omero}};
}

void NgffPlate::write_metadata() const {
    const auto& L = layout_;
    const std::string zgroup = json{{"zarr_format", 2}}.dump();
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
    json plate = {{"plate",
                   {{"version", "0.4"},
                    {"name", L.name},
                    {"acquisitions", json::array({{{"id", 0}, {"name", L.name}}})},
                    {"rows", rows},
                    {"columns", cols},
                    {"wells", wells},
                    {"field_count", field_count}}},
                  // Our own key: lets `get` and collect reopen the plate from the store alone.
                  {"imextract", L.to_json()}};
    store_.put(L.path + "/.zgroup", zgroup);
    store_.put(L.path + "/.zattrs", plate.dump(1));

    std::set<int> rows_used;
    for (auto& w : sorted) rows_used.insert(w.row);
    for (int r : rows_used) store_.put(L.path + "/" + row_name(r) + "/.zgroup", zgroup);

    json compressor = compressor_json(L.codec);
    json zarray = {{"zarr_format", 2},
                   {"shape", {L.tpoints, int(L.channels.size()), L.zplanes, L.height, L.width}},
                   {"chunks", {1, 1, 1, L.height, L.width}},
                   {"dtype", dtype_zarr(L.dtype)},
                   {"compressor", compressor},
                   {"fill_value", 0},
                   {"order", "C"},
                   {"filters", nullptr},
                   {"dimension_separator", "/"}};
    const std::string zarray_s = zarray.dump(1);
    const std::string image_s = image_attrs().dump(1);
    for (auto& w : sorted) {
        std::string well = L.path + "/" + row_name(w.row) + "/" + column_name(w.col);
        json images = json::array();
        for (int s = 0; s < w.sites; ++s) images.push_back({{"path", std::to_string(s)}, {"acquisition", 0}});
        store_.put(well + "/.zgroup", zgroup);
        store_.put(well + "/.zattrs", json{{"well", {{"version", "0.4"}, {"images", images}}}}.dump(1));
        for (int s = 0; s < w.sites; ++s) {
            std::string img = well + "/" + std::to_string(s);
            store_.put(img + "/.zgroup", zgroup);
            store_.put(img + "/.zattrs", image_s);
            store_.put(img + "/0/.zarray", zarray_s);
        }
    }
}

void NgffPlate::write_rendering() const {
    const std::string image_s = image_attrs().dump(1);
    for (auto& w : layout_.wells)
        for (int s = 0; s < w.sites; ++s) store_.put(image_path(w.row, w.col, s) + "/.zattrs", image_s);
    // Keep the layout copy in the plate attributes in step with the windows.
    auto attrs_s = store_.get(layout_.path + "/.zattrs");
    if (attrs_s) {
        json attrs = json::parse(*attrs_s);
        attrs["imextract"] = layout_.to_json();
        store_.put(layout_.path + "/.zattrs", attrs.dump(1));
    }
}

size_t NgffPlate::write_plane(int row, int col, int site, int t, int c, int z, const Plane& plane) const {
    if (plane.width != layout_.width || plane.height != layout_.height || plane.dtype != layout_.dtype)
        throw Error("plane of " + std::to_string(plane.width) + "x" + std::to_string(plane.height) + " " +
                        dtype_name(plane.dtype) + " does not fit the plate's " + std::to_string(layout_.width) + "x" +
                        std::to_string(layout_.height) + " " + dtype_name(layout_.dtype),
                    Error::Kind::input);
    thread_local std::string encoded;
    encode_chunk(layout_.codec, plane.data.data(), plane.byte_size(), dtype_size(plane.dtype), encoded);
    store_.put(chunk_key(row, col, site, t, c, z), encoded);
    return encoded.size();
}

Plane NgffPlate::read_plane(int row, int col, int site, int t, int c, int z) const {
    std::string key = chunk_key(row, col, site, t, c, z);
    auto chunk = store_.get(key);
    if (!chunk) throw Error(store_.url() + "/" + key + ": chunk is missing", Error::Kind::verification);
    Plane p;
    p.allocate(layout_.dtype, layout_.width, layout_.height);
    try {
        decode_chunk(layout_.codec, *chunk, p.data.data(), p.byte_size());
    } catch (const Error& e) {
        throw Error(store_.url() + "/" + key + ": " + e.what(), Error::Kind::verification);
    }
    return p;
}

PlateLayout NgffPlate::read_layout(const Store& store, const std::string& plate_path) {
    auto attrs = store.get(plate_path + "/.zattrs");
    if (!attrs) throw Error(store.url() + "/" + plate_path + ": no plate here (.zattrs missing)", Error::Kind::storage);
    json j = json::parse(*attrs, nullptr, false);
    if (j.is_discarded() || !j.contains("imextract"))
        throw Error(store.url() + "/" + plate_path + ": not a plate written by imextract", Error::Kind::storage);
    return PlateLayout::from_json(j["imextract"]);
}

}  // namespace imx
