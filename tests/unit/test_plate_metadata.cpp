// What a plate carries besides its pixels: a light root (statistics in a file of their own) and
// what the layout recorded for later steps.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "storage/store.h"
#include "zarr/ngff.h"
#include "zarr/ome_xml.h"
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

// METADATA.ome.xml read back with pugixml: the plate, its wells and well samples (positions where
// known, each pointing at its image), images with pixel type, sizes, pixel sizes and channels.
TEST(PlateMetadata, OmeXmlDescribesThePlate) {
    PlateLayout L = small_layout("0.4");
    L.name = "P<1> & \"2\"";  // escaped, not broken XML
    L.zplanes = 3;
    L.tpoints = 2;
    L.pixel_size_x = L.pixel_size_y = 0.65;
    L.pixel_size_z = 2;
    L.stage_positions[{15, 23, 0}] = {-1.5, 2500.0};
    OmeFacts facts;
    facts.channels = {{405.0, 461.0}, {}};
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(plate_ome_xml(L, facts).c_str()));
    pugi::xml_node ome = doc.child("OME");
    EXPECT_STREQ(ome.attribute("xmlns").value(), "http://www.openmicroscopy.org/Schemas/OME/2016-06");
    pugi::xml_node plate = ome.child("Plate");
    EXPECT_EQ(std::string(plate.attribute("Name").value()), L.name);
    EXPECT_EQ(plate.attribute("Rows").as_int(), 16);
    EXPECT_EQ(plate.attribute("Columns").as_int(), 24);
    EXPECT_EQ(std::string(plate.next_sibling().name()), "Image");  // the schema's order: Plate, then Images
    std::vector<std::string> refs;
    int wells = 0;
    for (pugi::xml_node well : plate.children("Well")) {
        ++wells;
        for (pugi::xml_node ws : well.children("WellSample")) refs.push_back(ws.child("ImageRef").attribute("ID").value());
    }
    EXPECT_EQ(wells, 2);
    ASSERT_EQ(refs, (std::vector<std::string>{"Image:0", "Image:1", "Image:2"}));  // A01 fields 0, 1; P24 field 0
    pugi::xml_node p24 = plate.find_child_by_attribute("Well", "Row", "15");
    EXPECT_EQ(p24.attribute("Column").as_int(), 23);
    EXPECT_DOUBLE_EQ(p24.child("WellSample").attribute("PositionX").as_double(), -1.5);
    EXPECT_DOUBLE_EQ(p24.child("WellSample").attribute("PositionY").as_double(), 2500.0);
    EXPECT_STREQ(p24.child("WellSample").attribute("PositionXUnit").value(), "µm");
    EXPECT_FALSE(plate.child("Well").child("WellSample").attribute("PositionX"));  // A01: no position recorded

    pugi::xml_node image = ome.find_child_by_attribute("Image", "ID", "Image:2");
    ASSERT_TRUE(image);
    EXPECT_STREQ(image.attribute("Name").value(), "P24 field 0");
    pugi::xml_node px = image.child("Pixels");
    EXPECT_STREQ(px.attribute("Type").value(), "uint16");
    EXPECT_STREQ(px.attribute("DimensionOrder").value(), "XYZCT");
    EXPECT_EQ(px.attribute("SizeX").as_int(), 16);
    EXPECT_EQ(px.attribute("SizeY").as_int(), 8);
    EXPECT_EQ(px.attribute("SizeZ").as_int(), 3);
    EXPECT_EQ(px.attribute("SizeC").as_int(), 2);
    EXPECT_EQ(px.attribute("SizeT").as_int(), 2);
    EXPECT_DOUBLE_EQ(px.attribute("PhysicalSizeX").as_double(), 0.65);
    EXPECT_DOUBLE_EQ(px.attribute("PhysicalSizeZ").as_double(), 2);
    pugi::xml_node dapi = px.child("Channel");
    EXPECT_STREQ(dapi.attribute("Name").value(), "DAPI");
    EXPECT_EQ(dapi.attribute("Color").as_int(), 0x0000FFFF);  // RGBA of 0000FF
    EXPECT_DOUBLE_EQ(dapi.attribute("EmissionWavelength").as_double(), 461);
    EXPECT_DOUBLE_EQ(dapi.attribute("ExcitationWavelength").as_double(), 405);
    pugi::xml_node gfp = dapi.next_sibling("Channel");
    EXPECT_EQ(gfp.attribute("Color").as_int(), int32_t(0x00FF00FF));
    EXPECT_FALSE(gfp.attribute("EmissionWavelength"));  // nothing known, nothing written
    EXPECT_TRUE(px.child("MetadataOnly"));
    EXPECT_FALSE(px.child("Plane"));                    // no plane facts given, none written
    EXPECT_FALSE(ome.child("Instrument"));              // no objective, no instrument
    EXPECT_FALSE(image.child("ObjectiveSettings"));
}

// The children of `n` by name, in document order.
std::vector<std::string> child_names(const pugi::xml_node& n) {
    std::vector<std::string> names;
    for (pugi::xml_node c : n.children()) names.push_back(c.name());
    return names;
}

// Planes (times relative to the image's AcquisitionDate, exposure, stage positions), the
// Instrument with its Objective, and every element in the order the OME 2016-06 schema demands.
TEST(PlateMetadata, OmeXmlPlanesAndInstrument) {
    PlateLayout L = small_layout("0.4");
    L.zplanes = 2;
    L.wells = {{0, 0, 1}, {15, 23, 1}};
    L.stage_positions[{0, 0, 0}] = {-645.814, 645.814};
    L.acquisition_starts[{0, 0, 0}] = "2022-12-19T10:19:26.58+01:00";
    OmeFacts facts;
    facts.objective = ObjectiveInfo{"20x Plan", 20.0, 0.75, "Air"};
    // Given out of order: written z fastest, then channel, then time.
    facts.planes[{0, 0, 0}] = {{1, 0, 1, "2022-12-19T10:19:27.157+01:00", 0.25, 21.5},
                               {1, 0, 0, "2022-12-19T10:19:26.58+01:00", 0.25, 20.0},
                               {0, 0, 0, "2022-12-19T09:19:28.08Z", 0.006, std::nullopt},
                               {0, 0, 1, "", std::nullopt, std::nullopt}};
    facts.planes[{15, 23, 0}] = {{0, 0, 0, "2022-12-19T10:20:00+01:00", std::nullopt, 3.0}};
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(plate_ome_xml(L, facts).c_str()));
    pugi::xml_node ome = doc.child("OME");
    EXPECT_EQ(child_names(ome), (std::vector<std::string>{"Plate", "Instrument", "Image", "Image"}));
    pugi::xml_node objective = ome.child("Instrument").child("Objective");
    EXPECT_STREQ(ome.child("Instrument").attribute("ID").value(), "Instrument:0");
    EXPECT_STREQ(objective.attribute("ID").value(), "Objective:0:0");
    EXPECT_STREQ(objective.attribute("Model").value(), "20x Plan");
    EXPECT_DOUBLE_EQ(objective.attribute("NominalMagnification").as_double(), 20);
    EXPECT_DOUBLE_EQ(objective.attribute("LensNA").as_double(), 0.75);
    EXPECT_STREQ(objective.attribute("Immersion").value(), "Air");

    pugi::xml_node image = ome.child("Image");
    EXPECT_EQ(child_names(image),
              (std::vector<std::string>{"AcquisitionDate", "InstrumentRef", "ObjectiveSettings", "Pixels"}));
    EXPECT_STREQ(image.child("InstrumentRef").attribute("ID").value(), "Instrument:0");
    EXPECT_STREQ(image.child("ObjectiveSettings").attribute("ID").value(), "Objective:0:0");
    pugi::xml_node px = image.child("Pixels");
    EXPECT_EQ(child_names(px), (std::vector<std::string>{"Channel", "Channel", "MetadataOnly", "Plane", "Plane",
                                                         "Plane", "Plane"}));
    std::vector<std::array<int, 3>> order;  // (T, C, Z)
    for (pugi::xml_node p : px.children("Plane"))
        order.push_back({p.attribute("TheT").as_int(), p.attribute("TheC").as_int(), p.attribute("TheZ").as_int()});
    EXPECT_EQ(order, (std::vector<std::array<int, 3>>{{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1}}));
    pugi::xml_node first = px.child("Plane");
    // 09:19:28.08 UTC is 1.5 s after 10:19:26.58+01:00: zones are applied.
    EXPECT_STREQ(first.attribute("DeltaT").value(), "1.5");
    EXPECT_STREQ(first.attribute("DeltaTUnit").value(), "s");
    EXPECT_STREQ(first.attribute("ExposureTime").value(), "0.006");
    EXPECT_STREQ(first.attribute("ExposureTimeUnit").value(), "s");
    EXPECT_STREQ(first.attribute("PositionX").value(), "-645.814");
    EXPECT_STREQ(first.attribute("PositionY").value(), "645.814");
    EXPECT_STREQ(first.attribute("PositionYUnit").value(), "µm");
    EXPECT_FALSE(first.attribute("PositionZ"));  // not known for this plane
    pugi::xml_node second = first.next_sibling("Plane");
    EXPECT_FALSE(second.attribute("DeltaT"));    // no time, no DeltaT
    EXPECT_FALSE(second.attribute("ExposureTime"));
    pugi::xml_node last = second.next_sibling("Plane").next_sibling("Plane");
    EXPECT_STREQ(last.attribute("DeltaT").value(), "0.577");  // 27.157 - 26.58, not 0.57699999999999996
    EXPECT_STREQ(last.attribute("ExposureTime").value(), "0.25");
    EXPECT_STREQ(last.attribute("PositionZ").value(), "21.5");
    EXPECT_STREQ(last.attribute("PositionZUnit").value(), "µm");

    // P24: no AcquisitionDate (none in the layout), so no DeltaT; no stage position, so no X/Y.
    pugi::xml_node other = image.next_sibling("Image");
    EXPECT_EQ(child_names(other), (std::vector<std::string>{"InstrumentRef", "ObjectiveSettings", "Pixels"}));
    pugi::xml_node plane = other.child("Pixels").child("Plane");
    EXPECT_FALSE(plane.attribute("DeltaT"));
    EXPECT_FALSE(plane.attribute("PositionX"));
    EXPECT_STREQ(plane.attribute("PositionZ").value(), "3");

    // An immersion that is not one of OME's values is left out, not written as is.
    facts.objective->immersion = "W";
    ASSERT_TRUE(doc.load_string(plate_ome_xml(L, facts).c_str()));
    EXPECT_FALSE(doc.child("OME").child("Instrument").child("Objective").attribute("Immersion"));
}

// Multiplexing: each cycle's field images list only their cycle's channels.
TEST(PlateMetadata, OmeXmlImagesOfCyclesHoldTheirChannels) {
    PlateLayout L = small_layout("0.5");
    L.wells = {{0, 0, 2}};
    L.channels.push_back({"DAPI 2", "0000FF", 0, 0});
    L.channels.push_back({"RFP 2", "FF0000", 0, 0});
    L.cycle_channels = 2;
    L.cycle_sites = 1;
    L.cycle_names = {"c1", "c2"};
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(plate_ome_xml(L, {}).c_str()));
    pugi::xml_node second = doc.child("OME").find_child_by_attribute("Image", "ID", "Image:1").child("Pixels");
    EXPECT_EQ(second.attribute("SizeC").as_int(), 2);
    EXPECT_STREQ(second.child("Channel").attribute("Name").value(), "DAPI 2");
    EXPECT_STREQ(second.child("Channel").next_sibling("Channel").attribute("Name").value(), "RFP 2");
}
