// A plane stored band by band (BandedPlaneEncoder) gives exactly what the whole plane gives:
// every chunk of every level byte for byte, the level checksums, the plane's checksum, statistics
// and histogram; for odd sizes, odd and even tile heights, several dtypes and both downsamplings.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>

#include "render/pixel_ops.h"
#include "storage/store.h"
#include "test_util.h"
#include "zarr/banded_plane.h"
#include "zarr/ngff.h"

using namespace imx;
namespace fs = std::filesystem;

namespace {

// Pixels over the dtype's whole range (negative values too), floats with fractions.
Plane noise(DType t, uint32_t w, uint32_t h, uint32_t seed) {
    Plane p;
    p.allocate(t, w, h);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < p.pixel_count(); ++i) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        if (t == DType::f32) {
            p.as<float>()[i] = float(int32_t(x % 200001) - 100000) / 7.0f;
        } else {
            const uint32_t v = x;
            std::memcpy(p.data.data() + i * dtype_size(t), &v, dtype_size(t));
        }
    }
    return p;
}

PlateLayout layout(DType t, uint32_t w, uint32_t h, uint32_t tile_y, uint32_t tile_x, int levels, Downsample how) {
    PlateLayout L;
    L.name = "B";
    L.path = "B.zarr";
    L.rows = 1;
    L.cols = 1;
    L.wells = {{0, 0, 1}};
    L.channels = {{"a", "FFFFFF", 0, 0}};
    L.width = w;
    L.height = h;
    L.dtype = t;
    L.codec = parse_codec("zstd");
    L.levels = levels;
    L.chunk_y = tile_y;
    L.chunk_x = tile_x;
    L.downsample = how;
    return L;
}

}  // namespace

TEST(BandedPlane, EqualsTheWholePlaneChunkForChunk) {
    const fs::path root = test::fresh_dir("banded_plane");
    auto store = open_store(root.string());
    struct Case {
        DType dtype;
        uint32_t width, height, tile_y, tile_x;
        int levels;
        Downsample how;
        int threads;
    };
    const Case cases[] = {
        {DType::u16, 203, 137, 16, 16, 5, Downsample::mean, 1},  // odd sides: odd edges at every level
        {DType::u16, 203, 137, 17, 33, 5, Downsample::mean, 3},  // odd tile height: rows carried to the next band
        {DType::u8, 130, 301, 48, 64, 4, Downsample::max, 2},
        {DType::i16, 99, 181, 32, 20, 6, Downsample::mean, 2},   // down to 4x6
        {DType::i32, 77, 129, 16, 77, 4, Downsample::mean, 1},
        {DType::f32, 64, 97, 25, 16, 3, Downsample::mean, 2},
        {DType::u16, 50, 400, 100, 50, 2, Downsample::max, 1},   // the last band shorter
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(std::string(dtype_name(k.dtype)) + " " + std::to_string(k.width) + "x" + std::to_string(k.height) +
                     " tiles " + std::to_string(k.tile_y) + "x" + std::to_string(k.tile_x));
        const NgffPlate plate(*store, layout(k.dtype, k.width, k.height, k.tile_y, k.tile_x, k.levels, k.how));
        const Plane p = noise(k.dtype, k.width, k.height, k.width ^ k.tile_y);
        const EncodedPlane whole = plate.encode_plane(p);
        std::vector<uint64_t> whole_hist(histogram_bins(k.dtype), 0);
        std::string whole_sum;
        const PlaneStats whole_stats = plane_stats(p, whole_hist.empty() ? nullptr : &whole_hist, &whole_sum);

        std::map<std::tuple<int, uint32_t, uint32_t>, std::string> chunks;
        std::mutex mu;
        BandedPlaneEncoder enc(
            plate,
            [&](int level, uint32_t ty, uint32_t tx, std::string_view chunk) {
                std::lock_guard lock(mu);
                EXPECT_TRUE(chunks.emplace(std::make_tuple(level, ty, tx), std::string(chunk)).second)
                    << "chunk handed on twice";
            },
            k.threads);
        const size_t row_bytes = size_t(k.width) * dtype_size(k.dtype);
        uint32_t y = 0, bands = 0;
        for (uint32_t rows = enc.next_band_rows(); rows > 0; y += rows, rows = enc.next_band_rows(), ++bands) {
            EXPECT_EQ(rows, std::min(k.tile_y, k.height - y));
            std::memcpy(enc.band(), p.data.data() + y * row_bytes, rows * row_bytes);
            enc.push_band();
        }
        EXPECT_EQ(y, k.height);
        EXPECT_EQ(bands, (k.height + k.tile_y - 1) / k.tile_y);
        std::vector<uint64_t> hist(histogram_bins(k.dtype), 0);
        const auto r = enc.finish(hist.empty() ? nullptr : &hist);

        EXPECT_EQ(r.checksum, whole_sum);
        EXPECT_EQ(r.level_checksums, whole.level_checksums);
        EXPECT_EQ(r.bytes, whole.bytes());
        EXPECT_EQ(hist, whole_hist);
        EXPECT_EQ(r.stats.min, whole_stats.min);
        EXPECT_EQ(r.stats.max, whole_stats.max);
        EXPECT_EQ(r.stats.p001, whole_stats.p001);
        EXPECT_EQ(r.stats.p999, whole_stats.p999);
        ASSERT_EQ(chunks.size(), whole.buffers.size());
        for (int level = 0; level < k.levels; ++level) {
            const uint32_t columns = plate.layout().chunk_grid(level)[1];
            for (size_t i = 0; i < whole.chunk_count(size_t(level)); ++i) {
                auto it = chunks.find({level, uint32_t(i / columns), uint32_t(i % columns)});
                ASSERT_NE(it, chunks.end()) << "level " << level << " tile " << i;
                EXPECT_TRUE(it->second == whole.chunk(size_t(level), i)) << "level " << level << " tile " << i;
            }
        }
    }
}

// The statistics of a plane fed in pieces of any size equal plane_stats of the whole plane: the
// percentile sample is every n-th pixel of the plane, wherever the pieces are cut.
TEST(BandedPlane, StatisticsInPiecesEqualTheWholePlane) {
    const Plane p = test::noise_plane(1000, 300, 7, 65536);  // 300,000 pixels: every 4th sampled
    std::vector<uint64_t> whole_hist(histogram_bins(p.dtype), 0);
    std::string whole_sum;
    const PlaneStats whole = plane_stats(p, &whole_hist, &whole_sum);
    for (size_t piece : {size_t(1), size_t(3), size_t(4097), size_t(299999)}) {
        PlaneStatsStream s(p.dtype, p.pixel_count(), true);
        for (size_t i = 0; i < p.pixel_count(); i += piece)
            s.add(p.as<uint16_t>() + i, std::min(piece, p.pixel_count() - i));
        std::vector<uint64_t> hist;
        std::string sum;
        const PlaneStats st = s.finish(&hist, &sum);
        EXPECT_EQ(sum, whole_sum) << piece;
        EXPECT_EQ(hist, whole_hist) << piece;
        EXPECT_EQ(st.p001, whole.p001) << piece;
        EXPECT_EQ(st.p999, whole.p999) << piece;
        EXPECT_EQ(st.min, whole.min) << piece;
        EXPECT_EQ(st.max, whole.max) << piece;
    }
}
