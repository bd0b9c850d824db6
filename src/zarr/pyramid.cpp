#include "zarr/pyramid.h"

#include <algorithm>
#include <type_traits>

namespace imx {

Downsample parse_downsample(const std::string& text) {
    if (text == "mean") return Downsample::mean;
    if (text == "max") return Downsample::max;
    throw Error("--downsample must be 'mean' or 'max', not '" + text + "'", Error::Kind::usage);
}

std::string downsample_name(Downsample d) { return d == Downsample::max ? "max" : "mean"; }

int default_levels(uint32_t width, uint32_t height) {
    int levels = 1;
    uint32_t side = std::max(width, height);
    while (side > 256) {
        side = (side + 1) / 2;
        ++levels;
    }
    return levels;
}

std::pair<uint32_t, uint32_t> level_size(uint32_t width, uint32_t height, int level) {
    for (int l = 0; l < level; ++l) {
        width = std::max<uint32_t>(1, (width + 1) / 2);
        height = std::max<uint32_t>(1, (height + 1) / 2);
    }
    return {width, height};
}

namespace {

// Output pixels [0, n) from two full source rows: returns how many it wrote (0 for floats, whose
// mean the general loop computes in double).
template <class T> uint32_t full_blocks(const T* __restrict r0, const T* __restrict r1, T* __restrict o, uint32_t n,
                                        Downsample how) {
    if constexpr (std::is_floating_point_v<T>) {
        return 0;
    } else {
        if (how == Downsample::max) {
            for (uint32_t x = 0; x < n; ++x)
                o[x] = std::max(std::max(r0[2 * x], r0[2 * x + 1]), std::max(r1[2 * x], r1[2 * x + 1]));
            return n;
        }
        // Four 16-bit values fit in 32 bits; wider types keep 64. An arithmetic right shift is the
        // floor division that rounds half up for negative sums too: (sum + 2) >> 2.
        using Sum = std::conditional_t<(sizeof(T) <= 2), std::conditional_t<std::is_signed_v<T>, int32_t, uint32_t>,
                                       std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
        for (uint32_t x = 0; x < n; ++x) {
            const Sum sum = Sum(r0[2 * x]) + Sum(r0[2 * x + 1]) + Sum(r1[2 * x]) + Sum(r1[2 * x + 1]);
            o[x] = T((sum + 2) >> 2);
        }
        return n;
    }
}

template <class T> void halve(const std::byte* in, uint32_t w, uint32_t h, std::byte* out, Downsample how) {
    const uint32_t ow = std::max<uint32_t>(1, (w + 1) / 2), oh = std::max<uint32_t>(1, (h + 1) / 2);
    const T* src = reinterpret_cast<const T*>(in);
    T* dst = reinterpret_cast<T*>(out);
    // Integers accumulate in 64 bits (no overflow for any 32-bit type); floats in double.
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double,
                                   std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
    for (uint32_t y = 0; y < oh; ++y) {
        const T* r0 = src + size_t(2 * y) * w;
        const bool two_rows = 2 * y + 1 < h;
        const T* r1 = two_rows ? r0 + w : r0;
        T* o = dst + size_t(y) * ow;
        // Full 2x2 blocks first, in a branch-free loop the compiler vectorises (the general loop
        // below was a tenth of the run phase); the same rule: mean rounded half up, or max.
        const uint32_t full = two_rows ? full_blocks<T>(r0, r1, o, w / 2, how) : 0;
        for (uint32_t x = full; x < ow; ++x) {
            const uint32_t x0 = 2 * x;
            const bool two_cols = x0 + 1 < w;
            if (how == Downsample::max) {
                T m = r0[x0];
                if (two_cols) m = std::max(m, r0[x0 + 1]);
                if (two_rows) {
                    m = std::max(m, r1[x0]);
                    if (two_cols) m = std::max(m, r1[x0 + 1]);
                }
                o[x] = m;
                continue;
            }
            Acc sum = Acc(r0[x0]);
            int n = 1;
            if (two_cols) sum += Acc(r0[x0 + 1]), ++n;
            if (two_rows) {
                sum += Acc(r1[x0]), ++n;
                if (two_cols) sum += Acc(r1[x0 + 1]), ++n;
            }
            if constexpr (std::is_floating_point_v<T>) {
                o[x] = T(sum / n);
            } else {
                // Round half up; for negative sums floor division keeps the same rule.
                Acc num = sum + Acc(n / 2);
                Acc q = num / Acc(n);
                if (num < 0 && q * Acc(n) != num) --q;
                o[x] = T(q);
            }
        }
    }
}

}  // namespace

void downsample_rows(DType dtype, const std::byte* in, uint32_t width, uint32_t rows, std::byte* out, Downsample how) {
    switch (dtype) {
        case DType::u8: return halve<uint8_t>(in, width, rows, out, how);
        case DType::i8: return halve<int8_t>(in, width, rows, out, how);
        case DType::u16: return halve<uint16_t>(in, width, rows, out, how);
        case DType::i16: return halve<int16_t>(in, width, rows, out, how);
        case DType::u32: return halve<uint32_t>(in, width, rows, out, how);
        case DType::i32: return halve<int32_t>(in, width, rows, out, how);
        case DType::f32: return halve<float>(in, width, rows, out, how);
    }
}

void downsample_2x2(const Plane& in, Plane& out, Downsample how) {
    auto [ow, oh] = level_size(in.width, in.height, 1);
    out.allocate(in.dtype, ow, oh);
    downsample_rows(in.dtype, in.data.data(), in.width, in.height, out.data.data(), how);
}

}  // namespace imx
