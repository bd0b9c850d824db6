// Pyramid levels (2x2 mean / max), Zarr v3 sharding and the NGFF 0.5 layout.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "storage/store.h"
#include "test_util.h"
#include "zarr/ngff.h"
#include "zarr/pyramid.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

using imx::test::fresh_dir;

template <class T> Plane make_plane(DType t, uint32_t w, uint32_t h, std::initializer_list<T> values) {
    Plane p;
    p.allocate(t, w, h);
    std::copy(values.begin(), values.end(), p.as<T>());
    return p;
}

using test::noise_plane;

PlateLayout small_layout(const std::string& ngff, ShardMode shard) {
    PlateLayout L;
    L.name = "P";
    L.path = "P.zarr";
    L.rows = 2;
    L.cols = 3;
    L.wells = {{1, 2, 2}};
    L.channels = {{"DAPI", "0000FF", 0, 0}, {"GFP", "00FF00", 0, 0}};
    L.tpoints = 2;
    L.zplanes = 3;
    L.width = 37;
    L.height = 21;
    L.codec = parse_codec("blosc-lz4");
    L.levels = 3;
    L.ngff = ngff;
    L.shard = shard;
    return L;
}

}  // namespace

TEST(Pyramid, LevelCountAndSizes) {
    EXPECT_EQ(default_levels(256, 100), 1);
    EXPECT_EQ(default_levels(257, 100), 2);
    EXPECT_EQ(default_levels(2560, 2160), 5);  // 2560 1280 640 320 160
    EXPECT_EQ(level_size(37, 21, 1), (std::pair<uint32_t, uint32_t>{19, 11}));
    EXPECT_EQ(level_size(37, 21, 5), (std::pair<uint32_t, uint32_t>{2, 1}));
    EXPECT_EQ(level_size(1, 1, 3), (std::pair<uint32_t, uint32_t>{1, 1}));
}

TEST(Pyramid, MeanRoundsHalfUpAndUsesThePixelsAnOddEdgeHas) {
    // 3x3: the right column and bottom row form partial blocks.
    Plane in = make_plane<uint16_t>(DType::u16, 3, 3, {1, 2, 10, 3, 5, 20, 7, 8, 9});
    Plane out;
    downsample_2x2(in, out, Downsample::mean);
    ASSERT_EQ(out.width, 2u);
    ASSERT_EQ(out.height, 2u);
    const uint16_t* v = out.as<uint16_t>();
    EXPECT_EQ(v[0], 3);   // (1+2+3+5)/4 = 2.75 -> 3
    EXPECT_EQ(v[1], 15);  // (10+20)/2
    EXPECT_EQ(v[2], 8);   // (7+8)/2 = 7.5 -> 8 (half up)
    EXPECT_EQ(v[3], 9);
    downsample_2x2(in, out, Downsample::max);
    EXPECT_EQ(out.as<uint16_t>()[0], 5);
    EXPECT_EQ(out.as<uint16_t>()[1], 20);
    EXPECT_EQ(out.as<uint16_t>()[2], 8);
}

TEST(Pyramid, SignedAndFloatAndNoOverflow) {
    Plane s = make_plane<int16_t>(DType::i16, 2, 2, {-3, -4, -4, -4});  // -3.75 -> -4
    Plane out;
    downsample_2x2(s, out, Downsample::mean);
    EXPECT_EQ(out.as<int16_t>()[0], -4);
    Plane h = make_plane<int16_t>(DType::i16, 2, 1, {-3, -4});  // -3.5 -> -3 (half up)
    downsample_2x2(h, out, Downsample::mean);
    EXPECT_EQ(out.as<int16_t>()[0], -3);
    Plane u = make_plane<uint32_t>(DType::u32, 2, 2, {4294967295u, 4294967295u, 4294967295u, 4294967293u});
    downsample_2x2(u, out, Downsample::mean);
    EXPECT_EQ(out.as<uint32_t>()[0], 4294967295u);  // (4*max-2+2)/4, no 32-bit wrap
    Plane f = make_plane<float>(DType::f32, 2, 2, {0.5f, 1.5f, 2.0f, 0.0f});
    downsample_2x2(f, out, Downsample::mean);
    EXPECT_FLOAT_EQ(out.as<float>()[0], 1.0f);
}

// Every integer type, odd and even sizes, values over the whole range: each output pixel equals
// the rule written out plainly (floor((sum + n/2) / n) over the pixels the block has, or their max).
template <class T> void check_against_plain_rule(DType t, std::mt19937_64& rng) {
    for (uint32_t w = 1; w <= 9; ++w)
        for (uint32_t h = 1; h <= 5; ++h) {
            Plane in;
            in.allocate(t, w, h);
            T* v = in.as<T>();
            for (size_t i = 0; i < size_t(w) * h; ++i)
                v[i] = i % 3 == 0 ? std::numeric_limits<T>::max() : i % 5 == 0 ? std::numeric_limits<T>::min() : T(rng());
            for (Downsample how : {Downsample::mean, Downsample::max}) {
                Plane out;
                downsample_2x2(in, out, how);
                for (uint32_t y = 0; y < out.height; ++y)
                    for (uint32_t x = 0; x < out.width; ++x) {
                        __int128 sum = 0, n = 0;
                        T m = std::numeric_limits<T>::min();
                        for (uint32_t yy = 2 * y; yy < std::min(h, 2 * y + 2); ++yy)
                            for (uint32_t xx = 2 * x; xx < std::min(w, 2 * x + 2); ++xx) {
                                sum += v[size_t(yy) * w + xx];
                                ++n;
                                m = std::max(m, v[size_t(yy) * w + xx]);
                            }
                        __int128 num = sum + n / 2, q = num / n;
                        if (num % n != 0 && num < 0) --q;
                        const T want = how == Downsample::max ? m : T(q);
                        ASSERT_EQ(out.as<T>()[size_t(y) * out.width + x], want)
                            << dtype_name(t) << " " << w << "x" << h << " at " << x << "," << y;
                    }
            }
        }
}

TEST(Pyramid, EveryIntegerTypeFollowsThePlainRule) {
    std::mt19937_64 rng(17);
    check_against_plain_rule<uint8_t>(DType::u8, rng);
    check_against_plain_rule<int8_t>(DType::i8, rng);
    check_against_plain_rule<uint16_t>(DType::u16, rng);
    check_against_plain_rule<int16_t>(DType::i16, rng);
    check_against_plain_rule<uint32_t>(DType::u32, rng);
    check_against_plain_rule<int32_t>(DType::i32, rng);
}

TEST(Shard, Crc32cKnownValue) {
    // The CRC-32C check value of the standard test string.
    EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
    EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Pyramid, ReusedEncodedPlaneMatchesAFreshOneAtEveryLevel) {
    // A run job's thread reuses one EncodedPlane.
    fs::path root = fresh_dir("reuse");
    auto store = open_store(root.string());
    NgffPlate plate(*store, small_layout("0.4", ShardMode::none));
    EncodedPlane reused;
    for (uint32_t seed : {7u, 8u, 9u}) {
        Plane p = noise_plane(37, 21, seed);
        if (seed == 8) std::fill_n(p.as<uint16_t>(), p.pixel_count(), uint16_t(3));  // compresses to little
        plate.encode_plane(p, reused);
        EncodedPlane fresh = plate.encode_plane(p);
        ASSERT_EQ(reused.level_count(), 3u);
        for (size_t level = 0; level < 3; ++level) EXPECT_EQ(reused.chunk(level, 0), fresh.chunk(level, 0)) << level;
        EXPECT_EQ(reused.bytes(), fresh.bytes());
    }
    fs::remove_all(root);
}

TEST(Shard, ShardedPlateRoundTripsEveryPlaneAndLevel) {
    fs::path root = fresh_dir("shard");
    auto store = open_store(root.string());
    NgffPlate plate(*store, small_layout("0.5", ShardMode::field));
    plate.write_metadata();
    ASSERT_TRUE(plate.sharded());
    EXPECT_EQ(plate.shard_extent(), (std::array<int, 3>{2, 2, 3}));
    std::map<std::array<int, 3>, EncodedPlane> planes;
    for (int t = 0; t < 2; ++t)
        for (int c = 0; c < 2; ++c)
            for (int z = 0; z < 3; ++z)
                if (!(t == 1 && c == 0 && z == 2))  // one plane left out: it must read as missing
                    planes[{t, c, z}] = plate.encode_plane(noise_plane(37, 21, uint32_t(t * 100 + c * 10 + z)));
    plate.write_shard(1, 2, 1, {0, 0, 0}, planes);
    // One object per level for the whole field.
    EXPECT_EQ(store->list("P.zarr/B/03/1/0/c").size(), 1u);
    EXPECT_EQ(store->list("P.zarr/B/03/1/2/c").size(), 1u);
    for (auto& [tcz, _] : planes) {
        Plane want = noise_plane(37, 21, uint32_t(tcz[0] * 100 + tcz[1] * 10 + tcz[2]));
        Plane got = plate.read_plane(1, 2, 1, tcz[0], tcz[1], tcz[2]);
        EXPECT_EQ(got.data, want.data);
        Plane half;
        downsample_2x2(want, half, Downsample::mean);
        Plane got1 = plate.read_plane(1, 2, 1, tcz[0], tcz[1], tcz[2], 1);
        EXPECT_EQ(got1.width, 19u);
        EXPECT_EQ(got1.data, half.data);
    }
    EXPECT_NE(test::error_of([&] { plate.read_plane(1, 2, 1, 1, 0, 2); }).find("missing from its shard"), std::string::npos);
    // A viewer reading one plane fetches the shard's index and that plane's range, not the shard.
    NgffPlate viewer(*store, NgffPlate::read_layout(*store, "P.zarr"));
    viewer.read_plane(1, 2, 1, 0, 1, 1);
    const uint64_t shard_bytes = store->size(plate.chunk_key(1, 2, 1, 0, 1, 1)).value();
    EXPECT_GT(viewer.bytes_read(), 12u * 16 + 4);
    EXPECT_LT(viewer.bytes_read(), shard_bytes / 4) << viewer.bytes_read() << " of " << shard_bytes;
    // A fresh plate object (no cached shard) sees a corrupted index.
    std::string key = plate.chunk_key(1, 2, 1, 0, 0, 0);
    std::string shard = *store->get(key);
    shard[shard.size() - 20] ^= 1;
    store->put(key, shard);
    NgffPlate reopened(*store, NgffPlate::read_layout(*store, "P.zarr"));
    EXPECT_NE(test::error_of([&] { reopened.read_plane(1, 2, 1, 0, 0, 0); }).find("shard index is corrupt"),
              std::string::npos);
    // Truncated below the index size.
    store->put(key, "short");
    NgffPlate again(*store, NgffPlate::read_layout(*store, "P.zarr"));
    EXPECT_NE(test::error_of([&] { again.read_plane(1, 2, 1, 0, 0, 0); }).find("shorter than its index"), std::string::npos);
    fs::remove_all(root);
}

TEST(Shard, StreamedChunksInAnyOrderAndAFailedPlaneStaysEmpty) {
    // Chunks appended as they come (a banded plane's tiles, planes of several threads), in any
    // order; a plane that failed half-way has bytes in the objects but none in the index.
    fs::path root = fresh_dir("shard_stream");
    auto store = open_store(root.string());
    NgffPlate plate(*store, small_layout("0.5", ShardMode::field));
    plate.write_metadata();
    auto seed = [](std::array<int, 3> p) { return uint32_t(p[0] * 100 + p[1] * 10 + p[2]); };
    const std::vector<std::array<int, 3>> good = {{0, 1, 2}, {1, 0, 0}}, failed = {{0, 0, 1}};
    std::map<std::array<int, 3>, EncodedPlane> enc;
    for (auto& p : good) enc[p] = plate.encode_plane(noise_plane(37, 21, seed(p)));
    for (auto& p : failed) enc[p] = plate.encode_plane(noise_plane(37, 21, seed(p)));
    {
        NgffPlate::ShardStream stream(plate, 1, 2, 1, {0, 0, 0});
        // Levels from the last to the first, the planes' chunks interleaved.
        for (int level = 2; level >= 0; --level)
            for (auto& [p, e] : enc) stream.add(level, p, 0, e.chunk(size_t(level), 0));
        EXPECT_TRUE(store->list("P.zarr/B/03/1/0/c").empty()) << "visible before finish";
        stream.plane_done(good[1], true);
        stream.plane_done(failed[0], false);
        stream.plane_done(good[0], true);
        stream.finish();
    }
    for (auto& p : good)
        for (int level = 0; level < 3; ++level) {
            Plane got = plate.read_plane(1, 2, 1, p[0], p[1], p[2], level);
            Plane expected = noise_plane(37, 21, seed(p));
            for (int l = 0; l < level; ++l) {
                Plane half;
                downsample_2x2(expected, half, Downsample::mean);
                expected = half;
            }
            EXPECT_EQ(got.data, expected.data) << level;
        }
    EXPECT_NE(test::error_of([&] { plate.read_plane(1, 2, 1, 0, 0, 1); }).find("missing from its shard"), std::string::npos);
    // Destroyed unfinished: nothing in the store, no temporary file left behind.
    const std::string key = plate.chunk_key(1, 2, 0, 0, 0, 0);
    {
        NgffPlate::ShardStream stream(plate, 1, 2, 0, {0, 0, 0});
        stream.add(0, {0, 0, 0}, 0, enc.begin()->second.chunk(0, 0));
    }
    EXPECT_FALSE(store->size(key).has_value());
    size_t temporaries = 0;
    for (auto& e : fs::recursive_directory_iterator(root)) temporaries += e.path().filename().string().ends_with(".tmp");
    EXPECT_EQ(temporaries, 0u);
    fs::remove_all(root);
}

TEST(Shard, IndexPointingPastTheEndIsRefused) {
    fs::path root = fresh_dir("shard_bad_index");
    auto store = open_store(root.string());
    PlateLayout L = small_layout("0.5", ShardMode::zstack);
    L.levels = 1;
    NgffPlate plate(*store, L);
    plate.write_shard(1, 2, 0, {0, 1, 0}, {{{0, 1, 1}, plate.encode_plane(noise_plane(37, 21, 1))}});
    std::string key = plate.chunk_key(1, 2, 0, 0, 1, 0);
    std::string shard = *store->get(key);
    // Rewrite entry z=1 with an offset past the end and a matching CRC.
    const size_t index_at = shard.size() - (3 * 16 + 4);
    for (int i = 0; i < 8; ++i) shard[index_at + 16 + size_t(i)] = char(i == 2 ? 0x7F : 0);
    uint32_t crc = crc32c(shard.data() + index_at, 3 * 16);
    for (int i = 0; i < 4; ++i) shard[shard.size() - 4 + size_t(i)] = char((crc >> (8 * i)) & 0xFF);
    store->put(key, shard);
    EXPECT_NE(test::error_of([&] { plate.read_plane(1, 2, 0, 0, 1, 1); }).find("past the end"), std::string::npos);
    fs::remove_all(root);
}

TEST(Ngff05, MetadataIsZarrV3WithOmeAttributes) {
    fs::path root = fresh_dir("ngff05");
    auto store = open_store(root.string());
    NgffPlate plate(*store, small_layout("0.5", ShardMode::none));
    plate.write_metadata();
    auto plate_j = nlohmann::json::parse(*store->get("P.zarr/zarr.json"));
    EXPECT_EQ(plate_j["zarr_format"], 3);
    EXPECT_EQ(plate_j["node_type"], "group");
    EXPECT_EQ(plate_j["attributes"]["ome"]["version"], "0.5");
    EXPECT_EQ(plate_j["attributes"]["ome"]["plate"]["wells"][0]["path"], "B/03");
    auto image = nlohmann::json::parse(*store->get("P.zarr/B/03/1/zarr.json"));
    auto datasets = image["attributes"]["ome"]["multiscales"][0]["datasets"];
    ASSERT_EQ(datasets.size(), 3u);
    EXPECT_DOUBLE_EQ(datasets[2]["coordinateTransformations"][0]["scale"][4].get<double>(), 4.0);
    auto arr = nlohmann::json::parse(*store->get("P.zarr/B/03/1/1/zarr.json"));
    EXPECT_EQ(arr["shape"], nlohmann::json({2, 2, 3, 11, 19}));
    EXPECT_EQ(arr["dimension_names"], nlohmann::json({"t", "c", "z", "y", "x"}));
    EXPECT_EQ(arr["codecs"][1]["name"], "blosc");
    EXPECT_FALSE(store->exists("P.zarr/.zattrs"));
    // Unsharded 0.5 chunks use the "c/" key prefix; layout reads back from zarr.json.
    plate.write_plane(1, 2, 0, 1, 1, 2, noise_plane(37, 21, 7));
    EXPECT_TRUE(store->exists("P.zarr/B/03/0/0/c/1/1/2/0/0"));
    EXPECT_TRUE(store->exists("P.zarr/B/03/0/2/c/1/1/2/0/0"));
    PlateLayout back = NgffPlate::read_layout(*store, "P.zarr");
    EXPECT_EQ(back.ngff, "0.5");
    EXPECT_EQ(back.levels, 3);
    EXPECT_EQ(NgffPlate(*store, back).read_plane(1, 2, 0, 1, 1, 2).data, noise_plane(37, 21, 7).data);
    fs::remove_all(root);
}

TEST(Ngff05, ShardingWithoutV3IsRefused) {
    fs::path root = fresh_dir("ngff_refuse");
    auto store = open_store(root.string());
    EXPECT_NE(test::error_of([&] { NgffPlate(*store, small_layout("0.4", ShardMode::field)); }).find("needs NGFF 0.5"),
              std::string::npos);
    EXPECT_NE(test::error_of([&] { NgffPlate(*store, small_layout("0.6", ShardMode::none)); }).find("not supported"),
              std::string::npos);
    fs::remove_all(root);
}
