// imextract command line: `imextract [-v] EXPERIMENT PHASE [options]`, after TissueMAPS' imextract,
// plus `imextract demo DIR` and `imextract formats`.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <map>

#include "cli/arguments.h"
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

namespace {

std::string fmt_size(double v) {
    return v ? fmt::format("{:.4g}", v) : std::string("?");
}

// `stored_by_jobs`: planes the run jobs report stored, when more than collect has folded in.
void print_summary(const CatalogSummary& s, int64_t stored_by_jobs = 0) {
    fmt::print("format        {}\n", s.format);
    if (s.sources.size() > 1) {
        fmt::print("sources       {} (mode {}; file paths relative to {})\n", s.sources.size(), s.mode, s.source);
        for (auto& src : s.sources) fmt::print("              {}\n", src);
    } else {
        fmt::print("source        {}\n", s.source);
    }
    for (auto& [acquisition, given] : s.found_below)
        fmt::print("found         {} (below --source {})\n", acquisition, given);
    fmt::print("store         {}\n", s.store);
    fmt::print("compression   {}{}\n", s.compression, s.mip ? "  (maximum-intensity projections)" : "");
    std::string plate_names;
    for (auto& n : s.plate_names) plate_names += (plate_names.empty() ? "" : ", ") + n;
    fmt::print("plates        {} ({})\n", s.plates, plate_names);
    fmt::print("wells         {}\n", s.wells);
    fmt::print("sites         {}\n", s.sites);
    // The field images' NGFF translations come from these; none are ever made up.
    if (s.sites_positioned == 0)
        fmt::print("positions     none: the metadata records no stage positions, field images get no translation\n");
    else
        fmt::print("positions     {} of {} sites have a stage position (their images' translation){}\n", s.sites_positioned,
                   s.sites, s.pixel_size_x || s.pixel_size_y ? "" : "; no pixel size, so no translation is written");
    std::string names;
    for (auto& n : s.channel_names) names += (names.empty() ? "" : ", ") + n;
    fmt::print("channels      {} ({})\n", s.channels, names);
    fmt::print("tpoints       {}\n", s.tpoints);
    fmt::print("zplanes       {}\n", s.zplanes);
    fmt::print("plane         {}x{} {}", s.width, s.height, s.dtype);
    if (s.pixel_size_x) fmt::print(", pixel {} x {} um", fmt_size(*s.pixel_size_x), fmt_size(s.pixel_size_y.value_or(0)));
    if (s.pixel_size_z) fmt::print(", z step {} um", fmt_size(*s.pixel_size_z));
    fmt::print("\n");
    for (auto& g : s.own_geometry) fmt::print("plane of plate {}\n", g);
    fmt::print("source planes {} in {} file(s), {:.1f} MB{}{}\n", s.planes, s.files, s.source_bytes / 1e6,
               s.files_missing ? fmt::format(", {} missing", s.files_missing) : "",
               s.files_deleted ? fmt::format(", {} deleted after verification", s.files_deleted) : "");
    // What the files hold against what the plates will store (create's pixel inventory).
    std::string files = fmt::format("{} complete", s.files_complete);
    for (auto [n, what] : {std::pair{s.files_incomplete, "incomplete"}, {s.files_unreadable, "unreadable"},
                           {s.files_missing, "missing"}, {s.files_unknown, "not inventoried"}})
        if (n) files += fmt::format(", {} {}", n, what);
    fmt::print("inventory     {} (only complete files, every page and sample in a plane, may be deleted)\n", files);
    auto list = [](const char* label, const std::vector<std::string>& lines, int64_t total, const char* where) {
        for (auto& l : lines) fmt::print("{:<14}{}\n", label, l);
        if (total > int64_t(lines.size()))
            fmt::print("{:<14}... and {} more ({})\n", label, total - int64_t(lines.size()), where);
    };
    list("  file", s.file_problems, s.files_incomplete + s.files_unreadable, "catalog table files");
    if (s.unused_files) {
        fmt::print("unused files  {} image file(s), {:.1f} MB, in the source that no plane reads; they stay\n",
                   s.unused_files, s.unused_bytes / 1e6);
        list("  unused", s.unused_examples, s.unused_files, "catalog table unused_files");
    }
    fmt::print("planes        {} to store{}{}\n", s.outputs,
               s.outputs_missing ? fmt::format(", {} missing in the source", s.outputs_missing) : "",
               s.absent ? fmt::format("; {} array position(s) no source plane fills (they read as 0)", s.absent) : "");
    list("  missing", s.missing_examples, s.outputs_missing, "verify lists them all");
    list("  absent", s.absent_examples, s.absent, "catalog table absent_planes");
    fmt::print("stored planes {} ({} verified)\n", std::max(s.outputs_stored, stored_by_jobs), s.outputs_verified);
    for (auto& w : s.warnings) fmt::print("warning       {}\n", w);
}

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

    CreateOptions copt;
    std::vector<std::string> sources;
    auto* create = app.add_subcommand("create", "read the microscope metadata and configure the experiment");
    create->add_option("--source", sources, "the folder the microscope wrote; repeat for several plates or "
                                            "acquisitions")->required();
    create->add_option("--mode", copt.mode, "the same plate in several sources: time (acquisitions are "
                                            "time-points) or multiplexing (staining cycles); default plates "
                                            "(refuses a plate name given twice)")
        ->check(CLI::IsMember({"plates", "time", "multiplexing"}));
    create->add_option("--format", copt.format, "auto (default), or a layout from `imextract formats`");
    create->add_option("--pattern", copt.pattern, "files mode: regex with named groups well, site, channel, z, t");
    create->add_option("--tiles", copt.tiles, "mosaic tiles (CZI): mosaic (default: one plane per scene) or as-sites")
        ->check(CLI::IsMember({"mosaic", "as-sites"}));
    create->add_flag("--skip-projections", copt.skip_projections,
                     "leave out projections the microscope software computed (MetaXpress, CellVoyager; default: "
                     "channels named '<channel> (<method> projection)')");
    create->add_option("--store", copt.store, "where plates are written (default: the experiment folder)");
    std::string s3_endpoint;
    create->add_option("--s3-endpoint", s3_endpoint,
                       "S3 server for an s3:// --store and s3:// --source, e.g. http://127.0.0.1:17480 (saved with "
                       "the experiment; "
                       "credentials come from AWS_* variables or ~/.aws and are never saved)");
    create->add_flag("--mip", copt.mip, "store maximum-intensity projections over z instead of z-stacks");
    create->add_option("--compression", copt.compression, "blosc-lz4 (default) | blosc-zstd | zstd | none, optionally :LEVEL");
    create->add_option("--levels", copt.levels, "resolution levels (default: halve until the larger side is <= 256)")
        ->check(CLI::Range(1, 32));
    create->add_option("--downsample", copt.downsample, "how pyramid levels are made: mean (default) | max");
    create->add_option("--ngff", copt.ngff, "OME-NGFF version: 0.4 (Zarr v2, default) | 0.5 (Zarr v3)");
    create->add_option("--shard", copt.shard, "0.5 only: none (default) | field (one object per field and level) | zstack");
    create->add_option("--chunk", copt.chunk,
                       "tile size Y[,X] of the stored chunks (default: the whole plane up to 4096 pixels a side, "
                       "tiles of 1024 above)");

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
    std::map<CLI::App*, std::vector<CLI::Option*>> saved_options;
    auto add_submit_options = [&](CLI::App* sub) {
        auto& saved = saved_options[sub];
        saved.push_back(sub->add_option("--engine", sopt.engine, "local (default) or slurm"));
        sub->add_option("--interval", sopt.interval, "seconds between progress lines (default 2)");
        sub->add_option("--depth", sopt.depth, "progress detail: 0 summary, 1 finished jobs (default), 2 running jobs");
        saved.push_back(sub->add_option("--cores", sopt.cores, "CPU cores per job (local default: cores / jobs at once; slurm: 1)"));
        saved.push_back(sub->add_option("--max-parallel", sopt.max_parallel, "jobs at once (local default: one per core; slurm: no limit)"));
        saved.push_back(sub->add_option("--duration", sopt.duration, "slurm: wall time per job, HH:MM:SS (default 06:00:00)"));
        saved.push_back(sub->add_option("--memory", sopt.memory_mb, "slurm: memory per job in MB (default 2147)"));
        saved.push_back(sub->add_option("--partition", sopt.partition, "slurm: partition"));
        saved.push_back(sub->add_option("--account", sopt.account, "slurm: account"));
        sub->add_flag("--detach", sopt.detach, "slurm: return once submitted; `status` shows progress");
    };
    auto* submit_cmd = app.add_subcommand("submit", "run every run job, then collect");
    add_submit_options(submit_cmd);
    auto* resubmit = app.add_subcommand("resubmit", "run the run jobs that failed or did not finish, then collect");
    add_submit_options(resubmit);

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
        for (auto& src : sources) copt.sources.push_back(src);
        if (!s3_endpoint.empty()) {
            bool remote_source = false;
            for (auto& src : sources) remote_source = remote_source || source::is_remote(src);
            // The endpoint is for the store when it is remote too, or when no source is (then a
            // local store is refused with a message saying so).
            if (source::is_remote(copt.store) || !remote_source) copt.store = s3::with_endpoint(copt.store, s3_endpoint);
        }
        copt.s3_endpoint = s3_endpoint;
        print_summary(create_experiment(ws, copt));
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
        {
            Catalog cat(ws.catalog_file());
            for (auto* o : saved_options[submit_cmd->parsed() ? submit_cmd : resubmit]) {
                std::string key = "submit" + o->get_name();  // "submit--cores"
                if (o->count() > 0) cat.set_meta(key, o->as<std::string>());
                else if (std::string v = cat.meta(key); !v.empty()) {
                    o->clear();
                    o->add_result(v);
                    o->run_callback();
                }
            }
        }
        return submit(ws, sopt, resubmit->parsed()).exit_code;
    }
    if (collect_cmd->parsed()) {
        auto r = collect(ws, colopt);
        return r.verified == r.outputs ? exit_ok : exit_verification;
    }
    if (verify_cmd->parsed()) {
        auto r = verify(ws, vopt);
        for (auto& p : r.problems) log::error("{}", p);
        log::info("verify: {} of {} stored plane(s) match their checksums{}{}{}", r.ok, r.planes,
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
