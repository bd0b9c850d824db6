#include "render/pixel_ops.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "core/checksum.h"

namespace imx {

namespace {

template <class T> void max_into(std::byte* acc, const std::byte* p, size_t n) {
    T* a = reinterpret_cast<T*>(acc);
    const T* b = reinterpret_cast<const T*>(p);
    for (size_t i = 0; i < n; ++i) a[i] = std::max(a[i], b[i]);
}

// Exact minimum and maximum in one pass over fixed groups of lanes, which the compiler turns into
// vector min/max at -O2 (std::minmax_element is a branchy scalar loop: it was 40% of a run job's
// time on 16-bit planes).
template <class T> std::pair<T, T> lane_minmax(const T* v, size_t n) {
    constexpr size_t kLanes = 32;
    T lo[kLanes], hi[kLanes];
    for (size_t k = 0; k < kLanes; ++k) lo[k] = hi[k] = v[0];
    size_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (size_t k = 0; k < kLanes; ++k) {
            lo[k] = v[i + k] < lo[k] ? v[i + k] : lo[k];
            hi[k] = v[i + k] > hi[k] ? v[i + k] : hi[k];
        }
    T mn = v[0], mx = v[0];
    for (size_t k = 0; k < kLanes; ++k) {
        mn = std::min(mn, lo[k]);
        mx = std::max(mx, hi[k]);
    }
    for (; i < n; ++i) {
        mn = std::min(mn, v[i]);
        mx = std::max(mx, v[i]);
    }
    return {mn, mx};
}

// Bytes per block of the one pass over pixels: small enough to stay in the first-level cache
// between the minimum/maximum, the sample and the checksum.
constexpr size_t kBlockBytes = 32 * 1024;

}  // namespace

void max_project_into(Plane& acc, const Plane& p) {
    if (acc.dtype != p.dtype || acc.width != p.width || acc.height != p.height)
        throw Error("cannot project planes of different size or type");
    max_project_pixels(acc.dtype, acc.data.data(), p.data.data(), acc.pixel_count());
}

void max_project_pixels(DType dtype, std::byte* acc, const std::byte* pixels, size_t count) {
    switch (dtype) {
        case DType::u8: return max_into<uint8_t>(acc, pixels, count);
        case DType::i8: return max_into<int8_t>(acc, pixels, count);
        case DType::u16: return max_into<uint16_t>(acc, pixels, count);
        case DType::i16: return max_into<int16_t>(acc, pixels, count);
        case DType::u32: return max_into<uint32_t>(acc, pixels, count);
        case DType::i32: return max_into<int32_t>(acc, pixels, count);
        case DType::f32: return max_into<float>(acc, pixels, count);
    }
}

size_t histogram_bins(DType t) { return t == DType::u8 ? 256 : t == DType::u16 ? 4096 : 0; }
double histogram_bin_width(DType t) { return t == DType::u16 ? 16 : 1; }

// One pass over the pixels as they arrive: per block, its exact minimum and maximum, the sampled
// pixels into the histogram while the block is still in cache, then the checksum.
template <class T> void stats_pass(PlaneStatsStream& s, const T* v, size_t n) {
    constexpr size_t block = kBlockBytes / sizeof(T);
    if (n && s.seen_ == 0) s.lo_ = s.hi_ = double(v[0]);
    for (size_t b = 0; b < n; b += block) {
        const size_t end = std::min(n, b + block);
        const auto [blo, bhi] = lane_minmax(v + b, end - b);
        s.lo_ = std::min(s.lo_, double(blo));
        s.hi_ = std::max(s.hi_, double(bhi));
        if (!s.fine_.empty()) {
            // next_sample_ counts from the plane's first pixel, so the sample does not depend on
            // how the plane is cut into pieces.
            const uint64_t first = s.seen_ + b, last = s.seen_ + end;
            for (; s.next_sample_ < last; s.next_sample_ += s.step_, ++s.sampled_)
                ++s.fine_[size_t(v[s.next_sample_ - first + b])];
        }
        if (s.sum_) s.sum_->update(v + b, (end - b) * sizeof(T));
    }
    s.seen_ += n;
}

PlaneStatsStream::PlaneStatsStream(DType t, uint64_t total_pixels, bool checksum) : dtype_(t) {
    if (checksum) sum_ = std::make_unique<PixelChecksum>();
    if (t == DType::u8 || t == DType::u16) {
        fine_.assign(size_t(1) << (8 * dtype_size(t)), 0);
        // The percentiles from a sample of at least 65,536 pixels (every 16th of a camera frame),
        // plenty for a contrast window.
        step_ = std::max<uint64_t>(1, std::min<uint64_t>(16, total_pixels / 65536));
    }
}

PlaneStatsStream::~PlaneStatsStream() = default;

void PlaneStatsStream::add(const void* pixels, size_t n) {
    switch (dtype_) {
        case DType::u8: return stats_pass(*this, static_cast<const uint8_t*>(pixels), n);
        case DType::i8: return stats_pass(*this, static_cast<const int8_t*>(pixels), n);
        case DType::u16: return stats_pass(*this, static_cast<const uint16_t*>(pixels), n);
        case DType::i16: return stats_pass(*this, static_cast<const int16_t*>(pixels), n);
        case DType::u32: return stats_pass(*this, static_cast<const uint32_t*>(pixels), n);
        case DType::i32: return stats_pass(*this, static_cast<const int32_t*>(pixels), n);
        case DType::f32: return stats_pass(*this, static_cast<const float*>(pixels), n);
    }
}

PlaneStats PlaneStatsStream::finish(std::vector<uint64_t>* histogram, std::string* checksum) const {
    if (checksum && sum_) *checksum = sum_->hex();
    PlaneStats s;
    if (seen_ == 0) return s;
    s.min = lo_;
    s.max = hi_;
    s.p001 = s.min;
    s.p999 = s.max;
    if (fine_.empty()) return s;  // no histogram: the percentiles are the minimum and maximum
    const size_t lo = size_t(lo_), hi = size_t(hi_);
    if (histogram) {
        const size_t shift = dtype_ == DType::u8 ? 0 : 4;
        if (histogram->size() != (fine_.size() >> shift)) histogram->assign(fine_.size() >> shift, 0);
        for (size_t b = lo; b <= hi; ++b) (*histogram)[b >> shift] += fine_[b];
    }
    const uint64_t low_target = uint64_t(double(sampled_) * 0.001);
    uint64_t seen = 0;
    for (size_t b = lo; b <= hi; ++b) {
        seen += fine_[b];
        if (seen > low_target) {
            s.p001 = double(b);
            break;
        }
    }
    const uint64_t target = uint64_t(double(sampled_) * 0.999);
    seen = 0;
    for (size_t b = lo; b <= hi; ++b) {
        seen += fine_[b];
        if (seen > target) {
            s.p999 = double(b);
            break;
        }
    }
    return s;
}

PlaneStats plane_stats(const Plane& p, std::vector<uint64_t>* histogram, std::string* checksum) {
    PlaneStatsStream stream(p.dtype, p.pixel_count(), checksum != nullptr);
    stream.add(p.data.data(), p.pixel_count());
    return stream.finish(histogram, checksum);
}

}  // namespace imx
