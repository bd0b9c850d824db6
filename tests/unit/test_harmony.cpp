#include <gtest/gtest.h>

#include <map>
#include <set>

#include "layout_fixtures.h"
#include "test_util.h"
#include "storage/source_files.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {

const LayoutReader& harmony() { return *find_layout_reader("harmony"); }

struct HImage {
    int row, col, field, plane, t, ch;
    std::string url;
    double x_m = 0, y_m = 0, z_m = 0;
    bool channel_props = true;  // V5: the image carries its channel's name and resolution
    std::string state = "Ok";
};

std::string channel_name(int ch) { return ch == 1 ? "Alexa 488" : ch == 2 ? "HOECHST 33342" : "Ch" + std::to_string(ch); }

std::string image_xml(const HImage& im) {
    std::string s = "<Image Version=\"1\"><id>x</id><State>" + im.state + "</State><URL>" + im.url + "</URL><Row>" +
                    std::to_string(im.row) + "</Row><Col>" + std::to_string(im.col) + "</Col><FieldID>" +
                    std::to_string(im.field) + "</FieldID><PlaneID>" + std::to_string(im.plane) +
                    "</PlaneID><TimepointID>" + std::to_string(im.t) + "</TimepointID><ChannelID>" +
                    std::to_string(im.ch) + "</ChannelID><FlimID>1</FlimID>";
    if (im.channel_props)
        s += "<ChannelName>" + channel_name(im.ch) +
             "</ChannelName><ImageResolutionX Unit=\"m\">6.5E-07</ImageResolutionX>"
             "<ImageResolutionY Unit=\"m\">6.5E-07</ImageResolutionY><ImageSizeX>7</ImageSizeX><ImageSizeY>5</ImageSizeY>"
             "<MainExcitationWavelength Unit=\"nm\">" + std::to_string(400 + int64_t(im.ch) * 50) +
             "</MainExcitationWavelength><MainEmissionWavelength Unit=\"nm\">" + std::to_string(450 + int64_t(im.ch) * 50) +
             "</MainEmissionWavelength>";
    char pos[256];
    std::snprintf(pos, sizeof pos,
                  "<PositionX Unit=\"m\">%.9g</PositionX><PositionY Unit=\"m\">%.9g</PositionY><PositionZ Unit=\"m\">%.9g</PositionZ>",
                  im.x_m, im.y_m, im.z_m);
    return s + pos + "</Image>\n";
}

std::string index_xml(const std::vector<HImage>& images, const std::string& version = "HarmonyV5",
                      const std::string& maps = "", const std::string& plate_extra = "") {
    std::string s = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<EvaluationInputData xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
                    "Version=\"1\" xmlns=\"http://www.perkinelmer.com/PEHH/" + version + "\">\n"
                    "<Plates><Plate><PlateID>P1</PlateID><Name>Screen 7</Name><PlateRows>8</PlateRows>"
                    "<PlateColumns>12</PlateColumns>" + plate_extra + "</Plate></Plates>\n";
    s += "<Maps>" + maps + "</Maps>\n<Images>\n";
    for (auto& im : images) s += image_xml(im);
    return s + "</Images>\n</EvaluationInputData>\n";
}

std::string url(const HImage& im) {
    char b[96];
    std::snprintf(b, sizeof b, "r%02dc%02df%02dp%02d-ch%dsk%dfk1fl1.tiff", im.row, im.col, im.field, im.plane, im.ch, im.t + 1);
    return b;
}

// Tag of a fixture plane from its coordinates, unique within the fixtures below.
int tag_of(const HImage& im) { return im.row * 64 + im.col * 16 + im.field * 8 + im.plane * 4 + im.t * 2 + im.ch; }

// 2 wells (B03, C05) x FieldID {1, 3} x PlaneID {1, 2} x TimepointID {0, 1} x ChannelID {2, 1}.
std::vector<HImage> plate_images(bool channel_props) {
    std::vector<HImage> v;
    for (auto [r, c] : {std::pair{2, 3}, std::pair{3, 5}})
        for (int f : {1, 3})
            for (int p : {1, 2})
                for (int t : {0, 1})
                    for (int ch : {2, 1}) {
                        HImage im{r, c, f, p, t, ch, "", f * 1e-4, -f * 2e-4, (p - 1) * 2e-6, channel_props};
                        im.url = url(im);
                        v.push_back(im);
                    }
    return v;
}

void write_images(const fs::path& dir, const std::vector<HImage>& images) {
    for (auto& im : images) write_fixture_tiff(dir / im.url, tag_of(im), TiffCompression::lzw);
}

// Checks wells, sites, channels, z, t and the pixels of every plane of plate_images().
void check_plate(const fs::path& source, const ImageSet& s, const std::vector<HImage>& images) {
    ASSERT_EQ(s.planes.size(), images.size());
    ASSERT_EQ(s.channels.size(), 2u);
    EXPECT_EQ(s.channels[0].name, "Alexa 488");  // ChannelID 1 first
    EXPECT_EQ(s.channels[1].name, "HOECHST 33342");
    EXPECT_DOUBLE_EQ(s.channels[0].excitation_nm.value(), 450);
    EXPECT_DOUBLE_EQ(s.channels[1].emission_nm.value(), 550);
    EXPECT_DOUBLE_EQ(s.pixel_size_x.value(), 0.65);
    EXPECT_DOUBLE_EQ(s.pixel_size_y.value(), 0.65);
    EXPECT_DOUBLE_EQ(s.pixel_size_z.value(), 2.0);
    EXPECT_EQ(s.width, 7u);
    ASSERT_EQ(s.plates.size(), 1u);
    EXPECT_EQ(s.plates[0].name, "Screen 7");
    EXPECT_EQ(s.plates[0].rows, 8);
    EXPECT_EQ(s.plates[0].cols, 12);
    std::set<std::string> wells;
    for (size_t i = 0; i < images.size(); ++i) {
        const HImage& im = images[i];
        const PlaneRecord& p = s.planes[i];
        EXPECT_EQ(p.plate, "Screen 7");
        EXPECT_EQ(p.row, im.row - 1);
        EXPECT_EQ(p.col, im.col - 1);
        EXPECT_EQ(p.site, im.field == 1 ? 0 : 1);  // FieldID 1, 3 -> sites 0, 1
        EXPECT_EQ(p.zplane, im.plane - 1);
        EXPECT_EQ(p.tpoint, im.t);
        EXPECT_EQ(p.channel, im.ch - 1);
        EXPECT_NEAR(p.stage_x.value(), im.field * 100.0, 1e-9);
        EXPECT_NEAR(p.stage_y.value(), -im.field * 200.0, 1e-9);
        EXPECT_NEAR(p.stage_z.value(), (im.plane - 1) * 2.0, 1e-9);
        wells.insert(well_name(p.row, p.col));
        expect_fixture_pixels(source, p, tag_of(im));
    }
    EXPECT_EQ(wells, (std::set<std::string>{"B03", "C05"}));
}

void expect_refused(const fs::path& d, const std::string& index, const std::string& needle) {
    write_text(d / "Images/Index.idx.xml", index);
    std::string msg = error_of([&] { harmony().configure(d, {}); });
    EXPECT_NE(msg.find(needle), std::string::npos) << "want '" << needle << "', got: " << msg;
    EXPECT_NE(msg.find("Index.idx.xml"), std::string::npos) << msg;
}

}  // namespace

TEST(Harmony, SyntheticV5PlateMapsEveryPlaneAndDecodesItsPixels) {
    fs::path d = layout_dir("harmony_v5");
    auto images = plate_images(true);
    write_text(d / "Images/Index.idx.xml", index_xml(images));
    write_images(d / "Images", images);
    EXPECT_EQ(harmony().detect(d), 90);
    EXPECT_EQ(detect_layout(d).name(), "harmony");
    ImageSet s = harmony().configure(d, {});
    EXPECT_EQ(s.format, "harmony");
    EXPECT_TRUE(s.warnings.empty());
    EXPECT_EQ(s.planes[0].file, "Images/" + images[0].url);
    check_plate(d, s, images);
    fs::remove_all(d);
}

TEST(Harmony, V6IndexWithChannelPropertiesInTheMapsOnly) {
    // Harmony 5+ (schema HarmonyV6) may keep ChannelName, resolution and wavelengths only in
    // Maps/Map/Entry; the Images folder itself is given as the source.
    fs::path d = layout_dir("harmony_v6");
    auto images = plate_images(false);
    std::string maps = "<Map><Entry ChannelID=\"1\"><FlatfieldProfile>{}</FlatfieldProfile></Entry></Map><Map>";
    for (int ch : {1, 2}) {
        HImage probe{1, 1, 1, 1, 0, ch, "x"};
        std::string props = image_xml(probe);
        props = props.substr(props.find("<ChannelName>"));
        props = props.substr(0, props.find("<PositionX"));
        maps += "<Entry ChannelID=\"" + std::to_string(ch) + "\">" + props + "</Entry>";
    }
    maps += "</Map>";
    write_text(d / "Images/Index.xml", index_xml(images, "HarmonyV6", maps));
    write_images(d / "Images", images);
    EXPECT_EQ(harmony().detect(d), 90);
    EXPECT_EQ(harmony().detect(d / "Images"), 90);
    ImageSet s = harmony().configure(d / "Images", {});
    EXPECT_EQ(s.planes[0].file, images[0].url);  // relative to the Images folder given
    check_plate(d / "Images", s, images);
    fs::remove_all(d);
}

TEST(Harmony, IndexRefXmlIsReadToo) {
    fs::path d = layout_dir("harmony_ref");
    std::vector<HImage> images{{1, 1, 1, 1, 0, 1, "a.tiff"}};
    write_text(d / "Images/Index.ref.xml", index_xml(images, "HarmonyV7"));
    write_fixture_tiff(d / "Images/a.tiff", 3);
    EXPECT_EQ(detect_layout(d).name(), "harmony");
    ImageSet s = harmony().configure(d, {});
    ASSERT_EQ(s.planes.size(), 1u);
    expect_fixture_pixels(d, s.planes[0], 3);
    fs::remove_all(d);
}

TEST(Harmony, ImagesNotOkAreSkippedAndMissingFilesStayListed) {
    // Decision: an image whose State is not "Ok" is skipped with a warning; an image listed as Ok
    // whose file is absent stays in the set, so `create` records the file as missing (and warns)
    // instead of silently shrinking the plate.
    fs::path d = layout_dir("harmony_state");
    std::vector<HImage> images{{1, 1, 1, 1, 0, 1, "ok.tiff"}, {1, 1, 2, 1, 0, 1, "gone.tiff"}, {1, 1, 3, 1, 0, 1, "bad.tiff"}};
    images[2].state = "Failed";
    write_text(d / "Images/Index.idx.xml", index_xml(images));
    write_fixture_tiff(d / "Images/ok.tiff", 1);
    ImageSet s = harmony().configure(d, {});
    ASSERT_EQ(s.planes.size(), 2u);
    EXPECT_EQ(s.planes[1].file, "Images/gone.tiff");
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("State is not Ok (first: bad.tiff (State Failed))"), std::string::npos) << s.warnings[0];
    fs::remove_all(d);
}

TEST(Harmony, RefusesHostileAndBrokenIndexes) {
    fs::path d = layout_dir("harmony_hostile");
    auto one = [](std::string u) { return std::vector<HImage>{{1, 1, 1, 1, 0, 1, std::move(u)}}; };
    expect_refused(d, index_xml(one("../../etc/passwd")), "leaves the source folder");
    expect_refused(d, index_xml(one("/etc/passwd")), "absolute");
    expect_refused(d, index_xml(one("http://server/r01c01.tiff")), "remote image");
    expect_refused(d, index_xml(one("a.tiff")).substr(0, 400), "malformed XML");
    // Rows up to ZZ (702), the last that well names can say; one more is refused.
    std::string edge = index_xml(one("a.tiff"));
    edge.replace(edge.find("<Row>1</Row>"), 12, "<Row>702</Row>");
    write_text(d / "Images" / "Index.idx.xml", edge);
    ImageSet at_limit = harmony().configure(d, {});
    ASSERT_EQ(at_limit.planes.size(), 1u);
    EXPECT_EQ(well_name(at_limit.planes[0].row, at_limit.planes[0].col), "ZZ01");
    std::string huge = index_xml(one("a.tiff"));
    huge.replace(huge.find("<Row>1</Row>"), 12, "<Row>703</Row>");
    expect_refused(d, huge, "Image 1 Row value 703 is outside 1..702");
    std::string text_row = index_xml(one("a.tiff"));
    text_row.replace(text_row.find("<Row>1</Row>"), 12, "<Row>A</Row>");
    expect_refused(d, text_row, "Image 1 Row is not a whole number ('A')");
    std::string no_col = index_xml(one("a.tiff"));
    no_col.erase(no_col.find("<Col>1</Col>"), 12);
    expect_refused(d, no_col, "Image 1 has no Col");
    std::string bad_unit = index_xml(one("a.tiff"));
    bad_unit.replace(bad_unit.find("<PositionX Unit=\"m\""), 19, "<PositionX Unit=\"parsec\"");
    expect_refused(d, bad_unit, "unknown unit 'parsec'");
    auto dup = one("a.tiff");
    dup.push_back({1, 1, 1, 1, 0, 1, "b.tiff"});
    expect_refused(d, index_xml(dup), "two images for well A01 FieldID 1");
    expect_refused(d, index_xml({}), "no usable images");
    std::string wrong_root = "<EvaluationInputData/>";
    expect_refused(d, wrong_root, "no Images element");
    fs::remove_all(d);
}

TEST(Harmony, HugeIdsAreRankedNotAllocated) {
    fs::path d = layout_dir("harmony_huge");
    std::vector<HImage> images{{1, 1, 1000000000, 1000000000, 999999999, 1000000000, "a.tiff"}};
    write_text(d / "Images/Index.idx.xml", index_xml(images));
    ImageSet s = harmony().configure(d, {});
    ASSERT_EQ(s.planes.size(), 1u);
    EXPECT_EQ(s.planes[0].site, 0);
    EXPECT_EQ(s.planes[0].zplane, 0);
    EXPECT_EQ(s.planes[0].tpoint, 0);
    EXPECT_EQ(s.planes[0].channel, 0);
    EXPECT_EQ(s.channels[0].name, "Ch1000000000");
    // A declared plate of a million rows is refused before anything is sized from it.
    write_text(d / "Images/Index.idx.xml",
               index_xml(images).replace(index_xml(images).find("<PlateRows>8"), 12, "<PlateRows>1000000"));
    EXPECT_NE(error_of([&] { harmony().configure(d, {}); }).find("PlateRows value 1000000"), std::string::npos);
    fs::remove_all(d);
}

TEST(Harmony, EntityDeclarationsAreNotExpanded) {
    fs::path d = layout_dir("harmony_entities");
    std::string lol = "<!DOCTYPE EvaluationInputData [<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">"
                      "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
                      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">"
                      "<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n";
    std::vector<HImage> images{{1, 1, 1, 1, 0, 1, "a.tiff"}};
    std::string x = index_xml(images);
    x.insert(x.find("<EvaluationInputData"), lol);
    x.replace(x.find("<ChannelName>Alexa 488"), 22, "<ChannelName>&c;&e;");
    write_text(d / "Images/Index.idx.xml", x);
    ImageSet s;
    std::string msg = error_of([&] { s = harmony().configure(d, {}); });
    if (msg == "no exception") {
        ASSERT_EQ(s.channels.size(), 1u);
        EXPECT_LT(s.channels[0].name.size(), 16u) << "entity expanded";
        EXPECT_EQ(s.channels[0].name.find("root:"), std::string::npos);
    } else {
        EXPECT_NE(msg.find("Index.idx.xml"), std::string::npos) << msg;
    }
    fs::remove_all(d);
}

TEST(Harmony, DetectionNeedsAHarmonyRootAndLeavesOtherLayoutsAlone) {
    fs::path d = layout_dir("harmony_detect");
    write_text(d / "Images/Index.xml", "<?xml version=\"1.0\"?><html><body>not Harmony</body></html>");
    EXPECT_EQ(harmony().detect(d), 0);
    // A CellVoyager folder that happens to hold an unrelated Index.xml is still CellVoyager.
    write_text(d / "MeasurementData.mlf", "<bts:MeasurementData xmlns:bts=\"x\"/>");
    EXPECT_EQ(detect_layout(d).name(), "cellvoyager");
    EXPECT_NE(error_of([&] { harmony().configure(d, {}); }).find("no Harmony index"), std::string::npos);
    fs::remove_all(d);
}

// Conformance: the real Harmony V5 export (Operetta CLS) in shared/samples. Expected values were
// read from Images/Index.idx.xml by eye / ElementTree and from the TIFF tags (1080x1080 uint16).
TEST(Harmony, SampleOperettaV5Export) {
    fs::path d = fs::path(IMX_SAMPLES_DIR) / "harmony/operetta-compose_operetta_plate";
    if (!fs::exists(d)) GTEST_SKIP() << "samples not found at " << d;
    EXPECT_EQ(detect_layout(d).name(), "harmony");
    ImageSet s = harmony().configure(d, {});
    ASSERT_EQ(s.planes.size(), 2u);
    EXPECT_TRUE(s.warnings.empty());
    ASSERT_EQ(s.plates.size(), 1u);
    EXPECT_EQ(s.plates[0].name, "Test_Sample_BALL");
    EXPECT_EQ(s.plates[0].rows, 16);
    EXPECT_EQ(s.plates[0].cols, 24);
    ASSERT_EQ(s.channels.size(), 1u);
    EXPECT_EQ(s.channels[0].name, "Fluorescein (FITC)");
    EXPECT_DOUBLE_EQ(s.channels[0].excitation_nm.value(), 475);
    EXPECT_DOUBLE_EQ(s.channels[0].emission_nm.value(), 525);
    EXPECT_NEAR(s.pixel_size_x.value(), 1.1959521619135234, 1e-12);
    EXPECT_EQ(s.width, 1080u);
    EXPECT_EQ(s.height, 1080u);
    for (int i = 0; i < 2; ++i) {
        const PlaneRecord& p = s.planes[size_t(i)];
        EXPECT_EQ(well_name(p.row, p.col), "C03");
        EXPECT_EQ(p.site, i);
        EXPECT_EQ(p.zplane, 0);
        EXPECT_EQ(p.tpoint, 0);
        EXPECT_EQ(p.file, "Images/r03c03f0" + std::to_string(i + 1) + "p01-ch1sk1fk1fl1.tiff");
        EXPECT_NEAR(p.stage_x.value(), i == 0 ? -645.814 : 645.814, 1e-9);
        EXPECT_NEAR(p.stage_y.value(), 645.814, 1e-9);
        EXPECT_NEAR(p.stage_z.value(), 20.0, 1e-9);
        // LZW-compressed PerkinElmer TIFFs decode through the registry at the declared size.
        Plane px;
        read_plane(*source::open(resolve_inside(d, p.file)), {0, 0, 0}, px);
        EXPECT_EQ(px.width, 1080u);
        EXPECT_EQ(px.dtype, DType::u16);
    }
}

// The OME-XML's facts from the sample: each image's ExposureTime (0.006 s) and the objective
// (ObjectiveMagnification 10, ObjectiveNA 0.3), as Index.idx.xml gives them.
TEST(Harmony, SampleExposureAndObjective) {
    fs::path d = fs::path(IMX_SAMPLES_DIR) / "harmony/operetta-compose_operetta_plate";
    if (!fs::exists(d)) GTEST_SKIP() << "samples not found at " << d;
    ImageSet s = harmony().configure(d, {});
    ASSERT_EQ(s.planes.size(), 2u);
    for (const PlaneRecord& p : s.planes) EXPECT_DOUBLE_EQ(p.exposure_s.value(), 0.006);
    EXPECT_EQ(s.planes[0].acquired, "2022-12-19T10:19:26.58+01:00");
    ASSERT_TRUE(s.objective);
    EXPECT_EQ(s.objective->model, "");
    EXPECT_DOUBLE_EQ(s.objective->magnification.value(), 10);
    EXPECT_DOUBLE_EQ(s.objective->lens_na.value(), 0.3);
    EXPECT_EQ(s.objective->immersion, "");
}

// Exposure in its unit (ms here), and malformed exposure or objective values dropped with one
// warning instead of refusing the plate or being written; different objectives give none.
TEST(Harmony, ExposureUnitsAndMalformedValues) {
    fs::path d = layout_dir("harmony_exposure");
    auto images = plate_images(true);
    images.resize(4);
    write_images(d / "Images", images);
    auto with = [&](const std::vector<std::string>& extra) {
        std::string xml = index_xml(images);
        size_t at = 0;
        for (const std::string& e : extra) {
            at = xml.find("</Image>", at);
            xml.insert(at, e);
            at += e.size() + 8;
        }
        write_text(d / "Images/Index.idx.xml", xml);
        return harmony().configure(d, {});
    };
    const std::string objective = "<ObjectiveMagnification Unit=\"\">40</ObjectiveMagnification><ObjectiveNA Unit=\"\">0.95</ObjectiveNA>";
    ImageSet s = with({"<ExposureTime Unit=\"ms\">250</ExposureTime>" + objective,
                       "<ExposureTime Unit=\"s\">0.5</ExposureTime>" + objective,
                       "<ExposureTime Unit=\"s\">0.5</ExposureTime>" + objective,
                       "<ExposureTime Unit=\"s\">0.5</ExposureTime>" + objective});
    EXPECT_DOUBLE_EQ(s.planes[0].exposure_s.value(), 0.25);
    EXPECT_DOUBLE_EQ(s.planes[1].exposure_s.value(), 0.5);
    ASSERT_TRUE(s.objective);
    EXPECT_DOUBLE_EQ(s.objective->magnification.value(), 40);
    EXPECT_DOUBLE_EQ(s.objective->lens_na.value(), 0.95);
    EXPECT_TRUE(s.warnings.empty());

    s = with({"<ExposureTime Unit=\"s\">soon</ExposureTime>" + objective,
              "<ExposureTime Unit=\"fortnights\">1</ExposureTime>" + objective,
              "<ExposureTime Unit=\"s\">-1</ExposureTime>" + objective,
              "<ExposureTime Unit=\"s\">0.5</ExposureTime>" + objective});
    EXPECT_FALSE(s.planes[0].exposure_s);
    EXPECT_FALSE(s.planes[1].exposure_s);
    EXPECT_FALSE(s.planes[2].exposure_s);
    EXPECT_DOUBLE_EQ(s.planes[3].exposure_s.value(), 0.5);
    ASSERT_EQ(s.warnings.size(), 1u);
    EXPECT_NE(s.warnings[0].find("3 malformed"), std::string::npos) << s.warnings[0];
    EXPECT_NE(s.warnings[0].find("ExposureTime 'soon s'"), std::string::npos) << s.warnings[0];

    // A malformed NA leaves that image without one: the images then disagree, so no objective.
    s = with({"<ObjectiveMagnification>40</ObjectiveMagnification><ObjectiveNA>NaN</ObjectiveNA>", objective,
              objective, objective});
    EXPECT_FALSE(s.objective);
    ASSERT_EQ(s.warnings.size(), 2u);
    EXPECT_NE(s.warnings[1].find("different objectives"), std::string::npos) << s.warnings[1];
    s = with({"<ObjectiveNA>7</ObjectiveNA>", "<ObjectiveNA>7</ObjectiveNA>", "<ObjectiveNA>7</ObjectiveNA>",
              "<ObjectiveNA>7</ObjectiveNA>"});  // beyond any lens: dropped everywhere
    EXPECT_FALSE(s.objective);
    EXPECT_NE(s.warnings.at(0).find("4 malformed"), std::string::npos) << s.warnings[0];
    s = with({});
    EXPECT_FALSE(s.objective);  // nothing named, nothing written
    EXPECT_FALSE(s.planes[0].exposure_s);
}
