// Per-plane pixel work done while extracting: maximum-intensity projection and the intensity
// statistics that collect turns into viewer contrast windows.
#pragma once

#include <string>
#include <vector>

#include "core/types.h"

namespace imx {

struct PlaneStats {
    double min = 0, max = 0;
    double p001 = 0;  // 0.1th percentile (of a sample for 8/16-bit; the minimum otherwise)
    double p999 = 0;  // 99.9th percentile (of a sample for 8/16-bit; the maximum otherwise)
};

// The channel histograms that collect turns into contrast windows: 256 bins of 1 for 8-bit,
// 4096 bins of 16 for 16-bit pixels; other types get none (empty).
size_t histogram_bins(DType t);
double histogram_bin_width(DType t);

// acc = max(acc, plane) pixel by pixel; both must have the same geometry and type.
void max_project_into(Plane& acc, const Plane& plane);
// With `histogram` (histogram_bins() long), also adds the plane's sampled pixels to it; with
// `checksum`, also sets it to pixel_checksum() of the plane. All in one pass over the plane, block
// by block, so that the plane is read from memory once, not once for each.
PlaneStats plane_stats(const Plane& plane, std::vector<uint64_t>* histogram = nullptr,
                       std::string* checksum = nullptr);

}  // namespace imx
