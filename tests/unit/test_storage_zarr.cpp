#include <gtest/gtest.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <random>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "core/checksum.h"
#include "storage/store.h"
#include "render/pixel_ops.h"
#include "zarr/codec.h"
#include "zarr/ngff.h"
#include "test_util.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

using imx::test::fresh_dir;

Plane ramp_plane(uint32_t w, uint32_t h, uint16_t offset) {
    Plane p;
    p.allocate(DType::u16, w, h);
    auto* v = p.as<uint16_t>();
    for (size_t i = 0; i < p.pixel_count(); ++i) v[i] = uint16_t(offset + (i * 7) % 5000);
    return p;
}

}  // namespace

TEST(FilesystemStore, PutGetListRemove) {
    fs::path root = fresh_dir("store");
    auto store = open_store(root.string());
    store->put("a/b/c", "hello");
    store->put("a/d", "x");
    EXPECT_EQ(store->get("a/b/c").value(), "hello");
    EXPECT_EQ(store->size("a/d").value(), 1u);
    EXPECT_FALSE(store->get("a/missing").has_value());
    EXPECT_EQ(store->list("a"), (std::vector<std::string>{"a/b/c", "a/d"}));
    store->put("a/b/c", "replaced");
    EXPECT_EQ(store->get("a/b/c").value(), "replaced");
    store->remove("a/d");
    EXPECT_FALSE(store->exists("a/d"));
    EXPECT_GE(store->remove_prefix("a/"), 1u);
    EXPECT_TRUE(store->list("").empty());
    fs::remove_all(root);
}

TEST(FilesystemStore, RefusesKeysThatEscape) {
    fs::path root = fresh_dir("store_escape");
    auto store = open_store(root.string());
    EXPECT_THROW(store->put("../outside", "x"), Error);
    EXPECT_THROW(store->put("a/../../b", "x"), Error);
    EXPECT_THROW(store->put("/abs", "x"), Error);
    EXPECT_THROW(store->get("a//b"), Error);
    EXPECT_FALSE(fs::exists(root.parent_path() / "outside"));
    fs::remove_all(root);
}

TEST(FilesystemStore, ListSkipsAndCleanupRemovesTemporaries) {
    fs::path root = fresh_dir("store_tmp");
    auto store = open_store(root.string());
    store->put("k/chunk", "data");
    { std::ofstream(root / "k" / ".chunk.123.0.tmp") << "half"; }
    EXPECT_EQ(store->list("k"), std::vector<std::string>{"k/chunk"});
    EXPECT_EQ(store->remove_temporaries(), 1u);
    EXPECT_FALSE(fs::exists(root / "k" / ".chunk.123.0.tmp"));
    fs::remove_all(root);
}

namespace {
// Pages of `file` in the page cache (mincore), or -1 when it cannot tell.
long resident_pages(const fs::path& file) {
    int fd = ::open(file.c_str(), O_RDONLY);
    if (fd < 0) return -1;
    const size_t size = size_t(fs::file_size(file));
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) return -1;
    const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> in((size + page - 1) / page);
    long n = -1;
    if (::mincore(map, size, in.data()) == 0) {
        n = 0;
        for (unsigned char c : in) n += c & 1;
    }
    ::munmap(map, size);
    return n;
}
}  // namespace

TEST(FilesystemStore, DirectWritesRoundTripAndBypassThePageCache) {
    // IMX_DIRECT_WRITES=1: values of 1 MiB or more are written with O_DIRECT in 4 MiB aligned
    // pieces, the last one padded and cut; smaller values and filesystems that refuse O_DIRECT
    // are written through the page cache. Every value must read back exactly either way.
    fs::path root = fresh_dir("store_direct");
    auto store = open_store(root.string());
    int probe = ::open((root / "probe").c_str(), O_WRONLY | O_CREAT | O_DIRECT, 0644);
    const bool fs_supports_direct = probe >= 0;
    if (probe >= 0) ::close(probe);
    std::mt19937 rng(3);
    auto value_of = [&](size_t n) {
        std::string v(n, '\0');
        for (auto& c : v) c = char(rng());
        return v;
    };
    ::setenv("IMX_DIRECT_WRITES", "1", 1);
    for (size_t n : {size_t(100), size_t(1) << 20, (size_t(4) << 20) + 1, (size_t(9) << 20) + 123}) {
        const std::string key = "plate/c/" + std::to_string(n);
        const std::string v = value_of(n);
        store->put(key, v);
        EXPECT_EQ(fs::file_size(root / key), n);
        if (fs_supports_direct && n >= (size_t(1) << 20)) {
            EXPECT_EQ(resident_pages(root / key), 0) << n;
        }
        EXPECT_EQ(store->get(key).value(), v) << n;
        store->put(key, value_of(n / 2 + 1));  // overwriting with a shorter value leaves no tail
        EXPECT_EQ(fs::file_size(root / key), n / 2 + 1);
    }
    ::unsetenv("IMX_DIRECT_WRITES");
    // Without the variable the same value goes through the page cache.
    const std::string v = value_of(size_t(2) << 20);
    store->put("plate/c/buffered", v);
    if (fs_supports_direct) {
        EXPECT_GT(resident_pages(root / "plate/c/buffered"), 0);
    }
    EXPECT_EQ(store->get("plate/c/buffered").value(), v);
    EXPECT_EQ(store->list("plate/c").size(), 5u);  // no temporaries left behind
    fs::remove_all(root);
}

class CodecRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(CodecRoundTrip, EncodesAndDecodesExactly) {
    CodecSpec c = parse_codec(GetParam());
    Plane p = ramp_plane(300, 200, 100);
    std::string enc;
    encode_chunk(c, p.data.data(), p.byte_size(), 2, enc);
    if (c.kind != CodecSpec::Kind::none) {
        EXPECT_LT(enc.size(), p.byte_size());
    }
    std::vector<std::byte> out(p.byte_size());
    decode_chunk(c, enc, out.data(), out.size());
    EXPECT_EQ(0, std::memcmp(out.data(), p.data.data(), out.size()));
    // A flipped byte or a cut chunk must be caught, never crash.
    std::string cut = enc.substr(0, enc.size() / 2);
    EXPECT_THROW(decode_chunk(c, cut, out.data(), out.size()), Error);
    EXPECT_EQ(codec_from_compressor_json(compressor_json(c)).kind, c.kind);
}

TEST_P(CodecRoundTrip, ReusedBufferHoldsEachChunkAtItsFront) {
    // A run job's thread encodes plane after plane into one buffer: a big plane, then a small one,
    // then a big one again; each time the front of the buffer is exactly that plane's chunk.
    CodecSpec c = parse_codec(GetParam());
    std::string buffer;
    for (auto [w, h, seed] : {std::tuple{300, 200, 100}, {31, 7, 5}, {280, 190, 9}}) {
        Plane p = ramp_plane(uint32_t(w), uint32_t(h), uint16_t(seed));
        std::string alone;
        encode_chunk(c, p.data.data(), p.byte_size(), 2, alone);
        const size_t n = encode_chunk_into(c, p.data.data(), p.byte_size(), 2, buffer);
        ASSERT_EQ(n, alone.size());
        EXPECT_GE(buffer.size(), n);
        EXPECT_EQ(std::string_view(buffer.data(), n), alone);
        std::vector<std::byte> out(p.byte_size());
        decode_chunk(c, std::string_view(buffer.data(), n), out.data(), out.size());
        EXPECT_EQ(0, std::memcmp(out.data(), p.data.data(), out.size()));
    }
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecRoundTrip,
                         ::testing::Values("none", "blosc-lz4", "blosc-zstd", "zstd", "zstd:9", "blosc-lz4:1"));

TEST(Codec, RejectsUnknownNamesAndLevels) {
    EXPECT_THROW(parse_codec("gzip"), Error);
    EXPECT_THROW(parse_codec("zstd:99"), Error);
    EXPECT_THROW(parse_codec("blosc-lz4:x"), Error);
}

TEST(NgffPlate, WritesHcsMetadataAndPlanes) {
    fs::path root = fresh_dir("ngff");
    auto store = open_store(root.string());
    PlateLayout L;
    L.name = "plate one";
    L.path = "plate_one.zarr";
    L.rows = 8;
    L.cols = 12;
    L.wells = {{1, 2, 2}, {0, 0, 1}};
    L.channels = {{"DAPI", "0000FF", 0, 0}, {"GFP", "00FF00", 0, 0}};
    L.zplanes = 3;
    L.width = 64;
    L.height = 48;
    L.pixel_size_x = L.pixel_size_y = 0.65;
    L.pixel_size_z = 2.0;
    L.codec = parse_codec("blosc-zstd");
    NgffPlate plate(*store, L);
    plate.write_metadata();
    Plane p = ramp_plane(64, 48, 7);
    plate.write_plane(1, 2, 1, 0, 1, 2, p);
    EXPECT_TRUE(store->exists("plate_one.zarr/B/03/1/0/0/1/2/0/0"));
    Plane back = plate.read_plane(1, 2, 1, 0, 1, 2);
    EXPECT_EQ(pixel_checksum(back.data.data(), back.byte_size()), pixel_checksum(p.data.data(), p.byte_size()));
    EXPECT_THROW(plate.read_plane(1, 2, 0, 0, 0, 0), Error);  // never written

    auto attrs = nlohmann::json::parse(store->get("plate_one.zarr/.zattrs").value());
    auto& wells = attrs["plate"]["wells"];
    ASSERT_EQ(wells.size(), 2u);
    EXPECT_EQ(wells[0]["path"], "A/01");  // sorted by row, column
    EXPECT_EQ(wells[1]["path"], "B/03");
    EXPECT_EQ(wells[1]["rowIndex"], 1);
    EXPECT_EQ(wells[1]["columnIndex"], 2);
    EXPECT_EQ(attrs["plate"]["rows"].size(), 8u);
    EXPECT_EQ(attrs["plate"]["columns"][2]["name"], "03");
    EXPECT_EQ(attrs["plate"]["field_count"], 2);
    auto well = nlohmann::json::parse(store->get("plate_one.zarr/B/03/.zattrs").value());
    EXPECT_EQ(well["well"]["images"].size(), 2u);
    auto img = nlohmann::json::parse(store->get("plate_one.zarr/B/03/1/.zattrs").value());
    auto& ms = img["multiscales"][0];
    EXPECT_EQ(ms["axes"].size(), 5u);
    EXPECT_EQ(ms["axes"][4]["unit"], "micrometer");
    auto scale = ms["datasets"][0]["coordinateTransformations"][0]["scale"];
    EXPECT_DOUBLE_EQ(scale[2].get<double>(), 2.0);
    EXPECT_DOUBLE_EQ(scale[4].get<double>(), 0.65);
    EXPECT_EQ(img["omero"]["channels"][1]["label"], "GFP");
    auto arr = nlohmann::json::parse(store->get("plate_one.zarr/B/03/1/0/.zarray").value());
    EXPECT_EQ(arr["shape"], nlohmann::json({1, 2, 3, 48, 64}));
    EXPECT_EQ(arr["chunks"], nlohmann::json({1, 1, 1, 48, 64}));
    EXPECT_EQ(arr["dimension_separator"], "/");
    EXPECT_EQ(arr["compressor"]["cname"], "zstd");
    EXPECT_EQ(NgffPlate::read_layout(*store, "plate_one.zarr").wells.size(), 2u);

    // A plane of another size is refused, not stored.
    Plane wrong = ramp_plane(10, 10, 0);
    EXPECT_THROW(plate.write_plane(0, 0, 0, 0, 0, 0, wrong), Error);
    fs::remove_all(root);
}

// A plate that holds channels 0 and 2 of the experiment's three: its arrays have two channels, the
// experiment's channel 2 is the image's channel 1, and channel 1 is refused rather than stored.
TEST(NgffPlate, PlateWithSomeOfTheChannels) {
    fs::path root = fresh_dir("ngff_subset");
    auto store = open_store(root.string());
    PlateLayout L;
    L.name = L.path = "sub.zarr";
    L.rows = 8;
    L.cols = 12;
    L.wells = {{0, 0, 1}};
    L.channels = {{"DAPI", "0000FF", 0, 0}, {"GFP", "00FF00", 0, 0}, {"RFP", "FF0000", 0, 0}};
    L.plate_channels = {0, 2};
    L.width = 16;
    L.height = 8;
    L.codec = parse_codec("none");
    NgffPlate plate(*store, PlateLayout::from_json(L.to_json()));  // survives the job description
    plate.write_metadata();
    EXPECT_EQ(plate.chunk_key(0, 0, 0, 0, 2, 0), "sub.zarr/A/01/0/0/0/1/0/0/0");
    EXPECT_THROW(plate.chunk_key(0, 0, 0, 0, 1, 0), Error);
    plate.write_plane(0, 0, 0, 0, 2, 0, ramp_plane(16, 8, 3));
    EXPECT_EQ(plate.read_plane(0, 0, 0, 0, 2, 0).byte_size(), 16u * 8 * 2);
    auto arr = nlohmann::json::parse(store->get("sub.zarr/A/01/0/0/.zarray").value());
    EXPECT_EQ(arr["shape"], nlohmann::json({1, 2, 1, 8, 16}));
    auto img = nlohmann::json::parse(store->get("sub.zarr/A/01/0/.zattrs").value());
    ASSERT_EQ(img["omero"]["channels"].size(), 2u);
    EXPECT_EQ(img["omero"]["channels"][1]["label"], "RFP");
    L.plate_channels = {0, 3};  // not a channel of the experiment
    EXPECT_THROW(NgffPlate(*store, L), Error);
    fs::remove_all(root);
}

TEST(PixelOps, MaxProjectionAndStatistics) {
    Plane a = ramp_plane(100, 100, 0), b = ramp_plane(100, 100, 0);
    auto* bv = b.as<uint16_t>();
    bv[5] = 60000;
    max_project_into(a, b);
    EXPECT_EQ(a.as<uint16_t>()[5], 60000);
    EXPECT_EQ(a.as<uint16_t>()[6], b.as<uint16_t>()[6]);
    PlaneStats s = plane_stats(a);
    EXPECT_EQ(s.max, 60000);
    EXPECT_EQ(s.min, 0);
    EXPECT_LT(s.p999, 60000);  // one hot pixel in 10000 does not set the window
    EXPECT_GE(s.p999, 4900);
    Plane other = ramp_plane(10, 10, 0);
    EXPECT_THROW(max_project_into(a, other), Error);
}

TEST(PixelOps, StatisticsOfCameraFramesMatchAFullScan) {
    // Minimum and maximum are exact (a vectorised pass over lanes, with a tail that does not fill
    // the lanes); the percentiles come from a sample and stay close to the exact ones.
    std::mt19937 rng(11);
    for (uint32_t w : {2560u, 2561u, 7u}) {
        Plane p;
        p.allocate(DType::u16, w, 2160 / (w == 7 ? 2160 : 1));
        auto* v = p.as<uint16_t>();
        const size_t n = p.pixel_count();
        for (size_t i = 0; i < n; ++i) v[i] = uint16_t(1000 + rng() % 3000);
        v[n - 1] = 65000;                   // the maximum in the tail
        if (n > 100) v[n / 2 + 3] = 12;     // the minimum mid-lane
        PlaneStats s = plane_stats(p);
        auto [lo, hi] = std::minmax_element(v, v + n);
        EXPECT_EQ(s.min, *lo) << w;
        EXPECT_EQ(s.max, *hi) << w;
        if (n > 100) {
            std::vector<uint16_t> sorted(v, v + n);
            std::sort(sorted.begin(), sorted.end());
            EXPECT_NEAR(s.p999, sorted[size_t(double(n) * 0.999)], 10) << w;
            EXPECT_NEAR(s.p001, sorted[size_t(double(n) * 0.001)], 10) << w;
        }
    }
    Plane f;
    f.allocate(DType::f32, 1001, 3);
    auto* fv = f.as<float>();
    for (size_t i = 0; i < f.pixel_count(); ++i) fv[i] = float(i % 97) - 40.5f;
    fv[2999] = 1e6f;
    PlaneStats fs_ = plane_stats(f);
    EXPECT_EQ(fs_.min, -40.5);
    EXPECT_EQ(fs_.max, 1e6);
}

TEST(PixelOps, StatisticsPassAlsoGivesThePlanesChecksum) {
    // The one pass over the plane feeds the checksum block by block: the same value as the
    // checksum of the whole plane at once, for every type, for planes shorter than a block and
    // planes that end inside one; and the same statistics as without it.
    std::mt19937 rng(5);
    for (DType t : {DType::u8, DType::u16, DType::i16, DType::u32, DType::f32})
        for (uint32_t w : {0u, 1u, 7u, 2560u, 2561u}) {
            Plane p;
            p.allocate(t, w, w > 100 ? 13 : 3);
            auto* bytes = reinterpret_cast<unsigned char*>(p.data.data());
            for (size_t i = 0; i < p.byte_size(); ++i) bytes[i] = (unsigned char)(rng() % 200);
            std::vector<uint64_t> h1(histogram_bins(t)), h2(histogram_bins(t));
            std::string sum;
            PlaneStats with = plane_stats(p, h1.empty() ? nullptr : &h1, &sum);
            PlaneStats without = plane_stats(p, h2.empty() ? nullptr : &h2);
            EXPECT_EQ(sum, pixel_checksum(p.data.data(), p.byte_size())) << dtype_name(t) << " " << w;
            EXPECT_EQ(with.min, without.min);
            EXPECT_EQ(with.max, without.max);
            EXPECT_EQ(with.p999, without.p999);
            EXPECT_EQ(h1, h2);
        }
    PixelChecksum pieces;
    pieces.update("abc", 3);
    pieces.update("defgh", 5);
    EXPECT_EQ(pieces.hex(), pixel_checksum("abcdefgh", 8));
    EXPECT_NE(pieces.hex(), pixel_checksum("abcdefg", 7));
}

TEST(Catalog, CreateRecordsPlatesSitesAndMipOutputs) {
    fs::path dir = fresh_dir("catalog");
    ImageSet set;
    set.format = "test";
    set.plates = {{"P1", 8, 12}};
    set.channels = {{"c0", {}, {}}, {"c1", 488.0, 520.0}};
    set.width = 10;
    set.height = 10;
    set.dtype = DType::u16;
    std::vector<SourceFile> files;
    for (int site = 0; site < 2; ++site)
        for (int c = 0; c < 2; ++c)
            for (int z = 0; z < 3; ++z) {
                std::string f = "f_" + std::to_string(site) + std::to_string(c) + std::to_string(z) + ".tif";
                PlaneRecord r;
                r.plate = "P1";
                r.row = 1;
                r.col = 2;
                r.site = site;
                r.channel = c;
                r.zplane = z;
                r.file = f;
                r.stage_x = 1.5 * site;
                set.planes.push_back(r);
                files.push_back({f, 100, 1, "complete", ""});
            }
    ExperimentConfig cfg;
    cfg.source = "/src";
    cfg.store = "/store";
    cfg.mip = true;
    cfg.codec = parse_codec("zstd");
    Catalog::create(dir / "c.sqlite", set, cfg, files);
    Catalog cat(dir / "c.sqlite", true);
    auto s = cat.summary();
    EXPECT_EQ(s.plates, 1);
    EXPECT_EQ(s.wells, 1);
    EXPECT_EQ(s.sites, 2);
    EXPECT_EQ(s.channels, 2);
    EXPECT_EQ(s.zplanes, 3);
    EXPECT_EQ(s.planes, 12);
    EXPECT_EQ(s.outputs, 4);  // z collapsed by --mip
    EXPECT_TRUE(s.mip);
    EXPECT_EQ(cat.config().codec.kind, CodecSpec::Kind::zstd);
    EXPECT_EQ(cat.plates().at(0).store_path, "P1.zarr");
    EXPECT_EQ(cat.channels().at(1).emission_nm.value(), 520.0);
    fs::remove_all(dir);
}

TEST(Catalog, PlateKeysAreSafe) {
    EXPECT_EQ(safe_plate_key("my plate/../x"), "my_plate_.._x");
    EXPECT_EQ(safe_plate_key(".."), "plate");
    EXPECT_EQ(safe_plate_key(""), "plate");
}
