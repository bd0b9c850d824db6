// `collect` (TissueMAPS' collect_job_output): folds the run jobs' results into the catalog,
// verifies every stored plane by reading it back, writes contrast windows, and, when init was
// given --delete, deletes the source files whose planes are all verified.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include "core/checksum.h"
#include "core/progress.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "storage/store.h"
#include "formats/reader.h"
#include "render/pixel_ops.h"
#include "workflow/banded_store.h"
#include "workflow/jobs.h"
#include "workflow/workflow.h"
#include "zarr/pyramid.h"
#include "storage/source_files.h"

namespace imx {

using nlohmann::json;

namespace {

struct StoredPlane : StoredPlaneRow {
    bool ok = false;
    std::string problem;
    std::vector<SourcePlaneRow> sources;  // filled only to compare with the source files
    bool source_compared = false;
};

std::vector<StoredPlane> load_stored(Catalog& cat, bool with_sources) {
    std::vector<StoredPlane> stored;
    for (StoredPlaneRow& row : cat.stored_planes()) {
        StoredPlane& s = stored.emplace_back();
        static_cast<StoredPlaneRow&>(s) = std::move(row);
    }
    if (with_sources) {
        std::map<int64_t, size_t> index;
        for (size_t i = 0; i < stored.size(); ++i) index[stored[i].id] = i;
        for (SourcePlaneRow& in : cat.source_planes()) stored[index.at(in.output_id)].sources.push_back(std::move(in));
    }
    return stored;
}

// The checksum of the plane at `level` read back one row of chunks at a time: planes that the
// run job stored band by band are verified so too, so that collect's memory does not grow with
// the plane (a 100000 x 100000 plane read whole needs 20 GB).
std::string level_checksum_in_bands(const NgffPlate& plate, const StoredPlane& s, int level, Plane& band,
                                    std::atomic<uint64_t>& bytes) {
    const PlateLayout& L = plate.layout();
    const auto [w, h] = level_size(L.width, L.height, level);
    const uint32_t rows = L.chunk_shape(level)[0];
    PixelChecksum sum;
    for (uint32_t y = 0; y < h; y += rows) {
        const uint32_t n = std::min(rows, h - y);
        plate.read_region_into(band, s.row, s.col, s.site, s.tpoint, s.channel, s.zplane, level, {y, 0, n, w});
        sum.update(band.data.data(), band.byte_size());
        bytes += band.byte_size();
    }
    return sum.hex();
}

// The checksum of the plane the sources give (their maximum for a projection) read band by band,
// or nullopt when a source cannot be read so (the caller then reads them whole).
std::optional<std::string> source_checksum_in_bands(const StoredPlane& s, const PlateLayout& L, const fs::path& source) {
    std::vector<std::unique_ptr<source::File>> files;
    std::vector<std::unique_ptr<PlaneRows>> rows;
    for (size_t k = 0; k < s.sources.size(); ++k) {
        if (k == 0 || s.sources[k].file != s.sources[k - 1].file)
            files.push_back(source::open(resolve_inside(source, s.sources[k].file)));
        auto r = decoder_for(*files.back()).open_rows(*files.back(), s.sources[k].at);
        if (!r) return std::nullopt;
        if (r->width() != L.width || r->height() != L.height || r->dtype() != L.dtype)
            return "the source is " + std::to_string(r->width()) + "x" + std::to_string(r->height()) + " " +
                   dtype_name(r->dtype());  // differs from every checksum
        rows.push_back(std::move(r));
    }
    const uint32_t band_rows = L.chunk_shape(0)[0];
    const size_t row_bytes = size_t(L.width) * dtype_size(L.dtype);
    std::vector<std::byte> band, other;
    PixelChecksum sum;
    for (uint32_t y = 0; y < L.height; y += band_rows) {
        const uint32_t n = std::min(band_rows, L.height - y);
        band.resize(n * row_bytes);
        read_band(rows, L, y, n, band.data(), other);
        sum.update(band.data(), band.size());
    }
    return sum.hex();
}

// Reads every stored plane back and checks it against the checksum recorded when it was
// extracted; with `source`, also re-reads the microscope files (max over z for projections).
void check_stored(std::vector<StoredPlane>& stored, const std::map<std::string, std::unique_ptr<NgffPlate>>& plates,
                  int threads, const fs::path* source) {
    std::atomic<size_t> next{0};
    std::atomic<int64_t> checked{0};
    std::atomic<uint64_t> bytes{0};
    auto work = [&] {
        // Reused from plane to plane, one per level, so that no buffer is allocated and zero-filled
        // again (that was a fifth of collect's time).
        Plane src, acc, p;
        std::vector<Plane> down, stored_level;
        for (size_t i = next++; i < stored.size(); i = next++, ++checked) {
            StoredPlane& s = stored[i];
            if (s.checksum.empty()) {
                s.problem = s.missing.empty() ? "not stored (its run job failed or did not run)"
                                              : "not stored: no pixels in the source (" + s.missing + ")";
                continue;
            }
            try {
                const NgffPlate& plate = *plates.at(s.store_path);
                const size_t levels = size_t(plate.layout().levels);
                const bool recorded = s.level_checksums.size() == levels - 1;
                // Band by band where the run job stored so and recorded every level's checksum
                // (older plates' levels are compared with the pyramid computed again, from the whole plane).
                const bool banded = recorded && stores_in_bands(plate.layout());
                std::string sum;
                if (banded) {
                    sum = level_checksum_in_bands(plate, s, 0, p, bytes);
                } else {
                    plate.read_plane_into(p, s.row, s.col, s.site, s.tpoint, s.channel, s.zplane);
                    bytes += p.byte_size();
                    sum = pixel_checksum(p.data.data(), p.byte_size());
                }
                if (sum != s.checksum) {
                    s.problem = "stored pixels do not match the checksum recorded when extracting (" + sum +
                                " != " + s.checksum + ")";
                    continue;
                }
                // Lower resolution levels must be the pyramid of this plane: each level's pixels
                // against the checksum the run job recorded when it computed the pyramid, or, for
                // planes stored before level checksums existed, the pyramid computed again.
                if (down.size() < levels) down.resize(levels), stored_level.resize(levels);
                for (size_t level = 1; level < levels; ++level) {
                    if (!banded) {
                        plate.read_plane_into(stored_level[level], s.row, s.col, s.site, s.tpoint, s.channel,
                                              s.zplane, int(level));
                        bytes += stored_level[level].byte_size();
                    }
                    if (recorded) {
                        const std::string level_sum =
                            banded ? level_checksum_in_bands(plate, s, int(level), p, bytes)
                                   : pixel_checksum(stored_level[level].data.data(), stored_level[level].byte_size());
                        if (level_sum != s.level_checksums[level - 1])
                            throw Error(plate.chunk_key(s.row, s.col, s.site, s.tpoint, s.channel, s.zplane, int(level)) +
                                            ": stored pixels of resolution level " + std::to_string(level) +
                                            " do not match the checksum recorded when extracting (" + level_sum +
                                            " != " + s.level_checksums[level - 1] + ")",
                                        Error::Kind::verification);
                        continue;
                    }
                    downsample_2x2(level == 1 ? p : down[level - 1], down[level], plate.layout().downsample);
                    if (stored_level[level].data != down[level].data)
                        throw Error(plate.chunk_key(s.row, s.col, s.site, s.tpoint, s.channel, s.zplane, level) + ": resolution level " +
                                        std::to_string(level) + " is not the 2x2 " +
                                        downsample_name(plate.layout().downsample) + " of level " +
                                        std::to_string(level - 1),
                                    Error::Kind::verification);
                }
                s.ok = true;
                bool all_present = !s.sources.empty();
                for (auto& in : s.sources) all_present = all_present && in.file_state == "present";
                if (!source || !all_present) continue;
                std::optional<std::string> in_bands;
                if (banded) in_bands = source_checksum_in_bands(s, plate.layout(), *source);
                if (!in_bands) {
                    std::unique_ptr<source::File> file;
                    for (size_t k = 0; k < s.sources.size(); ++k) {
                        if (k == 0 || s.sources[k].file != s.sources[k - 1].file)
                            file = source::open(resolve_inside(*source, s.sources[k].file));
                        read_plane(*file, s.sources[k].at, k == 0 ? acc : src);
                        if (k > 0) max_project_into(acc, src);
                    }
                }
                s.source_compared = true;
                std::string src_sum = in_bands ? *in_bands : pixel_checksum(acc.data.data(), acc.byte_size());
                if (src_sum != s.checksum) {
                    s.ok = false;
                    s.problem = "the source file " + s.sources[0].file + " no longer matches the stored plane (" +
                                src_sum + " != " + s.checksum + "); was it changed after extraction?";
                }
            } catch (const std::exception& e) {
                s.ok = false;
                s.problem = e.what();
            }
        }
    };
    std::vector<std::thread> pool;
    for (int i = 0; i < std::max(1, threads); ++i) pool.emplace_back(work);
    {
        // Reading a big plate back takes minutes: say how far it is.
        ProgressLine progress(source ? "verified against the sources" : "verified", int64_t(stored.size()));
        while (checked.load() < int64_t(stored.size())) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            progress.update(checked.load(), bytes.load());
        }
    }
    for (auto& t : pool) t.join();
}

std::string describe(const StoredPlane& s) {
    return s.store_path + " " + well_name(s.row, s.col) + " site " + std::to_string(s.site) + " channel " +
           std::to_string(s.channel) + " tpoint " + std::to_string(s.tpoint) + " zplane " + std::to_string(s.zplane) +
           ": " + s.problem;
}

int default_threads() { return usable_cpus(); }

using Histograms = std::map<std::pair<std::string, int>, std::vector<uint64_t>>;  // (plate, channel)

// Folds the run jobs' results into the catalog; returns the channel histograms they carry.
Histograms fold_results(const Workspace& ws, Catalog& cat) {
    Histograms histograms;
    int jobs = ws.run_job_count();
    Catalog::ResultWriter results(cat);
    for (int j = 1; j <= jobs; ++j) {
        std::error_code ec;
        fs::path f = ws.result_file(Phase::run, j);
        if (!fs::is_regular_file(f, ec)) continue;
        json r = json::parse(read_file(f, 1ull << 32), nullptr, false);
        if (r.is_discarded()) {
            log::warn("{}: unreadable result file; its planes count as missing", f.string());
            continue;
        }
        for (auto& o : r.value("outputs", json::array()))
            results.add(j, {o.at("id").get<int64_t>(), o.at("checksum").get<std::string>(),
                            o.value("levels", std::vector<std::string>{}), o.at("min").get<double>(),
                            o.at("max").get<double>(), o.at("p999").get<double>(), o.at("bytes").get<int64_t>()});
        for (auto& h : r.value("histograms", json::array())) {
            auto bins = h.at("bins").get<std::vector<uint64_t>>();
            auto& total = histograms[{h.at("plate").get<std::string>(), h.at("channel").get<int>()}];
            if (total.size() < bins.size()) total.resize(bins.size(), 0);
            for (size_t b = 0; b < bins.size(); ++b) total[b] += bins[b];
        }
    }
    results.commit();
    return histograms;
}

// The value below which `fraction` of the histogram's pixels lie (bin edges, in pixel units).
double histogram_percentile(const std::vector<uint64_t>& bins, double width, double fraction, bool upper_edge) {
    uint64_t total = 0;
    for (auto b : bins) total += b;
    if (total == 0) return 0;
    const double target = double(total) * fraction;
    uint64_t seen = 0;
    for (size_t b = 0; b < bins.size(); ++b) {
        seen += bins[b];
        if (double(seen) > target) return (double(b) + (upper_edge ? 1 : 0)) * width - (upper_edge ? 1 : 0);
    }
    return double(bins.size()) * width - 1;
}

}  // namespace

CollectResult collect(const Workspace& ws, const CollectOptions& opt) {
    ws.require();
    std::optional<ExperimentLock> lock;
    if (!opt.already_locked) lock.emplace(ws, "collect");
    const CollectJob job = read_job_file<CollectJob>(ws.job_file(Phase::collect, 0));
    log::set_file(ws.log_file(Phase::collect, 0));
    JobState state;
    state.state = "running";
    state.pid = ::getpid();
    state.host = hostname();
    state.started = now_seconds();
    ws.write_state(Phase::collect, 0, state);

    Catalog cat(ws.catalog_file());
    ExperimentConfig config = cat.config();
    auto store = open_store(config.store);
    Histograms histograms = fold_results(ws, cat);

    std::map<std::string, std::unique_ptr<NgffPlate>> plates;
    for (auto& p : cat.plates()) plates[p.store_path] = std::make_unique<NgffPlate>(*store, plate_layout(cat, p));

    // Verify by reading every chunk back and hashing its pixels: what delete relies on.
    std::vector<StoredPlane> stored = load_stored(cat, false);
    check_stored(stored, plates, opt.threads > 0 ? opt.threads : default_threads(), nullptr);

    CollectResult res;
    res.outputs = int64_t(stored.size());
    std::vector<std::pair<int64_t, bool>> verified;
    verified.reserve(stored.size());
    for (auto& s : stored) {
        verified.emplace_back(s.id, s.ok);
        if (s.ok) {
            ++res.verified;
            continue;
        }
        if (s.checksum.empty()) ++res.missing;
        else ++res.mismatched;
        if (s.checksum.empty() && !s.missing.empty()) ++res.missing_in_source;
        if (res.problems.size() < 20) res.problems.push_back(describe(s));
    }
    cat.set_verified(verified);
    for (auto& p : res.problems) log::error("{}", p);

    // Contrast windows: the 0.1 and 99.9 percentiles of the channel's histogram over the whole
    // plate, or, without histograms (32-bit and float pixels), the darkest pixel to the brightest
    // 99.9th percentile of any plane.
    for (auto& p : cat.plates()) {
        PlateLayout L = plates.at(p.store_path)->layout();
        json stats = json::array();
        for (const ChannelRange& range : cat.stored_channel_ranges(p.id)) {
            int c = range.channel;
            if (c < 0 || size_t(c) >= L.channels.size()) continue;
            double mn = range.min, mx = range.max, start = mn, end = range.p999;
            json entry = {{"channel", c}, {"label", L.channels[size_t(c)].label}, {"min", mn}, {"max", mx}};
            auto h = histograms.find({p.store_path, c});
            if (h != histograms.end()) {
                const double width = histogram_bin_width(L.dtype);
                start = std::max(mn, histogram_percentile(h->second, width, 0.001, false));
                end = std::min(mx, histogram_percentile(h->second, width, 0.999, true));
                entry["histogram"] = {{"bin_width", width}, {"counts", h->second}};
            }
            entry["p0.1"] = start;
            entry["p99.9"] = end;
            stats.push_back(entry);
            L.channels[size_t(c)].window_start = start;
            L.channels[size_t(c)].window_end = std::max(end, start + 1);
        }
        L.channel_stats = stats;
        L.holes = plate_holes(cat, p, true);  // every position without a verified plane, and why
        NgffPlate(*store, L).write_rendering();
    }

    bool delete_sources = job.delete_sources;
    if (delete_sources) {
        if (res.verified != res.outputs)
            log::warn("{} plane(s) are not verified: source files holding them are kept", res.outputs - res.verified);
        // Files whose pixels are not all in a plane (create's inventory) are never deleted: say which
        // and why.
        constexpr int64_t kListed = 200;
        const std::vector<CatalogFile> partial = cat.present_incomplete_files();
        const int64_t partial_count = int64_t(partial.size());
        for (size_t i = 0; i < partial.size() && int64_t(i) < kListed; ++i)
            log::warn("{}{}: {} ({}); its pixels are not all in the plate", opt.dry_run ? "would keep " : "keeping ",
                      (fs::path(config.source) / partial[i].path).string(), partial[i].content, partial[i].content_detail);
        if (partial_count > kListed)
            log::warn("... and {} more file(s) kept for the same reason (imextract status)", partial_count - kListed);
        // A file may go only when it is complete and every plane it holds is stored and verified.
        const std::vector<CatalogFile> doomed = cat.deletable_files();
        res.files_kept = cat.present_file_count() - int64_t(doomed.size());
        fs::path source = config.source;
        source::set_endpoint(config.source_endpoint);
        for (const CatalogFile& file : doomed) {
            const int64_t id = file.id, size = file.size;
            const std::string& rel = file.path;
            fs::path full;
            try {
                full = resolve_inside(source, rel);
            } catch (const Error& e) {
                log::warn("not deleting: {}", e.what());
                ++res.files_kept;
                continue;
            }
            if (source::is_remote(full)) {
                // Objects have no symlinks or modes; the size recorded at create must still match.
                auto now = source::file_size(full);
                if (!now) {
                    log::warn("{}: already gone", full.string());
                    cat.mark_file_deleted(id);
                    continue;
                }
                if (int64_t(*now) != size) {
                    log::warn("{}: {} bytes now, {} when the experiment was created; not deleting it", full.string(),
                              *now, size);
                    ++res.files_kept;
                    continue;
                }
                if (!opt.dry_run) {
                    try {
                        source::remove(full);
                    } catch (const Error& e) {
                        log::warn("{}: cannot delete: {}", full.string(), e.what());
                        ++res.files_kept;
                        continue;
                    }
                    cat.mark_file_deleted(id);
                } else {
                    log::info("would delete {} ({} bytes)", full.string(), *now);
                }
                ++res.files_deleted;
                res.bytes_freed += int64_t(*now);
                continue;
            }
            struct stat lst {};
            if (::lstat(full.c_str(), &lst) != 0) {
                log::warn("{}: already gone", full.string());
                cat.mark_file_deleted(id);
                continue;
            }
            if (!S_ISREG(lst.st_mode)) {
                log::warn("{}: not a regular file (symlink?); not deleting it", full.string());
                ++res.files_kept;
                continue;
            }
            if (opt.dry_run) {
                log::info("would delete {} ({} bytes)", full.string(), int64_t(lst.st_size));
                ++res.files_deleted;
                res.bytes_freed += lst.st_size;
                continue;
            }
            if (::unlink(full.c_str()) != 0) {
                log::warn("{}: cannot delete: {}", full.string(), std::strerror(errno));
                ++res.files_kept;
                continue;
            }
            cat.mark_file_deleted(id);
            ++res.files_deleted;
            res.bytes_freed += lst.st_size;
        }
        log::info("{} {} source file(s), {:.1f} MB{}; kept {}", opt.dry_run ? "would delete" : "deleted",
                  res.files_deleted, res.bytes_freed / 1e6, opt.dry_run ? " (dry run)" : " freed", res.files_kept);
    }

    state.finished = now_seconds();
    state.planes_total = res.outputs;
    state.planes_done = res.verified;
    state.planes_failed = res.outputs - res.verified;
    bool ok = res.verified == res.outputs;
    state.state = ok ? "done" : "failed";
    state.exit_code = ok ? exit_ok : exit_verification;
    if (!ok) state.error = std::to_string(res.missing) + " plane(s) missing, " + std::to_string(res.mismatched) + " mismatched";
    if (res.missing_in_source) state.error += " (" + std::to_string(res.missing_in_source) + " of them not in the source files)";
    ws.write_state(Phase::collect, 0, state);
    std::string advice;
    if (res.missing_in_source)
        advice += "; " + std::to_string(res.missing_in_source) + " have no pixels in the source files (restore the files "
                  "`status` names and `resubmit`, or keep the plate with these holes; its attributes list them)";
    if (res.missing + res.mismatched > res.missing_in_source) advice += "; run `resubmit` to store the missing ones";
    log::info("collect: {} of {} plane(s) verified{}", res.verified, res.outputs, advice);
    log::set_file({});
    return res;
}

VerifyResult verify(const Workspace& ws, const VerifyOptions& opt) {
    ws.require();
    Catalog cat(ws.catalog_file(), true);
    ExperimentConfig config = cat.config();
    auto store = open_store(config.store);
    std::map<std::string, std::unique_ptr<NgffPlate>> plates;
    for (auto& p : cat.plates()) plates[p.store_path] = std::make_unique<NgffPlate>(*store, plate_layout(cat, p));
    std::vector<StoredPlane> stored = load_stored(cat, opt.sources);
    fs::path source = config.source;
    source::set_endpoint(config.source_endpoint);
    check_stored(stored, plates, opt.threads > 0 ? opt.threads : default_threads(), opt.sources ? &source : nullptr);
    VerifyResult r;
    r.planes = int64_t(stored.size());
    r.absent = std::stoll(cat.meta("absent_planes", "0"));
    for (auto& s : stored) {
        if (s.ok) ++r.ok;
        else r.problems.push_back(describe(s));
        if (!s.ok && s.checksum.empty() && !s.missing.empty()) ++r.missing_in_source;
        if (opt.sources) (s.source_compared ? r.sources_compared : r.sources_skipped)++;
    }
    return r;
}

CleanupResult cleanup(const Workspace& ws) {
    ws.require();
    ExperimentLock lock(ws, "cleanup");
    auto collected = ws.read_state(Phase::collect, 0);
    if (!collected || collected->state != "done")
        throw Error(ws.root().string() + ": collect has not completed; cleanup would remove what resubmit needs",
                    Error::Kind::usage);
    CleanupResult r;
    Catalog cat(ws.catalog_file(), true);
    auto store = open_store(cat.config().store);
    r.temporaries = store->remove_temporaries();
    std::error_code ec;
    fs::path run_dir = ws.jobs_dir() / "run";
    if (fs::is_directory(run_dir, ec)) {
        // Job descriptions and results of a finished run; logs and states stay for `log`/`status`.
        for (auto it = fs::recursive_directory_iterator(run_dir, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            std::string n = it->path().filename().string();
            if (n == "job.json" || n == "result.json") {
                fs::remove(it->path(), ec);
                ++r.job_files;
            }
        }
    }
    return r;
}

}  // namespace imx
