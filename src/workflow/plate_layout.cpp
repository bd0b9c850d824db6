// The NGFF layout of a catalogued plate: what init writes as the plate's metadata and every run job
// carries, and what collect re-renders with contrast windows and the plate's holes.
#include "catalog/catalog.h"
#include "workflow/workflow.h"
#include "zarr/ngff.h"

namespace imx {

using nlohmann::json;

namespace {

const char* kPalette[] = {"0000FF", "00FF00", "FF0000", "FF00FF", "00FFFF", "FFFF00", "FFFFFF"};

// The colour a channel is shown in from its emission wavelength (nm): blue below 490 (DAPI,
// Hoechst), green to 560 (FITC, GFP), red to 620 (Cy3, TRITC, mCherry), magenta beyond (Cy5).
const char* emission_color(double nm) {
    if (nm < 490) return "0000FF";
    if (nm < 560) return "00FF00";
    if (nm < 620) return "FF0000";
    return "FF00FF";
}

std::optional<double> meta_number(Catalog& cat, const char* key) {
    std::string v = cat.meta(key);
    if (v.empty()) return std::nullopt;
    return std::stod(v);
}

}  // namespace

// Builds the NGFF layout of one catalogued plate.
PlateLayout plate_layout(Catalog& cat, const CatalogPlate& plate) {
    PlateLayout L;
    L.name = plate.name;
    L.path = plate.store_path;
    L.rows = plate.rows;
    L.cols = plate.cols;
    for (const WellSites& well : cat.plate_wells(plate.id)) {
        WellLayout w{well.row, well.col, well.sites};
        L.rows = std::max(L.rows, w.row + 1);  // metadata that under-states the plate format
        L.cols = std::max(L.cols, w.col + 1);
        L.wells.push_back(w);
    }
    auto channels = cat.channels();
    // Without an emission wavelength: the palette in channel order.
    for (size_t i = 0; i < channels.size(); ++i)
        L.channels.push_back({channels[i].name,
                              channels.size() == 1   ? "FFFFFF"
                              : channels[i].emission_nm ? emission_color(*channels[i].emission_nm)
                                                        : kPalette[i % 7],
                              0, 0});
    const PlateExtent extent = cat.plate_extent(plate.id);
    L.tpoints = extent.tpoints;
    L.zplanes = extent.zplanes;
    L.width = uint32_t(std::stoul(cat.meta("width", "0")));
    L.height = uint32_t(std::stoul(cat.meta("height", "0")));
    L.dtype = dtype_from_name(cat.meta("dtype", "uint16"));
    L.pixel_size_x = meta_number(cat, "pixel_size_x");
    L.pixel_size_y = meta_number(cat, "pixel_size_y");
    L.pixel_size_z = meta_number(cat, "pixel_size_z");
    L.time_interval_s = meta_number(cat, "time_interval_s");
    // A plate with its own plane size (images of several sizes in one source).
    auto geometry = nlohmann::json::parse(cat.meta("plate_geometry", "{}"), nullptr, false);
    if (geometry.is_object() && geometry.contains(plate.name) && geometry[plate.name].is_object()) {
        const auto& g = geometry[plate.name];
        L.width = g.value("width", L.width);
        L.height = g.value("height", L.height);
        if (g.contains("dtype")) L.dtype = dtype_from_name(g["dtype"].get<std::string>());
        if (g.contains("pixel_size_x")) L.pixel_size_x = g["pixel_size_x"].get<double>();
        if (g.contains("pixel_size_y")) L.pixel_size_y = g["pixel_size_y"].get<double>();
        if (g.contains("pixel_size_z")) L.pixel_size_z = g["pixel_size_z"].get<double>();
    }
    ExperimentConfig config = cat.config();
    L.codec = config.codec;
    L.levels = config.levels > 0 ? config.levels : default_levels(L.width, L.height);
    L.downsample = parse_downsample(config.downsample);
    L.ngff = config.ngff;
    L.shard = parse_shard_mode(config.shard);
    const auto chunk = chosen_chunk(parse_chunk_option(config.chunk), L.width, L.height);
    L.chunk_y = chunk[0];
    L.chunk_x = chunk[1];
    L.holes = plate_holes(cat, plate, false);
    for (const SitePosition& p : cat.site_positions(plate.id)) L.stage_positions[{p.row, p.col, p.site}] = {p.x, p.y};
    L.acquisition_starts = cat.site_acquisition_starts(plate.id);
    if (config.mode != "multiplexing") {
        // The channels this plate's planes use; a subset when a source's plates differ in channels.
        std::vector<int> own = cat.plate_channels_used(plate.id);
        if (!own.empty() && own.size() < L.channels.size()) L.plate_channels = own;
    }
    if (config.mode == "multiplexing" && config.cycle_channels > 0) {
        L.cycle_channels = config.cycle_channels;
        L.cycle_sites = config.cycle_sites;
        L.cycle_names = config.cycle_names;
        // Each cycle's field images show its channels in the same colours as the other cycles.
        for (size_t i = 0; i < L.channels.size(); ++i)
            L.channels[i].color = L.cycle_channels == 1 ? "FFFFFF" : kPalette[(i % size_t(L.cycle_channels)) % 7];
    }
    return L;
}

json plate_holes(Catalog& cat, const CatalogPlate& plate, bool unverified) {
    constexpr size_t kListed = 100;
    const PlaneHoles holes = cat.plate_holes(plate.id, unverified, kListed);
    if (holes.count == 0) return nullptr;
    json listed = json::array();
    for (const PlaneHole& h : holes.listed)
        listed.push_back({{"well", well_name(h.row, h.col)}, {"field", h.site}, {"t", h.tpoint}, {"c", h.channel},
                          {"z", h.zplane}, {"why", h.why}});
    return {{"count", holes.count},
            {"note", "positions of the arrays that hold no stored plane: they read as 0 (the fill value), not as data"},
            {"listed", listed}};
}

}  // namespace imx
