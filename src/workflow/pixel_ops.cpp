#include "workflow/pixel_ops.h"

#include <algorithm>
#include <vector>

namespace imx {

namespace {

template <class T> void max_into(Plane& acc, const Plane& p) {
    T* a = acc.as<T>();
    const T* b = p.as<T>();
    const size_t n = acc.pixel_count();
    for (size_t i = 0; i < n; ++i) a[i] = std::max(a[i], b[i]);
}

template <class T> PlaneStats minmax_stats(const Plane& p) {
    const T* v = p.as<T>();
    const size_t n = p.pixel_count();
    PlaneStats s;
    if (n == 0) return s;
    auto [lo, hi] = std::minmax_element(v, v + n);
    s.min = double(*lo);
    s.max = double(*hi);
    s.p999 = s.max;
    return s;
}

template <class T> PlaneStats histogram_stats(const Plane& p) {
    constexpr size_t bins = size_t(1) << (8 * sizeof(T));
    thread_local std::vector<uint32_t> hist;
    hist.assign(bins, 0);
    const T* v = p.as<T>();
    const size_t n = p.pixel_count();
    PlaneStats s;
    if (n == 0) return s;
    // Exact minimum and maximum (a vectorised pass); the percentile from every 4th pixel, which is
    // plenty for a contrast window and 4x cheaper than a full histogram.
    auto [mn, mx] = std::minmax_element(v, v + n);
    s.min = double(*mn);
    s.max = double(*mx);
    const size_t step = n >= 4096 ? 4 : 1;
    size_t sampled = 0;
    for (size_t i = 0; i < n; i += step, ++sampled) ++hist[v[i]];
    size_t lo = size_t(*mn), hi = size_t(*mx);
    const size_t target = size_t(double(sampled) * 0.999);
    size_t seen = 0;
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

PlaneStats plane_stats(const Plane& p) {
    switch (p.dtype) {
        case DType::u8: return histogram_stats<uint8_t>(p);
        case DType::u16: return histogram_stats<uint16_t>(p);
        case DType::i8: return minmax_stats<int8_t>(p);
        case DType::i16: return minmax_stats<int16_t>(p);
        case DType::u32: return minmax_stats<uint32_t>(p);
        case DType::i32: return minmax_stats<int32_t>(p);
        case DType::f32: return minmax_stats<float>(p);
    }
    return {};
}

}  // namespace imx
