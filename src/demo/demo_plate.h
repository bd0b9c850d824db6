// A realistic synthetic CellVoyager acquisition (mlf/mrf + 16-bit TIFFs) for the demo, tests and
// benchmarks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace imx {

struct DemoPlateSpec {
    int rows = 2, cols = 3;  // wells used: the first rows x cols wells of a 96-well plate from B02
    int sites = 2, channels = 2, zplanes = 3, tpoints = 1;
    uint32_t width = 640, height = 540;
    uint64_t seed = 42;
    std::string plate_name = "DemoPlate";  // letters, digits, '-' and '_'
};

struct DemoPlateResult {
    std::filesystem::path folder;
    size_t planes = 0;
    uint64_t bytes = 0;
};

DemoPlateResult write_demo_plate(const std::filesystem::path& folder, const DemoPlateSpec& spec = {});

}  // namespace imx
