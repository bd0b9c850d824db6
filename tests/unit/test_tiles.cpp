// Tiled chunks (create --chunk): planes stored as tiles at every level, with padded edge tiles, in
// plain chunks and in shards; whole planes and rectangles read back; the option's parsing.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "storage/store.h"
#include "test_util.h"
#include "zarr/ngff.h"
#include "zarr/pyramid.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

// Never 0: padding is told apart from pixels.
Plane noise(uint32_t w, uint32_t h, uint32_t seed) { return test::noise_plane(w, h, seed, 60000, 1); }

Plane crop(const Plane& p, PlaneRegion r) {
    Plane out;
    out.allocate(p.dtype, r.width, r.height);
    for (uint32_t y = 0; y < r.height; ++y)
        for (uint32_t x = 0; x < r.width; ++x)
            out.as<uint16_t>()[size_t(y) * r.width + x] = p.as<uint16_t>()[size_t(r.y + y) * p.width + r.x + x];
    return out;
}

// A 100x70 plate (neither side a multiple of the tiles), 3 levels, 2 channels, 2 z-planes.
PlateLayout layout(const std::string& ngff, ShardMode shard, uint32_t tile_y, uint32_t tile_x) {
    PlateLayout L;
    L.name = "T";
    L.path = "T.zarr";
    L.rows = 1;
    L.cols = 1;
    L.wells = {{0, 0, 1}};
    L.channels = {{"a", "FFFFFF", 0, 0}, {"b", "FFFFFF", 0, 0}};
    L.zplanes = 2;
    L.width = 100;
    L.height = 70;
    L.codec = parse_codec("zstd");
    L.levels = 3;  // 100x70, 50x35, 25x18
    L.ngff = ngff;
    L.shard = shard;
    L.chunk_y = tile_y;
    L.chunk_x = tile_x;
    return L;
}

void store_planes(const NgffPlate& plate) {
    std::map<std::array<int, 3>, EncodedPlane> shard;
    for (int c = 0; c < 2; ++c)
        for (int z = 0; z < 2; ++z) {
            Plane p = noise(100, 70, uint32_t(c * 2 + z));
            if (plate.sharded())
                shard[{0, c, z}] = plate.encode_plane(p);
            else
                plate.write_plane(0, 0, 0, 0, c, z, p);
        }
    if (plate.sharded()) plate.write_shard(0, 0, 0, {0, 0, 0}, shard);
}

}  // namespace

TEST(Tiles, ChunkOptionAndDefault) {
    EXPECT_EQ(parse_chunk_option(""), (std::array<uint32_t, 2>{0, 0}));
    EXPECT_EQ(parse_chunk_option("auto"), (std::array<uint32_t, 2>{0, 0}));
    EXPECT_EQ(parse_chunk_option("256"), (std::array<uint32_t, 2>{256, 256}));
    EXPECT_EQ(parse_chunk_option("512,1024"), (std::array<uint32_t, 2>{512, 1024}));
    for (const char* bad : {"0", "8", "100000", "1,2,3", "256,", ",256", "-256", "2x3", "256,abc"})
        EXPECT_NE(test::error_of([&] { parse_chunk_option(bad); }).find("--chunk must be"), std::string::npos) << bad;
    EXPECT_EQ(chosen_chunk({0, 0}, 4096, 4096), (std::array<uint32_t, 2>{0, 0}));  // whole plane
    EXPECT_EQ(chosen_chunk({0, 0}, 4097, 300), (std::array<uint32_t, 2>{1024, 1024}));
    EXPECT_EQ(chosen_chunk({256, 128}, 20000, 20000), (std::array<uint32_t, 2>{256, 128}));
    // Plate attributes come from the store: a tiny tile size there is refused, not followed.
    PlateLayout L = layout("0.4", ShardMode::none, 2, 2);
    fs::path root = test::fresh_dir("tiles_bad");
    auto store = open_store(root.string());
    EXPECT_NE(test::error_of([&] { NgffPlate p(*store, L); }).find("tile size 2"), std::string::npos);
    fs::remove_all(root);
}

TEST(Tiles, ShapeAndGridPerLevel) {
    PlateLayout L = layout("0.4", ShardMode::none, 32, 48);
    EXPECT_EQ(L.chunk_shape(0), (std::array<uint32_t, 2>{32, 48}));
    EXPECT_EQ(L.chunk_grid(0), (std::array<uint32_t, 2>{3, 3}));  // 70 rows, 100 columns
    EXPECT_EQ(L.chunk_shape(1), (std::array<uint32_t, 2>{32, 48}));
    EXPECT_EQ(L.chunk_grid(1), (std::array<uint32_t, 2>{2, 2}));  // 35 x 50
    EXPECT_EQ(L.chunk_shape(2), (std::array<uint32_t, 2>{18, 25}));  // cut to the level: one chunk
    EXPECT_EQ(L.chunk_grid(2), (std::array<uint32_t, 2>{1, 1}));
    PlateLayout whole = layout("0.4", ShardMode::none, 0, 0);
    EXPECT_EQ(whole.chunk_shape(0), (std::array<uint32_t, 2>{70, 100}));
    EXPECT_EQ(whole.chunk_grid(0), (std::array<uint32_t, 2>{1, 1}));
    EXPECT_EQ(PlateLayout::from_json(L.to_json()).chunk_shape(0), L.chunk_shape(0));
    EXPECT_FALSE(whole.to_json().contains("chunk"));  // plates without tiles read as before
}

// Every layout stores the same pixels: whole planes and every level (the tiled pyramid is the
// whole-plane one), and any rectangle, read back through the tiles that cover it.
TEST(Tiles, PlanesLevelsAndRegionsReadBackExactly) {
    fs::path root = test::fresh_dir("tiles_rt");
    auto store = open_store(root.string());
    for (auto [ngff, shard] : {std::pair{"0.4", ShardMode::none}, {"0.5", ShardMode::none}, {"0.5", ShardMode::field}}) {
        SCOPED_TRACE(std::string(ngff) + " " + shard_mode_name(shard));
        store->remove_prefix("T.zarr");
        NgffPlate plate(*store, layout(ngff, shard, 32, 48));
        plate.write_metadata();
        store_planes(plate);
        for (int c = 0; c < 2; ++c)
            for (int z = 0; z < 2; ++z) {
                Plane level = noise(100, 70, uint32_t(c * 2 + z)), next;
                for (int l = 0; l < 3; ++l) {
                    if (l > 0) downsample_2x2(level, next, Downsample::mean), std::swap(level, next);
                    Plane got = plate.read_plane(0, 0, 0, 0, c, z, l);
                    ASSERT_EQ(got.width, level.width);
                    EXPECT_EQ(got.data, level.data) << "c=" << c << " z=" << z << " level " << l;
                }
            }
        const Plane full = noise(100, 70, 3);
        for (PlaneRegion r : {PlaneRegion{0, 0, 1, 1}, {31, 47, 2, 2}, {40, 60, 30, 40}, {69, 99, 1, 1}, {5, 3, 60, 90}}) {
            Plane got;
            plate.read_region_into(got, 0, 0, 0, 0, 1, 1, 0, r);
            EXPECT_EQ(got.data, crop(full, r).data) << r.y << "," << r.x << " " << r.height << "x" << r.width;
        }
        Plane out;
        EXPECT_NE(test::error_of([&] { plate.read_region_into(out, 0, 0, 0, 0, 0, 0, 0, {60, 0, 11, 10}); })
                      .find("reaches past the plane"),
                  std::string::npos);
        EXPECT_NE(test::error_of([&] { plate.read_region_into(out, 0, 0, 0, 0, 0, 0, 0, {0, 0, 0, 10}); }).find("empty"),
                  std::string::npos);
    }
    fs::remove_all(root);
}

// Zarr's chunk layout: v2 chunks and v3 inner chunks are full-size tiles, edge ones padded with 0;
// one object per tile, or one shard per level holding every tile of the planes.
TEST(Tiles, ChunkKeysShapesAndPaddedEdges) {
    fs::path root = test::fresh_dir("tiles_keys");
    auto store = open_store(root.string());
    {
        NgffPlate plate(*store, layout("0.4", ShardMode::none, 32, 48));
        plate.write_metadata();
        store_planes(plate);
        auto meta = nlohmann::json::parse(*store->get("T.zarr/A/01/0/0/.zarray"));
        EXPECT_EQ(meta["chunks"], nlohmann::json({1, 1, 1, 32, 48}));
        EXPECT_EQ(nlohmann::json::parse(*store->get("T.zarr/A/01/0/2/.zarray"))["chunks"],
                  nlohmann::json({1, 1, 1, 18, 25}));
        EXPECT_EQ(plate.plane_keys(0, 0, 0, 0, 1, 1, 0).size(), 9u);
        EXPECT_EQ(plate.plane_keys(0, 0, 0, 0, 1, 1, 0).back(), "T.zarr/A/01/0/0/0/1/1/2/2");
        for (auto& key : plate.plane_keys(0, 0, 0, 0, 1, 1, 0)) EXPECT_TRUE(store->exists(key)) << key;
        EXPECT_FALSE(store->exists("T.zarr/A/01/0/0/0/1/1/3/0"));
        // The bottom right tile holds 6 rows and 4 columns of pixels, then zeros.
        std::vector<uint16_t> tile(32 * 48);
        decode_chunk(parse_codec("zstd"), *store->get("T.zarr/A/01/0/0/0/1/1/2/2"), tile.data(), tile.size() * 2);
        const Plane full = noise(100, 70, 3);
        for (uint32_t y = 0; y < 32; ++y)
            for (uint32_t x = 0; x < 48; ++x) {
                const uint16_t want = (y < 6 && x < 4) ? full.as<uint16_t>()[(64 + y) * 100 + 96 + x] : 0;
                ASSERT_EQ(tile[y * 48 + x], want) << y << "," << x;
            }
    }
    store->remove_prefix("T.zarr");
    {
        NgffPlate plate(*store, layout("0.5", ShardMode::none, 32, 48));
        plate.write_metadata();
        store_planes(plate);
        auto meta = nlohmann::json::parse(*store->get("T.zarr/A/01/0/0/zarr.json"));
        EXPECT_EQ(meta["chunk_grid"]["configuration"]["chunk_shape"], nlohmann::json({1, 1, 1, 32, 48}));
        EXPECT_TRUE(store->exists("T.zarr/A/01/0/0/c/0/1/1/2/2"));
        EXPECT_TRUE(store->exists("T.zarr/A/01/0/1/c/0/1/1/1/1"));
        EXPECT_FALSE(store->exists("T.zarr/A/01/0/1/c/0/1/1/2/0"));
    }
    store->remove_prefix("T.zarr");
    {
        NgffPlate plate(*store, layout("0.5", ShardMode::field, 32, 48));
        plate.write_metadata();
        store_planes(plate);
        auto meta = nlohmann::json::parse(*store->get("T.zarr/A/01/0/0/zarr.json"));
        // The shard spans the padded plane (3 x 3 tiles) of every (t, c, z): one object per level.
        EXPECT_EQ(meta["chunk_grid"]["configuration"]["chunk_shape"], nlohmann::json({1, 2, 2, 96, 144}));
        EXPECT_EQ(meta["codecs"][0]["configuration"]["chunk_shape"], nlohmann::json({1, 1, 1, 32, 48}));
        EXPECT_EQ(plate.plane_keys(0, 0, 0, 0, 1, 1, 0), std::vector<std::string>{"T.zarr/A/01/0/0/c/0/0/0/0/0"});
        // Index: 4 planes x 9 tiles, 16 bytes each, and the CRC.
        const std::string shard = *store->get("T.zarr/A/01/0/0/c/0/0/0/0/0");
        EXPECT_GT(shard.size(), 4u * 9 * 16 + 4);
        // A region inside one tile fetches the index and that tile, not the plane's nine.
        NgffPlate viewer(*store, NgffPlate::read_layout(*store, "T.zarr"));
        Plane tile, whole;
        viewer.read_region_into(tile, 0, 0, 0, 0, 1, 1, 0, {33, 49, 10, 10});
        const uint64_t one_tile = viewer.bytes_read();
        viewer.read_plane_into(whole, 0, 0, 0, 0, 1, 1, 0);
        const uint64_t plane = viewer.bytes_read() - one_tile;  // the index is cached by then
        // An interior tile is 32 x 48 of noise (3072 bytes, incompressible); the plane is 14,000.
        EXPECT_GE(one_tile - (4 * 9 * 16 + 4), 3072u);
        EXPECT_LT(one_tile - (4 * 9 * 16 + 4), plane / 4) << one_tile << " vs plane " << plane;
    }
    fs::remove_all(root);
}

// Plain chunks: a rectangle fetches exactly the chunks it overlaps.
TEST(Tiles, RegionFetchesOnlyTheChunksItCovers) {
    fs::path root = test::fresh_dir("tiles_fetch");
    auto store = open_store(root.string());
    NgffPlate plate(*store, layout("0.4", ShardMode::none, 32, 48));
    plate.write_metadata();
    store_planes(plate);
    auto object_size = [&](uint32_t ty, uint32_t tx) { return store->size(plate.chunk_key(0, 0, 0, 0, 0, 1, 0, ty, tx)).value(); };
    NgffPlate viewer(*store, NgffPlate::read_layout(*store, "T.zarr"));
    Plane out;
    viewer.read_region_into(out, 0, 0, 0, 0, 0, 1, 0, {40, 60, 30, 40});  // tiles (1..2, 1..2)
    EXPECT_EQ(viewer.bytes_read(), object_size(1, 1) + object_size(1, 2) + object_size(2, 1) + object_size(2, 2));
    // A missing tile is named.
    store->remove(plate.chunk_key(0, 0, 0, 0, 0, 1, 0, 2, 2));
    EXPECT_NE(test::error_of([&] { viewer.read_plane(0, 0, 0, 0, 0, 1); }).find("0/0/1/2/2: chunk is missing"),
              std::string::npos);
    fs::remove_all(root);
}
