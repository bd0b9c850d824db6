// The option definitions that several commands share: `create` and `convert` take the same
// layout and plate options, `submit`, `resubmit` and `convert` the same engine options.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "engines/engine.h"
#include "workflow/workflow.h"

namespace imx::cli {

// What the plate options fill in; `options()` turns it into CreateOptions once parsed.
struct CreateArguments {
    CreateOptions options;
    std::vector<std::string> sources;
    std::string s3_endpoint;
    // CreateOptions with the sources and the endpoint applied to the store and the sources.
    CreateOptions finish() const;
};
// --mode, --format, --pattern, --tiles, --skip-projections, --s3-endpoint, --mip, --compression,
// --levels, --downsample, --ngff, --shard, --chunk (not --source and --store, which differ).
void add_plate_options(CLI::App* app, CreateArguments& args);

// --engine, --interval, --depth, --cores, ..., --detach. Returns the resource options that the
// experiment remembers (remember_submit_options).
std::vector<CLI::Option*> add_submit_options(CLI::App* app, SubmitOptions& options);
// Resource options given are saved in the catalog; those not given take the saved value.
void remember_submit_options(const Workspace& ws, const std::vector<CLI::Option*>& saved);

}  // namespace imx::cli
