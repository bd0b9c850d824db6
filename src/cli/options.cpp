#include "cli/options.h"

#include "storage/s3/s3_store.h"
#include "storage/source_files.h"

namespace imx::cli {

CreateOptions CreateArguments::finish() const {
    CreateOptions o = options;
    for (auto& src : sources) o.sources.push_back(src);
    if (!s3_endpoint.empty()) {
        bool remote_source = false;
        for (auto& src : sources) remote_source = remote_source || source::is_remote(src);
        // The endpoint is for the store when it is remote too, or when no source is (then a
        // local store is refused with a message saying so).
        if (source::is_remote(o.store) || !remote_source) o.store = s3::with_endpoint(o.store, s3_endpoint);
    }
    o.s3_endpoint = s3_endpoint;
    return o;
}

void add_plate_options(CLI::App* app, CreateArguments& args) {
    CreateOptions& copt = args.options;
    app->add_option("--mode", copt.mode, "the same plate in several sources: time (acquisitions are "
                                         "time-points) or multiplexing (staining cycles); default plates "
                                         "(refuses a plate name given twice)")
        ->check(CLI::IsMember({"plates", "time", "multiplexing"}));
    app->add_option("--format", copt.format, "auto (default), or a layout from `imextract formats`");
    app->add_option("--pattern", copt.pattern,
                    "files mode: regex with named groups well, site, channel, z, t, matched against the file name "
                    "(against the path below the source when it holds a /); a well may be a number (row by row)");
    app->add_option("--plate-format", copt.plate_format,
                    "files mode: the plate's wells, 96 | 384 | 1536 (numbered wells; default: the smallest plate "
                    "holding the wells named)");
    app->add_option("--tiles", copt.tiles, "mosaic tiles (CZI): mosaic (default: one plane per scene) or as-sites")
        ->check(CLI::IsMember({"mosaic", "as-sites"}));
    app->add_flag("--skip-projections", copt.skip_projections,
                  "leave out projections the microscope software computed (MetaXpress, CellVoyager; default: "
                  "channels named '<channel> (<method> projection)')");
    app->add_option("--s3-endpoint", args.s3_endpoint,
                    "S3 server for an s3:// store and s3:// sources, e.g. http://127.0.0.1:17480 (saved with "
                    "the experiment; credentials come from AWS_* variables or ~/.aws and are never saved)");
    app->add_flag("--mip", copt.mip, "store maximum-intensity projections over z instead of z-stacks");
    app->add_option("--compression", copt.compression, "blosc-lz4 (default) | blosc-zstd | zstd | none, optionally :LEVEL");
    app->add_option("--levels", copt.levels, "resolution levels (default: halve until the larger side is <= 256)")
        ->check(CLI::Range(1, 32));
    app->add_option("--downsample", copt.downsample, "how pyramid levels are made: mean (default) | max");
    app->add_option("--ngff", copt.ngff, "OME-NGFF version: 0.4 (Zarr v2, default) | 0.5 (Zarr v3)");
    app->add_option("--shard", copt.shard, "0.5 only: none (default) | field (one object per field and level) | zstack");
    app->add_option("--chunk", copt.chunk,
                    "tile size Y[,X] of the stored chunks (default: the whole plane up to 4096 pixels a side, "
                    "tiles of 1024 above)");
}

std::vector<CLI::Option*> add_submit_options(CLI::App* sub, SubmitOptions& sopt) {
    std::vector<CLI::Option*> saved;
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
    return saved;
}

void remember_submit_options(const Workspace& ws, const std::vector<CLI::Option*>& saved) {
    Catalog cat(ws.catalog_file());
    for (auto* o : saved) {
        std::string key = "submit" + o->get_name();  // "submit--cores"
        if (o->count() > 0) cat.set_meta(key, o->as<std::string>());
        else if (std::string v = cat.meta(key); !v.empty()) {
            o->clear();
            o->add_result(v);
            o->run_callback();
        }
    }
}

}  // namespace imx::cli
