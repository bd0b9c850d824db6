// The catalog's queries for the steps after create: the plate geometry init and collect lay out,
// the planes init splits into run jobs, the results collect folds in and verifies, the files it may
// delete, and the plane `get` retrieves. Every SQL statement the workflow runs is here.
#include "catalog/catalog.h"

#include <algorithm>
#include <cstdint>
#include <sstream>

namespace imx {

std::vector<WellSites> Catalog::plate_wells(sql::Database& db, int64_t plate_id) {
    std::vector<WellSites> wells;
    auto st = db.prepare(
        "SELECT w.row, w.col, MAX(s.idx) + 1 FROM wells w JOIN sites s ON s.well_id = w.id "
        "WHERE w.plate_id = ? GROUP BY w.id ORDER BY w.row, w.col");
    st.bind(1, plate_id);
    while (st.step()) wells.push_back({st.integer(0), st.integer(1), st.integer(2)});
    return wells;
}

PlateExtent Catalog::plate_extent(sql::Database& db, int64_t plate_id) {
    auto st = db.prepare(
        "SELECT COALESCE(MAX(o.tpoint) + 1, 1), COALESCE(MAX(o.zplane) + 1, 1) FROM outputs o "
        "JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id WHERE w.plate_id = ?");
    st.bind(1, plate_id);
    PlateExtent e;
    if (st.step()) e = {st.integer(0), st.integer(1)};
    return e;
}

std::vector<int> Catalog::plate_channels_used(sql::Database& db, int64_t plate_id) {
    auto st = db.prepare(
        "SELECT DISTINCT o.channel FROM outputs o JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id "
        "WHERE w.plate_id = ? ORDER BY o.channel");
    st.bind(1, plate_id);
    std::vector<int> used;
    while (st.step()) used.push_back(st.integer(0));
    return used;
}

std::vector<SitePosition> Catalog::site_positions(int64_t plate_id) {
    auto st = db_.prepare(
        "SELECT w.row, w.col, s.idx, s.stage_x, s.stage_y FROM sites s JOIN wells w ON s.well_id = w.id "
        "WHERE w.plate_id = ? AND s.stage_x IS NOT NULL AND s.stage_y IS NOT NULL ORDER BY w.row, w.col, s.idx");
    st.bind(1, plate_id);
    std::vector<SitePosition> positions;
    while (st.step()) positions.push_back({st.integer(0), st.integer(1), st.integer(2), st.real(3), st.real(4)});
    return positions;
}

std::map<std::array<int, 3>, std::string> Catalog::site_acquisition_starts(int64_t plate_id) {
    // ISO 8601 times of one acquisition share their form and zone, so the text order is the time order.
    auto st = db_.prepare(
        "SELECT w.row, w.col, s.idx, MIN(p.acquired) FROM planes p JOIN outputs o ON p.output_id = o.id "
        "JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id "
        "WHERE w.plate_id = ? AND p.acquired IS NOT NULL GROUP BY s.id");
    st.bind(1, plate_id);
    std::map<std::array<int, 3>, std::string> starts;
    while (st.step()) starts[{st.integer(0), st.integer(1), st.integer(2)}] = st.text(3);
    return starts;
}

std::map<std::array<int, 3>, std::vector<StoredPlaneFacts>> Catalog::stored_plane_facts(int64_t plate_id,
                                                                                       size_t max_planes, bool& over) {
    // A value the source planes of one stored plane (--mip: a stack) do not agree on is left out.
    auto st = db_.prepare(
        "SELECT w.row, w.col, s.idx, o.channel, o.tpoint, o.zplane, MIN(p.acquired), MIN(p.exposure_s), "
        "MAX(p.exposure_s), COUNT(p.exposure_s), MIN(p.stage_z), MAX(p.stage_z), COUNT(p.stage_z), COUNT(*) "
        "FROM planes p JOIN outputs o ON p.output_id = o.id JOIN sites s ON o.site_id = s.id "
        "JOIN wells w ON s.well_id = w.id WHERE w.plate_id = ? GROUP BY o.id "
        "ORDER BY w.row, w.col, s.idx, o.tpoint, o.channel, o.zplane LIMIT ?");
    st.bind(1, plate_id).bind(2, int64_t(std::min<size_t>(max_planes, INT64_MAX - 1)) + 1);
    std::map<std::array<int, 3>, std::vector<StoredPlaneFacts>> facts;
    size_t rows = 0;
    over = false;
    while (st.step()) {
        if (++rows > max_planes) {
            over = true;
            return {};
        }
        StoredPlaneFacts f;
        f.channel = st.integer(3);
        f.tpoint = st.integer(4);
        f.zplane = st.integer(5);
        if (!st.is_null(6)) f.acquired = st.text(6);
        const int64_t sources = st.int64(13);
        if (st.int64(9) == sources && st.real(7) == st.real(8)) f.exposure_s = st.real(7);
        if (st.int64(12) == sources && st.real(10) == st.real(11)) f.stage_z = st.real(10);
        facts[{st.integer(0), st.integer(1), st.integer(2)}].push_back(std::move(f));
    }
    return facts;
}

PlaneHoles Catalog::plate_holes(int64_t plate_id, bool unverified, size_t max_listed) {
    PlaneHoles holes;
    auto add = [&](sql::Statement& st, std::string why) {
        if (holes.count++ < int64_t(max_listed))
            holes.listed.push_back({st.integer(0), st.integer(1), st.integer(2), st.integer(3), st.integer(4),
                                    st.integer(5), std::move(why)});
    };
    auto absent = db_.prepare("SELECT row, col, site, tpoint, channel, zplane FROM absent_planes "
                              "WHERE plate_id = ? ORDER BY rowid");
    absent.bind(1, plate_id);
    while (absent.step()) add(absent, "no source plane: the acquisition has none at this position");
    auto outputs = db_.prepare(
        "SELECT w.row, w.col, s.idx, o.tpoint, o.channel, o.zplane, o.missing FROM outputs o "
        "JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id WHERE w.plate_id = ? AND "
        "((o.missing IS NOT NULL AND o.checksum IS NULL) OR (? AND o.verified = 0)) ORDER BY o.id");
    outputs.bind(1, plate_id).bind(2, int64_t(unverified));
    while (outputs.step())
        add(outputs, outputs.is_null(6) ? "not stored or not verified" : "missing in the source: " + outputs.text(6));
    return holes;
}

void Catalog::forget_stored_planes() {
    db_.exec("UPDATE outputs SET checksum = NULL, level_checksums = NULL, min = NULL, max = NULL, p999 = NULL, stored_bytes = NULL, "
             "job = NULL, verified = 0");
}

void Catalog::for_each_source_plane_in_job_order(const std::function<void(const JobPlaneRow&)>& visit) {
    // Sites in plate order; within a stored plane its source planes in z order (several with --mip).
    auto st = db_.prepare(
        "SELECT w.plate_id, p.store_path, s.id, w.row, w.col, s.idx, o.id, o.channel, o.tpoint, o.zplane, "
        "       f.path, pl.series, pl.page, pl.sample "
        "FROM outputs o JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id "
        "JOIN plates p ON w.plate_id = p.id JOIN planes pl ON pl.output_id = o.id JOIN files f ON pl.file_id = f.id "
        "ORDER BY w.plate_id, w.row, w.col, s.idx, o.tpoint, o.channel, o.zplane, pl.zplane");
    JobPlaneRow row;
    while (st.step()) {
        row.plate_id = st.int64(0);
        row.store_path = st.text_view(1);  // reuses the row's strings: a million rows
        row.site_id = st.int64(2);
        row.row = st.integer(3);
        row.col = st.integer(4);
        row.site = st.integer(5);
        row.output_id = st.int64(6);
        row.channel = st.integer(7);
        row.tpoint = st.integer(8);
        row.zplane = st.integer(9);
        row.file = st.text_view(10);
        row.at = {uint32_t(st.int64(11)), uint32_t(st.int64(12)), uint32_t(st.int64(13))};
        visit(row);
    }
}

std::vector<StoredPlaneRow> Catalog::stored_planes() {
    std::vector<StoredPlaneRow> stored;
    auto st = db_.prepare(
        "SELECT o.id, p.store_path, w.row, w.col, s.idx, o.channel, o.tpoint, o.zplane, COALESCE(o.checksum, ''), "
        "COALESCE(o.missing, ''), COALESCE(o.level_checksums, '') FROM outputs o JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id "
        "JOIN plates p ON w.plate_id = p.id ORDER BY o.id");
    while (st.step()) {
        stored.push_back({st.int64(0), st.text(1), st.integer(2), st.integer(3), st.integer(4), st.integer(5),
                          st.integer(6), st.integer(7), st.text(8), st.text(9), {}});
        std::istringstream levels(st.text(10));
        for (std::string sum; levels >> sum;) stored.back().level_checksums.push_back(sum);
    }
    return stored;
}

std::vector<SourcePlaneRow> Catalog::source_planes() {
    std::vector<SourcePlaneRow> rows;
    auto st = db_.prepare(
        "SELECT pl.output_id, f.path, f.state, pl.series, pl.page, pl.sample FROM planes pl "
        "JOIN files f ON pl.file_id = f.id ORDER BY pl.output_id, pl.zplane");
    while (st.step())
        rows.push_back({st.int64(0), st.text(1), st.text(2),
                        {uint32_t(st.int64(3)), uint32_t(st.int64(4)), uint32_t(st.int64(5))}});
    return rows;
}

struct Catalog::ResultWriter::Impl {
    sql::Transaction tx;
    sql::Statement update;
    explicit Impl(sql::Database& db)
        : tx(db), update(db.prepare("UPDATE outputs SET checksum = ?, min = ?, max = ?, p999 = ?, stored_bytes = ?, "
                                    "job = ?, verified = 0, level_checksums = ? WHERE id = ?")) {}
};

Catalog::ResultWriter::ResultWriter(Catalog& catalog) : impl_(std::make_unique<Impl>(catalog.db_)) {}
Catalog::ResultWriter::~ResultWriter() = default;

void Catalog::ResultWriter::add(int job, const StoredResult& r) {
    std::string levels;
    for (const std::string& sum : r.level_checksums) levels += (levels.empty() ? "" : " ") + sum;
    impl_->update.bind(1, r.checksum).bind(2, r.min).bind(3, r.max).bind(4, r.p999).bind(5, r.bytes)
        .bind(6, int64_t(job)).bind(7, levels).bind(8, r.id).run();
}

void Catalog::ResultWriter::commit() { impl_->tx.commit(); }

void Catalog::set_verified(const std::vector<std::pair<int64_t, bool>>& outcomes) {
    sql::Transaction tx(db_);
    auto upd = db_.prepare("UPDATE outputs SET verified = ? WHERE id = ?");
    for (auto& [id, ok] : outcomes) upd.bind(1, ok ? 1 : 0).bind(2, id).run();
    tx.commit();
}

std::vector<ChannelRange> Catalog::stored_channel_ranges(int64_t plate_id) {
    auto st = db_.prepare(
        "SELECT o.channel, MIN(o.min), MAX(o.max), MAX(o.p999) FROM outputs o JOIN sites s ON o.site_id = s.id "
        "JOIN wells w ON s.well_id = w.id WHERE w.plate_id = ? AND o.checksum IS NOT NULL GROUP BY o.channel");
    st.bind(1, plate_id);
    std::vector<ChannelRange> ranges;
    while (st.step()) ranges.push_back({st.integer(0), st.real(1), st.real(2), st.real(3)});
    return ranges;
}

std::vector<CatalogFile> Catalog::present_incomplete_files() {
    auto st = db_.prepare("SELECT id, path, size, content, content_detail FROM files "
                          "WHERE state = 'present' AND content != 'complete' ORDER BY path");
    std::vector<CatalogFile> files;
    while (st.step()) files.push_back({st.int64(0), st.text(1), st.int64(2), st.text(3), st.text(4)});
    return files;
}

std::vector<CatalogFile> Catalog::deletable_files() {
    // Complete, and every plane it holds stored and verified.
    auto st = db_.prepare(
        "SELECT f.id, f.path, f.size, f.content, f.content_detail FROM files f WHERE f.state = 'present' AND "
        "f.content = 'complete' AND NOT EXISTS (SELECT 1 FROM planes pl JOIN outputs o ON pl.output_id = o.id "
        "WHERE pl.file_id = f.id AND o.verified = 0) ORDER BY f.path");
    std::vector<CatalogFile> files;
    while (st.step()) files.push_back({st.int64(0), st.text(1), st.int64(2), st.text(3), st.text(4)});
    return files;
}

int64_t Catalog::present_file_count() {
    auto st = db_.prepare("SELECT COUNT(*) FROM files WHERE state = 'present'");
    return st.step() ? st.int64(0) : 0;
}

void Catalog::mark_file_deleted(int64_t file_id) {
    db_.prepare("UPDATE files SET state = 'deleted' WHERE id = ?").bind(1, file_id).run();
}

std::optional<PlaneAtPosition> Catalog::plane_at(int64_t plate_id, const PlanePosition& at) {
    auto st = db_.prepare(
        "SELECT o.checksum IS NOT NULL, COALESCE(o.missing, '') FROM outputs o JOIN sites s ON o.site_id = s.id JOIN wells w ON s.well_id = w.id "
        "WHERE w.plate_id = ? AND w.row = ? AND w.col = ? AND s.idx = ? AND o.channel = ? AND o.tpoint = ? "
        "AND o.zplane = ?");
    st.bind(1, plate_id).bind(2, at.row).bind(3, at.col).bind(4, at.site).bind(5, at.channel).bind(6, at.tpoint)
        .bind(7, at.zplane);
    if (!st.step()) return std::nullopt;
    return PlaneAtPosition{st.integer(0) != 0, st.text(1)};
}

}  // namespace imx
