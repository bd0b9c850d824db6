// The workflow steps, after TissueMAPS' step API: create (metadata configuration), init
// (create_run_batches), run (run_job), collect (collect_job_output) and cleanup
// (delete_previous_job_output). The CLI is a thin layer over these functions.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "engines/engine.h"
#include "core/types.h"
#include "core/workspace.h"
#include "zarr/ngff.h"

namespace imx {

struct CreateOptions {
    std::vector<fs::path> sources;  // one or more microscope folders (see workflow/merge.h)
    std::string mode = "plates";    // plates | time | multiplexing: the same plate in several sources
    std::string format = "auto";
    std::string pattern;
    int plate_format = 0;       // files mode: 96 | 384 | 1536 wells, for well numbers and the plate size
    std::string tiles;          // "mosaic" (default) or "as-sites": mosaic tiles of container formats
    bool skip_projections = false;  // leave out projections (PlaneRecord::projection) instead of channels
    std::string store;          // empty: the experiment folder
    bool mip = false;
    std::string compression;    // empty: default_codec()
    int levels = 0;             // resolution levels; 0 = halve until the larger side is <= 256
    std::string downsample = "mean";
    std::string ngff = "0.4";
    std::string shard = "none";
    std::string chunk;          // tile size "Y[,X]"; empty: whole planes up to 4096 a side, 1024 tiles above
    std::string s3_endpoint;    // --s3-endpoint: for an s3:// store and s3:// sources
    std::map<std::string, std::string> meta;  // written into the catalog with it (convert's record)
};
// Reads the vendor metadata and writes the catalog. Returns the summary for printing.
CatalogSummary create_experiment(const Workspace& ws, const CreateOptions& options);

struct InitOptions {
    int batch_size = 100;       // sites per run job
    bool delete_sources = false;
};
struct InitResult {
    int run_jobs = 0;
    int64_t outputs = 0;
    uint64_t removed_keys = 0;  // output of a previous run that was deleted
};
InitResult init_jobs(const Workspace& ws, const InitOptions& options);
// The NGFF layout of one catalogued plate (what init writes and collect re-renders).
PlateLayout plate_layout(Catalog& catalog, const CatalogPlate& plate);
// The plate's holes (PlateLayout::holes): array positions no source plane fills and planes missing
// in the source; with `unverified` (collect), also every plane not stored and verified.
nlohmann::json plate_holes(Catalog& catalog, const CatalogPlate& plate, bool unverified);

struct RunOptions {
    int threads = 0;            // 0: one per core
    bool assume_clean_state = false;
};
// Runs one run job; returns the process exit code (0 = every plane stored).
int run_job(const Workspace& ws, int job_id, const RunOptions& options);

struct CollectOptions {
    bool dry_run = false;       // report what would be deleted, delete nothing
    int threads = 0;
    bool already_locked = false;  // called by submit, which holds the experiment lock
};
struct CollectResult {
    int64_t outputs = 0, verified = 0, missing = 0, mismatched = 0;
    int64_t missing_in_source = 0;  // of `missing`: planes whose pixels the source files do not hold
    int64_t files_deleted = 0, bytes_freed = 0, files_kept = 0;
    std::vector<std::string> problems;  // one line per missing or mismatched plane (capped)
};
CollectResult collect(const Workspace& ws, const CollectOptions& options);

// `verify`: re-reads every stored plane and checks it against the checksum recorded when it was
// extracted; with `sources`, also against the microscope files still present. Changes nothing.
struct VerifyOptions {
    bool sources = false;
    int threads = 0;
};
struct VerifyResult {
    int64_t planes = 0, ok = 0, sources_compared = 0, sources_skipped = 0;
    int64_t missing_in_source = 0;      // planes whose pixels the source files do not hold (create)
    int64_t absent = 0;                 // array positions no source plane fills (they read as 0)
    std::vector<std::string> problems;  // one line per plane that failed
    // Planes read back and decoded without a checksum to compare with (a plate without its
    // workspace): a missing or undecodable chunk or a shard index failing its CRC-32C is found,
    // changed pixels that still decode are not.
    int64_t decoded_only = 0;
};
VerifyResult verify(const Workspace& ws, const VerifyOptions& options);

struct CleanupResult {
    uint64_t job_files = 0, temporaries = 0;
};
CleanupResult cleanup(const Workspace& ws);

// Retrieval: one stored plane by its position (the seed's ChannelImageFile.get).
struct PlaneQuery {
    std::string plate;          // empty: the only plate
    std::string well;           // "B03"
    int site = 0;
    std::string channel;        // an index ("0") or a channel name
    int tpoint = 0;
    int zplane = 0;
    int level = 0;              // resolution level, 0 = full resolution
    std::optional<PlaneRegion> region;  // a rectangle of the plane; none: the whole plane
};
// Parses get's --region "Y,X,H,W" (top row, left column, height, width in pixels of the level).
PlaneRegion parse_region(const std::string& text);

class ExperimentReader {
public:
    // `experiment`: an experiment folder, a folder `convert` wrote (local or s3://: its workspace is
    // found where convert keeps it) or one plate of it (OUT/NAME.zarr, then named_plate()); or a
    // plate imextract wrote without its workspace (copied elsewhere, or its workspace deleted),
    // local or s3://: then everything comes from the plate's own metadata (bare()).
    explicit ExperimentReader(const fs::path& experiment);
    ~ExperimentReader();
    ExperimentReader(ExperimentReader&&) noexcept;
    ExperimentReader& operator=(ExperimentReader&&) noexcept;
    Plane get(const PlaneQuery& q);
    std::vector<std::string> channel_names() const { return channels_; }
    // What the experiment holds, for callers that list before they get (the Python module).
    // `plate` empty: the only plate; an unknown or missing name throws get's error (usage).
    std::vector<std::string> plate_names() const;
    std::vector<WellSites> wells(const std::string& plate);  // with their site counts, row by row
    // Sites of `well`; throws get's error for a well the plate does not have (it lists the wells).
    int site_count(const std::string& plate, const std::string& well);
    // The plate's NGFF layout as the catalog gives it: its images' (t, c, z, y, x), dtype, levels.
    PlateLayout layout(const std::string& plate);
    const Workspace& workspace() const;
    // True for a plate read without its workspace (no catalog: no sources, no job states).
    bool bare() const;
    // The experiment folder, or for a plate without its workspace the path given.
    std::string path() const;
    // `verify` on what was opened: the experiment's (checksums from its catalog), or for a plate
    // without its workspace every plane the layout says is stored, read back and decoded (the
    // checksums are in the workspace, not the plate: VerifyResult::decoded_only counts them).
    VerifyResult verify(const VerifyOptions& options);
    // The plate the path given named (OUT/NAME.zarr), "" for an experiment or a whole OUT; for a
    // plate without its workspace, its name.
    const std::string& named_plate() const;
    // Bytes the last get fetched from the store (only the chunks that cover its region).
    uint64_t bytes_fetched() const { return bytes_fetched_; }

private:
    const CatalogPlate& find_plate(const std::string& name) const;
    int find_channel(const std::string& name_or_index) const;  // -1 when there is no such channel
    // Throws the error for a query the catalog has no plane for, naming what does not exist
    // (well, channel, site, t, z: listing what does) or, when all exist, that no plane was recorded.
    [[noreturn]] void refuse_absent(const CatalogPlate& plate, int row, int col, const PlaneQuery& q) const;
    Plane read(const CatalogPlate& plate, int row, int col, int channel, const PlaneQuery& q);
    Plane get_bare(const CatalogPlate& plate, int row, int col, int channel, const PlaneQuery& q,
                   const std::string& position);
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::vector<std::string> channels_;
    uint64_t bytes_fetched_ = 0;
};

struct SubmitResult {
    int jobs = 0, failed = 0;
    bool interrupted = false;
    bool collected = false;
    int exit_code = 0;
};
// submit / resubmit: runs the run jobs (all, or for resubmit those not done) with the engine, then
// collect when every run job succeeded.
SubmitResult submit(const Workspace& ws, const SubmitOptions& options, bool only_unfinished);

// The exit code of the command line for an error (ExitCode, core/workspace.h).
int exit_code_for(const Error& e);

}  // namespace imx
