// imextract command line: `imextract [-v] EXPERIMENT PHASE [options]`, after TissueMAPS' imextract,
// plus `imextract demo DIR` and `imextract formats`.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <map>

#include "cli/arguments.h"
#include "cli/convert_command.h"
#include "cli/options.h"
#include "cli/summary.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "demo/demo_plate.h"
#include "render/image_writer.h"
#include "render/overview.h"
#include "formats/reader.h"
#include "storage/s3/s3_store.h"
#include "storage/source_files.h"
#include "engines/engine.h"
#include "engines/process.h"
#include "workflow/jobs.h"
#include "workflow/workflow.h"

using namespace imx;
using namespace imx::cli;

namespace {

void print_jobs(const Workspace& ws) {
    int n = ws.run_job_count();
    if (n == 0) {
        fmt::print("jobs          none (run init)\n");
        return;
    }
    int done = 0, failed = 0, running = 0, pending = 0;
    std::vector<std::pair<int, JobState>> bad;
    for (int j = 1; j <= n; ++j) {
        auto s = ws.read_state(Phase::run, j);
        std::string st = s ? s->state : "pending";
        if (st == "done") ++done;
        else if (st == "failed") {
            ++failed;
            bad.emplace_back(j, *s);
        } else if (st == "running") ++running;
        else ++pending;
    }
    fmt::print("run jobs      {}: {} done, {} failed, {} running, {} not run\n", n, done, failed, running, pending);
    for (auto& [j, s] : bad) fmt::print("  job {} failed: {}\n", j, s.error);
    auto c = ws.read_state(Phase::collect, 0);
    fmt::print("collect       {}{}\n", c ? c->state : "not run", c && !c->error.empty() ? " (" + c->error + ")" : "");
}

int do_status(const Workspace& ws) {
    ws.require();
    reconcile_engines(ws);
    Catalog cat(ws.catalog_file(), true);
    // Planes the run jobs stored, before collect folds their results into the catalog.
    int64_t stored_by_jobs = 0;
    for (int j = 1; j <= ws.run_job_count(); ++j)
        if (auto st = ws.read_state(Phase::run, j)) stored_by_jobs += st->planes_done - st->planes_failed;
    print_summary(cat.summary(), stored_by_jobs);
    print_jobs(ws);
    print_engines_status(ws);
    return exit_ok;
}

int do_info(const Workspace& ws, const std::string& phase_s, int job) {
    ws.require();
    Phase phase = parse_phase(phase_s);
    if (phase == Phase::run && job < 1) {
        // Without -j: one line per run job.
        int n = ws.run_job_count();
        auto counts = ws.job_plane_counts();
        for (int j = 1; j <= n; ++j) {
            auto s = ws.read_state(Phase::run, j);
            fmt::print("run job {:>5}  {:>8}  {:>6} planes  {}\n", j, s ? s->state : "pending",
                       size_t(j) <= counts.size() ? counts[size_t(j - 1)] : 0, s ? s->error : "");
        }
        return exit_ok;
    }
    fs::path f = ws.job_file(phase, job);
    std::error_code ec;
    if (!fs::is_regular_file(f, ec))
        throw Error("no " + phase_name(phase) + " job" + (phase == Phase::run ? " " + std::to_string(job) : "") +
                        " (run init first, or check -j)", Error::Kind::usage);
    if (phase == Phase::run) {
        const RunJob run = read_job_file<RunJob>(f);
        fmt::print("run job {}: {} plane(s) to store, source {}, store {}\n", job, run.outputs.size(),
                   printable_utf8(run.source), printable_utf8(run.store));
        std::string last;
        for (const RunOutput& o : run.outputs) {
            std::string site = fmt::format("{} {} site {}", o.plate, well_name(o.row, o.col), o.site);
            if (site != last) fmt::print("  {}\n", site);
            last = site;
            if (log::verbosity() > 0)
                for (const RunInput& in : o.inputs)
                    fmt::print("    c{} t{} z{} <- {} page {}\n", o.channel, o.tpoint, o.zplane, printable_utf8(in.file),
                               in.at.page);
        }
    } else {
        auto j = nlohmann::json::parse(std::ifstream(f));
        fmt::print("{}\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    auto s = ws.read_state(phase, job);
    if (s) fmt::print("state: {}\n", s->to_json().dump(1, ' ', false, nlohmann::json::error_handler_t::replace));
    return exit_ok;
}

int do_log(const Workspace& ws, const std::string& phase_s, int job) {
    ws.require();
    Phase phase = parse_phase(phase_s);
    if (phase == Phase::run && job < 1) throw Error("give the run job with -j N", Error::Kind::usage);
    bool any = false;
    std::vector<fs::path> files = {ws.log_file(phase, job), ws.engine_output_file(phase, job)};
    auto scheduler_files = engine_log_files(ws, phase, job);  // a cluster scheduler's own output files
    files.insert(files.end(), scheduler_files.begin(), scheduler_files.end());
    for (auto f : files) {
        std::ifstream in(f);
        if (!in) continue;
        std::string line;
        bool header = false;
        while (std::getline(in, line)) {
            if (!header && f.filename() != "log.txt") fmt::print("--- worker output ({})\n", f.string());
            header = true;
            fmt::print("{}\n", line);
            any = true;
        }
    }
    if (!any) fmt::print("no log for the {} job{}\n", phase_name(phase), phase == Phase::run ? " " + std::to_string(job) : "");
    return exit_ok;
}

int run_demo(const fs::path& dir, bool run_workflow, const DemoPlateSpec& spec) {
    fs::path source = dir / "microscope";
    fs::path experiment = dir / "experiment";
    Workspace ws(experiment);
    if (ws.exists())
        throw Error(experiment.string() + ": a demo experiment exists already; choose a new folder", Error::Kind::usage);
    log::info("writing a synthetic CellVoyager plate to {}", source.string());
    auto demo = write_demo_plate(source, spec);
    log::info("{} planes, {:.1f} MB of 16-bit TIFFs with MeasurementData.mlf and MeasurementDetail.mrf", demo.planes,
              demo.bytes / 1e6);
    if (!run_workflow) return exit_ok;
    CreateOptions copt;
    copt.sources = {source};
    create_experiment(ws, copt);
    init_jobs(ws, InitOptions{});
    SubmitOptions sopt;
    sopt.verbose = log::verbosity() > 0;
    auto r = submit(ws, sopt, false);
    if (r.exit_code != exit_ok) return r.exit_code;
    Catalog cat(ws.catalog_file(), true);
    // The experiment as it ends (planes stored and verified), not as create left it.
    print_summary(cat.summary());
    auto plates = cat.plates();
    std::string plate = s3::describe_key(cat.config().store, plates.at(0).store_path);
    fmt::print("\nThe plate is at {}\n", plate);
    fmt::print("Open it with any OME-Zarr reader, for example:\n");
    fmt::print("  napari --plugin napari-ome-zarr {}\n", plate);
    fmt::print("  /usr/bin/python3 -c \"import zarr; p = zarr.open('{}', 'r'); print(p.attrs['plate']['wells']); "
               "print(p['B/02/0/0'].shape)\"\n", plate);
    fmt::print("or get one plane as TIFF:\n");
    fmt::print("  {} {} get --well B02 --site 0 --channel 0 --zplane 1 -o B02_s0_c0_z1.tif\n", self_executable(),
               experiment.string());
    return exit_ok;
}

int list_formats() {
    fmt::print("Layouts (create --format NAME, or auto):\n");
    for (auto& r : layout_readers()) fmt::print("  {:<12} {}\n", r->name(), r->description());
    fmt::print("Image files decoded:\n");
    for (auto& d : pixel_decoders()) {
        const std::string what = d->description();
        if (what.empty()) fmt::print("  {}\n", d->name());
        else fmt::print("  {:<12} {}\n", d->name(), what);
    }
    return exit_ok;
}

// The first argument that is not an option decides between the top-level commands and
// EXPERIMENT PHASE.
std::string first_word(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] != '-') return argv[i];
    return {};
}

int real_main(int argc, char** argv) {
    std::string word = first_word(argc, argv);
    if (word == "convert") return convert_command(argc, argv);
    if (word == "demo" || word == "formats") {
        CLI::App app{"imextract: microscope files into OME-Zarr HCS plates"};
        int verbose = 0;
        app.add_flag("-v,--verbose", verbose, "more output");
        auto* demo = app.add_subcommand("demo", "write a synthetic CellVoyager plate into DIR and extract it");
        std::string dir;
        bool no_run = false;
        demo->add_option("DIR", dir, "folder for the demo (created)")->required();
        demo->add_flag("--no-run", no_run, "only write the synthetic microscope files");
        DemoPlateSpec spec;
        demo->add_option("--rows", spec.rows, "well rows from B (default 2)");
        demo->add_option("--cols", spec.cols, "well columns from 02 (default 3)");
        demo->add_option("--sites", spec.sites, "sites per well (default 2)");
        demo->add_option("--channels", spec.channels, "channels (default 2)");
        demo->add_option("--zplanes", spec.zplanes, "z-planes (default 3)");
        demo->add_option("--tpoints", spec.tpoints, "time-points (default 1)");
        demo->add_option("--width", spec.width, "plane width (default 640)");
        demo->add_option("--height", spec.height, "plane height (default 540)");
        demo->add_option("--plate-name", spec.plate_name, "plate name in the metadata (default DemoPlate)");
        demo->add_option("--seed", spec.seed, "seed of the synthetic cells and noise (default 42)");
        app.add_subcommand("formats", "list the supported formats");
        app.require_subcommand(1);
        try {
            app.parse(argc, argv);
        } catch (const CLI::ParseError& e) {
            return app.exit(e) == 0 ? 0 : exit_usage;
        }
        log::set_verbosity(verbose);
        if (demo->parsed()) return run_demo(dir, !no_run, spec);
        return list_formats();
    }

    CLI::App app{"imextract: turns microscope files into one compressed, chunked OME-Zarr HCS plate."};
    app.formatter(std::make_shared<cli::UsageFormatter>());
    // -v/--verbose anywhere: a phase hands the options it does not know to the program.
    app.fallthrough();
    app.set_version_flag("--version", std::string("imextract ") + IMX_VERSION);
    int verbose = 0;
    std::string experiment;
    app.add_flag("-v,--verbose", verbose, "more output (repeat for more)");
    app.add_option("experiment", experiment, "the experiment folder (workspace)")->required();
    app.require_subcommand(1);

    CreateArguments create_args;
    auto* create = app.add_subcommand("create", "read the microscope metadata and configure the experiment");
    create->add_option("--source", create_args.sources, "the folder the microscope wrote; repeat for several plates or "
                                                        "acquisitions")->required();
    create->add_option("--store", create_args.options.store, "where plates are written (default: the experiment folder)");
    add_plate_options(create, create_args);

    InitOptions iopt;
    auto* init = app.add_subcommand("init", "remove previous output and create the run jobs");
    init->add_option("-b,--batch-size", iopt.batch_size, "sites per run job (default 100)");
    init->add_flag("--delete", iopt.delete_sources, "let collect delete source files once all their planes are verified");

    RunOptions ropt;
    int job = 0;
    auto* run = app.add_subcommand("run", "run one run job (what the engines start)");
    run->add_option("-j,--job", job, "run job id (1-based)")->required();
    run->add_flag("--assume-clean-state", ropt.assume_clean_state, "keep the job's previous result file");
    run->add_option("--threads", ropt.threads, "worker threads (default: one more than the CPUs this process may use)");

    SubmitOptions sopt;
    // Resource options given once are kept in the experiment and are the defaults after that.
    auto* submit_cmd = app.add_subcommand("submit", "run every run job, then collect");
    const auto submit_saved = add_submit_options(submit_cmd, sopt);
    auto* resubmit = app.add_subcommand("resubmit", "run the run jobs that failed or did not finish, then collect");
    const auto resubmit_saved = add_submit_options(resubmit, sopt);

    CollectOptions colopt;
    auto* collect_cmd = app.add_subcommand("collect", "verify every stored plane; delete sources if init --delete");
    collect_cmd->add_flag("--dry-run", colopt.dry_run, "show what would be deleted, delete nothing");
    collect_cmd->add_flag("--lock-held", colopt.already_locked, "for engines: the submitting command holds the lock")
        ->group("");
    VerifyOptions vopt;
    auto* verify_cmd = app.add_subcommand("verify", "re-read every stored plane and check its checksum");
    verify_cmd->add_flag("--sources", vopt.sources, "also compare with the microscope files still present");
    auto* cleanup_cmd = app.add_subcommand("cleanup", "remove job files and leftovers of interrupted writes");
    std::string phase = "run";
    auto* info = app.add_subcommand("info", "show a job's description and state");
    info->add_option("-p,--phase", phase, "run | collect");
    info->add_option("-j,--job", job, "run job id");
    auto* logc = app.add_subcommand("log", "show a job's log");
    logc->add_option("-p,--phase", phase, "init | run | collect");
    logc->add_option("-j,--job", job, "run job id");
    auto* status = app.add_subcommand("status", "what was configured and how the jobs went");
    std::string status_overview;
    status->add_option("--overview", status_overview, "also write the plate overview PNG (after collect)");
    OverviewOptions oopt;
    auto* overview = app.add_subcommand("overview", "draw the plate as one PNG: every well, its fields, all channels");
    overview->add_option("-o,--output", oopt.output, "the PNG to write")->required();
    overview->add_option("--plate", oopt.plate, "plate name (default: the first)");
    overview->add_option("--channel", oopt.channels, "channel name or index (repeatable; default: all)");
    overview->add_option("--tpoint", oopt.tpoint, "time-point index (0-based)");
    overview->add_option("--zplane", oopt.zplane, "z-plane index (default: the middle one)");
    overview->add_option("--field-size", oopt.field_size, "pixels per field (default: automatic)");
    overview->add_option("--wells", oopt.wells, "only the wells of a rectangle, e.g. B02:D05");

    PlaneQuery q;
    std::string out;
    auto* get = app.add_subcommand("get", "write one stored plane to a TIFF or PNG file");
    get->add_option("--plate", q.plate, "plate name (when there are several)");
    get->add_option("--well", q.well, "well, like B03")->required();
    get->add_option("--site", q.site, "site index (0-based)");
    get->add_option("--channel", q.channel, "channel index (0-based) or name")->required();
    get->add_option("--tpoint", q.tpoint, "time-point index (0-based)");
    get->add_option("--zplane", q.zplane, "z-plane index (0-based)");
    get->add_option("--level", q.level, "resolution level (0 = full resolution)");
    std::string region;
    get->add_option("--region", region, "only the rectangle Y,X,H,W (top row, left column, height, width) of the plane");
    get->add_option("-o,--output", out, "output file (.tif, .tiff or .png)")->required();

    if (auto mistake = cli::unknown_argument(app, argc, argv)) {
        log::error("{}", *mistake);
        return exit_usage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : exit_usage;
    }
    log::set_verbosity(verbose);
    sopt.verbose = verbose > 0;
    Workspace ws(experiment);

    if (create->parsed()) {
        print_summary(create_experiment(ws, create_args.finish()));
        return exit_ok;
    }
    if (init->parsed()) {
        init_jobs(ws, iopt);
        return exit_ok;
    }
    if (run->parsed()) {
        ws.require();
        try {
            return run_job(ws, job, ropt);
        } catch (const Error& e) {
            if (e.kind() != Error::Kind::usage) {
                // Record the failure where the coordinator looks for it.
                JobState s = ws.read_state(Phase::run, job).value_or(JobState{});
                s.state = "failed";
                s.error = e.what();
                s.exit_code = exit_code_for(e);
                s.finished = now_seconds();
                ws.write_state(Phase::run, job, s);
            }
            throw;
        }
    }
    if (submit_cmd->parsed() || resubmit->parsed()) {
        ws.require();
        remember_submit_options(ws, submit_cmd->parsed() ? submit_saved : resubmit_saved);
        return submit(ws, sopt, resubmit->parsed()).exit_code;
    }
    if (collect_cmd->parsed()) {
        auto r = collect(ws, colopt);
        return r.verified == r.outputs ? exit_ok : exit_verification;
    }
    if (verify_cmd->parsed()) {
        // A plate without its workspace (or a folder convert wrote): the reader finds what it is.
        auto r = ws.exists() ? verify(ws, vopt) : ExperimentReader(experiment).verify(vopt);
        for (auto& p : r.problems) log::error("{}", p);
        if (r.decoded_only)
            log::warn("verify: a plate without its workspace: {} plane(s) read and decoded at every level, but their "
                      "checksums are in the workspace, not the plate, so changed pixels that still decode are not found",
                      r.decoded_only);
        log::info("verify: {} of {} stored plane(s) {}{}{}{}", r.ok, r.planes,
                  r.decoded_only ? "read back and decoded" : "match their checksums",
                  vopt.sources ? fmt::format("; {} compared with their source files, {} not (sources deleted or "
                                             "missing)", r.sources_compared, r.sources_skipped)
                               : "",
                  r.missing_in_source ? fmt::format("; {} plane(s) have no pixels in the source files", r.missing_in_source) : "",
                  r.absent ? fmt::format("; {} array position(s) hold no source plane and read as 0 (`status` lists "
                                         "them; the plate attributes imextract.holes too)", r.absent)
                           : "");
        return r.problems.empty() ? exit_ok : exit_verification;
    }
    if (cleanup_cmd->parsed()) {
        auto r = cleanup(ws);
        log::info("cleanup: removed {} job file(s) and {} temporary file(s)", r.job_files, r.temporaries);
        return exit_ok;
    }
    if (info->parsed()) return do_info(ws, phase, job);
    if (logc->parsed()) return do_log(ws, phase, job);
    auto draw_overview = [&](const OverviewOptions& o) {
        auto r = write_overview(ws, o);
        log::info("wrote {} ({}x{}): {} well(s) drawn, {} with missing or unreadable planes (red crosses); "
                  "read {:.2f} MB of stored chunks", o.output.string(), r.width, r.height, r.wells_drawn, r.wells_failed,
                  r.bytes_read / 1e6);
        return r.wells_failed ? exit_verification : exit_ok;
    };
    if (status->parsed()) {
        int rc = do_status(ws);
        if (!status_overview.empty()) {
            auto c = ws.read_state(Phase::collect, 0);
            if (!c) throw Error("--overview: run collect first (the picture's contrast comes from its statistics)", Error::Kind::usage);
            OverviewOptions o;
            o.output = status_overview;
            draw_overview(o);
        }
        return rc;
    }
    if (overview->parsed()) return draw_overview(oopt);
    if (get->parsed()) {
        if (!region.empty()) q.region = parse_region(region);
        ExperimentReader reader(experiment);
        if (q.plate.empty()) q.plate = reader.named_plate();
        Plane p = reader.get(q);
        write_image(out, p);
        log::info("wrote {} ({}x{} {}; {} bytes fetched from the store)", out, p.width, p.height, dtype_name(p.dtype),
                  reader.bytes_fetched());
        return exit_ok;
    }
    return exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return real_main(argc, argv);
    } catch (const Error& e) {
        log::error("{}", e.what());
        return exit_code_for(e);
    } catch (const std::filesystem::filesystem_error& e) {
        // A workspace file or folder that cannot be written or read: the path and the OS reason.
        log::error("{}: {} ({})", e.path1().string(), e.code().message(), e.what());
        return exit_storage;
    } catch (const std::exception& e) {
        log::error("{}", e.what());
        return exit_failure;
    }
}
