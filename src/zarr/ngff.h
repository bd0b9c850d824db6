// OME-NGFF 0.4 HCS plates (Zarr v2, '/' dimension separator) on top of the Store interface:
// plate -> row -> column -> field image, each image one 5-D array (t, c, z, y, x) with one chunk
// per plane.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"
#include "storage/store.h"
#include "zarr/codec.h"

namespace imx {

struct ChannelRendering {
    std::string label;
    std::string color = "FFFFFF";  // RRGGBB
    double window_start = 0, window_end = 0;  // contrast limits; 0/0 = the dtype's full range
};

struct WellLayout {
    int row = 0, col = 0;
    int sites = 0;  // field images 0..sites-1
};

// Everything needed to lay out the plate's metadata, and to find a plane's chunk.
struct PlateLayout {
    std::string name;             // the plate name (shown by viewers)
    std::string path;             // key prefix of the plate inside the store, e.g. "myplate.zarr"
    int rows = 0, cols = 0;       // plate format
    std::vector<WellLayout> wells;
    std::vector<ChannelRendering> channels;
    int tpoints = 1, zplanes = 1;
    uint32_t width = 0, height = 0;
    DType dtype = DType::u16;
    std::optional<double> pixel_size_x, pixel_size_y, pixel_size_z;  // micrometres
    std::optional<double> time_interval_s;
    CodecSpec codec;

    nlohmann::json to_json() const;
    static PlateLayout from_json(const nlohmann::json& j);
};

std::string column_name(int col);  // 0 -> "01": zero-padded so that keys sort like wells

class NgffPlate {
public:
    NgffPlate(Store& store, PlateLayout layout);

    const PlateLayout& layout() const { return layout_; }
    // Writes every group and array's metadata (.zgroup/.zattrs/.zarray). Idempotent.
    void write_metadata() const;
    // Rewrites only the field images' omero metadata (after collect computed contrast windows).
    void write_rendering() const;

    std::string image_path(int row, int col, int site) const;  // "<plate>/B/03/0"
    std::string chunk_key(int row, int col, int site, int t, int c, int z) const;

    // Encodes and stores one plane; returns the stored (compressed) size.
    size_t write_plane(int row, int col, int site, int t, int c, int z, const Plane& plane) const;
    // Reads one plane back; throws Error when the chunk is missing or corrupt.
    Plane read_plane(int row, int col, int site, int t, int c, int z) const;

    // Reads the layout of an existing plate from the store (the plate's .zattrs carries it).
    static PlateLayout read_layout(const Store& store, const std::string& plate_path);

private:
    nlohmann::json image_attrs() const;
    Store& store_;
    PlateLayout layout_;
};

}  // namespace imx
