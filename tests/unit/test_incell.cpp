#include <gtest/gtest.h>

#include <set>

#include "layout_fixtures.h"
#include "test_util.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {

const LayoutReader& incell() { return *find_layout_reader("incell"); }

struct XImage {
    int row, col, field, wave, z, t;  // row/col 1-based, indices 0-based as in the .xdce
    std::string file;
    double x = 0, y = 0, focus = 0;
    bool own_filters = false;
};

const char* kWaveNames[] = {"DAPI", "FITC", "Cy3"};

std::string file_name(const XImage& im) {
    std::string s = std::string(1, char('A' + im.row - 1)) + " - " + std::to_string(im.col) + "(fld " +
                    std::to_string(im.field + 1) + " wv " + kWaveNames[im.wave] + " - " + kWaveNames[im.wave] +
                    " z " + std::to_string(im.z + 1);
    if (im.t) s += " t " + std::to_string(im.t + 1);
    return s + ").tif";
}

// Latin-1 encoded, as the instrument writes it ("\xb5m" is the micro sign).
std::string xdce(const std::vector<XImage>& images, const std::string& protocol_extra = "",
                 const std::string& waves = "") {
    std::string s = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<ImageStack version=\"7.2\">\n"
                    "<Creation date=\"2019-03-14\" time=\"10:11:12\"/>\n<AutoLeadAcquisitionProtocol version=\"5.1\">\n"
                    "<Camera name=\"sCMOS\"><Size width=\"7\" height=\"5\"/><Binning value=\"2 X 2\"/></Camera>\n"
                    "<ObjectiveCalibration magnification=\"20\" numerical_aperture=\"0.45\" objective_name=\"Nikon_20X_Plan\" "
                    "pixel_width=\"0.325\" pixel_height=\"0.35\" refractive_index=\"1\"/>\n";
    s += waves.empty() ? "<Wavelengths number=\"3\">"
                         "<Wavelength index=\"0\" fusion_wave=\"false\" imaging_mode=\"3-D\"><ExcitationFilter name=\"DAPI\" wavelength=\"350\" unit=\"nm\"/>"
                         "<EmissionFilter name=\"DAPI\" wavelength=\"455\" unit=\"nm\"/></Wavelength>"
                         "<Wavelength fusion_wave=\"true\"><ExcitationFilter name=\"Fused\"/><EmissionFilter name=\"Fused\"/></Wavelength>"
                         "<Wavelength index=\"1\" fusion_wave=\"false\" imaging_mode=\"3-D\"><ExcitationFilter name=\"FITC\" wavelength=\"490\"/>"
                         "<EmissionFilter name=\"FITC\" wavelength=\"525\"/></Wavelength></Wavelengths>\n"
                       : waves;
    s += "<PlateMap><Plate rows=\"8\" columns=\"12\" name=\"IN Cell plate 3\"><NamingRows begin=\"A\"/><NamingColumns begin=\"1\"/></Plate></PlateMap>\n" +
         protocol_extra + "</AutoLeadAcquisitionProtocol>\n<Images number=\"" + std::to_string(images.size()) + "\">\n";
    for (auto& im : images) {
        char pos[256];
        std::snprintf(pos, sizeof pos,
                      "<OffsetFromWellCenter x=\"%.6g\" y=\"%.6g\" unit=\"\xb5m\"/><FocusPosition z=\"%.6g\" unit=\"\xb5m\"/>",
                      im.x, im.y, im.focus);
        s += "<Image filename=\"" + im.file + "\" thumbnail=\"thumb.tif\" acquisition_time_ms=\"1234\">"
             "<Identifier wave_index=\"" + std::to_string(im.wave) + "\" field_index=\"" + std::to_string(im.field) +
             "\" time_index=\"" + std::to_string(im.t) + "\" z_index=\"" + std::to_string(im.z) + "\"/>"
             "<Well label=\"x\"><Row number=\"" + std::to_string(im.row) + "\"/><Column number=\"" + std::to_string(im.col) +
             "\"/></Well>" + pos;
        if (im.own_filters)
            s += std::string("<ExcitationFilter name=\"Ex") + kWaveNames[im.wave] + "\" wavelength=\"1\"/><EmissionFilter name=\"Em" +
                 kWaveNames[im.wave] + "\" wavelength=\"2\"/>";
        s += "</Image>\n";
    }
    return s + "</Images>\n</ImageStack>\n";
}

int tag_of(const XImage& im) { return im.row * 40 + im.col * 20 + im.field * 8 + im.wave * 4 + im.z * 2 + im.t; }

std::vector<XImage> plate() {
    std::vector<XImage> v;
    for (auto [r, c] : {std::pair{2, 3}, std::pair{4, 1}})
        for (int f : {0, 1})
            for (int t : {0, 1})
                for (int z : {0, 1})
                    for (int w : {1, 0}) {
                        XImage im{r, c, f, w, z, t, "", -100.5 + f * 300, 50.0 - f * 20, 1000 + z * 1.5};
                        im.file = file_name(im);
                        v.push_back(im);
                    }
    return v;
}

void expect_refused(const fs::path& d, const std::string& content, const std::string& needle) {
    write_text(d / "plate.xdce", content);
    std::string msg = error_of([&] { incell().configure(d, {}); });
    EXPECT_NE(msg.find(needle), std::string::npos) << "want '" << needle << "', got: " << msg;
    EXPECT_NE(msg.find("plate.xdce"), std::string::npos) << msg;
}

}  // namespace

TEST(InCell, SyntheticPlateMapsEveryPlaneAndDecodesItsPixels) {
    fs::path d = layout_dir("incell");
    auto images = plate();
    write_text(d / "IN Cell plate 3.xdce", xdce(images));
    for (auto& im : images) write_fixture_tiff(d / im.file, tag_of(im));
    EXPECT_EQ(incell().detect(d), 90);
    EXPECT_EQ(detect_layout(d).name(), "incell");
    ImageSet s = incell().configure(d, {});
    EXPECT_EQ(s.format, "incell");
    EXPECT_TRUE(s.warnings.empty());
    ASSERT_EQ(s.planes.size(), images.size());
    ASSERT_EQ(s.channels.size(), 2u);
    EXPECT_EQ(s.channels[0].name, "DAPI");  // wave_index 0; the fused wave is not counted
    EXPECT_EQ(s.channels[1].name, "FITC");
    EXPECT_DOUBLE_EQ(s.channels[0].excitation_nm.value(), 350);
    EXPECT_DOUBLE_EQ(s.channels[1].emission_nm.value(), 525);
    EXPECT_DOUBLE_EQ(s.pixel_size_x.value(), 0.325);
    EXPECT_DOUBLE_EQ(s.pixel_size_y.value(), 0.35);
    EXPECT_DOUBLE_EQ(s.pixel_size_z.value(), 1.5);
    EXPECT_EQ(s.width, 7u);
    EXPECT_EQ(s.height, 5u);
    ASSERT_EQ(s.plates.size(), 1u);
    EXPECT_EQ(s.plates[0].name, "IN Cell plate 3");
    EXPECT_EQ(s.plates[0].rows, 8);
    EXPECT_EQ(s.plates[0].cols, 12);
    std::set<std::string> wells;
    for (size_t i = 0; i < images.size(); ++i) {
        const XImage& im = images[i];
        const PlaneRecord& p = s.planes[i];
        EXPECT_EQ(p.file, im.file);
        EXPECT_EQ(p.row, im.row - 1);
        EXPECT_EQ(p.col, im.col - 1);
        EXPECT_EQ(p.site, im.field);
        EXPECT_EQ(p.channel, im.wave);
        EXPECT_EQ(p.zplane, im.z);
        EXPECT_EQ(p.tpoint, im.t);
        EXPECT_DOUBLE_EQ(p.stage_x.value(), im.x);
        EXPECT_DOUBLE_EQ(p.stage_y.value(), im.y);
        EXPECT_DOUBLE_EQ(p.stage_z.value(), im.focus);
        wells.insert(well_name(p.row, p.col));
        expect_fixture_pixels(d, p, tag_of(im));
    }
    EXPECT_EQ(wells, (std::set<std::string>{"B03", "D01"}));
    fs::remove_all(d);
}

TEST(InCell, ChannelNamesFromTheImageFiltersAndSharedEmissionFilters) {
    fs::path d = layout_dir("incell_names");
    // The image's own filters win over the protocol's.
    std::vector<XImage> own{{1, 1, 0, 0, 0, 0, "a.tif"}};
    own[0].own_filters = true;
    write_text(d / "p.xdce", xdce(own));
    EXPECT_EQ(incell().configure(d, {}).channels.at(0).name, "EmDAPI");
    // Two waves with one emission filter are told apart by "EX - EM", as in the file names.
    std::string waves = "<Wavelengths><Wavelength fusion_wave=\"false\"><ExcitationFilter name=\"Blue\"/><EmissionFilter name=\"Multi\"/></Wavelength>"
                        "<Wavelength fusion_wave=\"false\"><ExcitationFilter name=\"Green\"/><EmissionFilter name=\"Multi\"/></Wavelength>"
                        "<Wavelength fusion_wave=\"false\"/></Wavelengths>";
    std::vector<XImage> shared{{1, 1, 0, 0, 0, 0, "a.tif"}, {1, 1, 0, 1, 0, 0, "b.tif"}, {1, 1, 0, 2, 0, 0, "c.tif"}};
    write_text(d / "p.xdce", xdce(shared, "", waves));
    ImageSet s = incell().configure(d, {});
    ASSERT_EQ(s.channels.size(), 3u);
    EXPECT_EQ(s.channels[0].name, "Blue - Multi");
    EXPECT_EQ(s.channels[1].name, "Green - Multi");
    EXPECT_EQ(s.channels[2].name, "wave 2");  // no filter names at all
    fs::remove_all(d);
}

TEST(InCell, RefusesHostileAndBrokenFiles) {
    fs::path d = layout_dir("incell_hostile");
    auto one = [](std::string f) { return std::vector<XImage>{{1, 1, 0, 0, 0, 0, std::move(f)}}; };
    expect_refused(d, xdce(one("../secret.tif")), "Image 1: ../secret.tif: file name in metadata leaves the source folder");
    expect_refused(d, xdce(one("/etc/passwd")), "absolute");
    expect_refused(d, xdce(one("a.tif")).substr(0, 300), "malformed XML");
    // Rows up to ZZ (702), the last that well names can say; one more is refused.
    std::string edge = xdce(one("a.tif"));
    edge.replace(edge.find("<Row number=\"1\""), 15, "<Row number=\"702\"");
    write_text(d / "plate.xdce", edge);
    ImageSet at_limit = incell().configure(d, {});
    ASSERT_EQ(at_limit.planes.size(), 1u);
    EXPECT_EQ(well_name(at_limit.planes[0].row, at_limit.planes[0].col), "ZZ01");
    std::string huge = xdce(one("a.tif"));
    huge.replace(huge.find("<Row number=\"1\""), 15, "<Row number=\"703\"");
    expect_refused(d, huge, "Image 1 Well/Row number value 703 is outside 1..702");
    std::string neg = xdce(one("a.tif"));
    neg.replace(neg.find("field_index=\"0\""), 15, "field_index=\"-1\"");
    expect_refused(d, neg, "field_index value -1 is outside");
    std::string no_id = xdce(one("a.tif"));
    no_id.erase(no_id.find("<Identifier"), no_id.find("<Well") - no_id.find("<Identifier"));
    expect_refused(d, no_id, "Image 1 (a.tif) has no Identifier");
    std::string no_well = xdce(one("a.tif"));
    no_well.erase(no_well.find("<Well "), no_well.find("</Well>") + 7 - no_well.find("<Well "));
    expect_refused(d, no_well, "has no Well/Row and Well/Column");
    std::string bad_px = xdce(one("a.tif"));
    bad_px.replace(bad_px.find("pixel_width=\"0.325\""), 19, "pixel_width=\"-1\"");
    expect_refused(d, bad_px, "pixel_width must be positive");
    auto dup = one("a.tif");
    dup.push_back({1, 1, 0, 0, 0, 0, "b.tif"});
    expect_refused(d, xdce(dup), "two images for well A01 field_index 0 wave_index 0");
    expect_refused(d, xdce({}), "lists no images");
    expect_refused(d, "<ImageStack/>", "no Images element");
    expect_refused(d, "<Plate rows=\"8\"/>", "root element is 'Plate'");
    std::string lol = xdce(one("a.tif"));
    lol.insert(lol.find("<ImageStack"), "<!DOCTYPE ImageStack [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>");
    lol.replace(lol.find("filename=\"a.tif\""), 16, "filename=\"&b;&b;&b;&b;.tif\"");
    write_text(d / "plate.xdce", lol);
    ImageSet s;
    std::string msg = error_of([&] { s = incell().configure(d, {}); });
    if (msg == "no exception") {
        ASSERT_EQ(s.planes.size(), 1u);
        EXPECT_LT(s.planes[0].file.size(), 20u) << "entity expanded: " << s.planes[0].file;
    }
    fs::remove_all(d);
}

TEST(InCell, HugeIndicesAreRankedAndSeveralXdceFilesExplained) {
    fs::path d = layout_dir("incell_huge");
    std::vector<XImage> images{{1, 1, 999999999, 0, 999999999, 999999999, "a.tif"}};
    write_text(d / "p.xdce", xdce(images));
    ImageSet s = incell().configure(d, {});
    ASSERT_EQ(s.planes.size(), 1u);
    EXPECT_EQ(s.planes[0].site, 0);
    EXPECT_EQ(s.planes[0].zplane, 0);
    EXPECT_EQ(s.planes[0].tpoint, 0);
    write_text(d / "q.xdce", xdce(images));
    EXPECT_EQ(incell().detect(d), 50);
    std::string msg = error_of([&] { incell().configure(d, {}); });
    EXPECT_NE(msg.find("several .xdce files (p.xdce, q.xdce)"), std::string::npos) << msg;
    fs::remove_all(d);
    fs::create_directories(d);
    EXPECT_EQ(incell().detect(d), 0);
    fs::remove_all(d);
}
