// The experiment catalog: one SQLite file in the workspace that records what `create` configured
// (plates, wells, sites, channels, source files and where every plane lives) and what collect
// verified (a checksum per stored plane). Run jobs never write it: they write result files that
// the coordinator folds in, so jobs on cluster nodes need no database access.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "catalog/sqlite.h"
#include "formats/reader.h"
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

class Catalog {
public:
    // 2: the pixel inventory (files.content, outputs.missing, unused_files, absent_planes). Catalogs
    // of schema 1 are upgraded when opened; their files' content is 'unknown', so never deleted.
    static constexpr int schema_version = 2;

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
    sql::Database& db() { return db_; }

private:
    sql::Database db_;
};

// A plate's name made safe as a store key: letters, digits, '-', '_', '.', others become '_'.
std::string safe_plate_key(const std::string& name);

}  // namespace imx
