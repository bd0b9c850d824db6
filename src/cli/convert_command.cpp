// `imextract convert SOURCE... OUT [options]`: the workflow in one command (workflow/convert.h).
#include "cli/convert_command.h"

#include "cli/arguments.h"
#include "cli/options.h"
#include "cli/summary.h"
#include "core/log.h"
#include "storage/s3/s3_store.h"
#include "workflow/convert.h"

namespace imx::cli {

namespace {

// The index of the first argument that is not an option (the command word).
int first_word_index(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] != '-') return i;
    return argc;
}

}  // namespace

int convert_command(int argc, char** argv) {
    CLI::App app{"imextract convert: the microscope files in SOURCE (one or more folders) into OME-Zarr plates in "
                 "OUT (a folder, or s3://BUCKET/PREFIX): create, init and submit in one command; run it again to "
                 "resume after an interruption",
                 "convert"};
    app.formatter(std::make_shared<UsageFormatter>());
    int verbose = 0;
    app.add_flag("-v,--verbose", verbose, "more output (repeat for more)");
    std::vector<std::string> paths;
    app.add_option("SOURCE... OUT", paths, "the folder(s) the microscope wrote, then where the plates go")->required();
    CreateArguments create_args;
    add_plate_options(&app, create_args);
    ConvertOptions opt;
    app.add_option("-b,--batch-size", opt.init.batch_size, "sites per run job (default 100)");
    const auto saved = add_submit_options(&app, opt.submit);
    std::string workspace;
    app.add_option("--workspace", workspace,
                   "where the catalog, jobs and logs go (default: OUT/.imextract; for an s3:// OUT "
                   "$XDG_STATE_HOME/imextract/s3/BUCKET/PREFIX, ~/.local/state without XDG_STATE_HOME)");
    app.add_flag("--overwrite", opt.overwrite, "convert again into an OUT made from other sources or options");
    if (auto mistake = unknown_command_option(app, argc, argv)) {
        log::error("{}", *mistake);
        return exit_usage;
    }
    // The words after the program name without `convert` itself (CLI11 takes them last first).
    std::vector<std::string> args;
    const int command_at = first_word_index(argc, argv);
    for (int i = argc - 1; i >= 1; --i)
        if (i != command_at) args.push_back(argv[i]);
    try {
        app.parse(args);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : exit_usage;
    }
    log::set_verbosity(verbose);
    opt.submit.verbose = verbose > 0;
    if (paths.size() < 2) {
        log::error("convert needs SOURCE and OUT: `imextract convert /microscope/plate1 /data/plate1` (OUT a folder "
                   "or s3://BUCKET/PREFIX)");
        return exit_usage;
    }
    create_args.options.store = paths.back();
    create_args.sources.assign(paths.begin(), paths.end() - 1);
    opt.create = create_args.finish();
    opt.workspace = workspace;
    ConvertResult r = convert(opt, [&](const Workspace& ws) { remember_submit_options(ws, saved); });
    if (r.exit_code != exit_ok) return r.exit_code;
    Catalog cat(Workspace(r.workspace).catalog_file(), true);
    if (r.created || verbose) print_summary(cat.summary());
    for (auto& p : cat.plates()) fmt::print("plate         {}\n", s3::describe_key(cat.config().store, p.store_path));
    fmt::print("workspace     {} (`imextract {} status` shows the details)\n", r.workspace.string(), r.workspace.string());
    return exit_ok;
}

}  // namespace imx::cli
