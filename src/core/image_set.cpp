#include "core/image_set.h"

#include <algorithm>
#include <cmath>

namespace imx {

namespace {

const PlateFormat kStandardPlates[] = {{2, 3}, {4, 6}, {8, 12}, {16, 24}, {32, 48}};

}  // namespace

PlateFormat smallest_plate(int rows, int cols) {
    for (const PlateFormat& f : kStandardPlates)
        if (rows <= f.rows && cols <= f.cols) return f;
    return {};
}

PlateFormat plate_for_well_count(uint64_t wells) {
    for (const PlateFormat& f : kStandardPlates)
        if (f.rows * f.cols >= 96 && wells <= uint64_t(f.rows * f.cols)) return f;
    return {};
}

std::optional<double> z_step_of_stack(std::vector<std::pair<int, double>> stack) {
    if (stack.size() < 2) return std::nullopt;
    std::sort(stack.begin(), stack.end());
    const double step = std::abs(stack[1].second - stack[0].second) / std::max(1, stack[1].first - stack[0].first);
    if (!(step > 0)) return std::nullopt;
    return std::round(step * 1e4) / 1e4;
}

}  // namespace imx
