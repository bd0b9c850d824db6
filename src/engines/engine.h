// Engines run the run jobs: `local` (worker processes on this machine) now, `slurm` later, behind
// one interface. The coordinator (submit/resubmit) picks the jobs, an engine runs them, and the
// monitor reads the jobs' state files, so progress looks the same whatever runs the jobs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "workflow/workspace.h"

namespace imx {

struct SubmitOptions {
    std::string engine = "local";
    int cores = 0;           // CPU cores (threads) per job; 0: local: cores / jobs at once, slurm: 1
    int max_parallel = 0;    // jobs at once; 0: local: one per core, slurm: no limit
    double interval = 2.0;   // seconds between progress reports when not on a terminal
    int depth = 1;           // 0: summary only; 1: a line per finished job; 2: also running jobs
    std::string duration = "06:00:00";  // per-job wall time (slurm)
    int memory_mb = 2147;    // per-job memory in MB (slurm)
    std::string partition, account;     // slurm
    bool detach = false;     // slurm: return once submitted; `status` monitors
    bool verbose = false;
};

class Monitor;

class Engine {
public:
    virtual ~Engine() = default;
    virtual std::string name() const = 0;
    // Runs `jobs` (run-phase job ids) to completion or failure; every job ends with a state file
    // that says done or failed. Returns false when interrupted by the user.
    virtual bool run(const Workspace& ws, const std::vector<int>& jobs, const SubmitOptions& options,
                     Monitor& monitor) = 0;
    // True when the engine also ran (or submitted) the collect job itself, as a cluster job that
    // depends on the run jobs; otherwise submit runs collect once every run job is done.
    virtual bool runs_collect() const { return false; }
    // True when run() returned with the jobs still queued or running (--detach).
    virtual bool detached() const { return false; }
};

std::unique_ptr<Engine> make_engine(const std::string& name);
std::unique_ptr<Engine> make_slurm_engine();

// The imextract executable of this process: what engines start as workers.
std::string self_executable();
// Shows the cluster's view of a detached submission in `status` (nothing when there is none).
void print_engine_status(const Workspace& ws);
// Records how the tasks of a finished detached SLURM submission ended (the scheduler's view) in
// their state files. Returns true while that submission is still queued or running.
bool reconcile_engine_states(const Workspace& ws);

// Progress from the jobs' state files: a live bar on a terminal, plain lines otherwise.
class Monitor {
public:
    Monitor(const Workspace& ws, std::vector<int> jobs, const SubmitOptions& options);
    ~Monitor();
    void update(bool force_line = false);  // call often; it rate-limits itself
    void job_finished(int job, const JobState& state);
    void finish();

private:
    const Workspace& ws_;
    std::vector<int> jobs_;
    SubmitOptions opt_;
    bool tty_;
    double start_, last_line_ = 0, last_draw_ = 0;
    int64_t total_planes_ = 0;
    int finished_ = 0, failed_ = 0;
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

}  // namespace imx
