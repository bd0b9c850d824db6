// Per-plane pixel work done while extracting: maximum-intensity projection and the intensity
// statistics that collect turns into viewer contrast windows.
#pragma once

#include <memory>
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
// The same on `count` pixels of `dtype` (a band of each plane).
void max_project_pixels(DType dtype, std::byte* acc, const std::byte* pixels, size_t count);
// With `histogram` (histogram_bins() long), also adds the plane's sampled pixels to it; with
// `checksum`, also sets it to pixel_checksum() of the plane. All in one pass over the plane, block
// by block, so that the plane is read from memory once, not once for each.
PlaneStats plane_stats(const Plane& plane, std::vector<uint64_t>* histogram = nullptr,
                       std::string* checksum = nullptr);

class PixelChecksum;

// plane_stats() of a plane whose pixels arrive piece by piece (a huge plane read band by band):
// add() the pieces in order, then finish() gives what plane_stats() gives for the whole plane
// (the same sampled pixels, histogram and checksum).
class PlaneStatsStream {
public:
    PlaneStatsStream(DType dtype, uint64_t total_pixels, bool checksum);
    ~PlaneStatsStream();
    void add(const void* pixels, size_t count);
    PlaneStats finish(std::vector<uint64_t>* histogram, std::string* checksum) const;

private:
    template <class T> friend void stats_pass(PlaneStatsStream& s, const T* v, size_t n);
    DType dtype_;
    std::unique_ptr<PixelChecksum> sum_;
    std::vector<uint64_t> fine_;  // 8/16-bit: one bin per value, of the sampled pixels
    uint64_t step_ = 1, next_sample_ = 0, sampled_ = 0, seen_ = 0;
    double lo_ = 0, hi_ = 0;
};

}  // namespace imx
