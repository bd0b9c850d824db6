// `run -j N`: extracts the planes of one job (TissueMAPS' run_job). Reads only its job file and
// the source files, writes chunks to the store, and its state, result and log into its own job
// folder: no catalog access, so jobs run on cluster nodes without a database.
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/fileutil.h"
#include "core/log.h"
#include "formats/reader.h"
#include "storage/store.h"
#include "render/pixel_ops.h"
#include "workflow/jobs.h"
#include "workflow/workflow.h"
#include "storage/source_files.h"

namespace imx {

using nlohmann::json;

namespace {

struct Outcome {
    bool ok = false;
    std::string checksum, error;
    PlaneStats stats;
    size_t stored = 0;
    uint64_t read = 0;
};

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
    RunJob job = read_job_file<RunJob>(job_file);

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
    log::info("run job {}: {} plane(s) to store{}, {} thread(s), store {}", job_id, outputs.size(),
              mip ? " (maximum-intensity projections)" : "", threads, store->url());

    // With sharding, the planes of one shard are stored together once the last of them is
    // encoded (init keeps every site in one job, so a shard never spans jobs).
    struct ShardGroup {
        std::mutex mu;
        size_t remaining = 0;
        std::vector<size_t> members;
        std::map<std::array<int, 3>, EncodedPlane> planes;
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
    // Channel histograms for collect's contrast windows, summed over this job's planes.
    std::map<std::pair<std::string, int>, std::vector<uint64_t>> histograms;
    std::mutex histograms_mu;

    std::vector<Outcome> outcomes(outputs.size());
    std::atomic<size_t> next{0};
    std::atomic<int64_t> done{0}, failed{0}, bytes_in{0}, bytes_out{0};
    std::mutex mu;
    std::condition_variable cv;
    int running = threads;

    auto store_shard = [&](ShardGroup& g) {
        const RunOutput& first = outputs[g.members.front()];
        const NgffPlate& plate = *plate_of[g.members.front()];
        try {
            plate.write_shard(first.row, first.col, first.site, plate.shard_origin(first.tpoint, first.channel, first.zplane),
                              g.planes);
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
        g.planes.clear();
    };
    auto worker = [&] {
        Plane plane, acc;
        EncodedPlane encoded;  // reused from plane to plane, unless handed to a shard
        std::map<std::pair<std::string, int>, std::vector<uint64_t>> local_hist;
        for (size_t i = next++; i < outputs.size(); i = next++) {
            const RunOutput& o = outputs[i];
            const NgffPlate& plate = *plate_of[i];
            Outcome& r = outcomes[i];
            ShardGroup* group = group_of[i];
            try {
                const PlateLayout& L = plate.layout();
                // Each source file of the group opened once (a z-stack's planes often share one).
                std::unique_ptr<source::File> file;
                for (size_t k = 0; k < o.inputs.size(); ++k) {
                    const RunInput& in = o.inputs[k];
                    if (k == 0 || in.file != o.inputs[k - 1].file) file = source::open(resolve_inside(source, in.file));
                    Plane& target = (k == 0) ? acc : plane;
                    read_plane(*file, in.at, target);
                    if (target.width != L.width || target.height != L.height || target.dtype != L.dtype)
                        throw input_error(file->path(), "plane is " + std::to_string(target.width) + "x" +
                                                             std::to_string(target.height) + " " + dtype_name(target.dtype) +
                                                             ", but the plate holds " + std::to_string(L.width) + "x" +
                                                             std::to_string(L.height) + " " + dtype_name(L.dtype));
                    r.read += target.byte_size();
                    if (k > 0) max_project_into(acc, plane);
                }
                r.stats = plane_stats(acc, histogram_bins(acc.dtype) ? &local_hist[{L.path, o.channel}] : nullptr,
                                      &r.checksum);
                plate.encode_plane(acc, encoded);
                r.stored = encoded.bytes();
                if (!group) plate.write_encoded(o.row, o.col, o.site, o.tpoint, o.channel, o.zplane, encoded);
                r.ok = true;
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
                if (r.ok) {
                    encoded.compact();  // held until the shard's last plane: no worst-case buffers
                    group->planes[{o.tpoint, o.channel, o.zplane}] = std::move(encoded);
                }
                if (--group->remaining == 0) store_shard(*group);
            }
            ++done;
        }
        {
            std::lock_guard lock(histograms_mu);
            for (auto& [key, h] : local_hist) {
                auto& total = histograms[key];
                if (total.size() < h.size()) total.resize(h.size(), 0);
                for (size_t b = 0; b < h.size(); ++b) total[b] += h[b];
            }
        }
        std::lock_guard lock(mu);
        --running;
        cv.notify_all();
    };
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
    {
        // Progress for the engine's monitor: a small state file, rewritten a few times a second.
        std::unique_lock lock(mu);
        while (running > 0) {
            cv.wait_for(lock, std::chrono::milliseconds(500));
            state.planes_done = done;
            state.planes_failed = failed;
            state.bytes_in = bytes_in;
            state.bytes_out = bytes_out;
            lock.unlock();
            ws.write_state(Phase::run, job_id, state);
            lock.lock();
        }
    }
    for (auto& t : pool) t.join();

    json results = json::array(), errors = json::array();
    for (size_t i = 0; i < outputs.size(); ++i) {
        const Outcome& r = outcomes[i];
        if (r.ok)
            results.push_back({{"id", outputs[i].id},
                               {"checksum", r.checksum},
                               {"min", r.stats.min},
                               {"max", r.stats.max},
                               {"p001", r.stats.p001},
                               {"p999", r.stats.p999},
                               {"bytes", r.stored}});
        else
            errors.push_back({{"id", outputs[i].id}, {"error", r.error}});
    }
    state.finished = now_seconds();
    state.planes_done = done;
    state.planes_failed = failed;
    state.bytes_in = bytes_in;
    state.bytes_out = bytes_out;
    json hist_j = json::array();
    for (auto& [key, h] : histograms)
        hist_j.push_back({{"plate", key.first}, {"channel", key.second}, {"bins", h}});
    write_file_atomic(ws.result_file(Phase::run, job_id),
                      json{{"id", job_id}, {"outputs", results}, {"errors", errors}, {"histograms", hist_j}}.dump(-1, ' ', false, json::error_handler_t::replace));
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
