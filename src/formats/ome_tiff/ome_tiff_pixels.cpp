// What an OME Image's Pixels element says besides where its planes are: physical pixel sizes, the
// time increment and the stage position of each plane (ome_tiff_model.h).
#include "formats/ome_tiff/ome_tiff_model.h"

namespace imx::ome_tiff {

void read_physical(const Numbers& num, const pugi::xml_node& px, Image& img, std::vector<std::string>& warnings) {
    auto length = [&](const char* name) -> std::optional<double> {
        auto v = num.real(px, name);
        if (!v) return std::nullopt;
        const std::string unit = attr_str(px, std::string(name) + "Unit");
        auto f = length_factor_um(unit);
        if (!f) {
            warnings.push_back(img.doc + ": unknown unit '" + unit + "' for " + name + "; pixel size ignored");
            return std::nullopt;
        }
        if (*v <= 0) return std::nullopt;
        return *v * *f;
    };
    img.psx = length("PhysicalSizeX");
    img.psy = length("PhysicalSizeY");
    img.psz = length("PhysicalSizeZ");
    if (auto v = num.real(px, "TimeIncrement")) {
        const std::string unit = attr_str(px, "TimeIncrementUnit");
        if (auto f = time_factor_s(unit); f && *v > 0) img.dt = *v * *f;
    }
}

void read_plane_positions(const Numbers& num, const pugi::xml_node& px, Image& img) {
    auto nodes = children(px, "Plane");
    if (nodes.empty()) return;
    img.positions.assign(img.planes.size(), {});
    for (const auto& n : nodes) {
        const uint64_t z = num.uint_or(n, "TheZ", 0), c = num.uint_or(n, "TheC", 0), t = num.uint_or(n, "TheT", 0);
        if (z >= img.sz || c >= img.ec || t >= img.st) continue;
        auto& pos = img.positions[img.index(uint32_t(z), uint32_t(c), uint32_t(t))];
        const char* names[] = {"PositionX", "PositionY", "PositionZ"};
        for (int i = 0; i < 3; ++i) {
            auto v = num.real(n, names[i]);
            auto f = length_factor_um(attr_str(n, std::string(names[i]) + "Unit"));
            if (v && f) pos[size_t(i)] = *v * *f;
        }
    }
}

}  // namespace imx::ome_tiff
