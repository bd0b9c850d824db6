// create's pixel inventory: what TIFF files hold by their own headers (pages x samples, chunky and
// planar, contiguous STK planes, hostile files), and how the inventory compares that with the
// planes a layout maps: complete and incomplete files, missing planes, samples made channels,
// projections, unused files, and the catalog (absent array positions, schema upgrade).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <tiffio.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "contiguous_tiff.h"
#include "formats/builtin.h"
#include "formats/reader.h"
#include "test_util.h"
#include "workflow/inventory.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;
using test::error_of;

namespace {

// A TIFF of `spp.size()` pages, page k with spp[k] 16-bit samples (RGB photometric for 3 or 4),
// chunky or planar.
void write_tiff_pages(const fs::path& file, const std::vector<uint16_t>& spp, bool planar = false,
                      uint32_t w = 6, uint32_t h = 4) {
    TIFF* t = TIFFOpen(file.c_str(), "w");
    ASSERT_NE(t, nullptr);
    for (uint16_t n : spp) {
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 16);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, n);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, n >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
        if (n == 4) {
            uint16_t extra = EXTRASAMPLE_UNASSALPHA;
            TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &extra);
        }
        TIFFSetField(t, TIFFTAG_PLANARCONFIG, planar ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
        const size_t per_strip = planar ? 1 : n;
        std::vector<uint16_t> px(size_t(w) * h * per_strip, 7);
        for (uint32_t s = 0; s < (planar ? n : 1u); ++s)
            ASSERT_GE(TIFFWriteEncodedStrip(t, s, px.data(), tmsize_t(px.size() * 2)), 0);
        ASSERT_TRUE(TIFFWriteDirectory(t));
    }
    TIFFClose(t);
}

std::string runs_of(const FileContents& c) {
    std::string s;
    for (auto& r : c.runs)
        s += std::to_string(r.first) + "+" + std::to_string(r.count) + "x" + std::to_string(r.samples) +
             (r.rgb ? "rgb" : "") + " ";
    return s;
}

PlaneRecord plane(const std::string& file, int channel, int site, uint32_t page = 0, int z = 0) {
    PlaneRecord p;
    p.plate = "P";
    p.site = site;
    p.channel = channel;
    p.zplane = z;
    p.file = file;
    p.page = page;
    return p;
}

ImageSet one_channel_set(const std::string& name = "C0") {
    ImageSet set;
    set.format = "files";
    set.plates.push_back({"P", 1, 1});
    set.channels.push_back({name, std::nullopt, std::nullopt});
    return set;
}

}  // namespace

// ---- what a TIFF file holds -----------------------------------------------------------------------

TEST(TiffContents, PagesAndSamplesChunkyAndPlanar) {
    const fs::path d = test::fresh_dir("tiff_contents");
    auto dec = make_tiff_decoder();
    write_tiff_pages(d / "gray.tif", {1, 1, 1});
    EXPECT_EQ(runs_of(dec->contents(*source::open(d / "gray.tif"))), "0+3x1 ");
    write_tiff_pages(d / "rgb.tif", {3});
    EXPECT_EQ(runs_of(dec->contents(*source::open(d / "rgb.tif"))), "0+1x3rgb ");
    write_tiff_pages(d / "planar.tif", {3, 3}, true);
    EXPECT_EQ(runs_of(dec->contents(*source::open(d / "planar.tif"))), "0+2x3rgb ");
    // A preview page of another kind between gray pages: runs by samples.
    write_tiff_pages(d / "mixed.tif", {1, 4, 1, 1});
    EXPECT_EQ(runs_of(dec->contents(*source::open(d / "mixed.tif"))), "0+1x1 1+1x4rgb 2+2x1 ");
    // Every sample the inventory lists decodes.
    Plane p;
    for (uint32_t s = 0; s < 4; ++s) EXPECT_NO_THROW(dec->read(*source::open(d / "mixed.tif"), {0, 1, s}, p)) << s;
}

TEST(TiffContents, ContiguousPlanesAfterTheIfdsCountAsPages) {
    const fs::path d = test::fresh_dir("tiff_contiguous");
    test::write_contiguous_tiff(d / "a.stk", 5, 4, 3, 3, true, 0);
    EXPECT_EQ(runs_of(make_tiff_decoder()->contents(*source::open(d / "a.stk"))), "0+3x1 ");
    // ImageJ > 4 GB layout: one IFD, images=12.
    test::write_contiguous_tiff(d / "ij.tif", 4, 4, 12, 12, false, 0, "\nslices=12");
    EXPECT_EQ(runs_of(make_tiff_decoder()->contents(*source::open(d / "ij.tif"))), "0+12x1 ");
    // A truncated file declares more planes than it holds: only the ones that fit count.
    test::write_contiguous_tiff(d / "cut.tif", 4, 4, 7, 12, false, 0, "\nslices=12");
    EXPECT_EQ(runs_of(make_tiff_decoder()->contents(*source::open(d / "cut.tif"))), "0+7x1 ");
}

TEST(TiffContents, TruncatedAndHostileFilesGiveAnErrorNamingTheFile) {
    const fs::path d = test::fresh_dir("tiff_hostile");
    write_tiff_pages(d / "good.tif", {1, 1, 1, 1});
    std::ifstream in(d / "good.tif", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    auto dec = make_tiff_decoder();
    size_t errors = 0;
    // Cut anywhere, or a byte flipped anywhere: an inventory or an input error, never a crash.
    for (size_t keep = 0; keep < bytes.size(); keep += 13) {
        test::write_bytes(d / "cut.tif", bytes.substr(0, keep));
        try {
            for (auto& r : dec->contents(*source::open(d / "cut.tif")).runs) EXPECT_LE(r.first + r.count, 4u);
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).rfind((d / "cut.tif").string(), 0), 0u) << e.what();
            ++errors;
        }
    }
    for (size_t i = 0; i < bytes.size(); i += 5) {
        std::string bad = bytes;
        bad[i] = char(~bad[i]);
        test::write_bytes(d / "flip.tif", bad);
        try {
            dec->contents(*source::open(d / "flip.tif"));
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), Error::Kind::input) << e.what();
        }
    }
    EXPECT_GT(errors, 0u);
    EXPECT_NE(error_of([&] { dec->contents(*source::open(d / "absent.tif")); }).find("absent.tif"), std::string::npos);
}

// ---- comparing with the planes ----------------------------------------------------------------

TEST(Inventory, RgbFilesOfASampleUnawareLayoutBecomeChannelsRGB) {
    const fs::path d = test::fresh_dir("inv_rgb");
    write_tiff_pages(d / "chunky.tif", {3});
    write_tiff_pages(d / "planar.tif", {3}, true);
    ImageSet set = one_channel_set();
    set.planes = {plane("chunky.tif", 0, 0), plane("planar.tif", 0, 1)};
    const SourceInventory inv = take_inventory(set, d);
    ASSERT_EQ(set.channels.size(), 3u);
    EXPECT_EQ(set.channels[0].name, "R");
    EXPECT_EQ(set.channels[1].name, "G");
    EXPECT_EQ(set.channels[2].name, "B");
    ASSERT_EQ(set.planes.size(), 6u);
    for (auto& p : set.planes) {
        EXPECT_EQ(uint32_t(p.channel), p.sample) << p.file;  // channel k reads sample k
        EXPECT_EQ(p.missing, "");
    }
    EXPECT_EQ(inv.files.at("chunky.tif").content, "complete");
    EXPECT_EQ(inv.files.at("planar.tif").content, "complete");
    EXPECT_TRUE(inv.unused.empty());
}

TEST(Inventory, SeveralChannelsKeepTheirNamesAndOtherSampleCountsAreNumbered) {
    const fs::path d = test::fresh_dir("inv_named");
    write_tiff_pages(d / "dapi.tif", {1});
    write_tiff_pages(d / "bf.tif", {3});
    write_tiff_pages(d / "two.tif", {2});
    ImageSet set = one_channel_set("DAPI");
    set.channels.push_back({"BF", std::nullopt, 520.0});
    set.channels.push_back({"X", std::nullopt, std::nullopt});
    set.planes = {plane("dapi.tif", 0, 0), plane("bf.tif", 1, 0), plane("two.tif", 2, 0)};
    take_inventory(set, d);
    std::vector<std::string> names;
    for (auto& c : set.channels) names.push_back(c.name);
    EXPECT_EQ(names, (std::vector<std::string>{"DAPI", "BF R", "BF G", "BF B", "X S0", "X S1"}));
    EXPECT_FALSE(set.channels[2].emission_nm);  // the filter's wavelength is not a sample's
    EXPECT_EQ(set.planes.size(), 6u);
}

// A vendor layout that knows nothing of samples (CellVoyager here, as MetaXpress, ScanR, Harmony,
// InCell, MetaMorph): an RGB camera's planes still become three channels, named after its channel.
TEST(Inventory, VendorLayoutsGetChannelsForSamplesToo) {
    const fs::path d = test::fresh_dir("inv_vendor");
    write_tiff_pages(d / "f1.tif", {3});
    write_tiff_pages(d / "f2.tif", {3}, true);
    std::string mlf = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<bts:MeasurementData bts:Version=\"1.0\" "
                      "xmlns:bts=\"http://www.yokogawa.co.jp/BTS/BTSSchema/1.0\">\n";
    for (int f = 1; f <= 2; ++f)
        mlf += "<bts:MeasurementRecord bts:Type=\"IMG\" bts:Column=\"3\" bts:Row=\"2\" bts:FieldIndex=\"" +
               std::to_string(f) + "\" bts:ZIndex=\"1\" bts:ActionIndex=\"1\" bts:Ch=\"1\">f" + std::to_string(f) +
               ".tif</bts:MeasurementRecord>\n";
    test::write_bytes(d / "MeasurementData.mlf", mlf + "</bts:MeasurementData>\n");
    ImageSet set = find_layout_reader("cellvoyager")->configure(d, {});
    const SourceInventory inv = take_inventory(set, d);
    std::vector<std::string> names;
    for (auto& c : set.channels) names.push_back(c.name);
    EXPECT_EQ(names, (std::vector<std::string>{"A01_C01 R", "A01_C01 G", "A01_C01 B"}));
    EXPECT_EQ(set.planes.size(), 6u);
    EXPECT_EQ(inv.files.at("f1.tif").content, "complete");
    EXPECT_EQ(inv.files.at("f2.tif").content, "complete");
    EXPECT_TRUE(inv.unused.empty());  // the mlf is not an image file
}

TEST(Inventory, OneChannelWithFilesOfDifferentSampleCountsIsRefused) {
    const fs::path d = test::fresh_dir("inv_mixed");
    write_tiff_pages(d / "gray.tif", {1});
    write_tiff_pages(d / "rgb.tif", {3});
    ImageSet set = one_channel_set();
    set.planes = {plane("gray.tif", 0, 0), plane("rgb.tif", 0, 1)};
    const std::string e = error_of([&] { take_inventory(set, d); });
    EXPECT_NE(e.find("'gray.tif' has 1 samples per pixel and 'rgb.tif' 3"), std::string::npos) << e;
    EXPECT_NE(e.find("--pattern"), std::string::npos) << e;
}

TEST(Inventory, PlanesOfAnotherSizeThanTheirPlateAreRefused) {
    const fs::path d = test::fresh_dir("inv_geometry");
    write_tiff_pages(d / "a.tif", {1, 1});
    write_tiff_pages(d / "b.tif", {1}, false, 7, 4);
    ImageSet set = one_channel_set();
    set.planes = {plane("a.tif", 0, 0), plane("a.tif", 0, 1, 1), plane("b.tif", 0, 2)};
    set.width = 6, set.height = 4, set.dtype = DType::u16;
    const SourceInventory inv = take_inventory(set, d);
    ASSERT_EQ(inv.geometry.at("a.tif").runs.size(), 1u);  // both pages in one run: one geometry
    EXPECT_EQ(inv.geometry.at("a.tif").runs[0].width, 6u);
    EXPECT_EQ(inv.geometry.at("b.tif").runs[0].width, 7u);
    const std::string e = error_of([&] { refuse_mixed_geometry(set, inv, d); });
    EXPECT_NE(e.find("1 image file holds planes of another size or pixel type than the rest of their plate "
                     "(plate P: 6x4 uint16): b.tif (7x4 uint16)"), std::string::npos) << e;
    // Of another type: the same refusal.
    set.dtype = DType::u8;
    EXPECT_NE(error_of([&] { refuse_mixed_geometry(set, inv, d); }).find("a.tif (6x4 uint16), b.tif"), std::string::npos);
    // A plate with a geometry of its own is checked against that one.
    set.dtype = DType::u16;
    set.planes.pop_back();
    set.plates[0].width = 7, set.plates[0].height = 4, set.plates[0].dtype = DType::u16;
    set.planes.push_back(plane("b.tif", 0, 2));
    EXPECT_NE(error_of([&] { refuse_mixed_geometry(set, inv, d); }).find("(plate P: 7x4 uint16): a.tif"), std::string::npos);
    // Files that agree with their plate pass; a plane recorded as missing is not looked at.
    set.plates[0].width = 0;
    set.planes.back().missing = "page 0 does not exist";
    EXPECT_NO_THROW(refuse_mixed_geometry(set, inv, d));
}

TEST(Inventory, PagesAndSamplesNoPlaneReadsMakeAFileIncomplete) {
    const fs::path d = test::fresh_dir("inv_partial");
    write_tiff_pages(d / "stack.tif", {1, 1, 1, 1, 1, 1});
    write_tiff_pages(d / "rgb.tif", {3, 3});
    ImageSet set = one_channel_set();
    set.maps_samples = true;  // the layout says which samples it reads: nothing is added
    set.planes = {plane("stack.tif", 0, 0, 0, 0), plane("stack.tif", 0, 0, 3, 1), plane("rgb.tif", 0, 1, 0)};
    const SourceInventory inv = take_inventory(set, d);
    EXPECT_EQ(set.channels.size(), 1u);
    EXPECT_EQ(inv.files.at("stack.tif").content, "incomplete");
    EXPECT_EQ(inv.files.at("stack.tif").detail, "holds 6 pages; left out: pages 1-2, 4-5");
    EXPECT_EQ(inv.files.at("rgb.tif").detail, "holds 2 pages x 3 samples; left out: page 1; sample(s) 1-2 of page 0");
}

TEST(Inventory, PlanesWithoutPixelsAreMarkedMissingAndFilesNamed) {
    const fs::path d = test::fresh_dir("inv_missing");
    write_tiff_pages(d / "two.tif", {1, 1});
    test::write_bytes(d / "broken.tif", "II*\0garbage");
    ImageSet set = one_channel_set();
    set.planes = {plane("two.tif", 0, 0, 0, 0), plane("two.tif", 0, 0, 1, 1), plane("two.tif", 0, 0, 5, 2),
                  plane("gone.tif", 0, 1), plane("broken.tif", 0, 2)};
    const SourceInventory inv = take_inventory(set, d);
    EXPECT_EQ(set.planes[0].missing, "");
    EXPECT_EQ(set.planes[2].missing, "page 5 does not exist (the file holds 2 pages)");
    EXPECT_EQ(set.planes[3].missing, "file not found");
    EXPECT_EQ(set.planes[4].missing.rfind("file unreadable: ", 0), 0u) << set.planes[4].missing;
    EXPECT_EQ(inv.files.at("two.tif").content, "complete");  // every page it holds is read
    EXPECT_EQ(inv.files.at("gone.tif").content, "missing");
    EXPECT_EQ(inv.files.at("broken.tif").content, "unreadable");
    EXPECT_EQ(inv.files.at("broken.tif").detail.find(d.string()), std::string::npos);  // named once, by the caller
    ASSERT_FALSE(set.warnings.empty());
    EXPECT_NE(set.warnings.back().find("3 planes have no pixels in the source (first: two.tif: page 5"),
              std::string::npos)
        << set.warnings.back();
}

TEST(Inventory, ImageFilesNoPlaneReadsAreListed) {
    const fs::path d = test::fresh_dir("inv_unused");
    write_tiff_pages(d / "a.tif", {1});
    fs::create_directories(d / "sub" / ".hidden");
    write_tiff_pages(d / "sub" / "thumb.TIF", {1});
    write_tiff_pages(d / "sub" / ".hidden" / "x.tif", {1});
    test::write_bytes(d / "notes.txt", "not an image");
    ImageSet set = one_channel_set();
    set.planes = {plane("a.tif", 0, 0)};
    const SourceInventory inv = take_inventory(set, d);
    ASSERT_EQ(inv.unused.size(), 1u);
    EXPECT_EQ(inv.unused[0].first, "sub/thumb.TIF");
    EXPECT_GT(inv.unused[0].second, 0);
}

TEST(Inventory, RangesAreCompactAndCapped) {
    EXPECT_EQ(describe_ranges({{3, 9}, {12, 12}, {15, 20}}), "3-9, 12, 15-20");
    EXPECT_EQ(describe_ranges({{1, 1}, {3, 3}, {5, 5}}, 2), "1, 3 and 1 more ranges");
}

// ---- projections ------------------------------------------------------------------------------

TEST(Projections, KeptAsChannelsNamedByMethodOrLeftOut) {
    ImageSet set = one_channel_set("FITC");
    set.channels.push_back({"DAPI", std::nullopt, std::nullopt});
    for (int z = 0; z < 3; ++z) set.planes.push_back(plane("z" + std::to_string(z) + ".tif", 0, 0, 0, z));
    PlaneRecord max = plane("max.tif", 0, 0, 0, 3);
    max.projection = "Maximum";
    PlaneRecord dapi = plane("dapi_bf.tif", 1, 0, 0, 3);  // DAPI exists only as a projection
    dapi.projection = "Best Focus";
    set.planes.push_back(max);
    set.planes.push_back(dapi);
    ImageSet kept = set;
    place_projections(kept, "/src", false);
    std::vector<std::string> names;
    for (auto& c : kept.channels) names.push_back(c.name);
    EXPECT_EQ(names, (std::vector<std::string>{"FITC", "FITC (Maximum projection)", "DAPI (Best Focus projection)"}));
    EXPECT_EQ(kept.planes[3].channel, 1);
    EXPECT_EQ(kept.planes[3].zplane, 0);  // a projection is a 2-D image, not one more z-plane
    EXPECT_EQ(kept.planes[4].channel, 2);
    EXPECT_NE(kept.warnings.back().find("2 projections"), std::string::npos);

    ImageSet skipped = set;
    place_projections(skipped, "/src", true);
    ASSERT_EQ(skipped.channels.size(), 1u);  // DAPI had only a projection
    EXPECT_EQ(skipped.planes.size(), 3u);

    ImageSet only = one_channel_set();
    only.planes = {max};
    EXPECT_NE(error_of([&] { place_projections(only, "/src", true); }).find("/src: every image is a projection"),
              std::string::npos);
}

// ---- the catalog ------------------------------------------------------------------------------

// Schema 5: each source plane's exposure time and the objective; the facts of a stored plane are
// those its source planes agree on (--mip: a stack); a schema 4 catalog is upgraded when opened.
TEST(InventoryCatalog, PlaneFactsAndObjectiveAndSchema4IsUpgraded) {
    const fs::path d = test::fresh_dir("inv_catalog5");
    ImageSet set = one_channel_set("A");
    set.width = set.height = 4;
    set.dtype = DType::u16;
    set.objective = ObjectiveInfo{"40X Plan Apo", 40.0, 0.95, ""};
    std::vector<SourceFile> files;
    for (int z = 0; z < 3; ++z) {
        set.planes.push_back(plane("a" + std::to_string(z) + ".tif", 0, 0, 0, z));
        set.planes.back().acquired = "2024-07-09T13:15:5" + std::to_string(z) + ".5";
        set.planes.back().exposure_s = 0.1;
        set.planes.back().stage_z = 10.0 + z;
    }
    set.planes.push_back(plane("b.tif", 0, 1));  // site 1: nothing known
    for (auto& p : set.planes) files.push_back({p.file, 10, 1, "complete", ""});
    ExperimentConfig cfg;
    cfg.source = "/src";
    cfg.store = "/store";
    Catalog::create(d / "c.sqlite", set, cfg, files);
    {
        Catalog cat(d / "c.sqlite", true);
        ASSERT_TRUE(cat.objective());
        EXPECT_EQ(*cat.objective(), *set.objective);
        bool over = true;
        auto facts = cat.stored_plane_facts(1, 4, over);
        EXPECT_FALSE(over);
        ASSERT_EQ(facts.size(), 2u);
        const auto& site0 = facts.at({0, 0, 0});
        ASSERT_EQ(site0.size(), 3u);
        EXPECT_EQ(site0[2].zplane, 2);
        EXPECT_EQ(site0[2].acquired, "2024-07-09T13:15:52.5");
        EXPECT_DOUBLE_EQ(site0[2].exposure_s.value(), 0.1);
        EXPECT_DOUBLE_EQ(site0[2].stage_z.value(), 12.0);
        const auto& site1 = facts.at({0, 0, 1});
        ASSERT_EQ(site1.size(), 1u);
        EXPECT_EQ(site1[0].acquired, "");
        EXPECT_FALSE(site1[0].exposure_s);
        EXPECT_FALSE(site1[0].stage_z);
        cat.stored_plane_facts(1, 3, over);  // 4 stored planes: beyond the bound, none
        EXPECT_TRUE(over);
    }
    // --mip: one stored plane of three source planes; they agree on the exposure, not on z.
    cfg.mip = true;
    Catalog::create(d / "mip.sqlite", set, cfg, files);
    {
        Catalog cat(d / "mip.sqlite", true);
        bool over = false;
        const auto facts = cat.stored_plane_facts(1, 10, over);
        const auto& stack = facts.at({0, 0, 0});
        ASSERT_EQ(stack.size(), 1u);
        EXPECT_EQ(stack[0].acquired, "2024-07-09T13:15:50.5");  // the earliest
        EXPECT_DOUBLE_EQ(stack[0].exposure_s.value(), 0.1);
        EXPECT_FALSE(stack[0].stage_z);
    }
    {
        sql::Database db(d / "c.sqlite", false);
        db.exec("ALTER TABLE planes DROP COLUMN exposure_s; DELETE FROM meta WHERE key = 'objective'; "
                "UPDATE meta SET value = '4' WHERE key = 'schema_version'");
    }
    Catalog cat(d / "c.sqlite", true);
    EXPECT_EQ(cat.meta("schema_version"), "5");
    EXPECT_FALSE(cat.objective());
    bool over = true;
    auto facts = cat.stored_plane_facts(1, 10, over);
    EXPECT_FALSE(facts.at({0, 0, 0})[0].exposure_s);
    EXPECT_EQ(facts.at({0, 0, 0})[0].acquired, "2024-07-09T13:15:50.5");
}

TEST(InventoryCatalog, AbsentPositionsAreRecordedAndSchema1IsUpgraded) {
    const fs::path d = test::fresh_dir("inv_catalog");
    ImageSet set = one_channel_set("A");
    set.channels.push_back({"B", std::nullopt, std::nullopt});
    set.width = set.height = 4;
    set.dtype = DType::u16;
    // Channel A has 3 z-planes, B only z 0; site 1 is missing in the well (site 2 exists).
    std::vector<SourceFile> files;
    for (int z = 0; z < 3; ++z) set.planes.push_back(plane("a" + std::to_string(z) + ".tif", 0, 0, 0, z));
    set.planes.push_back(plane("b.tif", 1, 0));
    set.planes.push_back(plane("s2.tif", 0, 2));
    set.planes.back().missing = "file not found";
    for (auto& p : set.planes) files.push_back({p.file, 10, 1, "complete", ""});
    files.back().content = "missing";
    ExperimentConfig cfg;
    cfg.source = "/src";
    cfg.store = "/store";
    Catalog::create(d / "c.sqlite", set, cfg, files, {{"thumb.tif", 5}});
    {
        Catalog cat(d / "c.sqlite", true);
        const CatalogSummary s = cat.summary();
        // Site 0: B z1-2 (2); site 1: everything (2 channels x 3 z = 6); site 2: A z1-2, B z0-2 (5).
        EXPECT_EQ(s.absent, 13);
        EXPECT_EQ(s.outputs, 5);
        EXPECT_EQ(s.outputs_missing, 1);
        ASSERT_EQ(s.missing_examples.size(), 1u);
        EXPECT_EQ(s.missing_examples[0], "P A01 site 2 t 0 c 0 z 0: s2.tif: file not found");
        EXPECT_EQ(s.absent_examples.at(0), "P A01 site 0 t 0 c 1 z 1");
        EXPECT_EQ(s.unused_files, 1);
        EXPECT_EQ(s.files_complete, 4);
    }
    // A schema 1 catalog (no inventory) is upgraded when opened; its files are never complete.
    {
        sql::Database db(d / "c.sqlite", false);
        db.exec("DROP TABLE unused_files; DROP TABLE absent_planes; ALTER TABLE files DROP COLUMN content; "
                "ALTER TABLE files DROP COLUMN content_detail; ALTER TABLE outputs DROP COLUMN missing; "
                "ALTER TABLE outputs DROP COLUMN level_checksums; ALTER TABLE planes DROP COLUMN acquired; "
                "ALTER TABLE planes DROP COLUMN exposure_s; "
                "UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    }
    Catalog cat(d / "c.sqlite", true);
    EXPECT_EQ(cat.meta("schema_version"), "5");  // 1 -> 2 -> 3 -> 4 -> 5
    EXPECT_TRUE(cat.site_acquisition_starts(1).empty());  // the column exists, older planes have no time
    bool over = true;
    auto facts = cat.stored_plane_facts(1, 100, over);   // exposure_s exists again, empty
    EXPECT_FALSE(over);
    ASSERT_EQ(facts.size(), 2u);  // sites 0 and 2 have stored planes
    for (auto& [site, planes] : facts)
        for (auto& f : planes) EXPECT_FALSE(f.exposure_s);
    EXPECT_FALSE(cat.objective());
    const CatalogSummary s = cat.summary();
    EXPECT_EQ(s.files_unknown, 5);
    EXPECT_EQ(s.files_complete, 0);
    EXPECT_EQ(s.outputs, 5);
}
