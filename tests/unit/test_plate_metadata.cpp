// What a plate carries besides its pixels: a light root (statistics in a file of their own) and
// what the layout recorded for later steps.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "storage/store.h"
#include "zarr/ngff.h"
#include "test_util.h"

using namespace imx;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

PlateLayout small_layout(const std::string& ngff) {
    PlateLayout L;
    L.name = "meta plate";
    L.path = "meta.zarr";
    L.rows = 16;
    L.cols = 24;
    L.wells = {{0, 0, 2}, {15, 23, 1}};
    L.channels = {{"DAPI", "0000FF", 0, 0}, {"GFP", "00FF00", 0, 0}};
    L.width = 16;
    L.height = 8;
    L.codec = parse_codec("none");
    L.ngff = ngff;
    return L;
}

json root_attrs(const Store& store, const PlateLayout& L) {
    if (L.ngff == "0.5") return json::parse(store.get(L.path + "/zarr.json").value())["attributes"];
    return json::parse(store.get(L.path + "/.zattrs").value());
}

}  // namespace

// collect's statistics and histograms go to imextract_channel_stats.json, not the root attributes;
// the omero windows stay on the images, and read_layout finds the statistics again.
TEST(PlateMetadata, ChannelStatisticsLiveInTheirOwnFile) {
    for (const std::string ngff : {"0.4", "0.5"}) {
        SCOPED_TRACE(ngff);
        fs::path root = test::fresh_dir("plate_stats");
        auto store = open_store(root.string());
        PlateLayout L = small_layout(ngff);
        NgffPlate(*store, L).write_metadata();
        EXPECT_FALSE(store->exists(L.path + "/" + kChannelStatsFile));  // nothing before collect
        json histogram = {{"bin_width", 16}, {"counts", json::array({3, 0, 5})}};
        L.channel_stats = json::array({{{"channel", 1}, {"label", "GFP"}, {"min", 2}, {"max", 40},
                                        {"p0.1", 3}, {"p99.9", 37}, {"histogram", histogram}}});
        L.channels[1].window_start = 3;
        L.channels[1].window_end = 37;
        NgffPlate(*store, L).write_rendering();

        json attrs = root_attrs(*store, L);
        EXPECT_FALSE(attrs["imextract"].contains("channel_stats"));
        EXPECT_EQ(attrs.dump().find("counts"), std::string::npos);
        json stats = json::parse(store->get(L.path + "/" + kChannelStatsFile).value());
        EXPECT_EQ(stats["plate"], "meta plate");
        ASSERT_EQ(stats["channels"].size(), 1u);
        EXPECT_EQ(stats["channels"][0]["histogram"], histogram);

        json image = json::parse(store->get(L.path + (ngff == "0.5" ? "/P/24/0/zarr.json" : "/P/24/0/.zattrs")).value());
        json& omero = ngff == "0.5" ? image["attributes"]["ome"]["omero"] : image["omero"];
        EXPECT_EQ(omero["channels"][1]["window"], json({{"min", 0}, {"max", 65535}, {"start", 3}, {"end", 37}}));

        PlateLayout back = NgffPlate::read_layout(*store, L.path);
        EXPECT_EQ(back.channel_stats, L.channel_stats);
        EXPECT_EQ(back.channels[1].window_end, 37);
        fs::remove_all(root);
    }
}

// The layout's wells are [row, col, sites] triples; plates written with the older objects still read.
TEST(PlateMetadata, LayoutWellsReadInBothForms) {
    PlateLayout L = small_layout("0.4");
    json j = L.to_json();
    EXPECT_EQ(j["wells"], json::parse("[[0,0,2],[15,23,1]]"));
    j["wells"] = json::parse(R"([{"row":0,"col":0,"sites":2},{"row":15,"col":23,"sites":1}])");
    j["channel_stats"] = json::array({{{"channel", 0}}});
    PlateLayout old = PlateLayout::from_json(j);
    ASSERT_EQ(old.wells.size(), 2u);
    EXPECT_EQ(old.wells[1].row, 15);
    EXPECT_EQ(old.wells[1].col, 23);
    EXPECT_EQ(old.wells[1].sites, 1);
    EXPECT_EQ(old.channel_stats[0]["channel"], 0);
}

// A field with a stage position gets [scale, translation] on every level (the level's first pixel
// centre); a field without one, or a plate without a pixel size, gets only the scale.
TEST(PlateMetadata, StagePositionsBecomeTranslations) {
    for (const std::string ngff : {"0.4", "0.5"}) {
        SCOPED_TRACE(ngff);
        fs::path root = test::fresh_dir("plate_positions");
        auto store = open_store(root.string());
        PlateLayout L = small_layout(ngff);
        L.levels = 2;
        L.pixel_size_x = 0.5;
        L.pixel_size_y = 0.25;
        L.stage_positions[{0, 0, 0}] = {100.0, -20.0};
        L.stage_positions[{0, 0, 1}] = {300.0, -20.0};
        NgffPlate(*store, L).write_metadata();
        auto datasets = [&](const std::string& image) {
            json attrs = json::parse(store->get(L.path + "/" + image + (ngff == "0.5" ? "/zarr.json" : "/.zattrs")).value());
            return (ngff == "0.5" ? attrs["attributes"]["ome"] : attrs)["multiscales"][0]["datasets"];
        };
        json first = datasets("A/01/0"), second = datasets("A/01/1"), other = datasets("P/24/0");
        ASSERT_EQ(first.size(), 2u);
        EXPECT_EQ(first[0]["coordinateTransformations"][1],
                  json({{"type", "translation"}, {"translation", {0.0, 0.0, 0.0, -20.0, 100.0}}}));
        // Level 1: half a level-0 pixel further in y (0.25 um) and x (0.5 um).
        EXPECT_EQ(first[1]["coordinateTransformations"][1]["translation"], json({0.0, 0.0, 0.0, -19.875, 100.25}));
        EXPECT_EQ(second[0]["coordinateTransformations"][1]["translation"][4], 300.0);
        EXPECT_EQ(other[0]["coordinateTransformations"].size(), 1u);  // no position, no translation
        EXPECT_FALSE(L.to_json().contains("stage_positions"));        // the root stays light

        L.pixel_size_x.reset();
        L.pixel_size_y.reset();
        NgffPlate(*store, L).write_metadata();
        EXPECT_EQ(datasets("A/01/0")[0]["coordinateTransformations"].size(), 1u);  // no unit to place it in
        fs::remove_all(root);
    }
}
