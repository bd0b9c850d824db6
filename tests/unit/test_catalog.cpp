// The catalog's queries: what init, collect, verify and retrieval ask of it, on a small catalog
// made by hand (one plate, two wells, a missing plane, a hole).
#include <gtest/gtest.h>

#include "catalog/catalog.h"
#include "test_util.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

// Plate P, wells A01 (sites 0 and 1) and B02 (site 0), channels DAPI and GFP, one z-plane, except
// A01 site 1 which has no GFP plane (a hole); the GFP plane of B02 lives in a missing file.
ImageSet small_set() {
    ImageSet set;
    set.format = "files";
    set.plates.push_back({"P", 8, 12});
    set.channels = {{"DAPI", std::nullopt, std::nullopt}, {"GFP", 488.0, 510.0}};
    set.width = 16;
    set.height = 8;
    set.dtype = DType::u16;
    auto plane = [&](int row, int col, int site, int channel, const std::string& file, uint32_t page) {
        PlaneRecord p;
        p.plate = "P";
        p.row = row;
        p.col = col;
        p.site = site;
        p.channel = channel;
        p.file = file;
        p.series = 1;
        p.page = page;
        return p;
    };
    set.planes = {plane(0, 0, 0, 0, "a.tif", 0), plane(0, 0, 0, 1, "a.tif", 1), plane(0, 0, 1, 0, "b.tif", 0),
                  plane(1, 1, 0, 0, "c.tif", 0), plane(1, 1, 0, 1, "gone.tif", 0)};
    set.planes.back().missing = "file not found";
    return set;
}

fs::path small_catalog(const fs::path& dir) {
    ExperimentConfig config;
    config.source = dir.string();
    config.store = (dir / "store").string();
    std::vector<SourceFile> files = {{"a.tif", 100, 1, "complete", ""},
                                     {"b.tif", 50, 1, "complete", ""},
                                     {"c.tif", 50, 1, "incomplete", "pages 1-2 left out"},
                                     {"gone.tif", -1, 0, "missing", "file not found"}};
    fs::path file = dir / "catalog.sqlite";
    Catalog::create(file, small_set(), config, files, {{"thumb.tif", 7}});
    return file;
}

}  // namespace

TEST(Catalog, AnswersThePlateGeometryAndHoles) {
    fs::path d = test::fresh_dir("catalog_geometry");
    Catalog cat(small_catalog(d), true);
    auto plates = cat.plates();
    ASSERT_EQ(plates.size(), 1u);
    EXPECT_EQ(plates[0].store_path, "P.zarr");
    const int64_t id = plates[0].id;
    auto wells = cat.plate_wells(id);
    ASSERT_EQ(wells.size(), 2u);
    EXPECT_EQ(wells[0].row, 0);
    EXPECT_EQ(wells[0].sites, 2);
    EXPECT_EQ(wells[1].col, 1);
    EXPECT_EQ(wells[1].sites, 1);
    EXPECT_EQ(cat.plate_extent(id).tpoints, 1);
    EXPECT_EQ(cat.plate_extent(id).zplanes, 1);
    EXPECT_EQ(cat.plate_channels_used(id), (std::vector<int>{0, 1}));
    EXPECT_EQ(cat.channels().at(1).excitation_nm.value(), 488.0);

    // A01 site 1 has no GFP plane (absent), B02's GFP plane is missing in the source.
    PlaneHoles holes = cat.plate_holes(id, false, 10);
    ASSERT_EQ(holes.count, 2);
    EXPECT_EQ(holes.listed[0].site, 1);
    EXPECT_EQ(holes.listed[0].channel, 1);
    EXPECT_NE(holes.listed[0].why.find("no source plane"), std::string::npos);
    EXPECT_EQ(holes.listed[1].row, 1);
    EXPECT_NE(holes.listed[1].why.find("gone.tif: file not found"), std::string::npos);
    // Nothing is verified yet: with `unverified`, every plane is a hole; the list is capped.
    holes = cat.plate_holes(id, true, 3);
    EXPECT_EQ(holes.count, 1 + 5);
    EXPECT_EQ(holes.listed.size(), 3u);

    ASSERT_TRUE(cat.plane_at(id, {0, 0, 1, 0, 0, 0}));
    EXPECT_FALSE(cat.plane_at(id, {0, 0, 1, 0, 0, 0})->stored);  // no run job has stored it
    EXPECT_FALSE(cat.plane_at(id, {0, 0, 1, 1, 0, 0}));

    CatalogSummary s = cat.summary();
    EXPECT_EQ(s.wells, 2);
    EXPECT_EQ(s.sites, 3);
    EXPECT_EQ(s.outputs, 5);
    EXPECT_EQ(s.absent, 1);
    EXPECT_EQ(s.outputs_missing, 1);
    EXPECT_EQ(s.files_missing, 1);
    EXPECT_EQ(s.files_incomplete, 1);
    EXPECT_EQ(s.unused_files, 1);
}

TEST(Catalog, ListsJobPlanesInSiteOrderAndFoldsResults) {
    fs::path d = test::fresh_dir("catalog_results");
    Catalog cat(small_catalog(d));
    std::vector<JobPlaneRow> rows;
    cat.for_each_source_plane_in_job_order([&](const JobPlaneRow& r) { rows.push_back(r); });
    ASSERT_EQ(rows.size(), 5u);
    EXPECT_EQ(rows[0].file, "a.tif");
    EXPECT_EQ(rows[1].at.page, 1u);
    EXPECT_EQ(rows[1].at.series, 1u);  // the series travels with every source plane
    EXPECT_EQ(rows[2].site, 1);
    EXPECT_EQ(rows[4].file, "gone.tif");
    EXPECT_EQ(rows[4].store_path, "P.zarr");

    auto stored = cat.stored_planes();
    ASSERT_EQ(stored.size(), 5u);
    EXPECT_EQ(stored[4].missing, "gone.tif: file not found");
    {
        Catalog::ResultWriter w(cat);
        w.add(1, {stored[0].id, "abc", {"l1", "l2"}, 1, 9, 8, 123});
        w.add(1, {stored[1].id, "def", {}, 2, 7, 6, 45});
        // not committed: rolled back
    }
    EXPECT_EQ(cat.summary().outputs_stored, 0);
    {
        Catalog::ResultWriter w(cat);
        w.add(1, {stored[0].id, "abc", {"l1", "l2"}, 1, 9, 8, 123});
        w.add(2, {stored[3].id, "def", {}, 2, 7, 6, 45});
        w.commit();
    }
    stored = cat.stored_planes();
    EXPECT_EQ(stored[0].checksum, "abc");
    EXPECT_EQ(stored[0].level_checksums, (std::vector<std::string>{"l1", "l2"}));
    EXPECT_EQ(stored[1].checksum, "");
    EXPECT_TRUE(stored[3].level_checksums.empty());
    auto ranges = cat.stored_channel_ranges(cat.plates()[0].id);
    ASSERT_EQ(ranges.size(), 1u);  // only DAPI planes are stored
    EXPECT_EQ(ranges[0].min, 1);
    EXPECT_EQ(ranges[0].max, 9);

    // a.tif goes only once both its planes are verified; c.tif is incomplete and never goes.
    cat.set_verified({{stored[0].id, true}, {stored[3].id, true}});
    auto deletable = cat.deletable_files();
    EXPECT_TRUE(deletable.empty());
    cat.set_verified({{stored[1].id, true}, {stored[2].id, true}});
    deletable = cat.deletable_files();
    ASSERT_EQ(deletable.size(), 2u);
    EXPECT_EQ(deletable[0].path, "a.tif");
    EXPECT_EQ(deletable[1].path, "b.tif");
    auto incomplete = cat.present_incomplete_files();
    ASSERT_EQ(incomplete.size(), 1u);
    EXPECT_EQ(incomplete[0].content_detail, "pages 1-2 left out");
    EXPECT_EQ(cat.present_file_count(), 3);
    cat.mark_file_deleted(deletable[0].id);
    EXPECT_EQ(cat.present_file_count(), 2);
    EXPECT_EQ(cat.summary().files_deleted, 1);

    cat.forget_stored_planes();
    EXPECT_EQ(cat.summary().outputs_stored, 0);
    EXPECT_EQ(cat.summary().outputs_verified, 0);
}

TEST(Catalog, RefusesASchemaItDoesNotRead) {
    fs::path d = test::fresh_dir("catalog_schema");
    fs::path file = small_catalog(d);
    Catalog(file).set_meta("schema_version", "99");
    std::string e = test::error_of([&] { Catalog c(file, true); });
    EXPECT_NE(e.find(file.string()), std::string::npos) << e;
    EXPECT_NE(e.find("schema version '99'"), std::string::npos) << e;
    e = test::error_of([&] { Catalog c(d / "none.sqlite", true); });
    EXPECT_NE(e, "no exception");
}
