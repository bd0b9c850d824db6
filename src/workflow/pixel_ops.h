// Per-plane pixel work done while extracting: maximum-intensity projection and the intensity
// statistics that collect turns into viewer contrast windows.
#pragma once

#include "core/types.h"

namespace imx {

struct PlaneStats {
    double min = 0, max = 0;
    double p999 = 0;  // 99.9th percentile (exact for 8/16-bit, the maximum otherwise)
};

// acc = max(acc, plane) pixel by pixel; both must have the same geometry and type.
void max_project_into(Plane& acc, const Plane& plane);
PlaneStats plane_stats(const Plane& plane);

}  // namespace imx
