// LIF reader: synthetic files written here (UTF-16 XML header, v1 and v2 memory blocks, two images
// with two channels and Z or T, a lambda sweep, an empty image), corrupted variants, and the real
// samples from the readlif test suite.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "formats/reader.h"
#include "storage/source_files.h"
#include "lif_writer.h"
#include "test_util.h"

using namespace imx;
namespace fs = std::filesystem;
using imx::test::error_of;
using imx::test::write_bytes;

using namespace imx::test::lif;

namespace {

constexpr uint32_t W = 4, H = 3;
// 16-bit pixel of image `img`, channel c, stack index k (z or t), at (x, y).
uint16_t px(int img, int c, int k, uint32_t x, uint32_t y) { return uint16_t(img * 10000 + c * 1000 + k * 100 + y * 10 + x); }

// Two 12-bit images of 4x3 pixels with channels "Green" and "Red": 'stack' with Z=2 and
// 'movie' with T=2 (one second apart); channel planes contiguous, channel outermost but one.
std::string two_image_file(std::string* xml_out = nullptr) {
    const uint64_t plane = W * H * 2;
    std::string data[2];
    for (int img = 0; img < 2; ++img)
        for (int k = 0; k < 2; ++k)
            for (int c = 0; c < 2; ++c)
                for (uint32_t y = 0; y < H; ++y)
                    for (uint32_t x = 0; x < W; ++x) data[img] += le(px(img, c, k, x, y));
    const std::string chans = channel(0, 12, "Green") + channel(plane, 12, "Red");
    const std::string xy = dim(1, W, 2, "3.0e-006") + dim(2, H, W * 2, "2.0e-006");
    const std::string xml = document(image("stack", chans, xy + dim(3, 2, 2 * plane, "5.0e-007"), "MemBlock_1", data[0].size()) +
                                     image("empty", chans, xy, "MemBlock_2", 0) +
                                     image("movie", chans, xy + dim(4, 2, 2 * plane, "1.0", "s"), "MemBlock_3", data[1].size()));
    if (xml_out) *xml_out = xml;
    return make_lif(xml, {{"MemBlock_0", ""}, {"MemBlock_1", data[0]}, {"MemBlock_2", ""}, {"MemBlock_3", data[1]}});
}

using imx::test::fresh_dir;

const LayoutReader& lif() { return *find_layout_reader("lif"); }

}  // namespace

TEST(Lif, SyntheticTwoImagesTwoChannelsZAndT) {
    fs::path d = fresh_dir("two");
    write_bytes(d / "a.lif", two_image_file());
    EXPECT_EQ(lif().detect(d), 80);
    ImageSet set = lif().configure(d, {});
    EXPECT_EQ(set.format, "lif");
    // The inventory: each image a series of one-sample planes, together every plane the layout maps.
    const FileContents c = decoder_for(*source::open(d / "a.lif")).contents(*source::open(d / "a.lif"));
    ASSERT_EQ(c.runs.size(), 2u);
    EXPECT_EQ(c.runs[1].series, 1u);
    EXPECT_EQ(c.runs[1].first, c.runs[0].count);
    EXPECT_EQ(c.runs[0].count + c.runs[1].count, set.planes.size());
    EXPECT_EQ(c.runs[0].samples, 1u);
    EXPECT_TRUE(c.unreachable.empty());
    ASSERT_EQ(set.channels.size(), 2u);
    EXPECT_EQ(set.channels[0].name, "Green");
    EXPECT_EQ(set.channels[1].name, "Red");
    EXPECT_EQ(set.width, W);
    EXPECT_EQ(set.height, H);
    EXPECT_EQ(set.dtype, DType::u16);
    EXPECT_EQ(set.bits_per_sample, 12);
    // Length / (N - 1), metres -> micrometres.
    EXPECT_NEAR(set.pixel_size_x.value(), 1.0, 1e-9);
    EXPECT_NEAR(set.pixel_size_y.value(), 1.0, 1e-9);
    EXPECT_NEAR(set.pixel_size_z.value(), 0.5, 1e-9);
    bool warned = false;
    for (auto& w : set.warnings) warned |= w.find("image 'empty' has no pixel data") != std::string::npos;
    EXPECT_TRUE(warned);
    ASSERT_EQ(set.planes.size(), 8u);  // 2 images x 2 channels x (Z=2 | T=2)
    std::set<std::tuple<int, int, int, int>> keys;
    const PixelDecoder& dec = decoder_for(*source::open(d / "a.lif"));
    EXPECT_EQ(dec.name(), "lif");
    EXPECT_EQ(dec.page_count(*source::open(d / "a.lif")), 8u);
    for (auto& p : set.planes) {
        EXPECT_EQ(p.row, 0);
        EXPECT_EQ(p.col, 0);
        EXPECT_EQ(p.site, int(p.series));  // image 'stack' -> site 0, 'movie' -> site 1
        keys.insert({p.site, p.channel, p.zplane, p.tpoint});
        const int k = p.site == 0 ? p.zplane : p.tpoint;
        EXPECT_EQ(p.site == 0 ? p.tpoint : p.zplane, 0);
        Plane plane;
        read_plane(*source::open(d / p.file), {0, p.page, p.sample}, plane);
        ASSERT_EQ(plane.width, W);
        ASSERT_EQ(plane.height, H);
        for (uint32_t y = 0; y < H; ++y)
            for (uint32_t x = 0; x < W; ++x)
                ASSERT_EQ(plane.as<uint16_t>()[y * W + x], px(p.site, p.channel, k, x, y))
                    << "site " << p.site << " channel " << p.channel << " k " << k;
    }
    EXPECT_EQ(keys.size(), 8u);
    fs::remove_all(d);
}

TEST(Lif, Version1LambdaSweepAndStridedPlanes) {
    // 8-bit, 32-bit block sizes; the lambda dimension sits between X and Y in memory (a strided
    // plane), so rows are not contiguous.
    fs::path d = fresh_dir("v1");
    const uint32_t w = 3, h = 2, nl = 3;
    std::string data(size_t(w) * h * nl, '\0');
    for (uint32_t y = 0; y < h; ++y)
        for (uint32_t l = 0; l < nl; ++l)
            for (uint32_t x = 0; x < w; ++x) data[y * (w * nl) + l * w + x] = char(100 + 10 * l + 3 * y + x);
    const std::string dims = dim(1, w, 1) + dim(5, nl, w, "2.0e-008", "m", "5.0e-007") + dim(2, h, w * nl);
    const std::string xml = document(image("sweep", channel(0, 8, "Gray"), dims, "MemBlock_9", data.size()), 1);
    write_bytes(d / "s.lif", make_lif(xml, {{"MemBlock_0", ""}, {"MemBlock_9", data}}, 1));
    ImageSet set = lif().configure(d, {});
    ASSERT_EQ(set.channels.size(), 3u);
    EXPECT_EQ(set.channels[0].name, "Gray em 500nm");
    EXPECT_EQ(set.channels[1].name, "Gray em 510nm");
    EXPECT_EQ(set.channels[2].name, "Gray em 520nm");
    EXPECT_EQ(set.dtype, DType::u8);
    ASSERT_EQ(set.planes.size(), 3u);
    for (auto& p : set.planes) {
        Plane plane;
        read_plane(*source::open(d / p.file), {0, p.page, 0}, plane);
        ASSERT_EQ(plane.width, w);
        ASSERT_EQ(plane.height, h);
        for (uint32_t y = 0; y < h; ++y)
            for (uint32_t x = 0; x < w; ++x) EXPECT_EQ(plane.as<uint8_t>()[y * w + x], 100 + 10 * p.channel + 3 * y + x);
    }
    fs::remove_all(d);
}

// An image with pixel data the decoder cannot read is skipped by the layout with a warning, and the
// inventory counts its pixels as unreachable: the file is not complete, so never deleted.
TEST(Lif, ImagesItCannotReadMakeTheFileIncomplete) {
    fs::path d = fresh_dir("unread");
    const std::string data(W * H * 2, '\x05');
    const std::string chans = channel(0, 12, "Green");
    const std::string xy = dim(1, W, 2) + dim(2, H, W * 2);
    const std::string xml = document(image("good", chans, xy, "MemBlock_1", data.size()) +
                                     image("odd", chans, xy + dim(7, 1, 0), "MemBlock_2", data.size()));
    write_bytes(d / "a.lif", make_lif(xml, {{"MemBlock_0", ""}, {"MemBlock_1", data}, {"MemBlock_2", data}}));
    ImageSet set = lif().configure(d, {});
    EXPECT_EQ(set.planes.size(), 1u);
    const FileContents c = decoder_for(*source::open(d / "a.lif")).contents(*source::open(d / "a.lif"));
    ASSERT_EQ(c.runs.size(), 1u);
    ASSERT_EQ(c.unreachable.size(), 1u);
    EXPECT_EQ(c.unreachable[0], "image 'odd' (dimension DimID 7 is not supported)");
}

TEST(Lif, TruncatedAndCorruptFilesGiveClearErrors) {
    fs::path d = fresh_dir("corrupt");
    std::string xml;
    const std::string good = two_image_file(&xml);
    auto configure_error = [&](const std::string& bytes, const std::string& name) {
        fs::path sub = d / name;
        fs::create_directories(sub);
        write_bytes(sub / (name + ".lif"), bytes);
        return error_of([&] { lif().configure(sub, {}); });
    };
    // Cut inside the last memory block: that image's block runs past the end.
    std::string e = configure_error(good.substr(0, good.size() - 10), "cut");
    EXPECT_NE(e.find("image 'movie': memory block MemBlock_3 of 96 bytes runs past the end of the file"), std::string::npos) << e;
    // Cut inside the XML header.
    e = configure_error(good.substr(0, 200), "cutxml");
    EXPECT_NE(e.find("offset 13: XML header of"), std::string::npos) << e;
    EXPECT_NE(e.find("runs past the end of the file"), std::string::npos) << e;
    // Not a LIF file at all.
    e = configure_error(std::string(64, 'x'), "magic");
    EXPECT_NE(e.find("not a Leica LIF file"), std::string::npos) << e;
    // Dimensions that need more bytes than the block holds.
    std::string big = xml;
    big.replace(big.find("NumberOfElements=\"2\""), 20, "NumberOfElements=\"2000000000\"");
    e = configure_error(make_lif(big, {{"MemBlock_1", std::string(96, '\0')}, {"MemBlock_3", std::string(96, '\0')}}), "dims");
    EXPECT_NE(e.find("image 'stack': its dimensions need"), std::string::npos) << e;
    EXPECT_NE(e.find("memory block MemBlock_1 holds 96"), std::string::npos) << e;
    // Malformed XML.
    e = configure_error(make_lif("<LMSDataContainerHeader><Element", {}), "xml");
    EXPECT_NE(e.find("XML header is not well-formed"), std::string::npos) << e;
    // A hostile memory block size (2^63) with nothing behind it.
    std::string hostile = make_lif(xml, {{"MemBlock_1", ""}});
    const uint64_t huge = uint64_t(1) << 63;
    std::memcpy(hostile.data() + hostile.size() - 2 * 10 - 4 - 1 - 8, &huge, 8);
    e = configure_error(hostile, "hostile");
    EXPECT_NE(e.find("runs past the end of the file"), std::string::npos) << e;
    // Only images without pixel data: a clear error, not an empty plate.
    e = configure_error(make_lif(document(image("empty", channel(0, 8, "G"), dim(1, 2, 1) + dim(2, 2, 2), "MemBlock_2", 0)),
                                 {{"MemBlock_2", ""}}),
                        "nodata");
    EXPECT_NE(e.find("the LIF files hold no image with pixel data"), std::string::npos) << e;
    fs::remove_all(d);
}

TEST(Lif, EveryByteFlippedNeverCrashes) {
    fs::path d = fresh_dir("flip");
    const std::string good = two_image_file();
    size_t errors = 0;
    for (size_t i = 0; i < good.size(); i += 11) {
        fs::path sub = d / std::to_string(i);
        fs::create_directories(sub);
        std::string bad = good;
        bad[i] = char(~bad[i]);
        write_bytes(sub / "f.lif", bad);
        try {
            decoder_for(*source::open(sub / "f.lif")).contents(*source::open(sub / "f.lif"));  // the inventory's view: no crash
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), Error::Kind::input) << e.what();
        }
        try {
            ImageSet set = lif().configure(sub, {});
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

// The readlif test files (nimne/readlif, tests/). Geometry and plane sums were confirmed by
// tests/oracle/nd2_lif_oracle.py, an independent numpy reader: x_y_lambdaEmi 64x64 with 20
// emission wavelengths 550..740 nm, x_y_lambdaExc with 15 excitation wavelengths 490..560 nm,
// x_y_z_t_lambdaEmi with Z=11, T=2 and 10 wavelengths 555..595 nm; 8-bit; 255 planes.
TEST(Lif, SampleWavelengthSweep) {
    fs::path f = fs::path(IMX_SAMPLES_DIR) / "lif/readlif/LeicaLASX_wavelength-sweep_example.lif";
    if (!fs::exists(f)) GTEST_SKIP() << "sample not found: " << f;
    fs::path d = fresh_dir("sweep");
    fs::copy_file(f, d / "sweep.lif");
    ImageSet set = lif().configure(d, {});
    EXPECT_EQ(set.width, 64u);
    EXPECT_EQ(set.height, 64u);
    EXPECT_EQ(set.dtype, DType::u8);
    ASSERT_EQ(set.planes.size(), 255u);
    ASSERT_EQ(set.channels.size(), 40u);
    EXPECT_EQ(set.channels[0].name, "Green em 550nm");
    EXPECT_EQ(set.channels[19].name, "Green em 740nm");
    EXPECT_EQ(set.channels[20].name, "Green ex 490nm");
    EXPECT_EQ(set.channels[39].name, "Green em 595nm");
    EXPECT_NEAR(set.pixel_size_x.value(), 6.603309 / 63, 1e-6);
    std::set<int> sites, z, t;
    for (auto& p : set.planes) {
        sites.insert(p.site);
        z.insert(p.zplane);
        t.insert(p.tpoint);
    }
    EXPECT_EQ(sites.size(), 3u);
    EXPECT_EQ(z.size(), 11u);
    EXPECT_EQ(t.size(), 2u);
    auto sum = [&](const PlaneRecord& r) {
        Plane p;
        read_plane(*source::open(d / r.file), {0, r.page, r.sample}, p);
        uint64_t total = 0;
        for (size_t i = 0; i < p.pixel_count(); ++i) total += p.as<uint8_t>()[i];
        return total;
    };
    // Oracle sums: site 0 at 550 nm = 67155, at 560 nm = 120123; site 2, 595 nm, t1 z9 = 4796.
    std::map<std::string, uint64_t> want = {{"0|Green em 550nm|0|0", 67155}, {"0|Green em 560nm|0|0", 120123},
                                            {"2|Green em 595nm|1|9", 4796}, {"2|Green em 595nm|1|8", 6909}};
    size_t found = 0;
    for (auto& r : set.planes) {
        const std::string key = std::to_string(r.site) + "|" + set.channels[size_t(r.channel)].name + "|" +
                                std::to_string(r.tpoint) + "|" + std::to_string(r.zplane);
        if (auto it = want.find(key); it != want.end()) {
            EXPECT_EQ(sum(r), it->second) << key;
            ++found;
        }
    }
    EXPECT_EQ(found, want.size());
    fs::remove_all(d);
}

TEST(Lif, SampleXzPlanes) {
    fs::path f = fs::path(IMX_SAMPLES_DIR) / "lif/readlif/LeicaLASX_xz-plane_example.lif";
    if (!fs::exists(f)) GTEST_SKIP() << "sample not found: " << f;
    fs::path d = fresh_dir("xz");
    fs::copy_file(f, d / "xz.lif");
    ImageSet set = lif().configure(d, {});
    // 'x-z' (512 x 512, X by Z) sets the first plate's plane size; the 128-pixel images (10
    // time-points of 128 x 128, 64 planes of 128 x 38) go to plates of their own.
    EXPECT_EQ(set.width, 512u);
    EXPECT_EQ(set.height, 512u);
    ASSERT_EQ(set.planes.size(), 75u);
    ASSERT_EQ(set.plates.size(), 3u);
    EXPECT_EQ(set.plates[1].name, d.filename().string() + "_128x128");
    EXPECT_EQ(set.plates[2].name, d.filename().string() + "_128x38");
    EXPECT_EQ(set.plates[2].width, 128u);
    EXPECT_EQ(set.plates[2].height, 38u);
    std::map<std::string, size_t> per_plate;
    for (auto& pl : set.planes) per_plate[pl.plate]++;
    EXPECT_EQ(per_plate[set.plates[0].name], 1u);
    EXPECT_EQ(per_plate[set.plates[1].name], 10u);
    EXPECT_EQ(per_plate[set.plates[2].name], 64u);
    for (auto& pl : set.planes) {
        if (pl.plate != set.plates[2].name) continue;
        PageInfo info = decoder_for(*source::open(d / "xz.lif")).page_info(*source::open(d / "xz.lif"), pl.page);
        EXPECT_EQ(info.width, 128u);
        EXPECT_EQ(info.height, 38u);
        break;
    }
    Plane p;
    read_plane(*source::open(d / "xz.lif"), {0, set.planes[0].page, 0}, p);
    uint64_t total = 0;
    for (size_t i = 0; i < p.pixel_count(); ++i) total += p.as<uint8_t>()[i];
    EXPECT_EQ(total, 674285u);  // oracle sum
    EXPECT_EQ(p.as<uint8_t>()[0], 4);
    fs::remove_all(d);
}

#include "formats/container_util.h"

TEST(Lif, Utf16ToUtf8) {
    std::string out;
    // "µm", a surrogate pair (U+1F600) and an unpaired surrogate (-> U+FFFD).
    ASSERT_TRUE(container::utf16le_to_utf8(std::string("\xB5\x00m\x00\x3D\xD8\x00\xDE\x00\xD8", 10), out));
    EXPECT_EQ(out, "\xC2\xB5m\xF0\x9F\x98\x80\xEF\xBF\xBD");
    EXPECT_FALSE(container::utf16le_to_utf8(std::string("abc", 3), out));  // odd byte count
}

// Planes are at least a byte of their memory block: 1x1 8-bit planes of one channel, z = the
// block's bytes, are accepted; two channels on the same bytes make twice as many planes as bytes.
TEST(Lif, PlanesMayNotOutnumberTheirBlockBytes) {
    fs::path d = fresh_dir("planes");
    const uint64_t n = 64;
    auto file = [&](const std::string& channels) {
        return make_lif(document(image("z", channels, dim(1, 1, 1) + dim(2, 1, 1) + dim(3, n, 1), "MemBlock_1", n)),
                        {{"MemBlock_1", std::string(n, '\x07')}});
    };
    fs::create_directories(d / "edge");
    write_bytes(d / "edge/a.lif", file(channel(0, 8, "Gray")));
    EXPECT_EQ(lif().configure(d / "edge", {}).planes.size(), n);
    fs::create_directories(d / "past");
    write_bytes(d / "past/a.lif", file(channel(0, 8, "Gray") + channel(0, 8, "Red")));
    const std::string e = error_of([&] { lif().configure(d / "past", {}); });
    EXPECT_NE(e.find("image 'z' describes more planes than memory block MemBlock_1 of 64 bytes holds"), std::string::npos) << e;
    fs::remove_all(d);
}
