// Resolution pyramids for viewers: each level halves the previous one (2x2 blocks), computed from
// the full-resolution plane while it is in memory, so extraction makes no second pass over the store.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "core/types.h"

namespace imx {

enum class Downsample { mean, max };

Downsample parse_downsample(const std::string& text);  // "mean" | "max"; throws Error (usage)
std::string downsample_name(Downsample d);

// Levels from full resolution down to the first level whose larger side is <= 256 pixels.
int default_levels(uint32_t width, uint32_t height);
// Size of level `level` (0 = full resolution): ceil(size / 2^level), at least 1.
std::pair<uint32_t, uint32_t> level_size(uint32_t width, uint32_t height, int level);

// Halves `in` into `out`: every output pixel is the mean (rounded half up for integers) or the
// maximum of the 2x2 input block it covers; blocks cut by an odd edge use the pixels they have.
void downsample_2x2(const Plane& in, Plane& out, Downsample how);
// The same rule on `rows` rows of `width` pixels at `in`, into ceil(rows / 2) rows at `out`: a
// plane read band by band is halved band by band (an even number of rows each, only the plane's
// last band odd) with the pixels of the whole plane's downsample_2x2.
void downsample_rows(DType dtype, const std::byte* in, uint32_t width, uint32_t rows, std::byte* out, Downsample how);

}  // namespace imx
