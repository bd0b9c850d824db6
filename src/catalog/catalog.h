// The experiment catalog: one SQLite file in the workspace that records what `create` configured
// (plates, wells, sites, channels, source files and where every plane lives) and what collect
// verified (a checksum per stored plane). Run jobs never write it: they write result files that
// the coordinator folds in, so jobs on cluster nodes need no database access.
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/sqlite.h"
#include "core/image_set.h"
#include "zarr/codec.h"

namespace imx {

struct ExperimentConfig {
    std::string source;     // absolute path of the microscope folder; with several sources their
                            // deepest common folder (file paths are relative to it)
    std::vector<std::string> sources;  // every --source folder (absolute), or the acquisition found below it
    // Sources whose acquisition was found below the folder given as --source: acquisition -> given.
    std::vector<std::pair<std::string, std::string>> found_below;
    std::string source_endpoint;       // S3 endpoint for s3:// sources ("" = AWS_ENDPOINT_URL or AWS)
    std::string mode = "plates";       // plates | time | multiplexing (workflow/merge.h)
    int cycle_channels = 0, cycle_sites = 0;  // multiplexing: channels per cycle, fields per cycle
    std::vector<std::string> cycle_names;     // multiplexing: one name per cycle (NGFF acquisitions)
    std::string format;     // layout reader name
    std::string pattern;    // plain-files regex
    std::string store;      // store URL (a path for the filesystem store)
    bool mip = false;       // store maximum-intensity projections instead of z-stacks
    CodecSpec codec;
    int levels = 0;               // resolution levels; 0 = halve until the larger side is <= 256
    std::string downsample = "mean";
    std::string ngff = "0.4";     // "0.4" (Zarr v2) or "0.5" (Zarr v3)
    std::string shard = "none";   // 0.5 only: none | field | zstack
    std::string chunk;            // create --chunk "Y[,X]"; empty: auto (zarr/ngff.h chosen_chunk)
};

struct SourceFile {
    std::string path;       // relative to the source folder
    int64_t size = -1;      // -1: missing when the catalog was made
    int64_t mtime_ns = 0;
    // create's pixel inventory (workflow/inventory.h): complete | incomplete | unreadable | missing,
    // and what is left out or why. Only complete files may be deleted.
    std::string content = "complete";
    std::string content_detail;
};

struct CatalogPlate {
    int64_t id = 0;
    std::string name;
    std::string store_path;  // "<name>.zarr"
    int rows = 0, cols = 0;
};

struct CatalogSummary {
    std::string format, source, store, compression, mode;
    std::vector<std::string> sources, plate_names;
    std::vector<std::pair<std::string, std::string>> found_below;  // acquisition folder, --source given
    bool mip = false;
    int plates = 0, wells = 0, sites = 0, channels = 0, tpoints = 0, zplanes = 0;
    int sites_positioned = 0;  // sites with a stage position (x and y) from the metadata
    int64_t planes = 0, outputs = 0, outputs_verified = 0, files = 0, files_missing = 0, files_deleted = 0;
    int64_t source_bytes = 0;
    uint32_t width = 0, height = 0;
    std::string dtype;
    std::optional<double> pixel_size_x, pixel_size_y, pixel_size_z;
    std::vector<std::string> own_geometry;  // "PLATE: WxH dtype" for plates with their own plane size
    std::vector<std::string> channel_names;
    std::vector<std::string> warnings;
    // Stored planes (checksum from a run job), planes missing in the source and not stored, array
    // positions no source plane fills (they read as zeros).
    int64_t outputs_stored = 0, outputs_missing = 0, absent = 0;
    // Files by create's pixel inventory; image files in the source folders that no plane reads.
    int64_t files_complete = 0, files_incomplete = 0, files_unreadable = 0, files_unknown = 0, unused_files = 0, unused_bytes = 0;
    // The first few of each, as lines for create and status.
    std::vector<std::string> file_problems, missing_examples, absent_examples, unused_examples;
};

// ---- what the steps after create read and write (catalog_queries.cpp) ----------------------------

// A well of a plate and its number of fields (largest site index + 1).
struct WellSites {
    int row = 0, col = 0, sites = 0;
};
// The stage position of a field (micrometres, as the vendor metadata gives it).
struct SitePosition {
    int row = 0, col = 0, site = 0;
    double x = 0, y = 0;
};
// t and z extent of a plate's stored planes (1 when it has none).
struct PlateExtent {
    int tpoints = 1, zplanes = 1;
};
// A plane position in a plate: well, field, channel, time point, z-plane.
struct PlanePosition {
    int row = 0, col = 0, site = 0, channel = 0, tpoint = 0, zplane = 0;
};
// What the catalog knows of the plane at a position.
struct PlaneAtPosition {
    bool stored = false;   // a run job stored it and collect folded its result in
    std::string missing;   // why the source has no pixels for it, "" when it has
};
// A position of a plate's arrays without a stored plane, and why.
struct PlaneHole {
    int row = 0, col = 0, site = 0, tpoint = 0, channel = 0, zplane = 0;
    std::string why;
};
struct PlaneHoles {
    int64_t count = 0;
    std::vector<PlaneHole> listed;  // the first max_listed
};
// One source plane of a stored plane, as init groups them into run jobs.
struct JobPlaneRow {
    int64_t plate_id = 0;
    std::string store_path;
    int64_t site_id = 0;
    int row = 0, col = 0, site = 0;
    int64_t output_id = 0;
    int channel = 0, tpoint = 0, zplane = 0;
    std::string file;
    PlaneAddress at;
};
// A stored plane as collect and verify check it.
struct StoredPlaneRow {
    int64_t id = 0;
    std::string store_path;
    int row = 0, col = 0, site = 0, channel = 0, tpoint = 0, zplane = 0;
    std::string checksum;  // "" until a run job stored it
    std::string missing;   // why the source has no pixels for it, "" when it has
    std::vector<std::string> level_checksums;  // levels 1, 2, ... as the run job computed them; empty before schema 3
};
// A source plane of a stored plane (output), with its file's state (present | missing | deleted).
struct SourcePlaneRow {
    int64_t output_id = 0;
    std::string file, file_state;
    PlaneAddress at;
};
// What a run job reports for one stored plane (result.json).
struct StoredResult {
    int64_t id = 0;
    std::string checksum;
    std::vector<std::string> level_checksums;  // of levels 1, 2, ...
    double min = 0, max = 0, p999 = 0;
    int64_t bytes = 0;
};
// The intensity range of a channel's stored planes in a plate.
struct ChannelRange {
    int channel = 0;
    double min = 0, max = 0, p999 = 0;
};
// What the source planes of one stored plane say (--mip: several; a value they disagree on is
// unset): the earliest acquisition time, the exposure time (s) and the stage z (µm).
struct StoredPlaneFacts {
    int channel = 0, tpoint = 0, zplane = 0;
    std::string acquired;
    std::optional<double> exposure_s, stage_z;
};
// A source file as the catalog lists it.
struct CatalogFile {
    int64_t id = 0;
    std::string path;
    int64_t size = 0;
    std::string content, content_detail;
};

class Catalog {
public:
    // 2: the pixel inventory (files.content, outputs.missing, unused_files, absent_planes). Catalogs
    // of schema 1 are upgraded when opened; their files' content is 'unknown', so never deleted.
    // 5: planes.exposure_s and meta 'objective' (the OME-XML's Plane and Instrument elements).
    static constexpr int schema_version = 5;

    // Writes a new catalog file (replacing none: the caller checks the workspace is new). `unused`:
    // image files in the source folders that no plane reads (path, size).
    static void create(const std::filesystem::path& file, const ImageSet& set, const ExperimentConfig& config,
                       const std::vector<SourceFile>& files,
                       const std::vector<std::pair<std::string, int64_t>>& unused = {});

    Catalog(const std::filesystem::path& file, bool read_only = false);

    std::string meta(const std::string& key, const std::string& fallback = {});
    void set_meta(const std::string& key, const std::string& value);
    ExperimentConfig config();
    std::vector<CatalogPlate> plates();
    std::vector<ChannelInfo> channels();
    CatalogSummary summary();

    // The plate geometry init and collect lay out (workflow/plate_layout.cpp); create's count of
    // the array positions no plane fills uses the same three queries.
    std::vector<WellSites> plate_wells(int64_t plate_id) { return plate_wells(db_, plate_id); }
    PlateExtent plate_extent(int64_t plate_id) { return plate_extent(db_, plate_id); }
    // Fields of the plate whose metadata gave a stage position (x and y), by row, column, site.
    std::vector<SitePosition> site_positions(int64_t plate_id);
    // When each site of the plate began: the earliest acquisition time of its source planes, for
    // the sites whose metadata gives times.
    std::map<std::array<int, 3>, std::string> site_acquisition_starts(int64_t plate_id);
    // What the metadata says of each stored plane of the plate (its source planes', for the
    // OME-XML Plane elements), by row, column, site. Held in memory (~100 bytes a plane), so
    // a plate of more than `max_planes` stored planes gives none and sets `over`.
    std::map<std::array<int, 3>, std::vector<StoredPlaneFacts>> stored_plane_facts(int64_t plate_id, size_t max_planes,
                                                                                   bool& over);
    // The objective create recorded (meta 'objective'), unset when the metadata named none.
    std::optional<ObjectiveInfo> objective();
    // Channels of the plate's stored planes.
    std::vector<int> plate_channels_used(int64_t plate_id) { return plate_channels_used(db_, plate_id); }
    // Array positions no source plane fills, stored planes whose source has no pixels, and with
    // `unverified` also every plane not stored and verified; the first `max_listed` with the reason.
    PlaneHoles plate_holes(int64_t plate_id, bool unverified, size_t max_listed);
    // Whether the catalog has a stored plane (an output) at `at` (retrieval).
    // The stored plane at a position: nullopt when the catalog has none there.
    std::optional<PlaneAtPosition> plane_at(int64_t plate_id, const PlanePosition& at);

    // init: forgets every stored plane of a previous run (checksums, statistics, verification).
    void forget_stored_planes();
    // init: every source plane of every stored plane, sites in plate order (plate, row, col, site),
    // a stored plane's source planes together in z order. Streams: a million rows are not held.
    void for_each_source_plane_in_job_order(const std::function<void(const JobPlaneRow&)>& visit);

    // collect and verify.
    std::vector<StoredPlaneRow> stored_planes();  // by id
    std::vector<SourcePlaneRow> source_planes();  // by output id, then z
    // Records run jobs' results in one transaction (commit() at the end; none without it).
    class ResultWriter {
    public:
        explicit ResultWriter(Catalog& catalog);
        ~ResultWriter();
        ResultWriter(const ResultWriter&) = delete;
        ResultWriter& operator=(const ResultWriter&) = delete;
        void add(int job, const StoredResult& result);
        void commit();

    private:
        struct Impl;
        std::unique_ptr<Impl> impl_;
    };
    void set_verified(const std::vector<std::pair<int64_t, bool>>& outcomes);  // (output id, verified)
    std::vector<ChannelRange> stored_channel_ranges(int64_t plate_id);
    // Files still present whose content is not complete (never deleted), by path.
    std::vector<CatalogFile> present_incomplete_files();
    // Files that may be deleted: present, complete, every plane they hold verified; by path.
    std::vector<CatalogFile> deletable_files();
    int64_t present_file_count();
    void mark_file_deleted(int64_t file_id);

private:
    static std::vector<WellSites> plate_wells(sql::Database& db, int64_t plate_id);
    static PlateExtent plate_extent(sql::Database& db, int64_t plate_id);
    static std::vector<int> plate_channels_used(sql::Database& db, int64_t plate_id);
    sql::Database db_;
};

// A plate's name made safe as a store key: letters, digits, '-', '_', '.', others become '_'.
std::string safe_plate_key(const std::string& name);

}  // namespace imx
