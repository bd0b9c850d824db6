// `imextract convert SOURCE... OUT`: create, init and submit in one command, with the workspace
// (catalog, jobs, logs) kept where a second run finds it, so that running it again resumes an
// interrupted conversion or says that OUT is finished.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "workflow/workflow.h"

namespace imx {

struct ConvertOptions {
    CreateOptions create;   // its sources; its store is OUT
    InitOptions init;
    SubmitOptions submit;
    fs::path workspace;     // empty: OUT/.imextract, or for an s3:// OUT a local folder (convert_workspace)
    bool overwrite = false; // convert OUT again from other sources or options
};
struct ConvertResult {
    int exit_code = 0;
    fs::path workspace;
    bool already_done = false;  // OUT was finished before; nothing was written
    bool created = false;       // this run read the metadata (create)
};

// Where convert keeps the workspace of OUT: OUT/.imextract for a folder; for an s3:// OUT, a local
// folder under $XDG_STATE_HOME (default ~/.local/state)/imextract/s3/BUCKET/PREFIX.
fs::path convert_workspace(const std::string& out);

// Runs the conversion. `before_submit` is called with the workspace once its catalog exists (the
// command line saves or restores the engine options there).
ConvertResult convert(const ConvertOptions& options, const std::function<void(const Workspace&)>& before_submit);

// True when every run job is done and a later collect verified every plane (init removes both).
bool fully_collected(const Workspace& ws);

}  // namespace imx
