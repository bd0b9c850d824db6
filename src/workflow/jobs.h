// The job files init writes: a run job (jobs/run/NNNNNN/job.json) holds the source folder, the
// store, the layout of each plate it writes into, and every plane it stores with the source planes
// it is made of (several with --mip); the collect job (jobs/collect/job.json) what collect does
// besides verifying. One type each, one JSON form (to_json / from_json): a job file is all a job on
// a cluster node reads besides the source files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/image_set.h"
#include "zarr/ngff.h"

namespace imx {

// One source plane: a file relative to the source folder and where in it the plane lives.
struct RunInput {
    std::string file;
    PlaneAddress at;
};

// One plane to store: its catalog id (result.json names it), plate (the layout's store path) and
// array position, and its source planes, max-projected when there are several.
struct RunOutput {
    int64_t id = 0;
    std::string plate;
    int row = 0, col = 0, site = 0, tpoint = 0, channel = 0, zplane = 0;
    std::vector<RunInput> inputs;
};

struct RunJob {
    int id = 0;
    std::string source;           // the source folder (local path or a source URL)
    std::string source_endpoint;  // S3 endpoint for s3:// sources ("" = the default)
    std::string store;            // the store URL
    bool mip = false;
    std::map<std::string, PlateLayout> plates;  // by store path ("plate.zarr")
    std::vector<RunOutput> outputs;
};

// The JSON form. Outputs are rows [id, plate, row, col, site, t, c, z, [[file, series, page,
// sample], ...]] rather than objects: a million planes cost a third of the time and space. File and
// folder names travel losslessly when they are not UTF-8 (core/fileutil.h name_to_json).
// to_json_text writes it (what init writes) without building a json tree first, which cost init
// on 1,000,000 planes 0.85 s more user CPU and 17 MB more memory; to_json parses that text.
std::string to_json_text(const RunJob& job);
void to_json(nlohmann::json& j, const RunJob& job);
// Throws Error naming what is missing or malformed ("run init again").
void from_json(const nlohmann::json& j, RunJob& job);

struct CollectJob {
    bool delete_sources = false;  // init --delete: delete source files whose planes are all verified
};
void to_json(nlohmann::json& j, const CollectJob& job);
void from_json(const nlohmann::json& j, CollectJob& job);

// Reads a job file; throws Error naming the file when it is missing, not JSON or malformed.
template <class Job> Job read_job_file(const std::filesystem::path& file);
// The same in two steps, for a caller that also needs the text (the run job's checkpoint digest).
std::string read_job_text(const std::filesystem::path& file);
template <class Job> Job parse_job(const std::string& text, const std::filesystem::path& file);

}  // namespace imx
