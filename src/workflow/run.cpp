// `run -j N`: extracts the planes of one job (TissueMAPS' run_job). Reads only its job file and
// the source files, writes chunks to the store, and its state, result and log into its own job
// folder: no catalog access, so jobs run on cluster nodes without a database.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/checksum.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "formats/reader.h"
#include "storage/store.h"
#include "render/pixel_ops.h"
#include "workflow/banded_store.h"
#include "workflow/jobs.h"
#include "workflow/workflow.h"
#include "storage/source_files.h"

namespace imx {

using nlohmann::json;

namespace {

struct Outcome {
    bool ok = false;
    std::string checksum, error;
    std::vector<std::string> level_checksums;  // levels 1, 2, ...
    PlaneStats stats;
    size_t stored = 0;
    uint64_t read = 0;
};

using Histograms = std::map<std::pair<std::string, int>, std::vector<uint64_t>>;

void add_histogram(std::vector<uint64_t>& total, const std::vector<uint64_t>& h) {
    if (total.size() < h.size()) total.resize(h.size(), 0);
    for (size_t b = 0; b < h.size(); ++b) total[b] += h[b];
}

json outcome_json(int64_t id, const Outcome& r) {
    return {{"id", id},          {"checksum", r.checksum}, {"min", r.stats.min}, {"max", r.stats.max},
            {"p001", r.stats.p001}, {"p999", r.stats.p999},   {"bytes", r.stored},
            {"levels", r.level_checksums}};
}

json histograms_json(const Histograms& histograms) {
    json j = json::array();
    for (auto& [key, h] : histograms) j.push_back({{"plate", key.first}, {"channel", key.second}, {"bins", h}});
    return j;
}

// What an earlier attempt of this job stored (checkpoint.json in the job's folder, rewritten while
// the job runs and kept when it ends with failed planes): the result records of its stored planes
// and the channel histograms of exactly those planes. A job killed at 90% or failed on a few bad
// files then stores only what is missing. It belongs to one job file: init removes it with the
// jobs, and a checkpoint of another job file is ignored.
struct Checkpoint {
    std::map<int64_t, Outcome> stored;
    Histograms histograms;
};

Checkpoint read_checkpoint(const fs::path& file, const std::string& job_digest) {
    Checkpoint c;
    std::error_code ec;
    if (!fs::exists(file, ec)) return c;
    try {
        json j = json::parse(read_file(file));
        if (j.at("job").get<std::string>() != job_digest) return c;
        for (auto& o : j.at("outputs")) {
            Outcome r;
            r.ok = true;
            r.checksum = o.at("checksum").get<std::string>();
            r.stats.min = o.at("min").get<double>();
            r.stats.max = o.at("max").get<double>();
            r.stats.p001 = o.at("p001").get<double>();
            r.stats.p999 = o.at("p999").get<double>();
            r.stored = o.at("bytes").get<size_t>();
            r.level_checksums = o.value("levels", std::vector<std::string>{});
            c.stored[o.at("id").get<int64_t>()] = std::move(r);
        }
        for (auto& h : j.at("histograms"))
            c.histograms[{h.at("plate").get<std::string>(), h.at("channel").get<int>()}] =
                h.at("bins").get<std::vector<uint64_t>>();
    } catch (const std::exception& e) {
        // Written atomically, so damage means someone else wrote it: start over, say so.
        log::warn("{}: ignored ({}); every plane of the job is stored again", file.string(), e.what());
        return {};
    }
    return c;
}

// Seconds between checkpoints: 2, or IMX_CHECKPOINT_SECONDS (0.01 to 3600; tests kill jobs early).
double checkpoint_interval() {
    const char* v = std::getenv("IMX_CHECKPOINT_SECONDS");
    if (!v || !*v) return 2.0;
    char* end = nullptr;
    const double s = std::strtod(v, &end);
    if (*end || !(s >= 0.01 && s <= 3600)) {
        log::warn("IMX_CHECKPOINT_SECONDS={} ignored (seconds from 0.01 to 3600); using 2", v);
        return 2.0;
    }
    return s;
}

// One worker more than the CPUs this process may use, so that a worker waiting for a read leaves
// no core idle: on 2 cores, the benchmark plate's run phase from a cold page cache took a median
// 1.27 s with 3 workers against 1.36 s with 2 (10 rounds each); from a warm cache the same 0.8 s.
int default_threads() { return usable_cpus() + 1; }

}  // namespace

int run_job(const Workspace& ws, int job_id, const RunOptions& opt) {
    fs::path job_file = ws.job_file(Phase::run, job_id);
    std::error_code ec;
    if (!fs::is_regular_file(job_file, ec)) {
        int n = ws.run_job_count();
        throw Error(n ? "run job " + std::to_string(job_id) + " does not exist (init wrote jobs 1.." +
                            std::to_string(n) + ")"
                      : ws.root().string() + ": no run jobs; run init first",
                    Error::Kind::usage);
    }
    if (!opt.assume_clean_state) fs::remove(ws.result_file(Phase::run, job_id), ec);
    log::set_file(ws.log_file(Phase::run, job_id));
    const std::string job_text = read_job_text(job_file);
    RunJob job = parse_job<RunJob>(job_text, job_file);
    const std::string job_digest = pixel_checksum(job_text.data(), job_text.size());
    const fs::path checkpoint_file = ws.job_dir(Phase::run, job_id) / "checkpoint.json";
    Checkpoint earlier = read_checkpoint(checkpoint_file, job_digest);

    JobState state;
    state.state = "running";
    state.pid = ::getpid();
    state.host = hostname();
    state.started = now_seconds();

    auto store = open_store(job.store);
    const fs::path source = job.source;
    source::set_endpoint(job.source_endpoint);
    const bool mip = job.mip;
    std::map<std::string, std::unique_ptr<NgffPlate>> plates;
    for (auto& [path, layout] : job.plates) plates[path] = std::make_unique<NgffPlate>(*store, layout);
    const std::vector<RunOutput>& outputs = job.outputs;
    std::vector<const NgffPlate*> plate_of(outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) plate_of[i] = plates.at(outputs[i].plate).get();
    state.planes_total = int64_t(outputs.size());
    ws.write_state(Phase::run, job_id, state);
    int threads = opt.threads > 0 ? opt.threads : default_threads();
    threads = std::max(1, std::min<int>(threads, int(outputs.size())));
    // Threads that encode the tiles of one plane read band by band: the CPUs the job's workers
    // leave (a job of one huge plane uses every core).
    const int plane_threads = std::max(1, usable_cpus() / threads);

    // With sharding, each plane's chunks are appended to its shard's objects as they are encoded
    // (NgffPlate::ShardStream: the filesystem store writes them to temporary files, so a huge
    // plane's tiles are not held); the shard is committed once its last plane is done (init keeps
    // every site in one job, so a shard never spans jobs).
    struct ShardGroup {
        std::mutex mu;
        size_t remaining = 0;
        std::vector<size_t> members;
        std::unique_ptr<NgffPlate::ShardStream> stream;      // opened by the first chunk, under mu
        std::map<size_t, std::vector<uint64_t>> histograms;  // per member, counted once the shard is stored
        NgffPlate::ShardStream& open(const NgffPlate& plate, const RunOutput& o) {  // caller holds mu
            if (!stream)
                stream = std::make_unique<NgffPlate::ShardStream>(plate, o.row, o.col, o.site,
                                                                  plate.shard_origin(o.tpoint, o.channel, o.zplane));
            return *stream;
        }
    };
    std::vector<std::unique_ptr<ShardGroup>> groups;
    std::vector<ShardGroup*> group_of(outputs.size(), nullptr);
    {
        std::map<std::string, ShardGroup*> by_key;
        for (size_t i = 0; i < outputs.size(); ++i) {
            const RunOutput& o = outputs[i];
            if (!plate_of[i]->sharded()) continue;
            std::string key = plate_of[i]->chunk_key(o.row, o.col, o.site, o.tpoint, o.channel, o.zplane);
            auto& g = by_key[key];
            if (!g) g = groups.emplace_back(std::make_unique<ShardGroup>()).get();
            g->members.push_back(i);
            ++g->remaining;
            group_of[i] = g;
        }
    }
    // Planes an earlier attempt stored, kept when all of them are still in the store as it left
    // them: every level's object present, a plain chunk's levels adding up to the recorded bytes,
    // a shard only when every plane of it was listed. The checkpoint's histograms are those of all
    // its planes, so it is all or none (a plane changed or removed since is rare).
    std::vector<Outcome> outcomes(outputs.size());
    std::vector<char> kept(outputs.size(), 0);
    size_t kept_count = 0;
    if (!earlier.stored.empty()) {
        std::map<std::string, std::optional<uint64_t>> sizes;  // one stat (S3: one HEAD) per object
        auto intact = [&](size_t i) {
            const RunOutput& o = outputs[i];
            auto listed = earlier.stored.find(o.id);
            if (listed == earlier.stored.end()) return false;
            uint64_t total = 0;
            for (int level = 0; level < plate_of[i]->layout().levels; ++level)
                for (const std::string& key :
                     plate_of[i]->plane_keys(o.row, o.col, o.site, o.tpoint, o.channel, o.zplane, level)) {
                    auto it = sizes.find(key);
                    if (it == sizes.end()) it = sizes.emplace(key, store->size(key)).first;
                    if (!it->second) return false;
                    total += *it->second;
                }
            return group_of[i] || total == listed->second.stored;
        };
        for (size_t i = 0; i < outputs.size(); ++i)
            if (!group_of[i]) kept[i] = intact(i);
        for (auto& g : groups) {
            const bool all = std::all_of(g->members.begin(), g->members.end(), intact);
            for (size_t m : g->members) kept[m] = all;
        }
        kept_count = size_t(std::count(kept.begin(), kept.end(), 1));
        if (kept_count == earlier.stored.size()) {
            for (size_t i = 0; i < outputs.size(); ++i)
                if (kept[i]) outcomes[i] = earlier.stored.at(outputs[i].id);
        } else {
            log::warn("run job {}: {} of the {} plane(s) an earlier attempt stored are not in the store as it left "
                      "them; every plane of the job is stored again",
                      job_id, earlier.stored.size() - kept_count, earlier.stored.size());
            std::fill(kept.begin(), kept.end(), 0);
            kept_count = 0;
            earlier = {};
        }
    }
    log::info("run job {}: {} plane(s) to store{}{}, {} thread(s), store {}", job_id, outputs.size() - kept_count,
              mip ? " (maximum-intensity projections)" : "",
              kept_count ? fmt::format(" ({} stored by an earlier attempt and kept)", kept_count) : std::string(),
              threads, store->url());

    // Channel histograms for collect's contrast windows, summed over the planes stored: an earlier
    // attempt's kept planes, then each plane once it is in the store. The checkpoint lists plain
    // chunks once stored and shards once every plane of them is: a shard stored beside a failed
    // plane is stored again whole, so it is not listed, and its planes' histograms count for the
    // result only.
    Histograms histograms = earlier.histograms, checkpoint_histograms = std::move(earlier.histograms);
    std::vector<char> stored(kept);  // under progress_mu: what the checkpoint lists
    size_t stored_changes = 0;
    std::mutex progress_mu;
    auto mark_stored = [&](size_t i, const std::vector<uint64_t>& hist, bool listed) {
        std::lock_guard lock(progress_mu);
        const std::pair<std::string, int> key{plate_of[i]->layout().path, outputs[i].channel};
        if (!hist.empty()) add_histogram(histograms[key], hist);
        if (!listed) return;
        if (!hist.empty()) add_histogram(checkpoint_histograms[key], hist);
        stored[i] = 1;
        ++stored_changes;
    };
    auto checkpoint_json = [&] {  // caller holds progress_mu
        json list = json::array();
        for (size_t i = 0; i < outputs.size(); ++i)
            if (stored[i]) list.push_back(outcome_json(outputs[i].id, outcomes[i]));
        return json{{"job", job_digest}, {"outputs", list}, {"histograms", histograms_json(checkpoint_histograms)}};
    };

    std::atomic<size_t> next{0};
    std::atomic<int64_t> done{int64_t(kept_count)}, failed{0}, bytes_in{0}, bytes_out{0};
    std::mutex mu;
    std::condition_variable cv;
    int running = threads;

    auto store_shard = [&](ShardGroup& g) {
        const RunOutput& first = outputs[g.members.front()];
        const NgffPlate& plate = *plate_of[g.members.front()];
        try {
            g.open(plate, first).finish();
            const bool complete = std::all_of(g.members.begin(), g.members.end(), [&](size_t m) { return outcomes[m].ok; });
            for (size_t m : g.members)
                if (outcomes[m].ok) mark_stored(m, g.histograms[m], complete);
        } catch (const std::exception& e) {
            for (size_t m : g.members) {
                Outcome& r = outcomes[m];
                if (!r.ok) continue;
                r.ok = false;
                r.error = e.what();
                ++failed;
            }
            log::error("{}: {}", plate.chunk_key(first.row, first.col, first.site, first.tpoint, first.channel, first.zplane),
                       e.what());
        }
        g.stream.reset();  // unfinished (a failed write): its temporary objects go
        g.histograms.clear();
    };
    auto worker = [&] {
        Plane plane, acc;
        EncodedPlane encoded;  // reused from plane to plane, unless handed to a shard
        std::vector<uint64_t> hist;
        for (size_t i = next++; i < outputs.size(); i = next++) {
            if (kept[i]) continue;
            const RunOutput& o = outputs[i];
            const NgffPlate& plate = *plate_of[i];
            Outcome& r = outcomes[i];
            ShardGroup* group = group_of[i];
            try {
                const PlateLayout& L = plate.layout();
                auto check_geometry = [&](const source::File& f, uint32_t width, uint32_t height, DType dtype) {
                    if (width != L.width || height != L.height || dtype != L.dtype)
                        throw input_error(f.path(), "plane is " + std::to_string(width) + "x" + std::to_string(height) +
                                                        " " + dtype_name(dtype) + ", but the plate holds " +
                                                        std::to_string(L.width) + "x" + std::to_string(L.height) + " " +
                                                        dtype_name(L.dtype));
                };
                // Each source file of the group opened once (a z-stack's planes often share one).
                std::vector<std::unique_ptr<source::File>> files;
                for (size_t k = 0; k < o.inputs.size(); ++k)
                    if (k == 0 || o.inputs[k].file != o.inputs[k - 1].file)
                        files.push_back(source::open(resolve_inside(source, o.inputs[k].file)));
                // A plane of many rows of tiles is read band by band when every source can be.
                std::vector<std::unique_ptr<PlaneRows>> bands;
                if (stores_in_bands(L)) {
                    for (size_t k = 0, f = 0; k < o.inputs.size(); ++k) {
                        if (k > 0 && o.inputs[k].file != o.inputs[k - 1].file) ++f;
                        auto rows = decoder_for(*files[f]).open_rows(*files[f], o.inputs[k].at);
                        if (!rows) {
                            bands.clear();
                            break;
                        }
                        check_geometry(*files[f], rows->width(), rows->height(), rows->dtype());
                        bands.push_back(std::move(rows));
                    }
                }
                hist.assign(histogram_bins(L.dtype), 0);
                if (!bands.empty()) {
                    log::info("{} {} site {} channel {}: {}x{} read band by band ({} rows of chunks, {} thread(s))",
                              L.name, well_name(o.row, o.col), o.site, o.channel, L.width, L.height,
                              L.chunk_grid(0)[0], plane_threads);
                    BandedPlaneEncoder::ChunkSink to_shard;
                    if (group)
                        to_shard = [&](int level, uint32_t ty, uint32_t tx, std::string_view chunk) {
                            std::lock_guard glock(group->mu);
                            group->open(plate, o).add(level, {o.tpoint, o.channel, o.zplane},
                                                      size_t(ty) * L.chunk_grid(level)[1] + tx, chunk);
                        };
                    BandedPlane b = store_in_bands(plate, bands, o.row, o.col, o.site, o.tpoint, o.channel, o.zplane,
                                                   plane_threads, hist.empty() ? nullptr : &hist, std::move(to_shard));
                    r.read = b.read;
                    r.stats = b.stats;
                    r.checksum = std::move(b.checksum);
                    r.level_checksums = std::move(b.level_checksums);
                    r.stored = b.stored;
                } else {
                    for (size_t k = 0, f = 0; k < o.inputs.size(); ++k) {
                        if (k > 0 && o.inputs[k].file != o.inputs[k - 1].file) ++f;
                        Plane& target = (k == 0) ? acc : plane;
                        read_plane(*files[f], o.inputs[k].at, target);
                        check_geometry(*files[f], target.width, target.height, target.dtype);
                        r.read += target.byte_size();
                        if (k > 0) max_project_into(acc, plane);
                    }
                    r.stats = plane_stats(acc, hist.empty() ? nullptr : &hist, &r.checksum);
                    plate.encode_plane(acc, encoded);
                    r.stored = encoded.bytes();
                    r.level_checksums = encoded.level_checksums;
                    if (!group) {
                        plate.write_encoded(o.row, o.col, o.site, o.tpoint, o.channel, o.zplane, encoded);
                    } else {
                        std::lock_guard glock(group->mu);
                        NgffPlate::ShardStream& shard = group->open(plate, o);
                        for (int level = 0; level < L.levels; ++level)
                            for (size_t k = 0; k < encoded.chunk_count(size_t(level)); ++k)
                                shard.add(level, {o.tpoint, o.channel, o.zplane}, k, encoded.chunk(size_t(level), k));
                    }
                }
                r.ok = true;
                if (!group) mark_stored(i, hist, true);
                bytes_in += int64_t(r.read);
                bytes_out += int64_t(r.stored);
            } catch (const std::exception& e) {
                r.error = e.what();
                ++failed;
                log::error("{} {} site {} channel {} tpoint {} zplane {}: {}", plate.layout().name,
                           well_name(o.row, o.col), o.site, o.channel, o.tpoint, o.zplane, e.what());
            }
            if (group) {
                std::unique_lock glock(group->mu);
                if (group->stream) group->stream->plane_done({o.tpoint, o.channel, o.zplane}, r.ok);
                if (r.ok) group->histograms[i] = hist;
                if (--group->remaining == 0) store_shard(*group);
            }
            ++done;
        }
        std::lock_guard lock(mu);
        --running;
        cv.notify_all();
    };
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
    {
        // Progress for the engine's monitor: a small state file, rewritten a few times a second;
        // the checkpoint every 2 s while planes get stored (a kill loses at most that much work).
        std::unique_lock lock(mu);
        double last_checkpoint = now_seconds();
        size_t checkpointed_changes = 0;
        const double interval = checkpoint_interval();
        const auto wake = std::chrono::milliseconds(std::clamp(int(interval * 1000), 10, 500));
        while (running > 0) {
            cv.wait_for(lock, wake);
            state.planes_done = done;
            state.planes_failed = failed;
            state.bytes_in = bytes_in;
            state.bytes_out = bytes_out;
            lock.unlock();
            ws.write_state(Phase::run, job_id, state);
            if (now_seconds() - last_checkpoint >= interval) {
                std::string text;
                {
                    std::lock_guard plock(progress_mu);
                    if (stored_changes != checkpointed_changes) {
                        text = checkpoint_json().dump();
                        checkpointed_changes = stored_changes;
                    }
                }
                if (!text.empty()) write_file_atomic(checkpoint_file, text);
                last_checkpoint = now_seconds();
            }
            lock.lock();
        }
    }
    for (auto& t : pool) t.join();

    json results = json::array(), errors = json::array();
    for (size_t i = 0; i < outputs.size(); ++i) {
        const Outcome& r = outcomes[i];
        if (r.ok)
            results.push_back(outcome_json(outputs[i].id, r));
        else
            errors.push_back({{"id", outputs[i].id}, {"error", r.error}});
    }
    state.finished = now_seconds();
    state.planes_done = done;
    state.planes_failed = failed;
    state.bytes_in = bytes_in;
    state.bytes_out = bytes_out;
    write_file_atomic(ws.result_file(Phase::run, job_id),
                      json{{"id", job_id}, {"outputs", results}, {"errors", errors}, {"histograms", histograms_json(histograms)}}
                          .dump(-1, ' ', false, json::error_handler_t::replace));
    // A job that stored everything needs no checkpoint; one with failed planes keeps what it
    // stored, so that resubmit (after the input is fixed) stores only the failed planes.
    if (failed == 0)
        fs::remove(checkpoint_file, ec);
    else
        write_file_atomic(checkpoint_file, checkpoint_json().dump(-1, ' ', false, json::error_handler_t::replace));
    double secs = std::max(1e-6, state.finished - state.started);
    if (failed == 0) {
        state.state = "done";
        state.exit_code = exit_ok;
        log::info("run job {} done: {} plane(s), {:.1f} MB read, {:.1f} MB stored ({:.2f}x smaller), {:.1f} s, "
                  "{:.0f} planes/s, {:.1f} MB/s",
                  job_id, int64_t(done), bytes_in / 1e6, bytes_out / 1e6,
                  bytes_out ? double(bytes_in) / double(bytes_out) : 0.0, secs, double(done) / secs, bytes_in / 1e6 / secs);
    } else {
        state.state = "failed";
        state.exit_code = exit_jobs_failed;
        state.error = std::to_string(int64_t(failed)) + " of " + std::to_string(outputs.size()) +
                      " plane(s) failed; first: " + errors[0]["error"].get<std::string>();
        log::error("run job {} failed: {}", job_id, state.error);
    }
    ws.write_state(Phase::run, job_id, state);
    log::set_file({});
    return state.exit_code;
}

}  // namespace imx
