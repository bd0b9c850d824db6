// `create`: metadata configuration. Reads the vendor metadata with the layout reader, checks it
// against the files, and writes the catalog.
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/log.h"
#include "formats/reader.h"
#include "storage/store.h"
#include "workflow/inventory.h"
#include "workflow/merge.h"
#include "workflow/workflow.h"
#include "storage/scheme.h"
#include "storage/source_files.h"

namespace imx {

namespace {

void validate(const ImageSet& set, const fs::path& source) {
    if (set.planes.empty())
        throw input_error(source.string(), "the " + set.format + " metadata lists no image planes");
    if (set.channels.empty()) throw input_error(source.string(), "the metadata defines no channels");
    std::set<std::string> plates;
    for (auto& p : set.plates) plates.insert(p.name);
    std::set<std::tuple<std::string, int, int, int, int, int, int>> seen;
    for (auto& pl : set.planes) {
        if (!plates.count(pl.plate))
            throw input_error(source.string(), "plane of file '" + pl.file + "' names unknown plate '" + pl.plate + "'");
        if (pl.channel < 0 || size_t(pl.channel) >= set.channels.size() || pl.row < 0 || pl.col < 0 ||
            pl.site < 0 || pl.tpoint < 0 || pl.zplane < 0)
            throw input_error(source.string(), "plane of file '" + pl.file + "' has an invalid position");
        if (!seen.insert({pl.plate, pl.row, pl.col, pl.site, pl.channel, pl.tpoint, pl.zplane}).second)
            throw input_error(source.string(), "two planes map to well " + well_name(pl.row, pl.col) + " site " +
                                                   std::to_string(pl.site) + " channel " + std::to_string(pl.channel) +
                                                   " tpoint " + std::to_string(pl.tpoint) + " zplane " +
                                                   std::to_string(pl.zplane) + " (second: '" + pl.file + "')");
    }
}


// Configures one acquisition with its reader (formats/detect.cpp found both), checks the planes
// and the files, takes the pixel inventory of the files, and fills in the plane geometry from the
// first image present.
ImageSet configure_source(const fs::path& source, const LayoutReader* reader, const CreateOptions& opt,
                          SourceInventory& inventory) {
    LayoutOptions lopt;
    lopt.pattern = opt.pattern;
    lopt.tiles = opt.tiles;
    lopt.plate_format = opt.plate_format;
    const source::Folder folder = source::Folder::at(source);
    ImageSet set = reader->configure(folder, lopt);
    if (set.format.empty()) set.format = reader->name();
    place_projections(set, source, opt.skip_projections);
    validate(set, source);

    // Every file the planes name must exist; collect's delete check and resubmit's "did the file
    // change" rely on their size and mtime (recorded by the caller).
    std::set<std::string> names;
    for (auto& pl : set.planes) names.insert(pl.file);
    int64_t missing = 0;
    std::set<std::string> present;
    for (auto& path : names) {
        check_relative_name(path);
        fs::path full = source / path;
        if (source::is_file(full)) {
            present.insert(path);
        } else {
            if (missing < 5) log::warn("{}: listed in the metadata but missing", full.string());
            ++missing;
        }
    }
    if (missing) set.warnings.push_back(std::to_string(missing) + " image file(s) listed in the metadata are missing; "
                                                                  "the jobs that need them will fail");
    inventory = take_inventory(set, source);
    const PlaneRecord* first = nullptr;
    std::set<std::string> own_geometry;  // plates whose reader gave them their own plane size
    for (auto& p : set.plates)
        if (p.own_geometry()) own_geometry.insert(p.name);
    for (auto& pl : set.planes)
        if (present.count(pl.file) && pl.missing.empty() && !own_geometry.count(pl.plate)) {
            first = &pl;
            break;
        }
    if (!first && !own_geometry.empty()) {
        bool any = false;
        for (auto& pl : set.planes) any = any || present.count(pl.file);
        if (any) return set;  // every plate has its own geometry, set by the reader from the file
    }
    if (!first) {
        std::string why;
        for (auto& pl : set.planes)
            if (!pl.missing.empty()) {
                why = " (first: " + pl.file + ": " + pl.missing + ")";
                break;
            }
        throw input_error(source.string(), "none of the " + std::to_string(names.size()) +
                                               " image files named in the metadata exists and holds its planes" + why);
    }

    // The first image decides the plane geometry when the metadata does not give it, and checks it
    // when it does: a plate stores one plane size and one pixel type.
    const std::string first_present = first->file;
    const auto probe = folder.open(first_present);
    PageInfo info = decoder_for(*probe).page_info(*probe, first->page);
    if (set.width && (set.width != info.width || set.height != info.height))
        set.warnings.push_back("metadata says planes are " + std::to_string(set.width) + "x" +
                               std::to_string(set.height) + " but " + first_present + " is " +
                               std::to_string(info.width) + "x" + std::to_string(info.height) + "; using the file's size");
    if (set.dtype && *set.dtype != info.dtype)
        set.warnings.push_back("metadata pixel type " + dtype_name(*set.dtype) + " differs from " + first_present +
                               " (" + dtype_name(info.dtype) + "); using the file's");
    set.width = info.width;
    set.height = info.height;
    set.dtype = info.dtype;
    if (!set.bits_per_sample) set.bits_per_sample = info.bits_per_sample;
    // The other plates' first images too: plates of another plane size or type (MetaXpress plates
    // of several exports read together) keep their own, instead of failing in the run jobs.
    std::set<std::string> probed{first->plate};
    for (auto& pl : set.planes) {
        if (!present.count(pl.file) || own_geometry.count(pl.plate) || !probed.insert(pl.plate).second) continue;
        const auto file = folder.open(pl.file);
        const PageInfo other = decoder_for(*file).page_info(*file, pl.page);
        if (other.width == set.width && other.height == set.height && other.dtype == *set.dtype) continue;
        for (auto& plate : set.plates)
            if (plate.name == pl.plate) {
                plate.width = other.width;
                plate.height = other.height;
                plate.dtype = other.dtype;
                plate.bits_per_sample = other.bits_per_sample;
            }
        set.warnings.push_back("plate " + pl.plate + ": " + pl.file + " is " + std::to_string(other.width) + "x" +
                               std::to_string(other.height) + " " + dtype_name(other.dtype) + ", unlike " + first_present +
                               " (" + std::to_string(set.width) + "x" + std::to_string(set.height) + " " +
                               dtype_name(*set.dtype) + "): the plate keeps its own plane size");
    }
    return set;
}

}  // namespace

CatalogSummary create_experiment(const Workspace& ws, const CreateOptions& opt) {
    if (ws.exists())
        throw Error(ws.root().string() + ": an experiment already exists here; choose a new folder (or delete "
                                         "this one) to configure again",
                    Error::Kind::usage);
    // Option errors first: a typo in --compression must not wait for a slow metadata read.
    CodecSpec codec = opt.compression.empty() ? default_codec() : parse_codec(opt.compression);
    parse_downsample(opt.downsample);
    ShardMode shard = parse_shard_mode(opt.shard);
    parse_chunk_option(opt.chunk);
    if (opt.ngff != "0.4" && opt.ngff != "0.5")
        throw Error("--ngff must be 0.4 (Zarr v2, the default) or 0.5 (Zarr v3)", Error::Kind::usage);
    if (shard != ShardMode::none && opt.ngff != "0.5")
        throw Error("--shard needs --ngff 0.5 (sharding is a Zarr v3 codec)", Error::Kind::usage);
    if (opt.plate_format != 0 && opt.plate_format != 96 && opt.plate_format != 384 && opt.plate_format != 1536)
        throw Error("--plate-format must be 96, 384 or 1536 (wells of the plate)", Error::Kind::usage);
    if (opt.levels < 0 || opt.levels > 32) throw Error("--levels must be between 1 and 32", Error::Kind::usage);
    MergeMode mode = parse_merge_mode(opt.mode);
    if (opt.sources.empty()) throw Error("create needs at least one --source folder", Error::Kind::usage);
    std::error_code ec;
    std::vector<fs::path> folders;
    std::string endpoint;  // s3:// sources: from the URL's ?endpoint= or --s3-endpoint
    size_t remote = 0;
    std::vector<const LayoutReader*> readers;
    std::vector<std::pair<std::string, std::string>> found_below;
    for (auto& given : opt.sources) {
        fs::path folder;
        if (source::is_remote(given)) {
            source::RemoteSpec spec = source::parse_remote(given.string());
            if (spec.endpoint.empty()) spec.endpoint = opt.s3_endpoint;
            if (remote && spec.endpoint != endpoint)
                throw Error(given.string() + ": every remote source must use the same endpoint", Error::Kind::usage);
            endpoint = spec.endpoint;
            source::set_endpoint(endpoint);
            folder = spec.path;
            ++remote;
            if (!source::is_dir(folder))
                throw input_error(spec.path, "no objects under this prefix (wrong bucket or prefix?)");
        } else {
            folder = fs::canonical(given, ec);
            if (ec || !fs::is_directory(folder))
                throw input_error(given.string(), "source folder does not exist or is not a folder");
        }
        // The acquisition in the folder, or the only one below it.
        Acquisition acquisition = find_acquisition(folder, opt.format);
        if (acquisition.folder != folder) found_below.emplace_back(acquisition.folder.string(), folder.string());
        folder = acquisition.folder;
        readers.push_back(acquisition.reader);
        for (auto& f : folders)
            if (f == folder) throw Error(given.string() + ": this source folder is given twice", Error::Kind::usage);
        folders.push_back(folder);
    }
    if (remote && remote != folders.size())
        throw Error("sources on local disk and in S3 cannot be mixed in one experiment", Error::Kind::usage);
    // File paths in the catalog are relative to one root: the deepest folder holding every source.
    const fs::path source = folders.size() == 1 ? folders[0] : common_root(folders);
    std::vector<SourceSet> sets;
    std::map<std::string, SourceFile> files;
    std::vector<std::pair<std::string, int64_t>> unused;
    for (size_t i = 0; i < folders.size(); ++i) {
        std::string prefix = folders[i].lexically_relative(source).generic_string();
        if (prefix == ".") prefix.clear();
        const bool moved = std::any_of(found_below.begin(), found_below.end(),
                                       [&](auto& f) { return f.first == folders[i].string(); });
        SourceInventory inventory;
        SourceSet src{prefix, folders.size() == 1 || moved ? folders[i].string() : opt.sources[i].string(),
                      configure_source(folders[i], readers[i], opt, inventory)};
        refuse_mixed_geometry(src.set, inventory, folders[i]);
        auto rooted = [&](const std::string& p) { return prefix.empty() ? p : prefix + "/" + p; };
        for (auto& [path, size] : inventory.unused) unused.emplace_back(rooted(path), size);
        for (auto& pl : src.set.planes) {
            std::string path = rooted(pl.file);
            auto it = files.find(path);
            if (it != files.end()) continue;
            const FileInventory& content = inventory.files[pl.file];
            SourceFile f{path, -1, 0, content.content, content.detail};
            struct stat st {};
            fs::path full = folders[i] / pl.file;
            if (remote) {
                if (auto n = source::file_size(full)) f.size = int64_t(*n);  // objects: the size stands in for mtime
            } else if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
                f.size = st.st_size;
                f.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
            }
            files.emplace(path, f);
        }
        sets.push_back(std::move(src));
    }
    CycleLayout cycles;
    ImageSet set = merge_image_sets(std::move(sets), mode, &cycles);

    ExperimentConfig config;
    config.source = source.string();
    config.source_endpoint = endpoint;
    config.mode = folders.size() > 1 ? merge_mode_name(mode) : "plates";
    for (auto& f : folders) config.sources.push_back(f.string());
    config.found_below = found_below;
    config.cycle_channels = cycles.channels_per_cycle;
    config.cycle_sites = cycles.sites_per_cycle;
    config.cycle_names = cycles.names;
    config.format = set.format;
    config.pattern = opt.pattern;
    config.store = opt.store.empty() ? ws.root().string() : opt.store;
    if (!scheme_of(config.store) && config.store.rfind("file://", 0) != 0)
        config.store = fs::absolute(config.store).lexically_normal().string();
    open_store(config.store);  // refuses unsupported stores now rather than in every job
    config.mip = opt.mip;
    config.codec = codec;
    config.levels = opt.levels;
    config.downsample = opt.downsample;
    config.ngff = opt.ngff;
    config.shard = opt.shard.empty() ? "none" : opt.shard;
    config.chunk = opt.chunk == "auto" ? "" : opt.chunk;

    std::vector<SourceFile> file_list;
    file_list.reserve(files.size());
    for (auto& [_, f] : files) file_list.push_back(f);

    if (fs::create_directories(ws.root(), ec); ec)
        throw Error(ws.root().string() + ": cannot create the experiment folder: " + ec.message() +
                        " (give an EXPERIMENT path in a folder you can write)",
                    Error::Kind::storage);
    // Build the catalog under a temporary name: an interrupted create leaves no half catalog.
    fs::path tmp = ws.root() / ".catalog.sqlite.creating";
    fs::remove(tmp, ec);
    fs::remove(tmp.string() + "-wal", ec);
    fs::remove(tmp.string() + "-shm", ec);
    Catalog::create(tmp, set, config, file_list, unused);
    if (!opt.meta.empty()) {
        Catalog staged(tmp);
        for (auto& [key, value] : opt.meta) staged.set_meta(key, value);
    }
    fs::rename(tmp, ws.catalog_file());
    for (auto& w : set.warnings) log::warn("{}", w);
    Catalog cat(ws.catalog_file(), true);
    return cat.summary();
}

}  // namespace imx
