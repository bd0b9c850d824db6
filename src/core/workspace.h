// The experiment workspace: a folder holding the catalog, the job descriptions, each job's state,
// result and log. Every file a job writes is written atomically, so a killed job leaves either the
// old or the new version, and jobs on different cluster nodes never write the same file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace imx {

namespace fs = std::filesystem;

enum class Phase { init, run, collect };
std::string phase_name(Phase p);
Phase parse_phase(const std::string& s);

struct JobState {
    std::string state = "pending";  // pending, running, done, failed
    int64_t pid = 0;
    std::string host;
    double started = 0, finished = 0;  // seconds since the epoch
    int64_t planes_done = 0, planes_total = 0, planes_failed = 0;
    int64_t bytes_in = 0, bytes_out = 0;
    int exit_code = -1;
    std::string error;

    nlohmann::json to_json() const;
    static JobState from_json(const nlohmann::json& j);
};

class Workspace {
public:
    explicit Workspace(fs::path root);
    const fs::path& root() const { return root_; }
    fs::path catalog_file() const { return root_ / "catalog.sqlite"; }
    fs::path jobs_dir() const { return root_ / "jobs"; }
    fs::path job_dir(Phase phase, int id = 0) const;  // jobs/run/000001, jobs/collect, jobs/init
    fs::path job_file(Phase phase, int id) const { return job_dir(phase, id) / "job.json"; }
    fs::path state_file(Phase phase, int id) const { return job_dir(phase, id) / "state.json"; }
    fs::path result_file(Phase phase, int id) const { return job_dir(phase, id) / "result.json"; }
    fs::path log_file(Phase phase, int id) const { return job_dir(phase, id) / "log.txt"; }
    fs::path engine_output_file(Phase phase, int id) const { return job_dir(phase, id) / "engine.out"; }
    fs::path batches_file() const { return jobs_dir() / "batches.json"; }

    bool exists() const;        // has a catalog
    void require() const;       // throws a clear Error when this is not an experiment

    // The number of run jobs that init wrote (0 before init).
    int run_job_count() const;
    // Planes each run job stores, from the batches file (index 0 = job 1).
    std::vector<int64_t> job_plane_counts() const;
    std::optional<JobState> read_state(Phase phase, int id) const;
    void write_state(Phase phase, int id, const JobState& s) const;

private:
    fs::path root_;
};

// An exclusive lock on the experiment for the coordinator's commands (submit, resubmit, init,
// collect): released by the kernel when the holder dies, so a crash never leaves it stale.
class ExperimentLock {
public:
    ExperimentLock(const Workspace& ws, const std::string& what);
    ~ExperimentLock();
    ExperimentLock(const ExperimentLock&) = delete;
    ExperimentLock& operator=(const ExperimentLock&) = delete;

private:
    int fd_ = -1;
};

// Exit codes of the command line (documented in README.md).
enum ExitCode : int {
    exit_ok = 0,
    exit_failure = 1,       // unexpected error
    exit_usage = 2,         // wrong arguments, not an experiment, experiment busy
    exit_input = 3,         // microscope files or metadata unreadable or invalid
    exit_jobs_failed = 4,   // one or more jobs failed; see status / log
    exit_verification = 5,  // collect or verify found missing or mismatched planes
    exit_storage = 6,       // the store or the workspace could not be written or read
    exit_not_extracted = 7, // the plane asked for has not been extracted yet (run submit)
};

double now_seconds();
std::string hostname();
// CPUs this process may run on: its affinity mask (a SLURM allocation, taskset, a container's
// cpuset), not every CPU of the node.
int usable_cpus();

}  // namespace imx
