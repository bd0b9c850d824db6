// Engines run the run jobs behind one interface: `local` (worker processes on this machine) and
// `slurm` (a job array on a cluster). The coordinator (submit/resubmit) picks the jobs, an engine
// runs them, and the monitor (engines/monitor.h) reads the jobs' state files, so progress looks the
// same whatever runs the jobs. Engines are registered by name in engine.cpp; what one knows of a
// submission it left queued or running (status, reconciliation, its own log files) stays in its
// file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/workspace.h"

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

    // A submission of this experiment the engine left queued or running (--detach, an interrupted
    // wait): records how its finished tasks ended in their state files, and returns what is still
    // in flight as a phrase for a refusal, "" when nothing is.
    virtual std::string reconcile(const Workspace& ws) const {
        (void)ws;
        return {};
    }
    // Lines for `status` about such a submission; nothing when there is none.
    virtual void print_status(const Workspace& ws) const { (void)ws; }
    // Files the engine's scheduler wrote for a job besides its log and engine.out, oldest first.
    virtual std::vector<fs::path> log_files(const Workspace& ws, Phase phase, int job) const {
        (void)ws, (void)phase, (void)job;
        return {};
    }
};

// The engine registered under `name`; throws Error (usage) naming the engines there are.
std::unique_ptr<Engine> make_engine(const std::string& name);

// What the registered engines know of this experiment. reconcile_engines: every engine records how
// the tasks of its finished submissions ended; returns what is still queued or running as a phrase
// ("a SLURM submission of this experiment is still queued or running (...)"), "" when nothing is:
// init and submit refuse while something is.
std::string reconcile_engines(const Workspace& ws);
void print_engines_status(const Workspace& ws);
std::vector<fs::path> engine_log_files(const Workspace& ws, Phase phase, int job);

}  // namespace imx
