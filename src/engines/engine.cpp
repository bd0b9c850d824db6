// The engine registry: every engine by name, and what the coordinator asks of all of them (a
// submission one of them left queued or running, its log files). Adding an engine: one file with
// its class and a make_ function, one line in kEngines.
#include "engines/engine.h"

#include <iterator>

#include "core/types.h"

namespace imx {

std::unique_ptr<Engine> make_local_engine();
std::unique_ptr<Engine> make_slurm_engine();

namespace {

struct EngineEntry {
    const char* name;
    std::unique_ptr<Engine> (*make)();
};

const EngineEntry kEngines[] = {
    {"local", make_local_engine},
    {"slurm", make_slurm_engine},
};

}  // namespace

std::unique_ptr<Engine> make_engine(const std::string& name) {
    std::string names;
    for (size_t i = 0; i < std::size(kEngines); ++i) {
        if (name == kEngines[i].name) return kEngines[i].make();
        names += std::string(i == 0 ? "" : i + 1 == std::size(kEngines) ? " or " : ", ") + kEngines[i].name;
    }
    throw Error("unknown engine '" + name + "' (choose " + names + ")", Error::Kind::usage);
}

std::string reconcile_engines(const Workspace& ws) {
    std::string busy;
    for (const EngineEntry& e : kEngines)
        if (std::string b = e.make()->reconcile(ws); !b.empty()) busy += (busy.empty() ? "" : "; ") + b;
    return busy;
}

void print_engines_status(const Workspace& ws) {
    for (const EngineEntry& e : kEngines) e.make()->print_status(ws);
}

std::vector<fs::path> engine_log_files(const Workspace& ws, Phase phase, int job) {
    std::vector<fs::path> files;
    for (const EngineEntry& e : kEngines) {
        auto own = e.make()->log_files(ws, phase, job);
        files.insert(files.end(), own.begin(), own.end());
    }
    return files;
}

}  // namespace imx
