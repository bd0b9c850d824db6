// The run job's one JSON form: what init writes, run reads back unchanged, and a malformed job is
// refused with a message that says what is wrong and to run init again.
#include <gtest/gtest.h>

#include "core/fileutil.h"
#include "test_util.h"
#include "workflow/jobs.h"

using namespace imx;
using nlohmann::json;

namespace {

RunJob sample_job() {
    RunJob job;
    job.id = 7;
    job.source = "/data/plate \xff";  // not UTF-8: travels losslessly
    job.source_endpoint = "http://127.0.0.1:7480";
    job.store = "s3://bucket/out";
    job.mip = true;
    PlateLayout L;
    L.name = "P1";
    L.path = "P1.zarr";
    L.rows = 8;
    L.cols = 12;
    L.width = 32;
    L.height = 16;
    L.wells = {{1, 2, 3}};
    job.plates.emplace(L.path, L);
    job.outputs.push_back({41, "P1.zarr", 1, 2, 0, 0, 1, 0, {{"B02/z0.tif", {0, 0, 0}}, {"B02/z1.tif", {2, 5, 1}}}});
    job.outputs.push_back({42, "P1.zarr", 1, 2, 2, 3, 0, 0, {{"B02/s\"2\\\xfe.tif", {0, 4294967295u, 0}}}});
    return job;
}

std::string refusal(const json& j) {
    return test::error_of([&] { (void)j.get<RunJob>(); });
}

}  // namespace

TEST(RunJobFile, RoundTripsThroughJson) {
    const RunJob job = sample_job();
    const RunJob back = json::parse(to_json_text(job)).get<RunJob>();
    EXPECT_EQ(back.id, 7);
    EXPECT_EQ(back.source, job.source);
    EXPECT_EQ(back.source_endpoint, job.source_endpoint);
    EXPECT_EQ(back.store, job.store);
    EXPECT_TRUE(back.mip);
    ASSERT_EQ(back.plates.count("P1.zarr"), 1u);
    EXPECT_EQ(back.plates.at("P1.zarr").width, 32u);
    EXPECT_EQ(back.plates.at("P1.zarr").wells.size(), 1u);
    ASSERT_EQ(back.outputs.size(), 2u);
    const RunOutput& o = back.outputs[0];
    EXPECT_EQ(o.id, 41);
    EXPECT_EQ(o.row, 1);
    EXPECT_EQ(o.col, 2);
    EXPECT_EQ(o.channel, 1);
    ASSERT_EQ(o.inputs.size(), 2u);
    EXPECT_EQ(o.inputs[1].file, "B02/z1.tif");
    EXPECT_EQ(o.inputs[1].at.series, 2u);
    EXPECT_EQ(o.inputs[1].at.page, 5u);
    EXPECT_EQ(o.inputs[1].at.sample, 1u);
    EXPECT_EQ(back.outputs[1].site, 2);
    EXPECT_EQ(back.outputs[1].tpoint, 3);
    EXPECT_EQ(back.outputs[1].inputs[0].at.page, 4294967295u);
    EXPECT_EQ(back.outputs[1].inputs[0].file, "B02/s\"2\\\xfe.tif");  // quote, backslash, not UTF-8
}

TEST(RunJobFile, RefusesMalformedJobs) {
    const json good = sample_job();
    json j = good;
    j.erase("outputs");
    EXPECT_NE(refusal(j).find("no \"outputs\"; run init again"), std::string::npos) << refusal(j);
    j = good;
    j["outputs"][0][2] = "B";
    EXPECT_NE(refusal(j).find("output 0 row is not an integer"), std::string::npos) << refusal(j);
    j = good;
    j["outputs"][1][4] = -1;
    EXPECT_NE(refusal(j).find("output 1 site is negative"), std::string::npos) << refusal(j);
    j = good;
    j["outputs"][0][8][0][2] = -3;
    EXPECT_NE(refusal(j).find("output 0 page is out of range"), std::string::npos) << refusal(j);
    j = good;
    j["outputs"][0][8][0][1] = 4294967296ull;
    EXPECT_NE(refusal(j).find("output 0 series is out of range"), std::string::npos) << refusal(j);
    j = good;
    j["outputs"][0][1] = "other.zarr";
    EXPECT_NE(refusal(j).find("names plate other.zarr"), std::string::npos) << refusal(j);
    j = good;
    j["outputs"][0][8] = json::array();
    EXPECT_NE(refusal(j).find("output 0 has no inputs"), std::string::npos) << refusal(j);
    j = good;
    j["outputs"][0].erase(8);
    EXPECT_NE(refusal(j).find("is not [id, plate"), std::string::npos) << refusal(j);
    j = good;
    j["mip"] = "yes";
    EXPECT_NE(refusal(j).find("\"mip\" is not true or false"), std::string::npos) << refusal(j);
    j = good;
    j["phase"] = "collect";
    EXPECT_NE(refusal(j).find("\"phase\" is not \"run\""), std::string::npos) << refusal(j);
    EXPECT_NE(refusal(json::array()).find("not a JSON object"), std::string::npos);
}

TEST(RunJobFile, ReadJobFileNamesTheFile) {
    auto d = test::fresh_dir("jobs_file");
    write_file_atomic(d / "job.json", "{\"phase\": \"run\", \"id\": 1");
    std::string e = test::error_of([&] { read_job_file<RunJob>(d / "job.json"); });
    EXPECT_NE(e.find((d / "job.json").string()), std::string::npos) << e;
    EXPECT_NE(e.find("run init again"), std::string::npos) << e;
    write_file_atomic(d / "job.json", "{\"phase\": \"run\", \"id\": 1}");
    e = test::error_of([&] { read_job_file<RunJob>(d / "job.json"); });
    EXPECT_NE(e.find((d / "job.json").string() + ": malformed job: no \"source\""), std::string::npos) << e;
    write_file_atomic(d / "collect.json", json(CollectJob{true}).dump());
    EXPECT_TRUE(read_job_file<CollectJob>(d / "collect.json").delete_sources);
}
