// init, run and collect as functions on a tiny synthetic CellVoyager plate (the demo plate): the
// jobs init plans from the catalog, what one run job writes, and what collect verifies and refuses.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <tuple>
#include <type_traits>

#include "core/checksum.h"
#include "core/fileutil.h"
#include "demo/demo_plate.h"
#include "formats/reader.h"
#include "storage/store.h"
#include "test_util.h"
#include "workflow/jobs.h"
#include "workflow/workflow.h"
#include "zarr/ngff.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// 1 x 2 wells, 2 sites, 2 channels, 2 z-planes of 40 x 24 pixels: 16 planes, 4 sites.
Workspace tiny_experiment(const fs::path& dir, bool mip = false, const std::string& shard = "none") {
    DemoPlateSpec spec;
    spec.rows = 1;
    spec.cols = 2;
    spec.sites = 2;
    spec.channels = 2;
    spec.zplanes = 2;
    spec.width = 40;
    spec.height = 24;
    write_demo_plate(dir / "microscope", spec);
    Workspace ws(dir / "experiment");
    CreateOptions create;
    create.sources = {dir / "microscope"};
    create.mip = mip;
    if (shard != "none") {
        create.ngff = "0.5";
        create.shard = shard;
    }
    create_experiment(ws, create);
    return ws;
}

}  // namespace

TEST(Steps, InitPlansJobsOfWholeSitesFromTheCatalog) {
    fs::path d = test::fresh_dir("steps_init");
    Workspace ws = tiny_experiment(d);
    InitOptions init;
    init.batch_size = 3;
    InitResult r = init_jobs(ws, init);
    EXPECT_EQ(r.run_jobs, 2);  // 4 sites, 3 per job
    EXPECT_EQ(r.outputs, 16);
    RunJob first = read_job_file<RunJob>(ws.job_file(Phase::run, 1));
    RunJob second = read_job_file<RunJob>(ws.job_file(Phase::run, 2));
    EXPECT_EQ(first.id, 1);
    EXPECT_EQ(first.outputs.size(), 12u);
    EXPECT_EQ(second.outputs.size(), 4u);
    EXPECT_EQ(first.source, (d / "microscope").string());
    ASSERT_EQ(first.plates.size(), 1u);
    const PlateLayout& L = first.plates.begin()->second;
    EXPECT_EQ(L.width, 40u);
    EXPECT_EQ(L.zplanes, 2);
    for (const RunOutput& o : first.outputs) {
        EXPECT_EQ(o.plate, first.plates.begin()->first);
        ASSERT_EQ(o.inputs.size(), 1u);
        EXPECT_TRUE(fs::is_regular_file(d / "microscope" / o.inputs[0].file)) << o.inputs[0].file;
    }
    // Whole sites per job: the last job holds the second well's (B03) second site.
    EXPECT_EQ(well_name(second.outputs[0].row, second.outputs[0].col), "B03");
    EXPECT_EQ(second.outputs[0].site, 1);
    EXPECT_EQ(ws.job_plane_counts(), (std::vector<int64_t>{12, 4}));
    EXPECT_FALSE(read_job_file<CollectJob>(ws.job_file(Phase::collect, 0)).delete_sources);
}

TEST(Steps, InitWithMipGivesEachStoredPlaneItsZStack) {
    fs::path d = test::fresh_dir("steps_mip");
    Workspace ws = tiny_experiment(d, true);
    InitResult r = init_jobs(ws, {});
    EXPECT_EQ(r.run_jobs, 1);
    EXPECT_EQ(r.outputs, 8);
    RunJob job = read_job_file<RunJob>(ws.job_file(Phase::run, 1));
    EXPECT_TRUE(job.mip);
    for (const RunOutput& o : job.outputs) {
        EXPECT_EQ(o.zplane, 0);
        EXPECT_EQ(o.inputs.size(), 2u);
    }
}

TEST(Steps, RunStoresTheJobsPlanesAndWritesItsResult) {
    fs::path d = test::fresh_dir("steps_run");
    Workspace ws = tiny_experiment(d);
    InitOptions init;
    init.batch_size = 2;
    ASSERT_EQ(init_jobs(ws, init).run_jobs, 2);
    RunOptions run;
    run.threads = 2;
    ASSERT_EQ(run_job(ws, 1, run), exit_ok);
    auto state = ws.read_state(Phase::run, 1);
    ASSERT_TRUE(state);
    EXPECT_EQ(state->state, "done");
    EXPECT_EQ(state->planes_done, 8);
    EXPECT_FALSE(ws.read_state(Phase::run, 2));  // the other job did not run

    const RunJob job = read_job_file<RunJob>(ws.job_file(Phase::run, 1));
    json result = json::parse(read_file(ws.result_file(Phase::run, 1)));
    ASSERT_EQ(result["outputs"].size(), job.outputs.size());
    EXPECT_TRUE(result["errors"].empty());
    auto store = open_store(job.store);
    NgffPlate plate(*store, job.plates.begin()->second);
    for (size_t i = 0; i < job.outputs.size(); ++i) {
        const RunOutput& o = job.outputs[i];
        const json& r = result["outputs"][i];
        EXPECT_EQ(r["id"].get<int64_t>(), o.id);
        Plane source, stored = plate.read_plane(o.row, o.col, o.site, o.tpoint, o.channel, o.zplane);
        read_plane(*source::open(d / "microscope" / o.inputs[0].file), o.inputs[0].at, source);
        EXPECT_EQ(stored.data, source.data);
        EXPECT_EQ(r["checksum"].get<std::string>(), pixel_checksum(source.data.data(), source.byte_size()));
    }
}

TEST(Steps, CollectFoldsResultsVerifiesAndRefusesAMismatchedChunk) {
    fs::path d = test::fresh_dir("steps_collect");
    Workspace ws = tiny_experiment(d);
    InitOptions init;
    init.batch_size = 2;
    ASSERT_EQ(init_jobs(ws, init).run_jobs, 2);
    RunOptions run;
    run.threads = 1;
    ASSERT_EQ(run_job(ws, 1, run), exit_ok);

    // Job 2 has not run: its planes are missing, job 1's are verified.
    CollectResult c = collect(ws, {});
    EXPECT_EQ(c.outputs, 16);
    EXPECT_EQ(c.verified, 8);
    EXPECT_EQ(c.missing, 8);
    EXPECT_EQ(ws.read_state(Phase::collect, 0)->state, "failed");

    ASSERT_EQ(run_job(ws, 2, run), exit_ok);
    c = collect(ws, {});
    EXPECT_EQ(c.verified, 16);
    EXPECT_EQ(c.missing + c.mismatched, 0);
    EXPECT_EQ(ws.read_state(Phase::collect, 0)->state, "done");
    EXPECT_EQ(Catalog(ws.catalog_file(), true).summary().outputs_verified, 16);

    // get: the verified plane by its position, as the source file holds it.
    const RunJob job = read_job_file<RunJob>(ws.job_file(Phase::run, 1));
    const RunOutput& a = job.outputs[0];
    const RunOutput& b = job.outputs[1];
    static_assert(!std::is_copy_constructible_v<ExperimentReader>, "one owner of the open catalog and store");
    ExperimentReader reader(ws.root());
    PlaneQuery query;
    query.well = well_name(a.row, a.col);
    query.site = a.site;
    query.channel = std::to_string(a.channel);
    query.tpoint = a.tpoint;
    query.zplane = a.zplane;
    Plane got = reader.get(query), source;
    read_plane(*source::open(d / "microscope" / a.inputs[0].file), a.inputs[0].at, source);
    EXPECT_EQ(got.data, source.data);
    // The listings (the Python module's plates, wells, sites, shape) agree with the plane read.
    ASSERT_EQ(reader.plate_names().size(), 1u);
    const PlateLayout layout = reader.layout("");
    EXPECT_EQ(layout.name, reader.plate_names()[0]);
    EXPECT_EQ(std::tuple(layout.width, layout.height, layout.dtype), std::tuple(got.width, got.height, got.dtype));
    const std::vector<WellSites> wells = reader.wells(layout.name);
    auto well = std::find_if(wells.begin(), wells.end(), [&](const WellSites& w) { return w.row == a.row && w.col == a.col; });
    ASSERT_NE(well, wells.end());
    EXPECT_EQ(reader.site_count("", query.well), well->sites);
    EXPECT_GT(well->sites, a.site);
    try {
        reader.site_count("", "Z99");
        ADD_FAILURE() << "site_count of a well the plate does not have";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), Error::Kind::usage);
        EXPECT_NE(std::string(e.what()).find("has no well Z99 (its wells: "), std::string::npos) << e.what();
    }

    // A chunk overwritten with another plane's chunk: stored pixels no longer match the checksum.
    auto store = open_store(job.store);
    NgffPlate plate(*store, job.plates.begin()->second);
    const std::string key_a = plate.chunk_key(a.row, a.col, a.site, a.tpoint, a.channel, a.zplane);
    const std::string key_b = plate.chunk_key(b.row, b.col, b.site, b.tpoint, b.channel, b.zplane);
    store->put(key_a, store->get(key_b).value());
    c = collect(ws, {});
    EXPECT_EQ(c.verified, 15);
    EXPECT_EQ(c.mismatched, 1);
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].find("do not match the checksum"), std::string::npos) << c.problems[0];
    EXPECT_EQ(ws.read_state(Phase::collect, 0)->state, "failed");
}

// init, then run job 1 with the source file of its 6th plane cut in half: the job fails.
struct FailedAttempt {
    RunJob job;
    fs::path broken;    // the file cut short
    std::string good;   // its bytes, to restore it
};
FailedAttempt run_with_a_truncated_file(const Workspace& ws, const fs::path& d, const RunOptions& run) {
    FailedAttempt a;
    EXPECT_EQ(init_jobs(ws, {}).run_jobs, 1);
    a.job = read_job_file<RunJob>(ws.job_file(Phase::run, 1));
    a.broken = d / "microscope" / a.job.outputs.at(5).inputs.at(0).file;
    a.good = read_file(a.broken);
    write_file_atomic(a.broken, std::string_view(a.good).substr(0, a.good.size() / 2));
    EXPECT_EQ(run_job(ws, 1, run), exit_jobs_failed);
    return a;
}

// A job that failed on one unreadable file keeps what it stored: run again after the file is
// fixed, it stores only that plane, leaves the others' chunks untouched (same inode: our writes
// replace files), and its result (checksums and channel histograms) equals an uninterrupted run's.
TEST(Steps, RunAgainStoresOnlyWhatAnEarlierAttemptDidNotStore) {
    fs::path d = test::fresh_dir("steps_resume");
    Workspace ws = tiny_experiment(d);
    ASSERT_EQ(init_jobs(ws, {}).run_jobs, 1);
    RunOptions run;
    run.threads = 2;
    ASSERT_EQ(run_job(ws, 1, run), exit_ok);
    const json clean = json::parse(read_file(ws.result_file(Phase::run, 1)));
    EXPECT_FALSE(fs::exists(ws.job_dir(Phase::run, 1) / "checkpoint.json"));  // nothing to resume

    // Second attempt from scratch, with one source file cut short.
    const FailedAttempt attempt = run_with_a_truncated_file(ws, d, run);
    const RunJob& job = attempt.job;
    const fs::path& broken = attempt.broken;
    const std::string& good = attempt.good;
    const fs::path checkpoint = ws.job_dir(Phase::run, 1) / "checkpoint.json";
    ASSERT_TRUE(fs::exists(checkpoint));
    EXPECT_EQ(json::parse(read_file(checkpoint))["outputs"].size(), job.outputs.size() - 1);

    auto store = open_store(job.store);
    NgffPlate plate(*store, job.plates.begin()->second);
    auto chunk_file = [&](const RunOutput& o) {
        return fs::path(job.store) / plate.chunk_key(o.row, o.col, o.site, o.tpoint, o.channel, o.zplane);
    };
    std::vector<ino_t> inodes;
    for (const RunOutput& o : job.outputs) {
        struct stat st {};
        inodes.push_back(::stat(chunk_file(o).c_str(), &st) == 0 ? st.st_ino : 0);
    }
    EXPECT_EQ(inodes[5], 0u);  // the failed plane has no chunk

    write_file_atomic(broken, good);
    ASSERT_EQ(run_job(ws, 1, run), exit_ok);
    EXPECT_NE(read_file(ws.log_file(Phase::run, 1)).find("15 stored by an earlier attempt and kept"), std::string::npos);
    for (size_t i = 0; i < job.outputs.size(); ++i) {
        struct stat st {};
        ASSERT_EQ(::stat(chunk_file(job.outputs[i]).c_str(), &st), 0);
        if (i != 5) {
            EXPECT_EQ(st.st_ino, inodes[i]) << "plane " << i << " was stored again";
        }
    }
    const json resumed = json::parse(read_file(ws.result_file(Phase::run, 1)));
    EXPECT_EQ(resumed["outputs"], clean["outputs"]);
    EXPECT_EQ(resumed["histograms"], clean["histograms"]);
    EXPECT_FALSE(fs::exists(checkpoint));

    // A kept plane whose chunk went missing: nothing is trusted, everything is stored again.
    ASSERT_EQ(init_jobs(ws, {}).run_jobs, 1);
    write_file_atomic(broken, std::string_view(good).substr(0, good.size() / 2));
    EXPECT_EQ(run_job(ws, 1, run), exit_jobs_failed);
    write_file_atomic(broken, good);
    fs::remove(chunk_file(job.outputs[0]));
    ASSERT_EQ(run_job(ws, 1, run), exit_ok);
    EXPECT_EQ(read_file(ws.log_file(Phase::run, 1)).find("stored by an earlier attempt and kept"), std::string::npos);
    EXPECT_TRUE(fs::exists(chunk_file(job.outputs[0])));
    EXPECT_EQ(json::parse(read_file(ws.result_file(Phase::run, 1)))["histograms"], clean["histograms"]);
}

// Sharded: a z-stack shard whose planes were all stored is kept; the shard holding the failed
// plane is stored again whole; the result equals an uninterrupted run's.
TEST(Steps, RunAgainKeepsCompleteShardsOnly) {
    fs::path d = test::fresh_dir("steps_resume_shard");
    Workspace ws = tiny_experiment(d, false, "zstack");
    ASSERT_EQ(init_jobs(ws, {}).run_jobs, 1);
    RunOptions run;
    run.threads = 2;
    ASSERT_EQ(run_job(ws, 1, run), exit_ok);
    const json clean = json::parse(read_file(ws.result_file(Phase::run, 1)));

    const FailedAttempt attempt = run_with_a_truncated_file(ws, d, run);
    const fs::path& broken = attempt.broken;
    const std::string& good = attempt.good;
    // 16 planes in shards of 2 z-planes: 7 complete shards listed, not the failed plane's partner.
    EXPECT_EQ(json::parse(read_file(ws.job_dir(Phase::run, 1) / "checkpoint.json"))["outputs"].size(), 14u);
    write_file_atomic(broken, good);
    ASSERT_EQ(run_job(ws, 1, run), exit_ok);
    const std::string log = read_file(ws.log_file(Phase::run, 1));
    EXPECT_NE(log.find("2 plane(s) to store (14 stored by an earlier attempt and kept)"), std::string::npos) << log;
    const json resumed = json::parse(read_file(ws.result_file(Phase::run, 1)));
    EXPECT_EQ(resumed["outputs"], clean["outputs"]);
    EXPECT_EQ(resumed["histograms"], clean["histograms"]);
}
