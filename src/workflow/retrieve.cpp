// Retrieval of single planes from an extracted experiment (the seed's ChannelImageFile.get).
#include <algorithm>
#include <cctype>
#include <map>

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

struct ExperimentReader::Impl {
    std::string named_store_path;  // "NAME.zarr" when the caller named a plate, "" for an experiment
    std::string named_plate;       // that plate's name, once found in the catalog
    Workspace ws;
    Catalog cat;
    std::unique_ptr<Store> store;
    std::vector<CatalogPlate> plates;
    // Plates opened from the store (their layout read once), by store path: analysis code calls
    // get for thousands of planes.
    std::map<std::string, std::unique_ptr<NgffPlate>> opened;
    explicit Impl(const fs::path& p) : ws(experiment_of(p, named_store_path)), cat((ws.require(), ws.catalog_file()), true) {}
};

ExperimentReader::ExperimentReader(const fs::path& experiment) : impl_(std::make_unique<Impl>(experiment)) {
    impl_->store = open_store(impl_->cat.config().store);
    impl_->plates = impl_->cat.plates();
    for (auto& c : impl_->cat.channels()) channels_.push_back(c.name);
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
    const std::vector<WellSites> wells = impl_->cat.plate_wells(plate.id);
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
    const PlateExtent extent = impl_->cat.plate_extent(plate.id);
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
    return impl_->cat.plate_wells(find_plate(plate).id);
}

int ExperimentReader::site_count(const std::string& plate_name, const std::string& well) {
    const CatalogPlate& plate = find_plate(plate_name);
    int row = 0, col = 0;
    parse_well_or_refuse(well, row, col);
    const std::vector<WellSites> wells = impl_->cat.plate_wells(plate.id);
    for (auto& w : wells)
        if (w.row == row && w.col == col) return w.sites;
    throw_no_well(plate, row, col, wells);
}

PlateLayout ExperimentReader::layout(const std::string& plate) { return plate_layout(impl_->cat, find_plate(plate)); }

const Workspace& ExperimentReader::workspace() const { return impl_->ws; }

Plane ExperimentReader::get(const PlaneQuery& q) {
    const CatalogPlate* plate = &find_plate(q.plate);
    int row = 0, col = 0;
    parse_well_or_refuse(q.well, row, col);
    const int channel = find_channel(q.channel);
    std::optional<PlaneAtPosition> state;
    if (channel >= 0) state = impl_->cat.plane_at(plate->id, {row, col, q.site, channel, q.tpoint, q.zplane});
    if (!state) refuse_absent(*plate, row, col, q);
    const std::string position = plate->name + " " + well_name(row, col) + " site " + std::to_string(q.site) +
                                 " channel " + std::to_string(channel) + " tpoint " + std::to_string(q.tpoint) +
                                 " zplane " + std::to_string(q.zplane);
    if (!state->stored && !state->missing.empty())
        throw Error("no plane at " + position + ": the source has no pixels for it (" + state->missing + ")",
                    Error::Kind::usage);
    if (!state->stored)
        throw Error("the plane at " + position + " has not been extracted yet: run `imextract " +
                        impl_->ws.root().string() + " submit` (or `collect`, when its run job has finished)",
                    Error::Kind::not_extracted);
    std::unique_ptr<NgffPlate>& ngff = impl_->opened[plate->store_path];
    if (!ngff)
        ngff = std::make_unique<NgffPlate>(*impl_->store, NgffPlate::read_layout(*impl_->store, plate->store_path));
    const uint64_t fetched_before = ngff->bytes_read();
    Plane p;
    if (q.region)
        ngff->read_region_into(p, row, col, q.site, q.tpoint, channel, q.zplane, q.level, *q.region);
    else
        ngff->read_plane_into(p, row, col, q.site, q.tpoint, channel, q.zplane, q.level);
    bytes_fetched_ = ngff->bytes_read() - fetched_before;
    return p;
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
