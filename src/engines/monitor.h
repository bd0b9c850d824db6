// Progress of the run jobs, the same whatever engine runs them: it reads the jobs' state files.
#pragma once

#include <cstdint>
#include <vector>

#include "engines/engine.h"
#include "core/workspace.h"

namespace imx {

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

}  // namespace imx
