// ND2 reader: synthetic files written here (chunk map, LV metadata, raw and zlib frames with row
// padding, an XY x Z experiment), their corrupted variants, and the real sample file.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "formats/reader.h"
#include "test_util.h"

using namespace imx;
namespace fs = std::filesystem;
using imx::test::error_of;
using imx::test::write_bytes;

namespace {

// ---- a small ND2 writer -----------------------------------------------------------------------

template <class T> std::string le(T v) {
    std::string s(sizeof v, '\0');
    std::memcpy(s.data(), &v, sizeof v);
    return s;
}

std::string utf16z(const std::string& ascii) {
    std::string s;
    for (char c : ascii) s += std::string{c, '\0'};
    return s + std::string(2, '\0');
}

// LV items: type byte, name length in UTF-16 units with the terminating 0, name, value.
std::string lv_head(uint8_t type, const std::string& name) {
    return std::string(1, char(type)) + char(name.size() + 1) + utf16z(name);
}
std::string lv_u32(const std::string& n, uint32_t v) { return lv_head(3, n) + le(v); }
std::string lv_f64(const std::string& n, double v) { return lv_head(6, n) + le(v); }
std::string lv_str(const std::string& n, const std::string& v) { return lv_head(8, n) + utf16z(v); }
std::string lv_level(const std::string& n, const std::vector<std::string>& items) {
    std::string body;
    for (auto& i : items) body += i;
    std::string head = lv_head(11, n);
    const uint64_t length = head.size() + 12 + body.size();  // from the item start to the offset table
    return head + le(uint32_t(items.size())) + le(length) + body + std::string(items.size() * 8, '\0');
}

std::string chunk(const std::string& name, const std::string& data) {
    return le(uint32_t(0x0ABECEDA)) + le(uint32_t(name.size())) + le(uint64_t(data.size())) + name + data;
}

struct Nd2Spec {
    uint32_t width = 5, height = 3, comp = 2;
    uint32_t padding = 4;  // bytes after each row
    bool zlib = false;
    int sites = 2, zs = 2;
    std::vector<std::string> names = {"DAPI", "GFP"};
};

uint16_t pixel(int seq, uint32_t c, uint32_t x, uint32_t y) { return uint16_t(seq * 1000 + c * 100 + y * 10 + x); }

// Returns the file bytes; `frame_offsets` receives where each frame chunk starts.
std::string make_nd2(const Nd2Spec& s, std::vector<uint64_t>* frame_offsets = nullptr) {
    const uint32_t width_bytes = s.width * s.comp * 2 + s.padding;
    const int frames = s.sites * s.zs;
    std::vector<std::pair<std::string, std::string>> chunks;
    chunks.push_back({"ImageAttributesLV!",
                      lv_level("SLxImageAttributes",
                               {lv_u32("uiWidth", s.width), lv_u32("uiWidthBytes", width_bytes), lv_u32("uiHeight", s.height),
                                lv_u32("uiComp", s.comp), lv_u32("uiBpcInMemory", 16), lv_u32("uiBpcSignificant", 12),
                                lv_u32("uiSequenceCount", uint32_t(frames)), lv_u32("ePixelType", 1),
                                lv_u32("eCompression", s.zlib ? 0 : 2)})});
    // XY positions (outer) then a Z stack (inner).
    std::string z_level = lv_level("", {lv_u32("eType", 4), lv_level("uLoopPars", {lv_u32("uiCount", uint32_t(s.zs)),
                                                                                   lv_f64("dZStep", 1.5)})});
    std::vector<std::string> points;
    for (int i = 0; i < s.sites; ++i) points.push_back(lv_level("", {lv_f64("dPosX", 100.0 + i), lv_f64("dPosY", -5.0)}));
    chunks.push_back({"ImageMetadataLV!",
                      lv_level("SLxExperiment", {lv_u32("eType", 2),
                                                 lv_level("uLoopPars", {lv_u32("uiCount", uint32_t(s.sites)),
                                                                        lv_level("Points", points)}),
                                                 lv_level("ppNextLevelEx", {z_level})})});
    std::vector<std::string> planes;
    for (size_t i = 0; i < s.names.size(); ++i)
        planes.push_back(lv_level("a" + std::to_string(i), {lv_str("sDescription", s.names[i])}));
    chunks.push_back({"ImageMetadataSeqLV|0!",
                      lv_level("SLxPictureMetadata", {lv_level("sPicturePlanes", {lv_level("sPlaneNew", planes)})})});
    chunks.push_back({"ImageCalibrationLV|0!", lv_level("SLxCalibration", {lv_f64("dCalibration", 0.325)})});
    for (int seq = 0; seq < frames; ++seq) {
        std::string px;
        for (uint32_t y = 0; y < s.height; ++y) {
            for (uint32_t x = 0; x < s.width; ++x)
                for (uint32_t c = 0; c < s.comp; ++c) px += le(pixel(seq, c, x, y));
            px += std::string(s.padding, '\xEE');  // padding that must never show up in a plane
        }
        if (s.zlib) {
            uLongf n = compressBound(uLong(px.size()));
            std::string packed(n, '\0');
            compress(reinterpret_cast<Bytef*>(packed.data()), &n, reinterpret_cast<const Bytef*>(px.data()), uLong(px.size()));
            packed.resize(n);
            px = packed;
        }
        chunks.push_back({"ImageDataSeq|" + std::to_string(seq) + "!", le(double(seq)) + px});
    }
    std::string file = chunk("ND2 FILE SIGNATURE CHUNK NAME01!", "Ver3.0");
    std::string map;
    for (auto& [name, data] : chunks) {
        map += name + le(uint64_t(file.size())) + le(uint64_t(data.size()));
        if (frame_offsets && name.rfind("ImageDataSeq|", 0) == 0) frame_offsets->push_back(file.size());
        file += chunk(name, data);
    }
    const uint64_t map_offset = file.size();
    map += std::string("ND2 CHUNK MAP SIGNATURE 0000001!") + le(map_offset) + le(uint64_t(0));
    file += chunk("ND2 FILEMAP SIGNATURE NAME 0001!", map);
    file += std::string("ND2 CHUNK MAP SIGNATURE 0000001!") + le(map_offset);
    return file;
}

using imx::test::fresh_dir;

const LayoutReader& nd2() { return *find_layout_reader("nd2"); }

// Reads plane (page, sample) of `file` and checks every pixel against the writer's formula.
void expect_frame(const fs::path& file, int seq, uint32_t c, const Nd2Spec& s) {
    Plane p;
    read_plane(file, uint32_t(seq), c, p);
    ASSERT_EQ(p.dtype, DType::u16);
    ASSERT_EQ(p.width, s.width);
    ASSERT_EQ(p.height, s.height);
    for (uint32_t y = 0; y < s.height; ++y)
        for (uint32_t x = 0; x < s.width; ++x)
            ASSERT_EQ(p.as<uint16_t>()[y * s.width + x], pixel(seq, c, x, y)) << file << " frame " << seq << " c " << c;
}

}  // namespace

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
    const FileContents c = decoder_for(d / "a_raw.nd2").contents(d / "a_raw.nd2");
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
        const PixelDecoder& dec = decoder_for(d / f);
        EXPECT_EQ(dec.name(), "nd2");
        EXPECT_EQ(dec.page_count(d / f), 4u);
        PageInfo info = dec.page_info(d / f, 3);
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
    PageInfo info = decoder_for(d / "b.nd2").page_info(d / "b.nd2", 0);
    EXPECT_EQ(info.width, 8u);
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

TEST(Nd2, TruncatedAndCorruptFilesGiveClearErrors) {
    fs::path d = fresh_dir("corrupt");
    Nd2Spec s;
    std::vector<uint64_t> frames;
    const std::string good = make_nd2(s, &frames);

    // Cut anywhere: the chunk map at the end is gone.
    write_bytes(d / "cut.nd2", good.substr(0, good.size() / 2));
    EXPECT_NE(error_of([&] { nd2().configure(d, {}); }).find("no ND2 chunk map signature"), std::string::npos);
    fs::remove(d / "cut.nd2");

    // The trailer points past the end of the file.
    std::string bad = good;
    const uint64_t huge = uint64_t(1) << 40;
    std::memcpy(bad.data() + bad.size() - 8, &huge, 8);
    write_bytes(d / "map.nd2", bad);
    EXPECT_NE(error_of([&] { nd2().configure(d, {}); }).find("chunk map offset 1099511627776 is past the end"),
              std::string::npos);
    fs::remove(d / "map.nd2");

    // A frame chunk claims more data than the file holds: that plane fails with file and offset.
    bad = good;
    std::memcpy(bad.data() + frames[1] + 8, &huge, 8);
    write_bytes(d / "frame.nd2", bad);
    ImageSet set = nd2().configure(d, {});  // metadata is intact
    EXPECT_EQ(set.planes.size(), 8u);
    std::string e = error_of([&] {
        Plane p;
        read_plane(d / "frame.nd2", 1, 0, p);
    });
    EXPECT_NE(e.find((d / "frame.nd2").string() + ": offset " + std::to_string(frames[1])), std::string::npos) << e;
    EXPECT_NE(e.find("past the end of the file"), std::string::npos) << e;
    Plane ok;
    EXPECT_NO_THROW(read_plane(d / "frame.nd2", 2, 0, ok));  // the other frames still read
    fs::remove(d / "frame.nd2");

    // A nested LV level claims more bytes than its parent holds.
    bad = good;
    const std::string key = utf16z("SLxImageAttributes");
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
    std::vector<uint64_t> frames;
    std::string bad = make_nd2(s, &frames);
    // Frame 0's data starts after the 16-byte header, the name and the 8-byte time stamp.
    const uint64_t data = frames[0] + 16 + std::string("ImageDataSeq|0!").size() + 8;
    for (size_t i = 2; i < 12; ++i) bad[data + i] = char(0xFF);
    write_bytes(d / "z.nd2", bad);
    std::string e = error_of([&] {
        Plane p;
        read_plane(d / "z.nd2", 0, 1, p);
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
            const FileContents c = decoder_for(sub / "f.nd2").contents(sub / "f.nd2");  // the inventory's view
            for (auto& r : c.runs) ASSERT_LE(uint64_t(r.first) + r.count, 4u);
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), Error::Kind::input) << e.what();
        }
        try {
            ImageSet set = nd2().configure(sub, {});
            for (auto& p : set.planes) {
                Plane plane;
                read_plane(sub / p.file, p.page, p.sample, plane);
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
        read_plane(d / "cluster.nd2", page, c, p);
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
    EXPECT_EQ(decoder_for(d / "old.nd2").name(), "nd2");
    fs::remove_all(d);
}
