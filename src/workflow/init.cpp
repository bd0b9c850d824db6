// `init`: removes the output of a previous run, writes the plate's NGFF metadata, and splits the
// sites into run jobs (TissueMAPS' create_run_batches), each described by one JSON file.
#include <future>
#include <map>

#include "core/fileutil.h"
#include "core/log.h"
#include "storage/store.h"
#include "engines/engine.h"
#include "workflow/jobs.h"
#include "workflow/workflow.h"
#include "zarr/ngff.h"
#include "zarr/ome_xml.h"

namespace imx {

using nlohmann::json;

InitResult init_jobs(const Workspace& ws, const InitOptions& opt) {
    ws.require();
    if (opt.batch_size < 1) throw Error("--batch-size must be at least 1", Error::Kind::usage);
    ExperimentLock lock(ws, "init");
    if (std::string busy = reconcile_engines(ws); !busy.empty())
        throw Error(ws.root().string() + ": " + busy + "; init would delete what its jobs write", Error::Kind::usage);
    log::set_file(ws.log_file(Phase::init, 0));
    Catalog cat(ws.catalog_file());
    ExperimentConfig config = cat.config();
    auto store = open_store(config.store);
    InitResult result;

    // delete_previous_job_output: job files, then the stored planes of every plate.
    std::error_code ec;
    fs::remove_all(ws.jobs_dir() / "run", ec);
    fs::remove_all(ws.job_dir(Phase::collect), ec);
    fs::remove(ws.batches_file(), ec);
    auto plates = cat.plates();
    for (auto& p : plates) result.removed_keys += store->remove_prefix(p.store_path);
    cat.forget_stored_planes();
    if (result.removed_keys) log::info("removed {} files of a previous run from {}", result.removed_keys, store->url());

    std::map<int64_t, size_t> layout_of;  // plate id -> index in plate_layouts
    std::vector<PlateLayout> plate_layouts;
    for (auto& p : plates) {
        PlateLayout L = plate_layout(cat, p);
        layout_of[p.id] = plate_layouts.size();
        log::info("plate '{}': {} wells, {} channels, {} tpoints, {} zplanes, {}x{} {} -> {}/{}", L.name,
                  L.wells.size(), L.image_channels(), L.tpoints, L.zplanes, L.width, L.height, dtype_name(L.dtype),
                  store->url(), L.path);
        plate_layouts.push_back(std::move(L));
    }
    // The NGFF metadata (a few files per field: tens of thousands on a big plate, mostly the
    // kernel's work) is written by a second thread while this one reads the catalog and writes
    // the job files (mostly user time).
    std::vector<OmeFacts> ome_facts;
    {
        OmeFacts common;
        for (const ChannelInfo& c : cat.channels()) common.channels.push_back({c.excitation_nm, c.emission_nm});
        common.objective = cat.objective();
        // Plane elements are held in memory while the XML is written: plates beyond a million
        // stored planes (a 384-well plate of 9 fields, 4 channels, 10 z and 8 time-points) get none.
        constexpr size_t kMaxOmePlanes = 1u << 20;
        for (auto& p : plates) {
            ome_facts.push_back(common);
            bool over = false;
            auto facts = cat.stored_plane_facts(p.id, kMaxOmePlanes, over);
            if (over)
                log::warn("plate '{}': more than {} stored planes; its OME-XML lists no Plane elements (exposure "
                          "times, plane times and z positions)", p.name, kMaxOmePlanes);
            for (auto& [site, rows] : facts) {
                auto& planes = ome_facts.back().planes[site];
                planes.reserve(rows.size());
                for (const StoredPlaneFacts& r : rows)
                    planes.push_back({r.channel, r.tpoint, r.zplane, r.acquired, r.exposure_s, r.stage_z});
            }
        }
    }
    auto metadata = std::async(std::launch::async, [&store, &plate_layouts, &ome_facts] {
        for (size_t i = 0; i < plate_layouts.size(); ++i) {
            NgffPlate(*store, plate_layouts[i]).write_metadata();
            write_ome_metadata(*store, plate_layouts[i], ome_facts[i]);
        }
    });
    struct JoinMetadata {  // an exception below must not leave the thread running
        std::future<void>& f;
        ~JoinMetadata() {
            if (f.valid()) f.wait();
        }
    } join_metadata{metadata};

    // Sites in plate order, batch_size sites per job; each job lists its stored planes and, for
    // each, the source planes (several with --mip).
    RunJob job;
    job.source = config.source;
    job.source_endpoint = config.source_endpoint;
    job.store = config.store;
    job.mip = config.mip;
    int sites_in_job = 0;
    int64_t current_site = -1, current_output = -1;
    std::vector<int64_t> job_planes;
    auto flush = [&] {
        if (job.outputs.empty()) return;
        job.id = ++result.run_jobs;
        job_planes.push_back(int64_t(job.outputs.size()));
        write_file_atomic(ws.job_file(Phase::run, job.id), to_json_text(job));
        job.outputs.clear();
        job.plates.clear();
        sites_in_job = 0;
    };
    cat.for_each_source_plane_in_job_order([&](const JobPlaneRow& row) {
        if (row.site_id != current_site) {
            if (sites_in_job == opt.batch_size) flush();
            current_site = row.site_id;
            ++sites_in_job;
        }
        if (row.output_id != current_output) {
            current_output = row.output_id;
            ++result.outputs;
            if (!job.plates.count(row.store_path))
                job.plates.emplace(row.store_path, plate_layouts[layout_of.at(row.plate_id)]);
            job.outputs.push_back({row.output_id, row.store_path, row.row, row.col, row.site, row.tpoint, row.channel,
                                   row.zplane, {}});
        }
        job.outputs.back().inputs.push_back({row.file, row.at});
    });
    flush();
    metadata.get();  // its exception, if any

    write_file_atomic(ws.job_file(Phase::collect, 0), json{{"phase", "collect"}, {"delete", opt.delete_sources}}.dump(1));
    write_file_atomic(ws.batches_file(), json{{"run_jobs", result.run_jobs},
                                              {"batch_size", opt.batch_size},
                                              {"delete", opt.delete_sources},
                                              {"outputs", result.outputs},
                                              {"job_planes", job_planes},
                                              {"created", now_seconds()}}.dump(1));
    log::info("init: {} run job(s) of up to {} site(s), {} plane(s) to store{}", result.run_jobs, opt.batch_size,
              result.outputs, opt.delete_sources ? "; collect will delete verified source files" : "");
    log::set_file({});
    return result;
}

}  // namespace imx
