// `init`: removes the output of a previous run, writes the plate's NGFF metadata, and splits the
// sites into run jobs (TissueMAPS' create_run_batches), each described by one JSON file.
#include <charconv>
#include <future>
#include <map>

#include "core/fileutil.h"
#include "core/log.h"
#include "storage/store.h"
#include "engines/engine.h"
#include "workflow/workflow.h"
#include "zarr/ngff.h"

namespace imx {

using nlohmann::json;

namespace {

const char* kPalette[] = {"0000FF", "00FF00", "FF0000", "FF00FF", "00FFFF", "FFFF00", "FFFFFF"};

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
    auto st = cat.db().prepare(
        "SELECT w.row, w.col, MAX(s.idx) + 1 FROM wells w JOIN sites s ON s.well_id = w.id "
        "WHERE w.plate_id = ? GROUP BY w.id ORDER BY w.row, w.col");
    st.bind(1, plate.id);
    while (st.step()) {
        WellLayout w{st.integer(0), st.integer(1), st.integer(2)};
        L.rows = std::max(L.rows, w.row + 1);  // metadata that under-states the plate format
        L.cols = std::max(L.cols, w.col + 1);
        L.wells.push_back(w);
    }
    auto channels = cat.channels();
    for (size_t i = 0; i < channels.size(); ++i)
        L.channels.push_back({channels[i].name, channels.size() == 1 ? "FFFFFF" : kPalette[i % 7], 0, 0});
    auto dims = cat.db().prepare(
        "SELECT COALESCE(MAX(o.tpoint) + 1, 1), COALESCE(MAX(o.zplane) + 1, 1) FROM outputs o "
        "JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id WHERE w.plate_id = ?");
    dims.bind(1, plate.id);
    if (dims.step()) {
        L.tpoints = dims.integer(0);
        L.zplanes = dims.integer(1);
    }
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
    L.holes = plate_holes(cat, plate, false);
    if (config.mode != "multiplexing") {
        // The channels this plate's planes use; a subset when a source's plates differ in channels.
        auto used = cat.db().prepare(
            "SELECT DISTINCT o.channel FROM outputs o JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id "
            "WHERE w.plate_id = ? ORDER BY o.channel");
        used.bind(1, plate.id);
        std::vector<int> own;
        while (used.step()) own.push_back(used.integer(0));
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
    constexpr int64_t kListed = 100;
    json listed = json::array();
    int64_t count = 0;
    auto add = [&](sql::Statement& st, const std::string& why) {
        if (count++ < kListed)
            listed.push_back({{"well", well_name(st.integer(0), st.integer(1))}, {"field", st.integer(2)},
                              {"t", st.integer(3)}, {"c", st.integer(4)}, {"z", st.integer(5)}, {"why", why}});
    };
    auto absent = cat.db().prepare("SELECT row, col, site, tpoint, channel, zplane FROM absent_planes "
                                   "WHERE plate_id = ? ORDER BY rowid");
    absent.bind(1, plate.id);
    while (absent.step()) add(absent, "no source plane: the acquisition has none at this position");
    auto outputs = cat.db().prepare(
        "SELECT w.row, w.col, s.idx, o.tpoint, o.channel, o.zplane, o.missing FROM outputs o "
        "JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id WHERE w.plate_id = ? AND "
        "((o.missing IS NOT NULL AND o.checksum IS NULL) OR (? AND o.verified = 0)) ORDER BY o.id");
    outputs.bind(1, plate.id).bind(2, int64_t(unverified));
    while (outputs.step())
        add(outputs, outputs.is_null(6) ? "not stored or not verified" : "missing in the source: " + outputs.text(6));
    if (count == 0) return nullptr;
    return {{"count", count},
            {"note", "positions of the arrays that hold no stored plane: they read as 0 (the fill value), not as data"},
            {"listed", listed}};
}

InitResult init_jobs(const Workspace& ws, const InitOptions& opt) {
    ws.require();
    if (opt.batch_size < 1) throw Error("--batch-size must be at least 1", Error::Kind::usage);
    ExperimentLock lock(ws, "init");
    if (reconcile_engine_states(ws))
        throw Error(ws.root().string() + ": a SLURM submission of this experiment is still queued or running; "
                                         "init would delete what its jobs write (wait for it or scancel it)",
                    Error::Kind::usage);
    log::set_file(ws.log_file(Phase::init, 0));
    Catalog cat(ws.catalog_file());
    ExperimentConfig config = cat.config();
    auto store = open_store(config.store);
    InitResult result;

    // delete_previous_job_output: job files, then the stored planes of every plate.
    std::error_code ec;
    fs::remove_all(ws.jobs_dir() / "run", ec);
    fs::remove_all(ws.job_dir(Phase::collect), ec);
    fs::remove(ws.batches_file(), ec);
    auto plates = cat.plates();
    for (auto& p : plates) result.removed_keys += store->remove_prefix(p.store_path);
    cat.db().exec("UPDATE outputs SET checksum = NULL, min = NULL, max = NULL, p999 = NULL, stored_bytes = NULL, "
                  "job = NULL, verified = 0");
    if (result.removed_keys) log::info("removed {} files of a previous run from {}", result.removed_keys, store->url());

    std::map<int64_t, json> layouts;  // plate id -> layout json
    std::vector<PlateLayout> plate_layouts;
    for (auto& p : plates) {
        PlateLayout L = plate_layout(cat, p);
        layouts[p.id] = L.to_json();
        log::info("plate '{}': {} wells, {} channels, {} tpoints, {} zplanes, {}x{} {} -> {}/{}", L.name,
                  L.wells.size(), L.image_channels(), L.tpoints, L.zplanes, L.width, L.height, dtype_name(L.dtype),
                  store->url(), L.path);
        plate_layouts.push_back(std::move(L));
    }
    // The NGFF metadata (a few files per field: tens of thousands on a big plate, mostly the
    // kernel's work) is written by a second thread while this one reads the catalog and writes
    // the job files (mostly user time).
    auto metadata = std::async(std::launch::async, [&store, &plate_layouts] {
        for (const PlateLayout& L : plate_layouts) NgffPlate(*store, L).write_metadata();
    });
    struct JoinMetadata {  // an exception below must not leave the thread running
        std::future<void>& f;
        ~JoinMetadata() {
            if (f.valid()) f.wait();
        }
    } join_metadata{metadata};

    // Sites in plate order, batch_size sites per job; each job lists its stored planes and, for
    // each, the source planes (several with --mip).
    auto st = cat.db().prepare(
        "SELECT w.plate_id, p.store_path, s.id, w.row, w.col, s.idx, o.id, o.channel, o.tpoint, o.zplane, "
        "       f.path, pl.series, pl.page, pl.sample "
        "FROM outputs o JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id "
        "JOIN plates p ON w.plate_id = p.id JOIN planes pl ON pl.output_id = o.id JOIN files f ON pl.file_id = f.id "
        "ORDER BY w.plate_id, w.row, w.col, s.idx, o.tpoint, o.channel, o.zplane, pl.zplane");
    // The outputs of a job are written as JSON text directly: building a json tree of a million
    // rows and dumping it took longer than the catalog query.
    std::string job_outputs;
    int64_t job_output_count = 0;
    std::map<int64_t, bool> job_plates;
    std::map<std::string, std::string> quoted_paths;  // plate store path -> its JSON string
    int sites_in_job = 0;
    int64_t current_site = -1, current_output = -1;
    std::vector<int64_t> job_planes;
    auto flush = [&] {
        if (job_output_count == 0) return;
        ++result.run_jobs;
        job_planes.push_back(job_output_count);
        json plates_j = json::object();
        for (auto& [pid, _] : job_plates) plates_j[layouts[pid]["path"].get<std::string>()] = layouts[pid];
        json job = {{"phase", "run"},
                    {"id", result.run_jobs},
                    {"source", name_to_json(config.source)},
                    {"source_endpoint", config.source_endpoint},
                    {"store", name_to_json(config.store)},
                    {"mip", config.mip},
                    {"plates", plates_j},
                    {"output_columns", {"id", "plate", "row", "col", "site", "t", "c", "z",
                                        "inputs [file, series, page, sample]"}}};
        std::string text = job.dump();
        text.pop_back();  // the closing brace: "outputs" follows
        text += ",\"outputs\":[";
        text += job_outputs;
        text += "]]]}";
        write_file_atomic(ws.job_file(Phase::run, result.run_jobs), text);
        job_outputs.clear();
        job_output_count = 0;
        job_plates.clear();
        sites_in_job = 0;
    };
    auto append_int = [&job_outputs](int64_t v) {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        job_outputs.append(buf, end);
    };
    while (st.step()) {
        int64_t site_id = st.int64(2);
        if (site_id != current_site) {
            if (sites_in_job == opt.batch_size) flush();
            current_site = site_id;
            ++sites_in_job;
        }
        int64_t output_id = st.int64(6);
        if (output_id != current_output) {
            // A row [id, plate, row, col, site, t, c, z, [inputs]] (rows rather than objects: a
            // million planes cost a third of the time and space); run.cpp reads it.
            if (job_output_count > 0) job_outputs += "]],";
            current_output = output_id;
            ++result.outputs;
            ++job_output_count;
            job_plates[st.int64(0)] = true;
            std::string path = st.text(1);
            auto quoted = quoted_paths.find(path);
            if (quoted == quoted_paths.end()) quoted = quoted_paths.emplace(path, json(path).dump()).first;
            job_outputs += '[';
            append_int(output_id);
            job_outputs += ',';
            job_outputs += quoted->second;
            for (int column : {3, 4, 5, 8, 7, 9}) {
                job_outputs += ',';
                append_int(st.integer(column));
            }
            job_outputs += ",[";
        } else {
            job_outputs += ',';
        }
        job_outputs += '[';
        job_outputs += name_to_json(st.text(10)).dump();
        for (int column : {11, 12, 13}) {
            job_outputs += ',';
            append_int(st.int64(column));
        }
        job_outputs += ']';
    }
    flush();
    metadata.get();  // its exception, if any

    write_file_atomic(ws.job_file(Phase::collect, 0), json{{"phase", "collect"}, {"delete", opt.delete_sources}}.dump(1));
    write_file_atomic(ws.batches_file(), json{{"run_jobs", result.run_jobs},
                                              {"batch_size", opt.batch_size},
                                              {"delete", opt.delete_sources},
                                              {"outputs", result.outputs},
                                              {"job_planes", job_planes},
                                              {"created", now_seconds()}}.dump(1));
    log::info("init: {} run job(s) of up to {} site(s), {} plane(s) to store{}", result.run_jobs, opt.batch_size,
              result.outputs, opt.delete_sources ? "; collect will delete verified source files" : "");
    log::set_file({});
    return result;
}

}  // namespace imx
