// `convert`: create + init + submit, resumable, refusing to mix two conversions in one OUT.
#include "workflow/convert.h"

#include <cstdlib>

#include "core/log.h"
#include "storage/source_files.h"
#include "storage/store.h"

namespace imx {

using nlohmann::json;

namespace {

// Meta keys of the catalog that say what convert made OUT from.
const char* const kSourcesKey = "convert.sources";
const char* const kOptionsKey = "convert.options";

bool is_remote_out(const std::string& out) { return source::is_remote(out); }

// The sources as convert compares them between runs: local folders absolute and normalised (they
// need not exist any more: the raw data may be gone after a finished conversion).
std::string source_identity(const std::vector<fs::path>& sources) {
    json list = json::array();
    for (auto& s : sources)
        list.push_back(source::is_remote(s) ? s.string() : fs::weakly_canonical(fs::absolute(s)).string());
    return list.dump();
}

// The options that decide what the plate holds and how it is stored (not the engine's).
json plate_options(const CreateOptions& o) {
    return {{"--mode", o.mode},        {"--format", o.format},   {"--pattern", o.pattern}, {"--plate-format", o.plate_format},
            {"--tiles", o.tiles},      {"--skip-projections", o.skip_projections},
            {"--mip", o.mip},          {"--compression", o.compression}, {"--levels", o.levels},
            {"--downsample", o.downsample}, {"--ngff", o.ngff},   {"--shard", o.shard},
            {"--chunk", o.chunk}};
}

std::string show(const json& v) {
    if (v.is_string()) return v.get<std::string>().empty() ? "(default)" : v.get<std::string>();
    return v.dump();
}

std::string sources_text(const std::string& identity) {
    std::string text;
    for (auto& s : json::parse(identity)) text += (text.empty() ? "" : " ") + s.get<std::string>();
    return text;
}

// A local OUT must not lie inside a source or hold one: the plates would be read as microscope
// files, or written into the raw data.
void refuse_nested(const std::string& out, const std::vector<fs::path>& sources) {
    if (is_remote_out(out)) return;
    const fs::path o = fs::weakly_canonical(fs::absolute(out));
    auto inside = [](const fs::path& inner, const fs::path& outer) {
        auto rel = inner.lexically_relative(outer);
        return !rel.empty() && *rel.begin() != "..";
    };
    for (auto& s : sources) {
        if (source::is_remote(s)) continue;
        const fs::path src = fs::weakly_canonical(fs::absolute(s));
        if (inside(o, src) || inside(src, o))
            throw Error(out + ": the output folder and the source " + src.string() +
                            " lie one inside the other; give an OUT outside the microscope folder",
                        Error::Kind::usage);
    }
}

// True when OUT holds anything but the workspace (a folder that is not empty, or objects under
// the prefix).
bool out_holds_files(const std::string& out, const fs::path& workspace) {
    if (is_remote_out(out)) return !open_store(out)->list("").empty();
    std::error_code ec;
    // Compared as absolute paths: OUT is often given relative, the workspace never is.
    const fs::path own = fs::absolute(workspace).lexically_normal();
    for (auto it = fs::directory_iterator(out, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
        if (fs::absolute(it->path()).lexically_normal() != own) return true;
    return false;
}

// Removes what an earlier conversion wrote: its plates in the store, then its workspace.
void remove_conversion(const Workspace& ws) {
    {
        ExperimentLock lock(ws, "convert --overwrite");
        Catalog cat(ws.catalog_file(), true);
        auto store = open_store(cat.config().store);
        uint64_t removed = 0;
        for (auto& p : cat.plates()) removed += store->remove_prefix(p.store_path);
        log::info("--overwrite: removed {} file(s) of the earlier conversion from {}", removed, store->url());
    }
    fs::remove_all(ws.root());
}

// The earlier conversion in the workspace: refused when made from other sources or options.
void check_same_conversion(const Workspace& ws, const std::string& out, const std::string& sources,
                           const json& options) {
    Catalog cat(ws.catalog_file(), true);
    const std::string old_sources = cat.meta(kSourcesKey);
    if (old_sources != sources)
        throw Error(out + " was converted from " + sources_text(old_sources) + ", not from " + sources_text(sources) +
                        "; give a new OUT, or --overwrite to replace it",
                    Error::Kind::usage);
    const json old_options = json::parse(cat.meta(kOptionsKey, "{}"));
    std::string changed;
    for (auto& [key, value] : options.items())
        if (old_options.value(key, json()) != value)
            changed += (changed.empty() ? "" : ", ") + key + " " + show(old_options.value(key, json())) + " -> " +
                       show(value);
    if (!changed.empty())
        throw Error(out + " was converted with other options (" + changed +
                        "); run with the earlier options to resume, or --overwrite to convert again",
                    Error::Kind::usage);
}

}  // namespace

fs::path convert_workspace(const std::string& out) {
    if (!is_remote_out(out)) return fs::absolute(out).lexically_normal() / ".imextract";
    std::string where = out.substr(out.find("://") + 3);
    where = where.substr(0, where.find('?'));
    fs::path rel;
    for (auto& part : fs::path(where))
        if (!part.empty() && part != "." && part != "..") rel /= part;
    const char* state = std::getenv("XDG_STATE_HOME");
    const char* home = std::getenv("HOME");
    fs::path base = state && *state ? fs::path(state) : fs::path(home && *home ? home : "/tmp") / ".local" / "state";
    return base / "imextract" / "s3" / rel;
}

ConvertResult convert(const ConvertOptions& opt, const std::function<void(const Workspace&)>& before_submit) {
    const std::string& out = opt.create.store;
    if (out.empty()) throw Error("convert needs an OUT folder or s3:// URL", Error::Kind::usage);
    if (opt.create.sources.empty()) throw Error("convert needs at least one SOURCE folder", Error::Kind::usage);
    refuse_nested(out, opt.create.sources);
    ConvertResult r;
    r.workspace = opt.workspace.empty() ? convert_workspace(out) : fs::absolute(opt.workspace).lexically_normal();
    Workspace ws(r.workspace);
    const std::string sources = source_identity(opt.create.sources);
    const json options = plate_options(opt.create);
    if (ws.exists()) {
        // Never overwritten: an experiment of the workflow commands (convert --workspace at it).
        if (Catalog(ws.catalog_file(), true).meta(kSourcesKey).empty())
            throw Error(ws.root().string() + ": an experiment that convert did not make; use the workflow commands "
                                             "on it, or give convert a new OUT",
                        Error::Kind::usage);
        try {
            check_same_conversion(ws, out, sources, options);
        } catch (const Error&) {
            if (!opt.overwrite) throw;
            remove_conversion(ws);
        }
    }
    if (!ws.exists()) {
        // An OUT that cannot be written is named now, not after a long metadata read.
        std::error_code ec;
        const bool local_out = !is_remote_out(out);
        const bool out_existed = local_out && fs::exists(out, ec), ws_existed = fs::exists(ws.root(), ec);
        if (fs::create_directories(ws.root(), ec); ec)
            throw Error(ws.root().string() + ": cannot create the workspace: " + ec.message() +
                            (is_remote_out(out) ? " (give --workspace DIR in a folder you can write)"
                                                : " (give an OUT in a folder you can write)"),
                        Error::Kind::storage);
        // A refused or failed create leaves nothing behind that this call made: OUT is as it was.
        auto undo = [&] {
            std::error_code ignored;
            if (!ws_existed) fs::remove_all(ws.root(), ignored);
            if (local_out && !out_existed) fs::remove(out, ignored);  // only while empty
        };
        try {
            if (out_holds_files(out, ws.root()) && !opt.overwrite)
                throw Error(out + ": holds files but no conversion of imextract (no " + ws.catalog_file().string() +
                                "); give a new or empty OUT, or --overwrite to write the plates into it (plates of "
                                "the same name are replaced)",
                            Error::Kind::usage);
            log::info("workspace (catalog, jobs, logs) in {}", ws.root().string());
            CreateOptions create = opt.create;
            create.meta = {{kSourcesKey, sources}, {kOptionsKey, options.dump()}};
            create_experiment(ws, create);
        } catch (...) {
            undo();
            throw;
        }
        r.created = true;
    } else if (fully_collected(ws)) {
        log::info("{}: already converted, every plane stored and verified; nothing rewritten (workspace {})", out,
                  ws.root().string());
        r.already_done = true;
        return r;
    } else {
        log::info("{}: resuming the conversion that stopped (workspace {})", out, ws.root().string());
    }
    const bool planned = ws.run_job_count() > 0;
    if (!planned) init_jobs(ws, opt.init);
    before_submit(ws);
    r.exit_code = submit(ws, opt.submit, planned).exit_code;
    return r;
}

}  // namespace imx
