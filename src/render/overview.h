// `overview`: the plate as one PNG, each well a tile of its fields at the lowest pyramid level,
// drawn from the store (after collect), with the contrast windows collect wrote.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/workspace.h"

namespace imx {

struct OverviewOptions {
    fs::path output;
    std::string plate;                  // empty: the first plate
    std::vector<std::string> channels;  // names or indices; empty: all (up to 7)
    int tpoint = 0;
    int zplane = -1;                    // -1: the middle plane
    int field_size = 0;                 // pixels per field's larger side; 0: automatic
    std::string wells;                  // "B02:D05": only the wells of that rectangle; empty: the plate
};
struct OverviewResult {
    uint32_t width = 0, height = 0;
    int wells_drawn = 0, wells_failed = 0;
    uint64_t bytes_read = 0;            // stored bytes the picture was drawn from
};
OverviewResult write_overview(const Workspace& ws, const OverviewOptions& options);

}  // namespace imx
