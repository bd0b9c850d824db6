// Several sources in one experiment: the merge of configured ImageSets (plates, time,
// multiplexing) and the NGFF layout of multiplexing cycles.
#include <gtest/gtest.h>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/checksum.h"
#include "storage/store.h"
#include "test_util.h"
#include "workflow/merge.h"
#include "zarr/ngff.h"

using namespace imx;
using imx::test::error_of;
namespace fs = std::filesystem;

namespace {

// A configured source: `wells` wells in row B from column 1, `sites` sites, the named channels,
// `tpoints` time-points, 32x16 u16 planes, one file per plane.
ImageSet make_set(const std::string& plate, std::vector<std::string> channels, int wells = 2, int sites = 2,
                  int tpoints = 1) {
    ImageSet s;
    s.format = "cellvoyager";
    s.plates.push_back({plate, 8, 12});
    for (auto& c : channels) s.channels.push_back({c, std::nullopt, std::nullopt});
    for (int w = 0; w < wells; ++w)
        for (int site = 0; site < sites; ++site)
            for (int t = 0; t < tpoints; ++t)
                for (int c = 0; c < int(channels.size()); ++c) {
                    PlaneRecord p;
                    p.plate = plate;
                    p.row = 1;
                    p.col = w;
                    p.site = site;
                    p.channel = c;
                    p.tpoint = t;
                    p.file = "img_w" + std::to_string(w) + "_s" + std::to_string(site) + "_t" + std::to_string(t) +
                             "_c" + std::to_string(c) + ".tif";
                    s.planes.push_back(p);
                }
    s.width = 32;
    s.height = 16;
    s.dtype = DType::u16;
    s.bits_per_sample = 12;
    return s;
}

const PlaneRecord* find_plane(const ImageSet& s, const std::string& file) {
    for (auto& p : s.planes)
        if (p.file == file) return &p;
    return nullptr;
}

using imx::test::fresh_dir;

}  // namespace

TEST(Merge, CommonRootIsTheDeepestSharedFolder) {
    EXPECT_EQ(common_root({"/data/run1/plateA", "/data/run1/plateB"}), fs::path("/data/run1"));
    EXPECT_EQ(common_root({"/data/run1/plateA", "/data/run2"}), fs::path("/data"));
    EXPECT_EQ(common_root({"/data/a", "/data/a/b"}), fs::path("/data/a"));  // one inside the other
    EXPECT_EQ(common_root({"/x", "/y"}), fs::path("/"));
    // Component-wise, not character-wise: /data/plate1 and /data/plate10 share /data only.
    EXPECT_EQ(common_root({"/data/plate1", "/data/plate10"}), fs::path("/data"));
}

TEST(Merge, ModeNames) {
    EXPECT_EQ(parse_merge_mode(""), MergeMode::plates);
    EXPECT_EQ(parse_merge_mode("time"), MergeMode::time);
    EXPECT_EQ(parse_merge_mode("multiplexing"), MergeMode::multiplexing);
    EXPECT_NE(error_of([] { parse_merge_mode("cycles"); }).find("--mode must be"), std::string::npos);
}

TEST(Merge, DifferentPlatesBecomeSeveralPlatesWithPrefixedFiles) {
    std::vector<SourceSet> in;
    in.push_back({"run1", "/d/run1", make_set("P1", {"DAPI", "GFP"})});
    in.push_back({"run2", "/d/run2", make_set("P2", {"DAPI", "GFP"}, 3)});
    CycleLayout cycles;
    ImageSet out = merge_image_sets(std::move(in), MergeMode::plates, &cycles);
    ASSERT_EQ(out.plates.size(), 2u);
    EXPECT_EQ(out.plates[0].name, "P1");
    EXPECT_EQ(out.plates[1].name, "P2");
    EXPECT_EQ(out.channels.size(), 2u);
    EXPECT_EQ(out.planes.size(), size_t(2 * 2 * 2 + 3 * 2 * 2));
    const PlaneRecord* p = find_plane(out, "run2/img_w2_s1_t0_c1.tif");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->plate, "P2");
    EXPECT_EQ(p->col, 2);
    EXPECT_EQ(p->site, 1);
    EXPECT_EQ(p->channel, 1);
    EXPECT_EQ(find_plane(out, "img_w0_s0_t0_c0.tif"), nullptr);  // every path carries its prefix
    EXPECT_EQ(cycles.channels_per_cycle, 0);
    EXPECT_EQ(out.width, 32u);
    EXPECT_EQ(out.bits_per_sample, 12);
}

TEST(Merge, SamePlateTwiceNeedsAMode) {
    std::vector<SourceSet> in;
    in.push_back({"a", "/d/a", make_set("P", {"DAPI"})});
    in.push_back({"b", "/d/b", make_set("P", {"DAPI"})});
    std::string e = error_of([&] { merge_image_sets(in, MergeMode::plates, nullptr); });
    EXPECT_NE(e.find("/d/b"), std::string::npos) << e;
    EXPECT_NE(e.find("plate 'P'"), std::string::npos) << e;
    EXPECT_NE(e.find("--mode time"), std::string::npos) << e;
}

TEST(Merge, DifferentChannelListsAreRefusedOutsideMultiplexing) {
    std::vector<SourceSet> in;
    in.push_back({"a", "/d/a", make_set("P1", {"DAPI", "GFP"})});
    in.push_back({"b", "/d/b", make_set("P2", {"DAPI", "RFP"})});
    std::string e = error_of([&] { merge_image_sets(in, MergeMode::plates, nullptr); });
    EXPECT_NE(e.find("/d/b"), std::string::npos) << e;
    EXPECT_NE(e.find("DAPI, RFP"), std::string::npos) << e;
    EXPECT_NE(e.find("one channel list"), std::string::npos) << e;
    EXPECT_NE(error_of([&] { merge_image_sets(in, MergeMode::time, nullptr); }).find("one channel list"),
              std::string::npos);
}

TEST(Merge, PlaneSizeOrPixelTypeMismatchNamesTheSource) {
    std::vector<SourceSet> in;
    in.push_back({"a", "/d/a", make_set("P", {"DAPI"})});
    in.push_back({"b", "/d/b", make_set("P", {"DAPI"})});
    in[1].set.width = 64;
    std::string e = error_of([&] { merge_image_sets(in, MergeMode::multiplexing, nullptr); });
    EXPECT_NE(e.find("/d/b"), std::string::npos) << e;
    EXPECT_NE(e.find("64x16"), std::string::npos) << e;
    in[1].set.width = 32;
    in[1].set.dtype = DType::u8;
    e = error_of([&] { merge_image_sets(in, MergeMode::time, nullptr); });
    EXPECT_NE(e.find("uint8"), std::string::npos) << e;
}

TEST(Merge, TimeModeConcatenatesAlongT) {
    std::vector<SourceSet> in;
    in.push_back({"t1", "/d/t1", make_set("P", {"DAPI", "GFP"}, 2, 1, 3)});
    in.push_back({"t2", "/d/t2", make_set("P", {"DAPI", "GFP"}, 2, 1, 2)});
    in.push_back({"t3", "/d/t3", make_set("P", {"DAPI", "GFP"}, 2, 1, 1)});
    ImageSet out = merge_image_sets(std::move(in), MergeMode::time, nullptr);
    ASSERT_EQ(out.plates.size(), 1u);
    EXPECT_EQ(out.channels.size(), 2u);
    EXPECT_EQ(out.planes.size(), size_t(2 * (3 + 2 + 1) * 2));
    EXPECT_EQ(find_plane(out, "t1/img_w1_s0_t2_c1.tif")->tpoint, 2);
    EXPECT_EQ(find_plane(out, "t2/img_w1_s0_t0_c1.tif")->tpoint, 3);  // after t1's 3 time-points
    EXPECT_EQ(find_plane(out, "t2/img_w0_s0_t1_c0.tif")->tpoint, 4);
    EXPECT_EQ(find_plane(out, "t3/img_w0_s0_t0_c0.tif")->tpoint, 5);
    EXPECT_EQ(find_plane(out, "t3/img_w0_s0_t0_c0.tif")->channel, 0);
    EXPECT_TRUE(out.warnings.empty());
}

TEST(Merge, MultiplexingRenamesChannelsAndGivesEachCycleItsFieldImages) {
    std::vector<SourceSet> in;
    in.push_back({"cycle1", "/d/cycle1", make_set("P", {"DAPI", "GFP"}, 2, 3)});
    in.push_back({"cycle2", "/d/cycle2", make_set("P", {"DAPI", "CD45"}, 2, 2)});
    CycleLayout cycles;
    ImageSet out = merge_image_sets(std::move(in), MergeMode::multiplexing, &cycles);
    ASSERT_EQ(out.channels.size(), 4u);
    EXPECT_EQ(out.channels[0].name, "cycle1_DAPI");
    EXPECT_EQ(out.channels[1].name, "cycle1_GFP");
    EXPECT_EQ(out.channels[2].name, "cycle2_DAPI");
    EXPECT_EQ(out.channels[3].name, "cycle2_CD45");
    EXPECT_EQ(cycles.channels_per_cycle, 2);
    EXPECT_EQ(cycles.sites_per_cycle, 3);  // the largest site count of any cycle
    EXPECT_EQ(cycles.names, (std::vector<std::string>{"cycle1", "cycle2"}));
    const PlaneRecord* p = find_plane(out, "cycle2/img_w1_s1_t0_c1.tif");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->site, 3 + 1);
    EXPECT_EQ(p->channel, 2 + 1);
    EXPECT_EQ(p->tpoint, 0);
    p = find_plane(out, "cycle1/img_w1_s2_t0_c0.tif");
    EXPECT_EQ(p->site, 2);
    EXPECT_EQ(p->channel, 0);
}

TEST(Merge, MultiplexingRefusesDifferentChannelCountsAndWarnsAboutMissingWells) {
    std::vector<SourceSet> in;
    in.push_back({"c1", "/d/c1", make_set("P", {"DAPI", "GFP"})});
    in.push_back({"c2", "/d/c2", make_set("P", {"DAPI"})});
    std::string e = error_of([&] { merge_image_sets(in, MergeMode::multiplexing, nullptr); });
    EXPECT_NE(e.find("/d/c2"), std::string::npos) << e;
    EXPECT_NE(e.find("same number of channels"), std::string::npos) << e;

    in[1].set = make_set("P", {"DAPI", "CD3"}, 1);  // cycle 2 lacks well B02
    ImageSet out = merge_image_sets(in, MergeMode::multiplexing, nullptr);
    ASSERT_EQ(out.warnings.size(), 1u);
    EXPECT_NE(out.warnings[0].find("/d/c2"), std::string::npos) << out.warnings[0];
    EXPECT_NE(out.warnings[0].find("B02"), std::string::npos) << out.warnings[0];
}

TEST(Merge, OneSourceAtTheRootIsUnchanged) {
    std::vector<SourceSet> in;
    in.push_back({"", "/d", make_set("P", {"DAPI"})});
    ImageSet out = merge_image_sets(std::move(in), MergeMode::multiplexing, nullptr);
    EXPECT_EQ(out.channels[0].name, "DAPI");
    EXPECT_NE(find_plane(out, "img_w0_s0_t0_c0.tif"), nullptr);
}

// The NGFF side of multiplexing: one acquisition per cycle, well images pointing at their cycle,
// each field image holding only its cycle's channels.
TEST(NgffPlate, MultiplexingCyclesAreAcquisitionsWithTheirOwnFieldImages) {
    fs::path root = fresh_dir("ngff_cycles");
    auto store = open_store(root.string());
    PlateLayout L;
    L.name = "P";
    L.path = "P.zarr";
    L.rows = 8;
    L.cols = 12;
    L.wells = {{1, 1, 4}};  // 2 cycles x 2 sites
    L.channels = {{"cycle1_DAPI", "0000FF", 0, 0}, {"cycle1_GFP", "00FF00", 0, 0},
                  {"cycle2_DAPI", "0000FF", 0, 0}, {"cycle2_CD45", "00FF00", 0, 0}};
    L.width = 32;
    L.height = 16;
    L.codec = parse_codec("none");
    L.cycle_channels = 2;
    L.cycle_sites = 2;
    L.cycle_names = {"cycle1/scan", "cycle2/scan"};
    NgffPlate plate(*store, L);
    plate.write_metadata();

    auto attrs = nlohmann::json::parse(store->get("P.zarr/.zattrs").value());
    ASSERT_EQ(attrs["plate"]["acquisitions"].size(), 2u);
    EXPECT_EQ(attrs["plate"]["acquisitions"][1]["id"], 1);
    EXPECT_EQ(attrs["plate"]["acquisitions"][1]["name"], "cycle2/scan");
    auto well = nlohmann::json::parse(store->get("P.zarr/B/02/.zattrs").value());
    auto& images = well["well"]["images"];
    ASSERT_EQ(images.size(), 4u);
    EXPECT_EQ(images[1]["acquisition"], 0);
    EXPECT_EQ(images[2]["acquisition"], 1);
    EXPECT_EQ(images[3]["path"], "3");
    EXPECT_EQ(images[3]["acquisition"], 1);
    auto arr = nlohmann::json::parse(store->get("P.zarr/B/02/3/0/.zarray").value());
    EXPECT_EQ(arr["shape"], nlohmann::json({1, 2, 1, 16, 32}));  // two channels per image, not four
    auto img = nlohmann::json::parse(store->get("P.zarr/B/02/3/.zattrs").value());
    ASSERT_EQ(img["omero"]["channels"].size(), 2u);
    EXPECT_EQ(img["omero"]["channels"][1]["label"], "cycle2_CD45");
    img = nlohmann::json::parse(store->get("P.zarr/B/02/0/.zattrs").value());
    EXPECT_EQ(img["omero"]["channels"][0]["label"], "cycle1_DAPI");

    // Experiment channel 3 (cycle 2's second) of field image 3 is that image's channel 1.
    Plane p;
    p.allocate(DType::u16, 32, 16);
    for (size_t i = 0; i < p.pixel_count(); ++i) p.as<uint16_t>()[i] = uint16_t(i * 3);
    plate.write_plane(1, 1, 3, 0, 3, 0, p);
    EXPECT_TRUE(store->exists("P.zarr/B/02/3/0/0/1/0/0/0"));
    Plane back = plate.read_plane(1, 1, 3, 0, 3, 0);
    EXPECT_EQ(pixel_checksum(back.data.data(), back.byte_size()), pixel_checksum(p.data.data(), p.byte_size()));
    // A channel of the other cycle is refused rather than aliased onto this image's channels.
    std::string e = error_of([&] { plate.write_plane(1, 1, 3, 0, 1, 0, p); });
    EXPECT_NE(e.find("belongs to cycle 2"), std::string::npos) << e;
    EXPECT_THROW(plate.read_plane(1, 1, 0, 0, 2, 0), Error);
    // The layout round-trips through JSON (run jobs and `get` read it from there).
    PlateLayout again = NgffPlate::read_layout(*store, "P.zarr");
    EXPECT_EQ(again.cycle_channels, 2);
    EXPECT_EQ(again.cycle_sites, 2);
    EXPECT_EQ(again.cycle_names, L.cycle_names);
    fs::remove_all(root);
}

TEST(NgffPlate, MultiplexingWithFieldShards) {
    fs::path root = fresh_dir("ngff_cycles_shard");
    auto store = open_store(root.string());
    PlateLayout L;
    L.name = "P";
    L.path = "P.zarr";
    L.wells = {{0, 0, 2}};
    L.channels = {{"cycle1_A", "0000FF", 0, 0}, {"cycle1_B", "00FF00", 0, 0},
                  {"cycle2_A", "0000FF", 0, 0}, {"cycle2_B", "00FF00", 0, 0}};
    L.width = 16;
    L.height = 16;
    L.codec = parse_codec("none");
    L.ngff = "0.5";
    L.shard = ShardMode::field;
    L.cycle_channels = 2;
    L.cycle_sites = 1;
    L.cycle_names = {"c1", "c2"};
    NgffPlate plate(*store, L);
    plate.write_metadata();
    EXPECT_EQ(plate.shard_extent()[1], 2);
    std::map<std::array<int, 3>, EncodedPlane> planes;
    std::vector<Plane> src(2);
    for (int c = 0; c < 2; ++c) {
        src[size_t(c)].allocate(DType::u16, 16, 16);
        for (size_t i = 0; i < 256; ++i) src[size_t(c)].as<uint16_t>()[i] = uint16_t(1000 * (c + 1) + i);
        planes[{0, 2 + c, 0}] = plate.encode_plane(src[size_t(c)]);  // experiment channels 2 and 3
    }
    auto origin = plate.shard_origin(0, 3, 0);
    EXPECT_EQ(origin[1], 2);
    plate.write_shard(0, 0, 1, origin, planes);
    EXPECT_TRUE(store->exists("P.zarr/A/01/1/0/c/0/0/0/0/0"));
    for (int c = 0; c < 2; ++c) {
        Plane back = plate.read_plane(0, 0, 1, 0, 2 + c, 0);
        EXPECT_EQ(back.as<uint16_t>()[5], uint16_t(1000 * (c + 1) + 5));
    }
    fs::remove_all(root);
}
