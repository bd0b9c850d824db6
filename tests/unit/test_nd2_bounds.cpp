// ND2 reader bounds: every one comes from the format or the file's size, and each is accepted
// exactly at its limit and refused one past it, with a message naming the file, the value and the
// limit (docs/reliability.md lists them).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "nd2_test_util.h"
#include "storage/source_files.h"

using namespace imx;
using namespace imx::test;
namespace fs = std::filesystem;

namespace {

// Sets the u32 LV attribute `name` (the first item of that name) in a written file.
void set_lv_u32(std::string& file, const std::string& name, uint32_t v) {
    const std::string key = imx::test::nd2w::utf16z(name);
    const size_t at = file.find(key);
    ASSERT_NE(at, std::string::npos) << name;
    ASSERT_EQ(file[at - 2], '\x03') << name << " is not a u32 item";
    std::memcpy(file.data() + at + key.size(), &v, 4);
}

// configure() on a new folder under `d` holding just `bytes` as x.nd2 (a new path each time: parsed
// structures are cached by path, size and modification time); "" when it succeeds, else the error.
// `last` receives the folder.
std::string configure_error(const fs::path& d, const std::string& bytes, ImageSet* out = nullptr, fs::path* last = nullptr) {
    static int n = 0;
    const fs::path sub = d / std::to_string(n++);
    fs::create_directories(sub);
    write_bytes(sub / "x.nd2", bytes);
    if (last) *last = sub;
    const std::string e = error_of([&] {
        ImageSet set = nd2().configure(sub, {});
        if (out) *out = set;
    });
    return e == "no exception" ? "" : e;
}

}  // namespace

// Every bound of the reader comes from the format or the file's size; each is accepted exactly at
// its limit and refused one past it, with a message naming the file, the value and the limit.
TEST(Nd2Bounds, RawFramesMustFitTheFile) {
    fs::path d = fresh_dir("bound_raw");
    Nd2Spec s;
    s.height = 2;
    const std::string good = make_nd2(s);
    const uint64_t row = uint64_t(s.width) * s.comp * 2, room = good.size() - (16 + 15 + 8);
    std::string edge = good;
    set_lv_u32(edge, "uiWidthBytes", uint32_t(room - row));  // frame = one row stride + one row = room
    EXPECT_EQ(configure_error(d, edge), "");
    set_lv_u32(edge, "uiWidthBytes", uint32_t(room - row + 1));
    EXPECT_NE(configure_error(d, edge).find("x.nd2: frames of " + std::to_string(room + 1) + " bytes (5x2, rows of " +
                                            std::to_string(room - row + 1) + " bytes) cannot fit in the file's " +
                                            std::to_string(good.size()) + " bytes"),
              std::string::npos)
        << configure_error(d, edge);
    fs::remove_all(d);
}

TEST(Nd2Bounds, ZlibFramesAreBoundByTheMaximumRatio) {
    fs::path d = fresh_dir("bound_zlib");
    Nd2Spec s;
    s.height = 2;
    s.zlib = true;
    Nd2Offsets where;
    const std::string good = make_nd2(s, &where);
    const uint64_t row = uint64_t(s.width) * s.comp * 2, room = good.size() - (16 + 15 + 8);
    // At parse time: a frame may be at most 1032 times what the file could hold of it.
    std::string edge = good;
    set_lv_u32(edge, "uiWidthBytes", uint32_t(room * 1032 - row));
    EXPECT_EQ(configure_error(d, edge), "");
    set_lv_u32(edge, "uiWidthBytes", uint32_t(room * 1032 - row + 1));
    EXPECT_NE(configure_error(d, edge).find("zlib frames of " + std::to_string(room * 1032 + 1) +
                                            " bytes cannot come from the file's " + std::to_string(good.size()) + " bytes"),
              std::string::npos);
    // At read time: at most 1032 times the frame's own zlib data.
    uint64_t data_len = 0;
    std::memcpy(&data_len, good.data() + where.frames[0] + 8, 8);
    const uint64_t packed = data_len - 8;
    auto read_frame0 = [&](const std::string& bytes) {
        fs::path sub;
        configure_error(d, bytes, nullptr, &sub);
        return error_of([&] {
            Plane p;
            read_plane(*source::open(sub / "x.nd2"), {0, 0, 0}, p);
        });
    };
    edge = good;
    set_lv_u32(edge, "uiWidthBytes", uint32_t(packed * 1032 - row));
    std::string e = read_frame0(edge);
    EXPECT_NE(e.find("zlib stream ends after"), std::string::npos) << e;  // accepted, then the data runs out
    set_lv_u32(edge, "uiWidthBytes", uint32_t(packed * 1032 - row + 1));
    e = read_frame0(edge);
    EXPECT_NE(e.find("ImageDataSeq|0!: a frame of " + std::to_string(packed * 1032 + 1) + " bytes cannot come from " +
                     std::to_string(packed) + " bytes of zlib data"),
              std::string::npos)
        << e;
    fs::remove_all(d);
}

TEST(Nd2Bounds, ChunksMayReachTheEndOfTheFileButNotPastIt) {
    fs::path d = fresh_dir("bound_chunk");
    Nd2Spec s;
    s.layout = Nd2Layout::nis5_aligned;
    Nd2Offsets where;
    const std::string good = make_nd2(s, &where);
    // As written, the map chunk (name field 4128 bytes) ends exactly at the end of the file.
    uint64_t data_len = 0;
    std::memcpy(&data_len, good.data() + where.map + 8, 8);
    ASSERT_EQ(where.map + 16 + 4128 + data_len, good.size());
    ImageSet set;
    EXPECT_EQ(configure_error(d, good, &set), "");
    EXPECT_TRUE(set.warnings.empty());
    // One byte more is past the end: the map is not used, the chunks are found by a scan.
    std::string bad = good;
    const uint64_t more = data_len + 1;
    std::memcpy(bad.data() + where.map + 8, &more, 8);
    fs::path sub;
    EXPECT_EQ(configure_error(d, bad, &set, &sub), "");
    EXPECT_TRUE(has_warning(set, "x.nd2: the chunk map is damaged (offset " + std::to_string(where.map) +
                                     ": chunk ND2 FILEMAP SIGNATURE NAME 0001! claims " + std::to_string(more) +
                                     " bytes of data after a name field of 4128 bytes, past the end of the file"));
    EXPECT_EQ(set.planes.size(), 8u);
    expect_frame(sub / "x.nd2", 3, 1, s);
    // A name field shorter than the name it must hold.
    bad = good;
    const uint32_t short_field = 31;
    std::memcpy(bad.data() + where.map + 4, &short_field, 4);
    EXPECT_EQ(configure_error(d, bad, &set), "");
    EXPECT_TRUE(has_warning(set, "name field of 31 bytes is shorter than the name"));
    fs::remove_all(d);
}

TEST(Nd2Bounds, LoopCountsAreThirtyTwoBitFields) {
    // An XML file can write any number: 2^32 - 1 is a count (more frames than recorded: a warning),
    // 2^32 is not.
    fs::path d = fresh_dir("bound_loop");
    auto with_count = [&](const char* count) {
        Nd2Spec s;
        s.layout = Nd2Layout::nis3_xml;
        s.loops = {{1, 3, 100}};
        s.edit = [count](const std::string& name, std::string& data) {
            if (name != "ImageMetadata!") return;
            const std::string from = "<uiCount runtype=\"lx_uint32\" value=\"3\"/>";
            data.replace(data.find(from), from.size(), std::string("<uiCount runtype=\"lx_uint32\" value=\"") + count + "\"/>");
        };
        return make_nd2(s);
    };
    ImageSet set;
    EXPECT_EQ(configure_error(d, with_count("4294967295"), &set), "");
    EXPECT_TRUE(has_warning(set, "the experiment describes 4294967295 frames but 3 were recorded"));
    EXPECT_EQ(set.planes.size(), 3u * 2);
    EXPECT_NE(configure_error(d, with_count("4294967296")).find("x.nd2: experiment loop count 4294967296.000000 is not a 32-bit count"),
              std::string::npos);
    fs::remove_all(d);
}

TEST(Nd2Bounds, PlanesMayNotOutnumberTheFileBytes) {
    // 1x1 zlib frames of many components: every component is a plane record, at most one per byte.
    fs::path d = fresh_dir("bound_planes");
    Nd2Spec s;
    s.width = s.height = 1;
    s.comp = 1;
    s.padding = 0;
    s.zlib = true;
    s.loops = {};
    s.names = {};
    const std::string good = make_nd2(s);
    std::string edge = good;
    const uint32_t size = uint32_t(good.size());
    set_lv_u32(edge, "uiComp", size);
    set_lv_u32(edge, "uiWidthBytes", size * 2);
    ImageSet set;
    EXPECT_EQ(configure_error(d, edge, &set), "");
    EXPECT_EQ(set.planes.size(), size);
    EXPECT_EQ(set.channels.back().name, "C" + std::to_string(size - 1));
    set_lv_u32(edge, "uiComp", size + 1);
    set_lv_u32(edge, "uiWidthBytes", (size + 1) * 2);
    EXPECT_NE(configure_error(d, edge).find("x.nd2: 1 frames of " + std::to_string(size + 1) +
                                            " components are more planes than the file has bytes"),
              std::string::npos);
    fs::remove_all(d);
}
