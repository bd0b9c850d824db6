// ND2 reader: synthetic files (nd2_writer.h: chunk map, LV or XML metadata, raw and zlib frames
// with row padding, loops) in the layouts of three NIS-Elements generations, their corrupted
// variants, and the real sample file. The bounds at their edges: test_nd2_bounds.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "nd2_test_util.h"
#include "storage/source_files.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

TEST(Nd2, SyntheticRawAndZlibFilesMapToWellsSitesChannelsZ) {
    fs::path d = fresh_dir("synthetic");
    Nd2Spec raw, packed;
    packed.zlib = true;
    write_bytes(d / "a_raw.nd2", make_nd2(raw));
    write_bytes(d / "b_zlib.nd2", make_nd2(packed));
    EXPECT_EQ(nd2().detect(d), 80);
    ImageSet set = nd2().configure(d, {});
    EXPECT_EQ(set.format, "nd2");
    ASSERT_EQ(set.plates.size(), 1u);
    EXPECT_EQ(set.plates[0].name, d.filename().string());
    ASSERT_EQ(set.channels.size(), 2u);
    EXPECT_EQ(set.channels[0].name, "DAPI");
    EXPECT_EQ(set.channels[1].name, "GFP");
    EXPECT_EQ(set.width, 5u);
    EXPECT_EQ(set.height, 3u);
    EXPECT_EQ(set.dtype, DType::u16);
    EXPECT_EQ(set.bits_per_sample, 12);
    EXPECT_DOUBLE_EQ(set.pixel_size_x.value(), 0.325);
    EXPECT_DOUBLE_EQ(set.pixel_size_z.value(), 1.5);
    ASSERT_EQ(set.planes.size(), 2u * 2 * 2 * 2);  // files x sites x z x channels
    // The inventory: every frame in the chunk map, with both components.
    const FileContents c = decoder_for(*source::open(d / "a_raw.nd2")).contents(*source::open(d / "a_raw.nd2"));
    ASSERT_EQ(c.runs.size(), 1u);
    EXPECT_EQ(c.runs[0].first, 0u);
    EXPECT_EQ(c.runs[0].count, 4u);
    EXPECT_EQ(c.runs[0].samples, 2u);
    std::set<std::tuple<int, int, int, int, int>> keys;
    for (auto& p : set.planes) {
        EXPECT_EQ(p.row, 0);
        EXPECT_EQ(p.col, p.file == "a_raw.nd2" ? 0 : 1);  // A01, A02 in file-name order
        // Frame order: XY outer, Z inner; component = channel.
        EXPECT_EQ(int(p.page), p.site * 2 + p.zplane);
        EXPECT_EQ(int(p.sample), p.channel);
        EXPECT_EQ(p.tpoint, 0);
        EXPECT_DOUBLE_EQ(p.stage_x.value(), 100.0 + p.site);
        keys.insert({p.col, p.site, p.zplane, p.channel, p.tpoint});
    }
    EXPECT_EQ(keys.size(), set.planes.size());
    for (const char* f : {"a_raw.nd2", "b_zlib.nd2"}) {
        const PixelDecoder& dec = decoder_for(*source::open(d / f));
        EXPECT_EQ(dec.name(), "nd2");
        EXPECT_EQ(dec.page_count(*source::open(d / f)), 4u);
        PageInfo info = dec.page_info(*source::open(d / f), 3);
        EXPECT_EQ(info.samples, 2u);
        for (int seq = 0; seq < 4; ++seq)
            for (uint32_t c = 0; c < 2; ++c) expect_frame(d / f, seq, c, raw);
    }
    fs::remove_all(d);
}

TEST(Nd2, FilesOfAnotherFrameSizeBecomeAPlateOfTheirOwn) {
    fs::path d = fresh_dir("sizes");
    Nd2Spec small, big;
    big.width = 8;
    big.height = 6;
    write_bytes(d / "a.nd2", make_nd2(small));
    write_bytes(d / "b.nd2", make_nd2(big));
    write_bytes(d / "c.nd2", make_nd2(small));
    ImageSet set = nd2().configure(d, {});
    ASSERT_EQ(set.plates.size(), 2u);
    EXPECT_FALSE(set.plates[0].own_geometry());
    EXPECT_EQ(set.width, 5u);
    EXPECT_EQ(set.plates[1].name, d.filename().string() + "_8x6");
    EXPECT_EQ(set.plates[1].width, 8u);
    EXPECT_EQ(set.plates[1].height, 6u);
    EXPECT_EQ(set.plates[1].dtype, DType::u16);
    EXPECT_DOUBLE_EQ(set.plates[1].pixel_size_x.value(), 0.325);
    size_t in_big = 0;
    for (auto& p : set.planes) {
        EXPECT_EQ(p.plate, p.file == "b.nd2" ? set.plates[1].name : set.plates[0].name) << p.file;
        EXPECT_EQ(p.col, p.file == "a.nd2" ? 0 : p.file == "b.nd2" ? 1 : 2);  // wells keep the file's position
        in_big += p.file == "b.nd2";
    }
    EXPECT_EQ(in_big, 2u * 2 * 2);
    EXPECT_EQ(set.planes.size(), 3u * 2 * 2 * 2);
    bool warned = false;
    for (auto& w : set.warnings) warned = warned || w.find("b.nd2: frames are 8x6 uint16") != std::string::npos;
    EXPECT_TRUE(warned);
    PageInfo info = decoder_for(*source::open(d / "b.nd2")).page_info(*source::open(d / "b.nd2"), 0);
    EXPECT_EQ(info.width, 8u);
    fs::remove_all(d);
}

// Files of one frame size taken with two objectives (as the 2025 files of one lab: 0.108 and
// 0.323 um pixels at 256x256) or with two z steps: one plate per scale, each with its own.
TEST(Nd2, FilesOfAnotherScaleBecomeAPlateOfTheirOwn) {
    fs::path d = fresh_dir("scales");
    Nd2Spec a, b, c;
    b.calibration = 0.108;
    c.loops = {{2, 2}, {4, 2, 6.0}};
    write_bytes(d / "a.nd2", make_nd2(a));
    write_bytes(d / "b.nd2", make_nd2(b));
    write_bytes(d / "c.nd2", make_nd2(c));
    write_bytes(d / "d.nd2", make_nd2(a));
    ImageSet set = nd2().configure(d, {});
    ASSERT_EQ(set.plates.size(), 3u);
    EXPECT_DOUBLE_EQ(set.pixel_size_x.value(), 0.325);
    EXPECT_DOUBLE_EQ(set.pixel_size_z.value(), 1.5);
    EXPECT_EQ(set.plates[1].name, d.filename().string() + "_5x3_0.108um");
    EXPECT_DOUBLE_EQ(set.plates[1].pixel_size_x.value(), 0.108);
    EXPECT_DOUBLE_EQ(set.plates[1].pixel_size_y.value(), 0.108);
    EXPECT_EQ(set.plates[2].name, d.filename().string() + "_5x3_z6um");
    EXPECT_DOUBLE_EQ(set.plates[2].pixel_size_z.value(), 6.0);
    EXPECT_DOUBLE_EQ(set.plates[2].pixel_size_x.value(), 0.325);
    for (auto& p : set.planes)
        EXPECT_EQ(p.plate, p.file == "b.nd2" ? set.plates[1].name : p.file == "c.nd2" ? set.plates[2].name : set.plates[0].name);
    EXPECT_TRUE(has_warning(set, "b.nd2: frames are 5x3 uint16, pixel 0.108 um, unlike the first file's 5x3 uint16, pixel "
                                 "0.325 um: stored as plate " + set.plates[1].name));
    EXPECT_TRUE(has_warning(set, "c.nd2: frames are 5x3 uint16, z step 6 um, unlike the first file's 5x3 uint16, z step "
                                 "1.5 um: stored as plate " + set.plates[2].name));
    fs::remove_all(d);
}

TEST(Nd2, DuplicateAndMissingChannelNamesBecomeUnique) {
    fs::path d = fresh_dir("names");
    Nd2Spec s;
    s.comp = 3;
    s.names = {"GFP", "GFP", ""};
    write_bytes(d / "x.nd2", make_nd2(s));
    ImageSet set = nd2().configure(d, {});
    ASSERT_EQ(set.channels.size(), 3u);
    EXPECT_EQ(set.channels[0].name, "GFP");
    EXPECT_EQ(set.channels[1].name, "GFP (2)");
    EXPECT_EQ(set.channels[2].name, "C2");
    expect_frame(d / "x.nd2", 3, 2, s);
    fs::remove_all(d);
}

// One file per NIS-Elements generation, each with the loops and pixel formats of its time: every
// plane lands at the right site, time point, z plane and channel, pixel-exact, with the pixel size
// and z step of the file.
TEST(Nd2, ThreeGenerationsReadAlike) {
    fs::path d = fresh_dir("generations");
    struct Case {
        const char* file;
        Nd2Spec spec;
        size_t sites, tpoints, zplanes;
        std::vector<std::string> channels;
    };
    std::vector<Case> cases(3);
    // NIS-Elements 3.x: XML metadata, an NE time loop of two periods, XY positions of which the
    // middle one is unselected, a z stack; 12 bits in 16 with row padding.
    cases[0] = {"a_nis3.nd2", {}, 2, 4, 2, {"DAPI", "GFP"}};
    cases[0].spec.layout = Nd2Layout::nis3_xml;
    cases[0].spec.loops = {{8, 2, 500}, {2, 3}, {4, 2, 0.75}};
    cases[0].spec.xy_valid = {true, false, true};
    // NIS-Elements 4: LV metadata, zlib frames of 8-bit RGB, one picture plane of 3 components.
    cases[1] = {"b_nis4.nd2", {}, 2, 1, 3, {"Brightfield_R", "Brightfield_G", "Brightfield_B"}};
    cases[1].spec.bits = 8;
    cases[1].spec.comp = 3;
    cases[1].spec.padding = 1;
    cases[1].spec.zlib = true;
    cases[1].spec.names = {"Brightfield"};
    cases[1].spec.plane_components = {3};
    cases[1].spec.loops = {{2, 2}, {4, 3, 2.0}};
    // NIS-Elements 5.42 (2025 acquisition): 4096-aligned chunks, padded names, a time loop and a
    // lambda loop whose planes are the frame's components.
    cases[2] = {"c_nis5.nd2", {}, 1, 3, 1, {"Mono", "DAPI", "FITC BP", "TRITC BP"}};
    cases[2].spec.layout = Nd2Layout::nis5_aligned;
    cases[2].spec.comp = 4;
    cases[2].spec.padding = 0;
    cases[2].spec.names = {"Mono", "DAPI", "FITC BP", "TRITC BP"};
    cases[2].spec.loops = {{1, 3, 1000}, {6, 4}};
    for (auto& c : cases) {
        Nd2Offsets where;
        const std::string bytes = make_nd2(c.spec, &where);
        if (c.spec.layout == Nd2Layout::nis5_aligned) {  // the fixture has the padded name of current files
            uint32_t name_field = 0;
            std::memcpy(&name_field, bytes.data() + where.map + 4, 4);
            ASSERT_EQ(name_field, 4128u);
            ASSERT_EQ(where.frames[0] % 4096, 0u);
        }
        fs::path sub = d / c.file;
        fs::create_directories(sub);
        write_bytes(sub / c.file, bytes);
        ImageSet set = nd2().configure(sub, {});
        EXPECT_TRUE(set.warnings.empty()) << c.file << ": " << set.warnings.front();
        ASSERT_EQ(set.channels.size(), c.channels.size()) << c.file;
        for (size_t i = 0; i < c.channels.size(); ++i) EXPECT_EQ(set.channels[i].name, c.channels[i]) << c.file;
        EXPECT_EQ(set.width, c.spec.width);
        EXPECT_EQ(set.height, c.spec.height);
        EXPECT_EQ(set.dtype, c.spec.bits == 8 ? DType::u8 : DType::u16);
        EXPECT_DOUBLE_EQ(set.pixel_size_x.value(), c.spec.calibration) << c.file;
        std::set<int> sites, t, z;
        for (auto& p : set.planes) {
            sites.insert(p.site);
            t.insert(p.tpoint);
            z.insert(p.zplane);
            EXPECT_EQ(int(p.sample), p.channel);
            Plane plane;
            read_plane(*source::open(sub / p.file), {0, p.page, p.sample}, plane);
            ASSERT_EQ(plane.width, c.spec.width);
            for (uint32_t y = 0; y < c.spec.height; ++y)
                for (uint32_t x = 0; x < c.spec.width; ++x) {
                    const uint32_t want = nd2_value(p.page, p.sample, x, y, c.spec.bits);
                    const uint32_t got = c.spec.bits == 8 ? plane.as<uint8_t>()[y * c.spec.width + x]
                                                          : plane.as<uint16_t>()[y * c.spec.width + x];
                    ASSERT_EQ(got, want) << c.file << " frame " << p.page << " component " << p.sample;
                }
        }
        EXPECT_EQ(sites.size(), c.sites) << c.file;
        EXPECT_EQ(t.size(), c.tpoints) << c.file;
        EXPECT_EQ(z.size(), c.zplanes) << c.file;
        EXPECT_EQ(set.planes.size(), c.sites * c.tpoints * c.zplanes * c.channels.size()) << c.file;
    }
    // Frame order: NE time (outer) x XY x Z (inner); the unselected position is not a frame.
    ImageSet nis3 = nd2().configure(d / "a_nis3.nd2", {});
    for (auto& p : nis3.planes) EXPECT_EQ(int(p.page), (p.tpoint * 2 + p.site) * 2 + p.zplane);
    EXPECT_DOUBLE_EQ(nis3.pixel_size_z.value(), 0.75);
    for (auto& p : nis3.planes) EXPECT_DOUBLE_EQ(p.stage_x.value(), p.site == 0 ? 100.0 : 102.0);
    EXPECT_DOUBLE_EQ(nd2().configure(d / "b_nis4.nd2", {}).pixel_size_z.value(), 2.0);
    fs::remove_all(d);
}

// A file whose chunk map is gone or wrong is read by scanning the chunk headers, with a warning
// naming the damage; where that cannot recover the metadata, the error names the damage.
TEST(Nd2, DamagedChunkMapFallsBackToAScanOfTheChunkHeaders) {
    fs::path d = fresh_dir("scan");
    Nd2Spec s;
    Nd2Offsets where;
    const std::string good = make_nd2(s, &where);

    // Cut short in frame 2's pixels (acquisition crashed): frames 0 and 1 are whole.
    fs::create_directories(d / "cut");
    write_bytes(d / "cut/x.nd2", good.substr(0, where.frames[2] + 40));
    ImageSet set = nd2().configure(d / "cut", {});
    EXPECT_TRUE(has_warning(set, "x.nd2: the chunk map is damaged (offset " + std::to_string(where.frames[2]) +
                                     ": no ND2 chunk map signature at the end of the file"));
    EXPECT_TRUE(has_warning(set, "the chunks were found by scanning the file"));
    EXPECT_TRUE(has_warning(set, "x.nd2: 2 frames are missing"));
    EXPECT_EQ(pages_of(set, "x.nd2"), (std::set<std::pair<uint32_t, uint32_t>>{{0, 0}, {0, 1}, {1, 0}, {1, 1}}));
    expect_frame(d / "cut/x.nd2", 1, 1, s);

    // The trailer points past the end, or the map entry of frame 0 points at frame 1's chunk.
    std::string bad = good;
    const uint64_t huge = uint64_t(1) << 40;
    std::memcpy(bad.data() + bad.size() - 8, &huge, 8);
    fs::create_directories(d / "trailer");
    write_bytes(d / "trailer/x.nd2", bad);
    set = nd2().configure(d / "trailer", {});
    EXPECT_TRUE(has_warning(set, "chunk map offset 1099511627776 is past the end of the file"));
    EXPECT_EQ(set.planes.size(), 8u);
    for (int seq = 0; seq < 4; ++seq) expect_frame(d / "trailer/x.nd2", seq, 0, s);
    bad = good;
    const size_t entry = bad.find("ImageDataSeq|0!", where.map) + 15;
    std::memcpy(bad.data() + entry, &where.frames[1], 8);
    fs::create_directories(d / "entry");
    write_bytes(d / "entry/x.nd2", bad);
    set = nd2().configure(d / "entry", {});
    EXPECT_TRUE(has_warning(set, "offset " + std::to_string(where.frames[1]) + ": the chunk here is not ImageDataSeq|0!"));
    expect_frame(d / "entry/x.nd2", 0, 1, s);  // frame 0's own pixels, found by the scan

    // A middle frame's entry points at another frame: the map is used, and that plane fails
    // rather than showing the other frame's pixels.
    bad = good;
    const size_t entry2 = bad.find("ImageDataSeq|2!", where.map) + 15;
    std::memcpy(bad.data() + entry2, &where.frames[1], 8);
    fs::create_directories(d / "middle");
    write_bytes(d / "middle/x.nd2", bad);
    set = nd2().configure(d / "middle", {});
    EXPECT_TRUE(set.warnings.empty());
    std::string e = error_of([&] {
        Plane p;
        read_plane(*source::open(d / "middle/x.nd2"), {0, 2, 0}, p);
    });
    EXPECT_NE(e.find("offset " + std::to_string(where.frames[1]) + ": the chunk here is not ImageDataSeq|2!"), std::string::npos) << e;

    // Current files keep the attributes after the frames: cut short, the scan cannot find them.
    Nd2Spec current;
    current.layout = Nd2Layout::nis5_aligned;
    Nd2Offsets at;
    const std::string aligned = make_nd2(current, &at);
    fs::create_directories(d / "current");
    write_bytes(d / "current/x.nd2", aligned.substr(0, at.frames[3] + 100));
    e = error_of([&] { nd2().configure(d / "current", {}); });
    EXPECT_NE(e.find("current/x.nd2: no ImageAttributesLV! or ImageAttributes! chunk: frame geometry unknown (the chunk "
                     "map is damaged: offset " + std::to_string(at.frames[3] + 60) + ": no ND2 chunk map signature"),
              std::string::npos) << e;
    fs::remove_all(d);
}

TEST(Nd2, TruncatedAndCorruptFilesGiveClearErrors) {
    fs::path d = fresh_dir("corrupt");
    Nd2Spec s;
    Nd2Offsets where;
    const std::string good = make_nd2(s, &where);
    const std::vector<uint64_t>& frames = where.frames;

    std::string bad;
    const uint64_t huge = uint64_t(1) << 40;

    // A frame chunk claims more data than the file holds: that plane fails with file and offset.
    bad = good;
    std::memcpy(bad.data() + frames[1] + 8, &huge, 8);
    write_bytes(d / "frame.nd2", bad);
    ImageSet set = nd2().configure(d, {});  // metadata is intact
    EXPECT_EQ(set.planes.size(), 8u);
    std::string e = error_of([&] {
        Plane p;
        read_plane(*source::open(d / "frame.nd2"), {0, 1, 0}, p);
    });
    EXPECT_NE(e.find((d / "frame.nd2").string() + ": offset " + std::to_string(frames[1])), std::string::npos) << e;
    EXPECT_NE(e.find("past the end of the file"), std::string::npos) << e;
    Plane ok;
    EXPECT_NO_THROW(read_plane(*source::open(d / "frame.nd2"), {0, 2, 0}, ok));  // the other frames still read
    fs::remove(d / "frame.nd2");

    // A nested LV level claims more bytes than its parent holds.
    bad = good;
    const std::string key = imx::test::nd2w::utf16z("SLxImageAttributes");
    size_t at = bad.find(key);
    ASSERT_NE(at, std::string::npos);
    std::memcpy(bad.data() + at + key.size() + 4, &huge, 8);
    write_bytes(d / "lv.nd2", bad);
    e = error_of([&] { nd2().configure(d, {}); });
    EXPECT_NE(e.find("metadata chunk ImageAttributesLV!"), std::string::npos) << e;
    EXPECT_NE(e.find("outside its parent block"), std::string::npos) << e;
    fs::remove(d / "lv.nd2");
    fs::remove_all(d);
}

TEST(Nd2, CorruptZlibFrameFailsThatPlane) {
    fs::path d = fresh_dir("zlib");
    Nd2Spec s;
    s.zlib = true;
    Nd2Offsets where;
    std::string bad = make_nd2(s, &where);
    const std::vector<uint64_t>& frames = where.frames;
    // Frame 0's data starts after the 16-byte header, the name and the 8-byte time stamp.
    const uint64_t data = frames[0] + 16 + std::string("ImageDataSeq|0!").size() + 8;
    for (size_t i = 2; i < 12; ++i) bad[data + i] = char(0xFF);
    write_bytes(d / "z.nd2", bad);
    std::string e = error_of([&] {
        Plane p;
        read_plane(*source::open(d / "z.nd2"), {0, 0, 1}, p);
    });
    EXPECT_NE(e.find("offset " + std::to_string(data)), std::string::npos) << e;
    EXPECT_NE(e.find("zlib"), std::string::npos) << e;
    expect_frame(d / "z.nd2", 1, 1, s);
    fs::remove_all(d);
}

TEST(Nd2, EveryByteFlippedNeverCrashes) {
    // Each variant under its own name: the structure cache keys on path, size and mtime.
    fs::path d = fresh_dir("flip");
    Nd2Spec s;
    s.zlib = true;
    const std::string good = make_nd2(s);
    size_t errors = 0;
    for (size_t i = 0; i < good.size(); i += 7) {
        fs::path sub = d / std::to_string(i);
        fs::create_directories(sub);
        std::string bad = good;
        bad[i] = char(~bad[i]);
        write_bytes(sub / "f.nd2", bad);
        try {
            const FileContents c = decoder_for(*source::open(sub / "f.nd2")).contents(*source::open(sub / "f.nd2"));  // the inventory's view
            for (auto& r : c.runs) ASSERT_LE(uint64_t(r.first) + r.count, 4u);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), Error::Kind::input) << e.what();
        }
        try {
            ImageSet set = nd2().configure(sub, {});
            for (auto& p : set.planes) {
                Plane plane;
                read_plane(*source::open(sub / p.file), {0, p.page, p.sample}, plane);
            }
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), Error::Kind::input) << e.what();
            ++errors;
        }
        fs::remove_all(sub);
    }
    EXPECT_GT(errors, 0u);
    fs::remove_all(d);
}

// cluster.nd2 from the pims test data (soft-matter/pims, pims/tests/data/bioformats). The expected
// geometry comes from an independent route: tests/oracle/nd2_lif_oracle.py (numpy, written from
// the format description) reports 38x31 uint16, 2 channels, T=3, Z=10, 0.1678 um pixels, and the
// plane sums asserted below; the pims_nd2 README describes the file as a T/Z/C stack.
TEST(Nd2, SampleClusterFile) {
    fs::path f = fs::path(IMX_SAMPLES_DIR) / "nd2/pims/cluster.nd2";
    if (!fs::exists(f)) GTEST_SKIP() << "sample not found: " << f;
    fs::path d = fresh_dir("cluster");
    fs::copy_file(f, d / "cluster.nd2");
    ImageSet set = nd2().configure(d, {});
    ASSERT_EQ(set.channels.size(), 2u);
    EXPECT_EQ(set.channels[0].name, "5-FAM/pH 9.0");
    EXPECT_EQ(set.channels[1].name, "FM 4-64/2% CHAPS");
    EXPECT_EQ(set.width, 38u);
    EXPECT_EQ(set.height, 31u);
    EXPECT_EQ(set.dtype, DType::u16);
    EXPECT_NEAR(set.pixel_size_x.value(), 0.16780898, 1e-7);
    EXPECT_DOUBLE_EQ(set.pixel_size_z.value(), 0.5);
    ASSERT_EQ(set.planes.size(), 60u);
    std::set<int> t, z, sites;
    for (auto& p : set.planes) {
        t.insert(p.tpoint);
        z.insert(p.zplane);
        sites.insert(p.site);
    }
    EXPECT_EQ(t.size(), 3u);
    EXPECT_EQ(z.size(), 10u);
    EXPECT_EQ(sites.size(), 1u);
    auto sum = [&](uint32_t page, uint32_t c) {
        Plane p;
        read_plane(*source::open(d / "cluster.nd2"), {0, page, c}, p);
        uint64_t total = 0;
        for (size_t i = 0; i < p.pixel_count(); ++i) total += p.as<uint16_t>()[i];
        return total;
    };
    // Oracle sums: t0 z0 c0 = 243, t0 z1 c0 = 34274, t0 z2 c0 = 174770; t2 z9 c1 = 0.
    EXPECT_EQ(sum(0, 0), 243u);
    EXPECT_EQ(sum(1, 0), 34274u);
    EXPECT_EQ(sum(2, 0), 174770u);
    EXPECT_EQ(sum(29, 1), 0u);
    fs::remove_all(d);
}

TEST(Nd2, RewrittenFileIsParsedAgain) {
    // The structure cache keys on path, size and mtime: a file replaced by a different one must
    // not be served from the cache.
    fs::path d = fresh_dir("rewrite");
    Nd2Spec two;
    write_bytes(d / "x.nd2", make_nd2(two));
    EXPECT_EQ(nd2().configure(d, {}).channels.size(), 2u);
    Nd2Spec three;
    three.comp = 3;
    three.names = {"A", "B", "C"};
    write_bytes(d / "x.nd2", make_nd2(three));
    ImageSet set = nd2().configure(d, {});
    ASSERT_EQ(set.channels.size(), 3u);
    EXPECT_EQ(set.channels[2].name, "C");
    expect_frame(d / "x.nd2", 3, 2, three);
    fs::remove_all(d);
}

TEST(Nd2, Version2FileWithoutItsBoxMapIsRefusedClearly) {
    fs::path d = fresh_dir("v2");
    // JPEG-2000 signature box, as ND2 version 2 files start, and nothing of the rest
    // (test_nd2_legacy.cpp reads whole version 2 files).
    write_bytes(d / "old.nd2", std::string("\0\0\0\x0CjP  \r\n\x87\n", 12) + std::string(100, '\0'));
    std::string e = error_of([&] { nd2().configure(d, {}); });
    EXPECT_NE(e.find("old.nd2: offset 72: no \"LABORATORY IMAGING ND BOX MAP 00\" signature"), std::string::npos) << e;
    EXPECT_EQ(decoder_for(*source::open(d / "old.nd2")).name(), "nd2");
    fs::remove_all(d);
}
