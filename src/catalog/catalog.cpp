#include "catalog/catalog.h"

#include "core/fileutil.h"

#include <array>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

namespace imx {

namespace {

// Tables schema 2 added (also created when a schema 1 catalog is upgraded).
const char* kSchema2Tables = R"SQL(
-- Image files in the source folders that no plane reads (thumbnails, shading images, ...).
CREATE TABLE unused_files(path TEXT PRIMARY KEY, size INTEGER NOT NULL);
-- Positions of a plate's arrays (fields 0..max of each well, t x c x z) that no source plane fills:
-- they read as zeros. At most kMaxAbsentRows are listed; meta absent_planes has the count.
CREATE TABLE absent_planes(plate_id INTEGER NOT NULL, row INTEGER NOT NULL, col INTEGER NOT NULL,
                           site INTEGER NOT NULL, tpoint INTEGER NOT NULL, channel INTEGER NOT NULL,
                           zplane INTEGER NOT NULL);
)SQL";

constexpr size_t kMaxAbsentRows = 100000;

const char* kSchema = R"SQL(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE plates(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, store_path TEXT NOT NULL,
                    rows INTEGER NOT NULL, cols INTEGER NOT NULL);
CREATE TABLE wells(id INTEGER PRIMARY KEY, plate_id INTEGER NOT NULL REFERENCES plates(id),
                   row INTEGER NOT NULL, col INTEGER NOT NULL, UNIQUE(plate_id, row, col));
CREATE TABLE sites(id INTEGER PRIMARY KEY, well_id INTEGER NOT NULL REFERENCES wells(id),
                   idx INTEGER NOT NULL, stage_x REAL, stage_y REAL, UNIQUE(well_id, idx));
CREATE TABLE channels(idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, excitation_nm REAL, emission_nm REAL);
-- content: create's pixel inventory (complete | incomplete | unreadable | missing; 'unknown' in
-- catalogs upgraded from schema 1); only complete files may be deleted.
CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
                   mtime_ns INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'present',
                   content TEXT NOT NULL DEFAULT 'unknown', content_detail TEXT NOT NULL DEFAULT '');
-- Stored planes: one per (site, channel, tpoint, zplane) of the plate, z collapsed to 0 with --mip.
CREATE TABLE outputs(id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL REFERENCES sites(id),
                     channel INTEGER NOT NULL, tpoint INTEGER NOT NULL, zplane INTEGER NOT NULL,
                     checksum TEXT, level_checksums TEXT, min REAL, max REAL, p999 REAL, stored_bytes INTEGER,
                     job INTEGER, verified INTEGER NOT NULL DEFAULT 0, missing TEXT,
                     UNIQUE(site_id, channel, tpoint, zplane));
-- Source planes: where each microscope plane lives and which stored plane it feeds.
CREATE TABLE planes(id INTEGER PRIMARY KEY, output_id INTEGER NOT NULL REFERENCES outputs(id),
                    zplane INTEGER NOT NULL, file_id INTEGER NOT NULL REFERENCES files(id),
                    series INTEGER NOT NULL, page INTEGER NOT NULL, sample INTEGER NOT NULL, stage_z REAL,
                    acquired TEXT, exposure_s REAL);
CREATE INDEX planes_output ON planes(output_id);
CREATE INDEX planes_file ON planes(file_id);
CREATE TABLE warnings(id INTEGER PRIMARY KEY, text TEXT NOT NULL);
)SQL";

}  // namespace

std::string safe_plate_key(const std::string& name) {
    std::string s;
    for (unsigned char c : name) s += (std::isalnum(c) || c == '-' || c == '_' || c == '.') ? char(c) : '_';
    if (s.empty() || s == "." || s == "..") s = "plate";
    return s;
}

void Catalog::create(const std::filesystem::path& file, const ImageSet& set, const ExperimentConfig& config,
                     const std::vector<SourceFile>& files, const std::vector<std::pair<std::string, int64_t>>& unused) {
    sql::Database db(file, false);
    db.exec(kSchema);
    db.exec(kSchema2Tables);
    sql::Transaction tx(db);
    auto put_meta = db.prepare("INSERT INTO meta(key, value) VALUES(?, ?)");
    auto meta = [&](const std::string& k, const std::string& v) { put_meta.bind(1, k).bind(2, v).run(); };
    auto num = [](const std::optional<double>& v) { return v ? nlohmann::json(*v).dump() : std::string(); };
    meta("schema_version", std::to_string(schema_version));
    meta("format", set.format);
    meta("source", config.source);
    meta("source_endpoint", config.source_endpoint);
    meta("pattern", config.pattern);
    nlohmann::json sources = nlohmann::json::array();
    for (auto& s : config.sources) sources.push_back(name_to_json(s));  // folder names may not be UTF-8
    meta("sources", sources.dump());
    nlohmann::json found = nlohmann::json::array();
    for (auto& [acquisition, given] : config.found_below)
        found.push_back(nlohmann::json::array({name_to_json(acquisition), name_to_json(given)}));
    meta("found_below", found.dump());
    meta("mode", config.mode);
    meta("cycle_channels", std::to_string(config.cycle_channels));
    meta("cycle_sites", std::to_string(config.cycle_sites));
    nlohmann::json cycles = nlohmann::json::array();
    for (auto& n : config.cycle_names) cycles.push_back(printable_utf8(n));  // shown by viewers
    meta("cycle_names", cycles.dump());
    meta("store", config.store);
    meta("mip", config.mip ? "1" : "0");
    meta("compression", config.codec.name() + ":" + std::to_string(config.codec.level));
    meta("levels", std::to_string(config.levels));
    meta("downsample", config.downsample);
    meta("ngff", config.ngff);
    meta("shard", config.shard);
    meta("chunk", config.chunk);
    meta("width", std::to_string(set.width));
    meta("height", std::to_string(set.height));
    meta("dtype", dtype_name(set.dtype.value_or(DType::u16)));
    meta("bits_per_sample", std::to_string(set.bits_per_sample));
    meta("pixel_size_x", num(set.pixel_size_x));
    meta("pixel_size_y", num(set.pixel_size_y));
    meta("pixel_size_z", num(set.pixel_size_z));
    meta("time_interval_s", num(set.time_interval_s));

    // Plates with their own plane geometry (formats/reader.h PlateInfo), by catalog plate name.
    nlohmann::json geometry = nlohmann::json::object();
    for (auto& p : set.plates) {
        if (!p.own_geometry()) continue;
        nlohmann::json g = {{"width", p.width}, {"height", p.height}, {"bits_per_sample", p.bits_per_sample}};
        if (p.dtype) g["dtype"] = dtype_name(*p.dtype);
        if (p.pixel_size_x) g["pixel_size_x"] = *p.pixel_size_x;
        if (p.pixel_size_y) g["pixel_size_y"] = *p.pixel_size_y;
        if (p.pixel_size_z) g["pixel_size_z"] = *p.pixel_size_z;
        geometry[printable_utf8(p.name)] = g;
    }
    meta("plate_geometry", geometry.dump());
    if (set.objective && !set.objective->empty()) {
        const ObjectiveInfo& o = *set.objective;
        nlohmann::json j = nlohmann::json::object();
        if (!o.model.empty()) j["model"] = printable_utf8(o.model);
        if (o.magnification) j["magnification"] = *o.magnification;
        if (o.lens_na) j["lens_na"] = *o.lens_na;
        if (!o.immersion.empty()) j["immersion"] = o.immersion;
        meta("objective", j.dump());
    }

    auto ins_plate = db.prepare("INSERT INTO plates(name, store_path, rows, cols) VALUES(?,?,?,?)");
    std::map<std::string, int64_t> plate_ids;
    std::set<std::string> used_keys;
    for (auto& p : set.plates) {
        std::string key = safe_plate_key(p.name);
        while (!used_keys.insert(key).second) key += "_";
        ins_plate.bind(1, printable_utf8(p.name)).bind(2, printable_utf8(key) + ".zarr").bind(3, p.rows).bind(4, p.cols).run();
        plate_ids[p.name] = db.last_insert_id();
    }
    auto ins_ch = db.prepare("INSERT INTO channels(idx, name, excitation_nm, emission_nm) VALUES(?,?,?,?)");
    for (size_t i = 0; i < set.channels.size(); ++i)
        ins_ch.bind(1, int64_t(i)).bind(2, printable_utf8(set.channels[i].name)).bind(3, set.channels[i].excitation_nm)
            .bind(4, set.channels[i].emission_nm).run();
    auto ins_file =
        db.prepare("INSERT INTO files(path, size, mtime_ns, state, content, content_detail) VALUES(?,?,?,?,?,?)");
    std::map<std::string, int64_t> file_ids;
    for (auto& f : files) {
        ins_file.bind(1, f.path).bind(2, f.size).bind(3, f.mtime_ns).bind(4, f.size < 0 ? "missing" : "present")
            .bind(5, f.content).bind(6, f.content_detail).run();
        file_ids[f.path] = db.last_insert_id();
    }
    auto ins_unused = db.prepare("INSERT OR IGNORE INTO unused_files(path, size) VALUES(?,?)");
    for (auto& [path, size] : unused) ins_unused.bind(1, path).bind(2, size).run();
    auto ins_well = db.prepare("INSERT INTO wells(plate_id, row, col) VALUES(?,?,?)");
    auto ins_site = db.prepare("INSERT INTO sites(well_id, idx, stage_x, stage_y) VALUES(?,?,?,?)");
    auto ins_out = db.prepare("INSERT INTO outputs(site_id, channel, tpoint, zplane) VALUES(?,?,?,?)");
    auto ins_plane = db.prepare(
        "INSERT INTO planes(output_id, zplane, file_id, series, page, sample, stage_z, acquired, exposure_s) "
        "VALUES(?,?,?,?,?,?,?,?,?)");
    std::map<std::tuple<int64_t, int, int>, int64_t> well_ids;
    std::map<std::tuple<int64_t, int>, int64_t> site_ids;
    std::map<std::tuple<int64_t, int, int, int>, int64_t> output_ids;
    std::map<int64_t, std::string> missing;  // output -> why a source plane of it has no pixels
    for (auto& pl : set.planes) {
        auto pid_it = plate_ids.find(pl.plate);
        if (pid_it == plate_ids.end())
            throw Error("internal: plane refers to unknown plate '" + pl.plate + "'");
        auto wkey = std::make_tuple(pid_it->second, pl.row, pl.col);
        auto wit = well_ids.find(wkey);
        if (wit == well_ids.end()) {
            ins_well.bind(1, pid_it->second).bind(2, pl.row).bind(3, pl.col).run();
            wit = well_ids.emplace(wkey, db.last_insert_id()).first;
        }
        auto skey = std::make_tuple(wit->second, pl.site);
        auto sit = site_ids.find(skey);
        if (sit == site_ids.end()) {
            ins_site.bind(1, wit->second).bind(2, pl.site).bind(3, pl.stage_x).bind(4, pl.stage_y).run();
            sit = site_ids.emplace(skey, db.last_insert_id()).first;
        }
        int out_z = config.mip ? 0 : pl.zplane;
        auto okey = std::make_tuple(sit->second, pl.channel, pl.tpoint, out_z);
        auto oit = output_ids.find(okey);
        if (oit == output_ids.end()) {
            ins_out.bind(1, sit->second).bind(2, pl.channel).bind(3, pl.tpoint).bind(4, out_z).run();
            oit = output_ids.emplace(okey, db.last_insert_id()).first;
        }
        auto fit = file_ids.find(pl.file);
        if (fit == file_ids.end()) throw Error("internal: plane refers to uncatalogued file '" + pl.file + "'");
        ins_plane.bind(1, oit->second).bind(2, pl.zplane).bind(3, fit->second).bind(4, int64_t(pl.series))
            .bind(5, int64_t(pl.page)).bind(6, int64_t(pl.sample)).bind(7, pl.stage_z);
        if (pl.acquired.empty()) ins_plane.bind_null(8);
        else ins_plane.bind(8, pl.acquired);
        ins_plane.bind(9, pl.exposure_s);
        ins_plane.run();
        if (!pl.missing.empty()) missing.emplace(oit->second, pl.file + ": " + pl.missing);
    }
    auto mark_missing = db.prepare("UPDATE outputs SET missing = ? WHERE id = ?");
    for (auto& [id, why] : missing) mark_missing.bind(1, why).bind(2, id).run();

    // Positions of each plate's arrays that no source plane fills, in the geometry init lays out
    // (the same queries: fields 0..max of each well, t and z up to the plate's largest, the
    // channels its planes use).
    const int channels = int(set.channels.size());
    const int per_cycle = config.mode == "multiplexing" && config.cycle_channels > 0 ? config.cycle_channels : channels;
    const int cycle_sites = config.mode == "multiplexing" && config.cycle_sites > 0 ? config.cycle_sites : 0;
    auto ins_absent = db.prepare("INSERT INTO absent_planes(plate_id, row, col, site, tpoint, channel, zplane) "
                                 "VALUES(?,?,?,?,?,?,?)");
    int64_t absent = 0;
    for (const auto& [plate_name, plate_id] : plate_ids) {
        const PlateExtent extent = plate_extent(db, plate_id);
        const std::vector<int> used_list = plate_channels_used(db, plate_id);
        const std::set<int> used(used_list.begin(), used_list.end());
        for (const WellSites& w : plate_wells(db, plate_id)) {
            const int64_t well_id = well_ids.at({plate_id, w.row, w.col});
            for (int site = 0; site < w.sites; ++site) {
                auto sit = site_ids.find({well_id, site});
                const int c0 = cycle_sites ? (site / cycle_sites) * per_cycle : 0;
                for (int t = 0; t < extent.tpoints; ++t)
                    for (int c = c0; c < c0 + per_cycle && c < channels; ++c) {
                        // A plate's arrays hold only the channels its planes use.
                        if (config.mode != "multiplexing" && !used.count(c)) continue;
                        for (int z = 0; z < extent.zplanes; ++z) {
                            if (sit != site_ids.end() && output_ids.count({sit->second, c, t, z})) continue;
                            if (size_t(absent++) < kMaxAbsentRows)
                                ins_absent.bind(1, plate_id).bind(2, w.row).bind(3, w.col).bind(4, site).bind(5, t)
                                    .bind(6, c).bind(7, z).run();
                        }
                    }
            }
        }
    }
    meta("absent_planes", std::to_string(absent));
    auto ins_warn = db.prepare("INSERT INTO warnings(text) VALUES(?)");
    for (auto& w : set.warnings) ins_warn.bind(1, w).run();
    tx.commit();
    // One self-contained file (no -wal beside it): create renames it into place.
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.exec("PRAGMA journal_mode=DELETE");
}

namespace {

// Upgrades the catalog from schema `from` to `from + 1` with `statements`, on its own read-write
// connection (also when the caller opens the catalog read-only), in one transaction.
void upgrade(const std::filesystem::path& file, int from, const std::vector<const char*>& statements) {
    try {
        sql::Database db(file, false);
        sql::Transaction tx(db);
        for (const char* statement : statements) db.exec(statement);
        db.exec("UPDATE meta SET value = '" + std::to_string(from + 1) + "' WHERE key = 'schema_version'");
        tx.commit();
    } catch (const Error& e) {
        throw Error(file.string() + ": catalog of an older imextract (schema " + std::to_string(from) +
                        ") could not be upgraded to schema " + std::to_string(from + 1) + " (" + e.what() +
                        "); make it writable, or create the experiment again",
                    Error::Kind::storage);
    }
}

}  // namespace

Catalog::Catalog(const std::filesystem::path& file, bool read_only) : db_(file, read_only) {
    // 1 -> 2: the inventory columns and tables. Files get content 'unknown' (they were never
    // inventoried), so collect keeps them.
    if (meta("schema_version") == "1")
        upgrade(file, 1,
                {"ALTER TABLE files ADD COLUMN content TEXT NOT NULL DEFAULT 'unknown'",
                 "ALTER TABLE files ADD COLUMN content_detail TEXT NOT NULL DEFAULT 'no pixel inventory: the experiment "
                 "was created by an older imextract; create it again to let --delete remove this file'",
                 "ALTER TABLE outputs ADD COLUMN missing TEXT", kSchema2Tables});
    // 2 -> 3: the checksums of each stored plane's lower resolution levels. Planes stored before
    // have none; collect checks their levels by computing the pyramid again.
    if (meta("schema_version") == "2") upgrade(file, 2, {"ALTER TABLE outputs ADD COLUMN level_checksums TEXT"});
    // 3 -> 4: when each source plane was acquired. Older experiments have no times; their
    // OME-XML images get no AcquisitionDate.
    if (meta("schema_version") == "3") upgrade(file, 3, {"ALTER TABLE planes ADD COLUMN acquired TEXT"});
    // 4 -> 5: each source plane's exposure time, and the objective (meta, absent when unknown).
    // Older experiments have neither; their OME-XML gets Planes without exposure and no Instrument.
    if (meta("schema_version") == "4") upgrade(file, 4, {"ALTER TABLE planes ADD COLUMN exposure_s REAL"});
    std::string v = meta("schema_version");
    if (v != std::to_string(schema_version))
        throw Error(file.string() + ": catalog schema version '" + v + "' is not the one this imextract reads (" +
                        std::to_string(schema_version) + ")", Error::Kind::storage);
}

std::string Catalog::meta(const std::string& key, const std::string& fallback) {
    auto st = db_.prepare("SELECT value FROM meta WHERE key = ?");
    st.bind(1, key);
    return st.step() ? st.text(0) : fallback;
}

void Catalog::set_meta(const std::string& key, const std::string& value) {
    db_.prepare("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind(1, key).bind(2, value).run();
}

ExperimentConfig Catalog::config() {
    ExperimentConfig c;
    c.source = meta("source");
    c.source_endpoint = meta("source_endpoint", "");
    c.format = meta("format");
    c.pattern = meta("pattern");
    // Catalogs from before several sources: the one source, one acquisition.
    auto list = [](const std::string& text) {
        std::vector<std::string> v;
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_array())
            for (auto& e : j)
                if (e.is_string() || e.is_object()) v.push_back(name_from_json(e));
        return v;
    };
    c.sources = list(meta("sources", "[]"));
    if (c.sources.empty()) c.sources.push_back(c.source);
    auto found = nlohmann::json::parse(meta("found_below", "[]"), nullptr, false);
    if (found.is_array())
        for (auto& pair : found)
            if (pair.is_array() && pair.size() == 2)
                c.found_below.emplace_back(name_from_json(pair[0]), name_from_json(pair[1]));
    c.mode = meta("mode", "plates");
    c.cycle_channels = std::stoi(meta("cycle_channels", "0"));
    c.cycle_sites = std::stoi(meta("cycle_sites", "0"));
    c.cycle_names = list(meta("cycle_names", "[]"));
    c.store = meta("store");
    c.mip = meta("mip") == "1";
    c.codec = parse_codec(meta("compression", "none"));
    c.levels = std::stoi(meta("levels", "1"));  // catalogs from before pyramids: one level
    c.downsample = meta("downsample", "mean");
    c.ngff = meta("ngff", "0.4");
    c.shard = meta("shard", "none");
    c.chunk = meta("chunk", "");
    return c;
}

std::vector<CatalogPlate> Catalog::plates() {
    std::vector<CatalogPlate> v;
    auto st = db_.prepare("SELECT id, name, store_path, rows, cols FROM plates ORDER BY id");
    while (st.step()) v.push_back({st.int64(0), st.text(1), st.text(2), st.integer(3), st.integer(4)});
    return v;
}

std::optional<ObjectiveInfo> Catalog::objective() {
    auto j = nlohmann::json::parse(meta("objective", ""), nullptr, false);
    if (!j.is_object()) return std::nullopt;
    ObjectiveInfo o;
    if (j.contains("model") && j["model"].is_string()) o.model = j["model"].get<std::string>();
    if (j.contains("magnification") && j["magnification"].is_number()) o.magnification = j["magnification"].get<double>();
    if (j.contains("lens_na") && j["lens_na"].is_number()) o.lens_na = j["lens_na"].get<double>();
    if (j.contains("immersion") && j["immersion"].is_string()) o.immersion = j["immersion"].get<std::string>();
    if (o.empty()) return std::nullopt;
    return o;
}

std::vector<ChannelInfo> Catalog::channels() {
    std::vector<ChannelInfo> v;
    auto st = db_.prepare("SELECT name, excitation_nm, emission_nm FROM channels ORDER BY idx");
    while (st.step()) v.push_back({st.text(0), st.opt_real(1), st.opt_real(2)});
    return v;
}

CatalogSummary Catalog::summary() {
    CatalogSummary s;
    ExperimentConfig c = config();
    s.format = c.format;
    s.source = c.source;
    s.sources = c.sources;
    s.found_below = c.found_below;
    s.mode = c.mode;
    for (auto& p : plates()) s.plate_names.push_back(p.name);
    s.store = c.store;
    s.compression = meta("compression");
    s.mip = c.mip;
    s.width = uint32_t(std::stoul(meta("width", "0")));
    s.height = uint32_t(std::stoul(meta("height", "0")));
    s.dtype = meta("dtype");
    auto geometry = nlohmann::json::parse(meta("plate_geometry", "{}"), nullptr, false);
    if (geometry.is_object())
        for (auto& [name, g] : geometry.items())
            if (g.is_object())
                s.own_geometry.push_back(name + ": " + std::to_string(g.value("width", 0)) + "x" +
                                         std::to_string(g.value("height", 0)) + " " + g.value("dtype", s.dtype));
    auto num = [&](const char* k) -> std::optional<double> {
        std::string v = meta(k);
        if (v.empty()) return std::nullopt;
        return std::stod(v);
    };
    s.pixel_size_x = num("pixel_size_x");
    s.pixel_size_y = num("pixel_size_y");
    s.pixel_size_z = num("pixel_size_z");
    auto count = [&](const std::string& q) {
        auto st = db_.prepare(q);
        return st.step() ? st.int64(0) : 0;
    };
    s.plates = int(count("SELECT COUNT(*) FROM plates"));
    s.wells = int(count("SELECT COUNT(*) FROM wells"));
    s.sites = int(count("SELECT COUNT(*) FROM sites"));
    s.sites_positioned = int(count("SELECT COUNT(*) FROM sites WHERE stage_x IS NOT NULL AND stage_y IS NOT NULL"));
    s.channels = int(count("SELECT COUNT(*) FROM channels"));
    s.tpoints = int(count("SELECT COALESCE(MAX(tpoint) + 1, 0) FROM outputs"));
    s.zplanes = int(count("SELECT COALESCE(MAX(zplane) + 1, 0) FROM planes"));
    s.planes = count("SELECT COUNT(*) FROM planes");
    s.outputs = count("SELECT COUNT(*) FROM outputs");
    s.outputs_verified = count("SELECT COUNT(*) FROM outputs WHERE verified = 1");
    s.files = count("SELECT COUNT(*) FROM files");
    s.files_missing = count("SELECT COUNT(*) FROM files WHERE state = 'missing'");
    s.files_deleted = count("SELECT COUNT(*) FROM files WHERE state = 'deleted'");
    s.source_bytes = count("SELECT COALESCE(SUM(size), 0) FROM files WHERE size > 0");
    s.outputs_stored = count("SELECT COUNT(*) FROM outputs WHERE checksum IS NOT NULL");
    s.outputs_missing = count("SELECT COUNT(*) FROM outputs WHERE missing IS NOT NULL AND checksum IS NULL");
    s.absent = std::stoll(meta("absent_planes", "0"));
    auto by_content = db_.prepare("SELECT content, COUNT(*) FROM files GROUP BY content");
    while (by_content.step()) {
        const std::string content = by_content.text(0);
        int64_t* n = content == "complete" ? &s.files_complete : content == "incomplete" ? &s.files_incomplete
                     : content == "unreadable" ? &s.files_unreadable : content == "unknown" ? &s.files_unknown : nullptr;
        if (n) *n = by_content.int64(1);
    }
    s.unused_files = count("SELECT COUNT(*) FROM unused_files");
    s.unused_bytes = count("SELECT COALESCE(SUM(size), 0) FROM unused_files");
    for (auto& c : channels()) s.channel_names.push_back(c.name);
    auto st = db_.prepare("SELECT text FROM warnings ORDER BY id");
    while (st.step()) s.warnings.push_back(st.text(0));
    // A few examples of each for create and status (the catalog has them all).
    constexpr int kExamples = 10;
    auto examples = [&](const std::string& q, std::vector<std::string>& out) {
        auto e = db_.prepare(q + " LIMIT " + std::to_string(kExamples));
        while (e.step()) out.push_back(e.text(0));
    };
    examples("SELECT path || ': ' || content || ' (' || content_detail || ')' FROM files "
             "WHERE content IN ('incomplete', 'unreadable') ORDER BY path", s.file_problems);
    examples("SELECT path FROM unused_files ORDER BY path", s.unused_examples);
    // Plane positions as "PLATE B03 site 0 t 0 c 1 z 2".
    auto positions = [&](const std::string& q, std::vector<std::string>& out) {
        auto e = db_.prepare(q + " LIMIT " + std::to_string(kExamples));
        while (e.step()) {
            out.push_back(e.text(0) + " " + well_name(e.integer(1), e.integer(2)) + " site " + e.text(3) + " t " +
                          e.text(4) + " c " + e.text(5) + " z " + e.text(6));
            if (!e.is_null(7)) out.back() += ": " + e.text(7);
        }
    };
    positions("SELECT p.name, w.row, w.col, s.idx, o.tpoint, o.channel, o.zplane, o.missing FROM outputs o "
              "JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id JOIN plates p ON w.plate_id = p.id "
              "WHERE o.missing IS NOT NULL AND o.checksum IS NULL ORDER BY o.id", s.missing_examples);
    positions("SELECT p.name, a.row, a.col, a.site, a.tpoint, a.channel, a.zplane, NULL FROM absent_planes a "
              "JOIN plates p ON a.plate_id = p.id ORDER BY a.rowid", s.absent_examples);
    return s;
}

}  // namespace imx
