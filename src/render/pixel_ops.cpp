#include "render/pixel_ops.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "core/checksum.h"

namespace imx {

namespace {

template <class T> void max_into(Plane& acc, const Plane& p) {
    T* a = acc.as<T>();
    const T* b = p.as<T>();
    const size_t n = acc.pixel_count();
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

// Bytes per block of the one pass over a plane: small enough to stay in the first-level cache
// between the minimum/maximum, the sample and the checksum.
constexpr size_t kBlockBytes = 32 * 1024;

// The one pass over a plane: per block, its exact minimum and maximum, then `visit(begin, end)`
// (pixel indices) while the block is still in cache, then the checksum (when asked for).
template <class T, class Visit>
std::pair<T, T> block_pass(const T* v, size_t n, std::string* checksum, Visit&& visit) {
    std::unique_ptr<PixelChecksum> sum;
    if (checksum) sum = std::make_unique<PixelChecksum>();
    T lo = n ? v[0] : T(), hi = lo;
    constexpr size_t block = kBlockBytes / sizeof(T);
    for (size_t b = 0; b < n; b += block) {
        const size_t end = std::min(n, b + block);
        const auto [blo, bhi] = lane_minmax(v + b, end - b);
        lo = std::min(lo, blo);
        hi = std::max(hi, bhi);
        visit(b, end);
        if (sum) sum->update(v + b, (end - b) * sizeof(T));
    }
    if (checksum) *checksum = sum->hex();
    return {lo, hi};
}

template <class T> PlaneStats minmax_stats(const Plane& p, std::string* checksum) {
    const size_t n = p.pixel_count();
    const auto [lo, hi] = block_pass(p.as<T>(), n, checksum, [](size_t, size_t) {});
    PlaneStats s;
    if (n == 0) return s;
    s.min = double(lo);
    s.max = double(hi);
    s.p001 = s.min;
    s.p999 = s.max;
    return s;
}

template <class T> PlaneStats histogram_stats(const Plane& p, std::vector<uint64_t>* coarse, std::string* checksum) {
    constexpr size_t bins = size_t(1) << (8 * sizeof(T));
    thread_local std::vector<uint32_t> hist;
    hist.assign(bins, 0);
    const T* v = p.as<T>();
    const size_t n = p.pixel_count();
    // Exact minimum and maximum (a vectorised pass); the percentiles from a sample of at least
    // 65,536 pixels (every 16th of a camera frame), plenty for a contrast window.
    const size_t step = std::max<size_t>(1, std::min<size_t>(16, n / 65536));
    size_t sampled = 0, i = 0;  // i: the next sampled pixel
    const auto [mn, mx] = block_pass(v, n, checksum, [&](size_t, size_t end) {
        for (; i < end; i += step, ++sampled) ++hist[v[i]];
    });
    PlaneStats s;
    if (n == 0) return s;
    s.min = double(mn);
    s.max = double(mx);
    size_t lo = size_t(mn), hi = size_t(mx);
    if (coarse) {
        const size_t shift = sizeof(T) == 1 ? 0 : 4;
        if (coarse->size() != (bins >> shift)) coarse->assign(bins >> shift, 0);
        for (size_t b = lo; b <= hi; ++b) (*coarse)[b >> shift] += hist[b];
    }
    const size_t low_target = size_t(double(sampled) * 0.001);
    size_t seen = 0;
    s.p001 = s.min;
    for (size_t b = lo; b <= hi; ++b) {
        seen += hist[b];
        if (seen > low_target) {
            s.p001 = double(b);
            break;
        }
    }
    const size_t target = size_t(double(sampled) * 0.999);
    seen = 0;
    for (size_t b = lo; b <= hi; ++b) {
        seen += hist[b];
        if (seen > target) {
            s.p999 = double(b);
            break;
        }
    }
    if (seen <= target) s.p999 = s.max;
    return s;
}

}  // namespace

void max_project_into(Plane& acc, const Plane& p) {
    if (acc.dtype != p.dtype || acc.width != p.width || acc.height != p.height)
        throw Error("cannot project planes of different size or type");
    switch (acc.dtype) {
        case DType::u8: return max_into<uint8_t>(acc, p);
        case DType::i8: return max_into<int8_t>(acc, p);
        case DType::u16: return max_into<uint16_t>(acc, p);
        case DType::i16: return max_into<int16_t>(acc, p);
        case DType::u32: return max_into<uint32_t>(acc, p);
        case DType::i32: return max_into<int32_t>(acc, p);
        case DType::f32: return max_into<float>(acc, p);
    }
}

size_t histogram_bins(DType t) { return t == DType::u8 ? 256 : t == DType::u16 ? 4096 : 0; }
double histogram_bin_width(DType t) { return t == DType::u16 ? 16 : 1; }

PlaneStats plane_stats(const Plane& p, std::vector<uint64_t>* histogram, std::string* checksum) {
    switch (p.dtype) {
        case DType::u8: return histogram_stats<uint8_t>(p, histogram, checksum);
        case DType::u16: return histogram_stats<uint16_t>(p, histogram, checksum);
        case DType::i8: return minmax_stats<int8_t>(p, checksum);
        case DType::i16: return minmax_stats<int16_t>(p, checksum);
        case DType::u32: return minmax_stats<uint32_t>(p, checksum);
        case DType::i32: return minmax_stats<int32_t>(p, checksum);
        case DType::f32: return minmax_stats<float>(p, checksum);
    }
    return {};
}

}  // namespace imx
