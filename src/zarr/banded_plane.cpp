#include "zarr/banded_plane.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <tuple>

namespace imx {

struct BandedPlaneEncoder::Level {
    uint32_t width = 0, height = 0;  // the level's size
    uint32_t band_rows = 0;          // its chunk height: rows of one band
    uint32_t filled = 0;             // rows in the band now
    uint32_t received = 0;           // rows of the level received so far
    uint32_t tile_row = 0;           // the band's row of chunks
    size_t row_bytes = 0;
    std::vector<std::byte> band;
    // A row whose 2x2 partner comes with the next band (only when a band has an odd height).
    std::vector<std::byte> carry;
    bool has_carry = false;
    PixelChecksum checksum;  // levels 1, 2, ...
};

BandedPlaneEncoder::BandedPlaneEncoder(const NgffPlate& plate, ChunkSink sink, int threads)
    : plate_(plate),
      sink_(std::move(sink)),
      threads_(std::max(1, threads)),
      buffers_(size_t(threads_)),
      stats_(plate.layout().dtype, uint64_t(plate.layout().width) * plate.layout().height, true) {
    const PlateLayout& L = plate.layout();
    const size_t ts = dtype_size(L.dtype);
    for (int k = 0; k < L.levels; ++k) {
        auto level = std::make_unique<Level>();
        std::tie(level->width, level->height) = level_size(L.width, L.height, k);
        level->band_rows = L.chunk_shape(k)[0];
        level->row_bytes = size_t(level->width) * ts;
        level->band.resize(level->row_bytes * level->band_rows);
        levels_.push_back(std::move(level));
    }
}

BandedPlaneEncoder::~BandedPlaneEncoder() = default;

uint32_t BandedPlaneEncoder::next_band_rows() const {
    const Level& l = *levels_.front();
    return std::min(l.band_rows, l.height - l.received);
}

std::byte* BandedPlaneEncoder::band() { return levels_.front()->band.data(); }

void BandedPlaneEncoder::push_band() {
    Level& l = *levels_.front();
    const uint32_t rows = next_band_rows();
    if (rows == 0) throw Error("internal: a band pushed after the plane's last row");
    stats_.add(l.band.data(), size_t(rows) * l.width);
    l.filled = rows;
    l.received += rows;
    flush(0);
}

void BandedPlaneEncoder::add_rows(size_t k, const std::byte* rows, uint32_t count) {
    // `count` rows of level k-1 (even, or odd only for the level's last rows) become ceil(count / 2)
    // rows of level k, halved straight into level k's band, a band at a time.
    const Level& above = *levels_[k - 1];
    Level& l = *levels_[k];
    while (count > 0) {
        const uint32_t in = std::min(count, 2 * (l.band_rows - l.filled));
        downsample_rows(plate_.layout().dtype, rows, above.width, in, l.band.data() + l.filled * l.row_bytes,
                        plate_.layout().downsample);
        const uint32_t out = (in + 1) / 2;
        l.filled += out;
        l.received += out;
        if (l.filled == l.band_rows || l.received == l.height) flush(k);
        rows += size_t(in) * above.row_bytes;
        count -= in;
    }
}

void BandedPlaneEncoder::flush(size_t k) {
    Level& l = *levels_[k];
    encode_band(k);
    if (k > 0) l.checksum.update(l.band.data(), l.filled * l.row_bytes);
    if (k + 1 < levels_.size()) {
        const std::byte* rows = l.band.data();
        uint32_t count = l.filled;
        if (l.has_carry) {  // the carried row and this band's first row make one 2x2 row
            std::memcpy(l.carry.data() + l.row_bytes, rows, l.row_bytes);
            l.has_carry = false;
            add_rows(k + 1, l.carry.data(), 2);
            rows += l.row_bytes;
            --count;
        }
        if (count % 2 && l.received < l.height) {  // its partner is in the next band
            l.carry.resize(2 * l.row_bytes);
            std::memcpy(l.carry.data(), rows + (count - 1) * l.row_bytes, l.row_bytes);
            l.has_carry = true;
            --count;
        }
        if (count) add_rows(k + 1, rows, count);
    }
    l.filled = 0;
    ++l.tile_row;
}

void BandedPlaneEncoder::encode_band(size_t k) {
    Level& l = *levels_[k];
    const int level = int(k);
    const uint32_t columns = plate_.layout().chunk_grid(level)[1];
    std::atomic<uint32_t> next{0};
    std::exception_ptr failure;
    std::mutex failure_mu;
    auto work = [&](std::string& buffer) {
        try {
            for (uint32_t tx = next++; tx < columns; tx = next++) {
                const size_t n = plate_.encode_tile(level, l.band.data(), l.filled, tx, buffer);
                sink_(level, l.tile_row, tx, std::string_view(buffer.data(), n));
                bytes_ += n;
            }
        } catch (...) {
            std::lock_guard lock(failure_mu);
            if (!failure) failure = std::current_exception();
            next = columns;  // the others stop after their tile
        }
    };
    const uint32_t helpers = std::min<uint32_t>(uint32_t(threads_), columns) - 1;
    std::vector<std::thread> pool;
    for (uint32_t i = 0; i < helpers; ++i) pool.emplace_back(work, std::ref(buffers_[i + 1]));
    work(buffers_[0]);
    for (auto& t : pool) t.join();
    if (failure) std::rethrow_exception(failure);
}

BandedPlaneEncoder::Result BandedPlaneEncoder::finish(std::vector<uint64_t>* histogram) {
    for (auto& l : levels_)
        if (l->received != l->height || l->has_carry)
            throw Error("internal: a banded plane finished with " + std::to_string(l->received) + " of " +
                        std::to_string(l->height) + " rows");
    Result r;
    r.stats = stats_.finish(histogram, &r.checksum);
    for (size_t k = 1; k < levels_.size(); ++k) r.level_checksums.push_back(levels_[k]->checksum.hex());
    r.bytes = bytes_;
    return r;
}

}  // namespace imx
