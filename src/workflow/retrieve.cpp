// Retrieval of single planes from an extracted experiment (the seed's ChannelImageFile.get).
#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "storage/source_files.h"
#include "storage/store.h"
#include "workflow/convert.h"
#include "workflow/workflow.h"

namespace imx {

namespace {

// The workspace behind what a user names: an experiment folder; a folder `convert` wrote (its
// workspace in OUT/.imextract, or for an s3:// OUT the local folder convert_workspace names); or
// one plate of either (OUT/NAME.zarr, EXPERIMENT/NAME.zarr), which `plate` then returns as the
// store path.
fs::path experiment_of(const fs::path& given, std::string& plate) {
    const std::string text = given.string();
    const bool remote = source::is_remote(given);
    if (!remote && Workspace(given).exists()) return given;
    auto converted = [&](const std::string& out) -> std::optional<fs::path> {
        fs::path ws = convert_workspace(out);
        if (Workspace(ws).exists()) return ws;
        return std::nullopt;
    };
    std::string trimmed = text;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    if (auto ws = converted(trimmed)) return *ws;
    const size_t slash = trimmed.find_last_of('/');
    const std::string last = slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
    if (last.size() > 5 && last.ends_with(".zarr")) {
        const std::string parent = slash == std::string::npos ? "." : trimmed.substr(0, slash);
        if (auto ws = converted(parent.empty() ? "/" : parent)) {
            plate = last;
            return *ws;
        }
        if (!remote && Workspace(parent).exists()) {  // a plate in the experiment folder (the default store)
            plate = last;
            return parent;
        }
    }
    return given;  // not an experiment: Workspace::require names it
}

}  // namespace

// A plate without its workspace ("bare"): a plate folder (or s3:// prefix) imextract wrote, copied
// or left alone after its workspace was deleted. Everything a reader needs is in the plate: the
// layout imextract keeps in the plate attributes ("imextract": wells and their fields, channels,
// t, z, plane size, dtype, codec, levels, tiles, sharding, the holes collect found), checked
// against the NGFF metadata a Zarr reader goes by (plate wells, each well's images, the field
// images' multiscales, omero labels and array metadata), so that a plate whose attributes disagree
// with its arrays is refused instead of read wrongly.
namespace {

using nlohmann::json;

// "DIR/NAME.zarr" (a folder path, or s3://BUCKET/PREFIX/NAME.zarr with an optional ?query that
// stays with the store URL) split into the store URL and the plate's key; false when it cannot
// name a plate (empty, ".", or a bucket alone).
bool split_plate_path(const std::string& text, std::string& store_url, std::string& key) {
    const bool remote = source::is_remote(fs::path(text));
    std::string path = text, query;
    if (remote) {
        const size_t q = path.find('?');
        if (q != std::string::npos) {
            query = path.substr(q);
            path.resize(q);
        }
    }
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (!remote) path = fs::absolute(fs::path(path)).lexically_normal().string();
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return false;
    key = path.substr(slash + 1);
    store_url = slash == 0 ? "/" : path.substr(0, slash);
    if (key.empty() || key == "." || key == "..") return false;
    if (remote && store_url.find('/', store_url.find("://") + 3) == std::string::npos) return false;  // s3://BUCKET
    store_url += query;
    return true;
}

json parse_json_object(const Store& store, const std::string& key) {
    auto text = store.get(key);
    if (!text) throw Error(store.url() + "/" + key + ": missing (a plate without its workspace is read from its metadata)",
                           Error::Kind::storage);
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        throw Error(store.url() + "/" + key + ": not a JSON object", Error::Kind::storage);
    return doc;
}

// A group's attributes (v2 .zattrs; v3 zarr.json "attributes", then its "ome" object).
json group_attrs(const Store& store, const std::string& path, bool v3) {
    if (!v3) return parse_json_object(store, path + "/.zattrs");
    json doc = parse_json_object(store, path + "/zarr.json");
    if (!doc.contains("attributes") || !doc["attributes"].is_object() || !doc["attributes"].contains("ome") ||
        !doc["attributes"]["ome"].is_object())
        throw Error(store.url() + "/" + path + "/zarr.json: no \"ome\" attributes", Error::Kind::storage);
    return doc["attributes"]["ome"];
}

[[noreturn]] void refuse_plate(const Store& store, const std::string& key, const std::string& why) {
    throw Error(store.url() + "/" + key + ": " + why + "; not reading it as a plate", Error::Kind::storage);
}

// Bounds on what the layout in the attributes may say, so that a damaged or hostile plate gets a
// message, not a loop over billions of positions or an allocation of terabytes.
void check_layout_bounds(const Store& store, const std::string& key, const PlateLayout& L) {
    auto bad = [&](const std::string& what) { refuse_plate(store, key, "its imextract layout says " + what); };
    if (L.rows < 1 || L.rows > kMaxWellRows || L.cols < 1 || L.cols > kMaxWellColumns)
        bad(std::to_string(L.rows) + " rows and " + std::to_string(L.cols) + " columns");
    if (L.wells.empty() || L.wells.size() > size_t(L.rows) * size_t(L.cols)) bad(std::to_string(L.wells.size()) + " wells");
    std::set<std::pair<int, int>> seen;
    for (const WellLayout& w : L.wells) {
        if (w.row < 0 || w.row >= L.rows || w.col < 0 || w.col >= L.cols || !seen.insert({w.row, w.col}).second)
            bad("a well at row " + std::to_string(w.row) + ", column " + std::to_string(w.col) + " (outside the plate or twice)");
        if (w.sites < 1 || w.sites > 100000) bad(std::to_string(w.sites) + " fields in well " + well_name(w.row, w.col));
    }
    if (L.channels.empty() || L.channels.size() > 10000) bad(std::to_string(L.channels.size()) + " channels");
    if (L.tpoints < 1 || L.tpoints > 1000000 || L.zplanes < 1 || L.zplanes > 1000000)
        bad(std::to_string(L.tpoints) + " time-points and " + std::to_string(L.zplanes) + " z-planes");
    if (L.width < 1 || L.height < 1 || L.width > (1u << 20) || L.height > (1u << 20))
        bad("planes of " + std::to_string(L.width) + "x" + std::to_string(L.height) + " pixels");
    if (L.levels < 1 || L.levels > 32 || (uint64_t(1) << (L.levels - 1)) > std::max(L.width, L.height))
        bad(std::to_string(L.levels) + " resolution levels for planes of " + std::to_string(L.width) + "x" +
            std::to_string(L.height));
    auto tile_ok = [](uint32_t t) { return t == 0 || (t >= kMinTile && t <= kMaxTile); };
    if (!tile_ok(L.chunk_y) || !tile_ok(L.chunk_x) || (L.chunk_y == 0) != (L.chunk_x == 0))
        bad("tiles of " + std::to_string(L.chunk_y) + "x" + std::to_string(L.chunk_x));
    if (L.ngff != "0.4" && L.ngff != "0.5") bad("NGFF " + L.ngff);
    if (L.ngff == "0.4" && L.shard != ShardMode::none) bad("sharding with NGFF 0.4");
    for (int c : L.plate_channels)
        if (c < 0 || size_t(c) >= L.channels.size()) bad("plate channel " + std::to_string(c));
    if (L.multiplexed()) {
        if (L.cycle_names.empty() || size_t(L.cycle_channels) * L.cycle_names.size() > L.channels.size())
            bad(std::to_string(L.cycle_names.size()) + " cycles of " + std::to_string(L.cycle_channels) + " channels");
    } else if (L.cycle_channels != 0 || L.cycle_sites != 0) {
        bad("cycles without names");
    }
}

// The layout of the plate at `key` of `store`, from its attributes, after checking that the NGFF
// metadata readers go by says the same (plate wells, the first field image's multiscales, omero
// labels and every level's array metadata). Each well's images are checked when it is first read.
PlateLayout read_bare_layout(const Store& store, const std::string& key) {
    PlateLayout L;
    try {
        L = NgffPlate::read_layout(store, key);
    } catch (const json::exception& e) {
        refuse_plate(store, key, std::string("the imextract layout in its attributes is damaged (") + e.what() + ")");
    } catch (const Error& e) {
        if (e.kind() == Error::Kind::storage) throw;
        refuse_plate(store, key, std::string("the imextract layout in its attributes is damaged (") + e.what() + ")");
    }
    L.path = key;  // where the plate is now, whatever its folder was called when it was written
    check_layout_bounds(store, key, L);
    const bool v3 = store.exists(key + "/zarr.json") && !store.exists(key + "/.zattrs");
    if (v3 != (L.ngff == "0.5"))
        refuse_plate(store, key, "its layout says NGFF " + L.ngff + " but its metadata is Zarr " + (v3 ? "v3" : "v2"));
    try {
        // The NGFF plate: the same wells.
        json attrs = group_attrs(store, key, v3);
        if (!attrs.contains("plate") || !attrs["plate"].is_object() || !attrs["plate"].contains("wells") ||
            !attrs["plate"]["wells"].is_array())
            refuse_plate(store, key, "its attributes have no NGFF plate wells");
        std::set<std::pair<int, int>> ngff_wells, layout_wells;
        for (const json& w : attrs["plate"]["wells"]) {
            int row = 0, col = 0;
            const std::string path = w.at("path").get<std::string>();
            const size_t slash = path.find('/');
            if (slash == std::string::npos || !parse_well_name(path.substr(0, slash) + path.substr(slash + 1), row, col))
                refuse_plate(store, key, "its NGFF plate lists a well at '" + path + "'");
            ngff_wells.insert({row, col});
        }
        for (const WellLayout& w : L.wells) layout_wells.insert({w.row, w.col});
        if (ngff_wells != layout_wells)
            refuse_plate(store, key, "the wells of its NGFF plate metadata (" + std::to_string(ngff_wells.size()) +
                                         ") are not the wells of its imextract layout (" +
                                         std::to_string(layout_wells.size()) + ")");
        // The first field image: levels, channel labels and the array metadata of every level.
        NgffPlate plate(const_cast<Store&>(store), L);
        const WellLayout& w0 = *std::min_element(L.wells.begin(), L.wells.end(), [](auto& a, auto& b) {
            return std::tie(a.row, a.col) < std::tie(b.row, b.col);
        });
        const std::string image = plate.image_path(w0.row, w0.col, 0);
        json img = group_attrs(store, image, v3);
        const json& datasets = img.at("multiscales").at(0).at("datasets");
        if (!datasets.is_array() || int(datasets.size()) != L.levels)
            refuse_plate(store, key, image + " has " + std::to_string(datasets.size()) + " resolution level(s), its layout " +
                                         std::to_string(L.levels));
        std::vector<std::string> labels, want;
        for (const json& c : img.at("omero").at("channels")) labels.push_back(c.at("label").get<std::string>());
        for (int c : L.channels_of_image(0)) want.push_back(L.channels[size_t(c)].label);
        if (labels != want) refuse_plate(store, key, image + ": its omero channel labels are not its layout's channels");
        for (int level = 0; level < L.levels; ++level) {
            const std::string array = image + "/" + std::to_string(level) + (v3 ? "/zarr.json" : "/.zarray");
            if (parse_json_object(store, array) != plate.array_metadata(level))
                refuse_plate(store, key, array + " (shape, dtype, chunks or codecs) does not match the layout in the plate attributes");
        }
    } catch (const json::exception& e) {
        refuse_plate(store, key, std::string("its NGFF metadata is damaged (") + e.what() + ")");
    }
    return L;
}

}  // namespace

struct ExperimentReader::Impl {
    std::string named_store_path;  // "NAME.zarr" when the caller named a plate, "" for an experiment
    std::string named_plate;       // that plate's name, once found in the catalog
    Workspace ws;
    std::unique_ptr<Catalog> cat;  // none for a plate without its workspace
    std::unique_ptr<Store> store;
    std::vector<CatalogPlate> plates;
    // Plates opened from the store (their layout read once), by store path: analysis code calls
    // get for thousands of planes.
    std::map<std::string, std::unique_ptr<NgffPlate>> opened;
    // A plate without its workspace: the path given, its layout, the wells whose NGFF images were
    // checked, and the positions its attributes list as holes (by row, col, site, t, c, z).
    std::string bare_path;
    std::optional<PlateLayout> bare;
    std::set<std::pair<int, int>> checked_wells;
    std::map<std::array<int, 6>, std::string> holes;
    int64_t hole_count = 0;

    explicit Impl(const fs::path& p) : ws(experiment_of(p, named_store_path)) {
        if (ws.exists() || !open_bare(p)) {
            ws.require();
            cat = std::make_unique<Catalog>(ws.catalog_file(), true);
        }
    }

    // Opens `p` as a plate without its workspace; false when no plate is there (then the path is
    // refused as not an experiment).
    bool open_bare(const fs::path& p) {
        std::string url, key;
        if (!split_plate_path(p.string(), url, key)) return false;
        if (!source::is_remote(p) && !fs::exists(p / ".zattrs") && !fs::exists(p / "zarr.json")) return false;
        store = open_store(url);
        if (!store->exists(key + "/.zattrs") && !store->exists(key + "/zarr.json")) return false;
        bare = read_bare_layout(*store, key);
        bare_path = p.string();
        const PlateLayout& L = *bare;
        plates.push_back({0, L.name, L.path, L.rows, L.cols});
        named_plate = L.name;
        if (L.holes.is_object()) {
            if (L.holes.contains("count") && L.holes["count"].is_number_integer()) hole_count = L.holes["count"].get<int64_t>();
            if (L.holes.contains("listed") && L.holes["listed"].is_array())
                for (const json& h : L.holes["listed"]) {
                    int row = 0, col = 0;
                    if (!h.is_object() || !h.contains("well") || !h["well"].is_string() ||
                        !parse_well_name(h["well"].get<std::string>(), row, col))
                        continue;
                    auto num = [&](const char* k) { return h.contains(k) && h[k].is_number_integer() ? h[k].get<int>() : -1; };
                    holes[{row, col, num("field"), num("t"), num("c"), num("z")}] =
                        h.contains("why") && h["why"].is_string() ? h["why"].get<std::string>() : "";
                }
        }
        return true;
    }

    std::vector<WellSites> plate_wells(const CatalogPlate& plate) const {
        if (!bare) return cat->plate_wells(plate.id);
        std::vector<WellSites> wells;
        for (const WellLayout& w : bare->wells) wells.push_back({w.row, w.col, w.sites});
        std::sort(wells.begin(), wells.end(), [](auto& a, auto& b) { return std::tie(a.row, a.col) < std::tie(b.row, b.col); });
        return wells;
    }
    PlateExtent plate_extent(const CatalogPlate& plate) const {
        if (!bare) return cat->plate_extent(plate.id);
        return {bare->tpoints, bare->zplanes};
    }
    // The NGFF well's images must be the fields the layout gives it.
    void check_well(int row, int col, int sites) {
        if (checked_wells.count({row, col})) return;
        const bool v3 = bare->ngff == "0.5";
        const std::string path = bare->path + "/" + row_name(row) + "/" + column_name(col);
        json attrs = group_attrs(*store, path, v3);
        size_t images = 0;
        try {
            const json& list = attrs.at("well").at("images");
            if (!list.is_array()) refuse_plate(*store, path, "its NGFF well images are not a list");
            images = list.size();
        } catch (const json::exception& e) {
            refuse_plate(*store, path, std::string("its NGFF well metadata is damaged (") + e.what() + ")");
        }
        if (images != size_t(sites))
            refuse_plate(*store, path, "the well lists " + std::to_string(images) + " field image(s), the plate's layout " +
                                           std::to_string(sites));
        checked_wells.insert({row, col});
    }
};

ExperimentReader::ExperimentReader(const fs::path& experiment) : impl_(std::make_unique<Impl>(experiment)) {
    if (impl_->bare) {
        for (const ChannelRendering& c : impl_->bare->channels) channels_.push_back(c.label);
        return;
    }
    impl_->store = open_store(impl_->cat->config().store);
    impl_->plates = impl_->cat->plates();
    for (auto& c : impl_->cat->channels()) channels_.push_back(c.name);
    if (impl_->named_store_path.empty()) return;
    std::string listed;
    for (const CatalogPlate& p : impl_->plates) {
        if (p.store_path == impl_->named_store_path) {
            impl_->named_plate = p.name;
            return;
        }
        listed += (listed.empty() ? "" : ", ") + p.store_path;
    }
    throw Error(experiment.string() + ": not a plate of the experiment in " + impl_->ws.root().string() +
                    " (its plates: " + listed + ")",
                Error::Kind::usage);
}

const std::string& ExperimentReader::named_plate() const { return impl_->named_plate; }

ExperimentReader::~ExperimentReader() = default;
ExperimentReader::ExperimentReader(ExperimentReader&&) noexcept = default;
ExperimentReader& ExperimentReader::operator=(ExperimentReader&&) noexcept = default;

namespace {

// "B02-B04, C02, C05-C06": the wells of a plate, runs of columns per row.
std::string well_ranges(const std::vector<WellSites>& wells) {
    std::string out;
    for (size_t i = 0; i < wells.size();) {
        size_t j = i;
        while (j + 1 < wells.size() && wells[j + 1].row == wells[i].row && wells[j + 1].col == wells[j].col + 1) ++j;
        out += (out.empty() ? "" : ", ") + well_name(wells[i].row, wells[i].col);
        if (j > i) out += "-" + well_name(wells[j].row, wells[j].col);
        i = j + 1;
    }
    return out;
}

[[noreturn]] void throw_no_well(const CatalogPlate& plate, int row, int col, const std::vector<WellSites>& wells) {
    throw Error("plate " + plate.name + " has no well " + well_name(row, col) + " (its wells: " + well_ranges(wells) + ")",
                Error::Kind::usage);
}

void parse_well_or_refuse(const std::string& well, int& row, int& col) {
    if (!parse_well_name(well, row, col)) throw Error("'" + well + "' is not a well name (like B03)", Error::Kind::usage);
}

}  // namespace

int ExperimentReader::find_channel(const std::string& name) const {
    const bool numeric = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); });
    if (numeric) {
        const int channel = name.size() > 6 ? -1 : std::stoi(name);
        return channel >= 0 && size_t(channel) < channels_.size() ? channel : -1;
    }
    for (size_t i = 0; i < channels_.size(); ++i)
        if (channels_[i] == name) return int(i);
    return -1;
}

void ExperimentReader::refuse_absent(const CatalogPlate& plate, int row, int col, const PlaneQuery& q) const {
    // Only here, when the catalog has no plane at the query: listing what exists scans the plate.
    const std::vector<WellSites> wells = impl_->plate_wells(plate);
    auto well = std::find_if(wells.begin(), wells.end(), [&](const WellSites& w) { return w.row == row && w.col == col; });
    if (well == wells.end()) throw_no_well(plate, row, col, wells);
    const int channel = find_channel(q.channel);
    if (channel < 0) {
        const bool numeric = !q.channel.empty() &&
                             std::all_of(q.channel.begin(), q.channel.end(), [](unsigned char c) { return std::isdigit(c); });
        if (numeric)
            throw Error("channel " + q.channel + " does not exist (channels: 0-" + std::to_string(channels_.size() - 1) + ")",
                        Error::Kind::usage);
        std::string names;
        for (auto& n : channels_) names += (names.empty() ? "" : ", ") + n;
        throw Error("no channel named '" + q.channel + "' (channels: " + names + ")", Error::Kind::usage);
    }
    const PlateExtent extent = impl_->plate_extent(plate);
    auto check_index = [&](const char* what, int value, int count, const std::string& where) {
        if (value < 0 || value >= count)
            throw Error(std::string(what) + " " + std::to_string(value) + " does not exist in " + where + " (" + what +
                            "s: " + (count == 1 ? "0" : "0-" + std::to_string(count - 1)) + ")",
                        Error::Kind::usage);
    };
    check_index("site", q.site, well->sites, "well " + well_name(row, col));
    check_index("tpoint", q.tpoint, extent.tpoints, "plate " + plate.name);
    check_index("zplane", q.zplane, extent.zplanes, "plate " + plate.name);
    throw Error("no plane at " + plate.name + " " + well_name(row, col) + " site " + std::to_string(q.site) + " channel " +
                    std::to_string(channel) + " tpoint " + std::to_string(q.tpoint) + " zplane " +
                    std::to_string(q.zplane) + ": the microscope recorded none there (the array reads as 0)",
                Error::Kind::usage);
}

const CatalogPlate& ExperimentReader::find_plate(const std::string& name) const {
    if (name.empty()) {
        if (impl_->plates.size() != 1)
            throw Error("the experiment holds " + std::to_string(impl_->plates.size()) + " plates; name one with --plate",
                        Error::Kind::usage);
        return impl_->plates[0];
    }
    for (auto& p : impl_->plates)
        if (p.name == name) return p;
    throw Error("no plate named '" + name + "' in this experiment", Error::Kind::usage);
}

std::vector<std::string> ExperimentReader::plate_names() const {
    std::vector<std::string> names;
    for (auto& p : impl_->plates) names.push_back(p.name);
    return names;
}

std::vector<WellSites> ExperimentReader::wells(const std::string& plate) {
    return impl_->plate_wells(find_plate(plate));
}

int ExperimentReader::site_count(const std::string& plate_name, const std::string& well) {
    const CatalogPlate& plate = find_plate(plate_name);
    int row = 0, col = 0;
    parse_well_or_refuse(well, row, col);
    const std::vector<WellSites> wells = impl_->plate_wells(plate);
    for (auto& w : wells)
        if (w.row == row && w.col == col) return w.sites;
    throw_no_well(plate, row, col, wells);
}

PlateLayout ExperimentReader::layout(const std::string& plate) {
    const CatalogPlate& p = find_plate(plate);
    return impl_->bare ? *impl_->bare : plate_layout(*impl_->cat, p);
}

bool ExperimentReader::bare() const { return impl_->bare.has_value(); }

std::string ExperimentReader::path() const { return impl_->bare ? impl_->bare_path : impl_->ws.root().string(); }

const Workspace& ExperimentReader::workspace() const { return impl_->ws; }

Plane ExperimentReader::get(const PlaneQuery& q) {
    const CatalogPlate* plate = &find_plate(q.plate);
    int row = 0, col = 0;
    parse_well_or_refuse(q.well, row, col);
    const int channel = find_channel(q.channel);
    const std::string position = plate->name + " " + well_name(row, col) + " site " + std::to_string(q.site) +
                                 " channel " + std::to_string(channel) + " tpoint " + std::to_string(q.tpoint) +
                                 " zplane " + std::to_string(q.zplane);
    if (impl_->bare) return get_bare(*plate, row, col, channel, q, position);
    std::optional<PlaneAtPosition> state;
    if (channel >= 0) state = impl_->cat->plane_at(plate->id, {row, col, q.site, channel, q.tpoint, q.zplane});
    if (!state) refuse_absent(*plate, row, col, q);
    if (!state->stored && !state->missing.empty())
        throw Error("no plane at " + position + ": the source has no pixels for it (" + state->missing + ")",
                    Error::Kind::usage);
    if (!state->stored)
        throw Error("the plane at " + position + " has not been extracted yet: run `imextract " +
                        impl_->ws.root().string() + " submit` (or `collect`, when its run job has finished)",
                    Error::Kind::not_extracted);
    return read(*plate, row, col, channel, q);
}

Plane ExperimentReader::read(const CatalogPlate& plate, int row, int col, int channel, const PlaneQuery& q) {
    std::unique_ptr<NgffPlate>& ngff = impl_->opened[plate.store_path];
    if (!ngff)
        ngff = std::make_unique<NgffPlate>(*impl_->store, impl_->bare ? *impl_->bare
                                                                      : NgffPlate::read_layout(*impl_->store, plate.store_path));
    const uint64_t fetched_before = ngff->bytes_read();
    Plane p;
    if (q.region)
        ngff->read_region_into(p, row, col, q.site, q.tpoint, channel, q.zplane, q.level, *q.region);
    else
        ngff->read_plane_into(p, row, col, q.site, q.tpoint, channel, q.zplane, q.level);
    bytes_fetched_ = ngff->bytes_read() - fetched_before;
    return p;
}

// A plate without its workspace: what the workspace's catalog would say about a position comes
// from the layout (wells, fields, channels, t, z) and the holes collect listed in the plate
// attributes; the same messages and exit codes as get on the experiment.
Plane ExperimentReader::get_bare(const CatalogPlate& plate, int row, int col, int channel, const PlaneQuery& q,
                                 const std::string& position) {
    const PlateLayout& L = *impl_->bare;
    auto well = std::find_if(L.wells.begin(), L.wells.end(), [&](const WellLayout& w) { return w.row == row && w.col == col; });
    if (well == L.wells.end() || channel < 0 || q.site < 0 || q.site >= well->sites || q.tpoint < 0 ||
        q.tpoint >= L.tpoints || q.zplane < 0 || q.zplane >= L.zplanes || !L.image_has_channel(q.site, channel))
        refuse_absent(plate, row, col, q);  // names what does not exist, or that nothing was recorded there
    impl_->check_well(row, col, well->sites);
    auto hole = impl_->holes.find({row, col, q.site, q.tpoint, channel, q.zplane});
    const std::string why = hole == impl_->holes.end() ? "" : hole->second;
    if (why.starts_with("no source plane")) refuse_absent(plate, row, col, q);
    const std::string missing_prefix = "missing in the source: ";
    if (why.starts_with(missing_prefix))
        throw Error("no plane at " + position + ": the source has no pixels for it (" + why.substr(missing_prefix.size()) + ")",
                    Error::Kind::usage);
    try {
        return read(plate, row, col, channel, q);
    } catch (const Error& e) {
        if (e.kind() != Error::Kind::verification) throw;
        const std::string what = e.what();
        const bool absent = what.ends_with("is missing") || what.ends_with("is missing from its shard");
        if (!absent) throw;
        if (hole != impl_->holes.end())
            throw Error("the plane at " + position + " was not extracted: the plate's attributes list it among the "
                            "positions without a stored plane (" + why + "); convert the source again, or resubmit "
                            "the experiment the plate came from (" + what + ")",
                        Error::Kind::not_extracted);
        if (L.channel_stats.is_null())  // collect writes the statistics file; without it, planes may still come
            throw Error("the plane at " + position + " has not been extracted yet: the plate was copied before "
                            "collect finished (no " + std::string(kChannelStatsFile) + "); run `submit` on the experiment "
                            "it came from (" + what + ")",
                        Error::Kind::not_extracted);
        if (impl_->hole_count > int64_t(impl_->holes.size()))
            throw Error(what + " (the plate's attributes count " + std::to_string(impl_->hole_count) +
                            " position(s) without a stored plane but name only " + std::to_string(impl_->holes.size()) +
                            ": this may be one of the others)",
                        Error::Kind::verification);
        throw;
    }
}

VerifyResult ExperimentReader::verify(const VerifyOptions& options) {
    if (!impl_->bare) return imx::verify(impl_->ws, options);
    if (options.sources)
        throw Error(impl_->bare_path + ": a plate without its workspace does not know its source files; verify --sources "
                    "needs the experiment it came from (its catalog)", Error::Kind::usage);
    const PlateLayout& L = *impl_->bare;
    NgffPlate plate(*impl_->store, L);
    std::vector<WellLayout> wells = L.wells;
    std::sort(wells.begin(), wells.end(), [](auto& a, auto& b) { return std::tie(a.row, a.col) < std::tie(b.row, b.col); });
    // The wells' NGFF images first (one thread: it fills the reader's cache of checked wells).
    std::vector<std::string> well_problem(wells.size());
    for (size_t i = 0; i < wells.size(); ++i) {
        try {
            impl_->check_well(wells[i].row, wells[i].col, wells[i].sites);
        } catch (const Error& e) {
            well_problem[i] = e.what();
        }
    }
    // Then well by well, as many threads as verify uses, every plane the layout says the plate
    // holds, at every level, read and decoded. A damaged or hostile plate whose layout promises
    // planes it does not hold stops after kMaxProblems of them, instead of listing them all.
    constexpr size_t kMaxProblems = 1000;
    struct WellResult {
        int64_t planes = 0, ok = 0, absent = 0, missing_in_source = 0;
        std::vector<std::string> problems;
    };
    std::vector<WellResult> results(wells.size());
    std::atomic<size_t> next{0}, problems{0};
    const std::string missing_prefix = "missing in the source: ";
    auto verify_well = [&](size_t i) {
        const WellLayout& w = wells[i];
        WellResult& r = results[i];
        if (!well_problem[i].empty()) {
            r.problems.push_back(well_problem[i]);
            ++problems;
            return;
        }
        Plane buffer;
        for (int site = 0; site < w.sites; ++site)
            for (int t = 0; t < L.tpoints; ++t)
                for (int c : L.channels_of_image(L.acquisition_of_site(site)))
                    for (int z = 0; z < L.zplanes; ++z) {
                        if (problems.load() >= kMaxProblems) return;
                        const std::string where = L.name + " " + well_name(w.row, w.col) + " site " + std::to_string(site) +
                                                  " channel " + std::to_string(c) + " tpoint " + std::to_string(t) +
                                                  " zplane " + std::to_string(z);
                        auto hole = impl_->holes.find({w.row, w.col, site, t, c, z});
                        const std::string why = hole == impl_->holes.end() ? "" : hole->second;
                        if (why.starts_with("no source plane")) {
                            ++r.absent;
                            continue;
                        }
                        ++r.planes;
                        if (why.starts_with(missing_prefix)) {
                            ++r.missing_in_source;
                            r.problems.push_back(where + ": " + why);
                            ++problems;
                            continue;
                        }
                        try {
                            for (int level = 0; level < L.levels; ++level)
                                plate.read_plane_into(buffer, w.row, w.col, site, t, c, z, level);
                            ++r.ok;
                        } catch (const Error& e) {
                            r.problems.push_back(where + ": " + e.what() +
                                                 (why.empty() ? std::string()
                                                              : " (the plate's attributes list it among the positions "
                                                                "without a stored plane: " + why + ")"));
                            ++problems;
                        }
                    }
    };
    auto work = [&] {
        for (size_t i = next++; i < wells.size(); i = next++) verify_well(i);
    };
    const int threads = std::clamp(options.threads > 0 ? options.threads : usable_cpus(), 1, 64);
    std::vector<std::thread> pool;
    for (int t = 1; t < threads && size_t(t) < wells.size(); ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    VerifyResult r;
    for (WellResult& w : results) {
        r.planes += w.planes;
        r.ok += w.ok;
        r.absent += w.absent;
        r.missing_in_source += w.missing_in_source;
        for (auto& p : w.problems) r.problems.push_back(std::move(p));
    }
    r.decoded_only = r.ok;
    if (problems.load() >= kMaxProblems)
        r.problems.push_back("verify stopped after " + std::to_string(kMaxProblems) + " problems; planes after them were "
                             "not read");
    return r;
}

PlaneRegion parse_region(const std::string& text) {
    uint64_t v[4];
    size_t pos = 0;
    for (int i = 0; i < 4; ++i) {
        const size_t end = i < 3 ? text.find(',', pos) : text.size();
        const std::string part = end == std::string::npos ? std::string() : text.substr(pos, end - pos);
        if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos)
            throw Error("--region must be Y,X,H,W (top row, left column, height and width in pixels), not '" + text + "'",
                        Error::Kind::usage);
        v[i] = std::stoull(part);
        pos = end + 1;
    }
    return {uint32_t(v[0]), uint32_t(v[1]), uint32_t(v[2]), uint32_t(v[3])};
}

}  // namespace imx
