// `overview`: a plate map as one PNG. Every well is a tile of its fields read from the lowest
// pyramid level (so drawing a 384-well plate reads a small fraction of the plate), coloured with the
// channels' contrast windows; planes that are missing or unreadable are drawn as red crosses.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/log.h"
#include "render/image_writer.h"
#include "storage/store.h"
#include "catalog/catalog.h"
#include "render/overview.h"
#include "zarr/ngff.h"

namespace imx {

namespace {

// 3x5 glyphs for well labels, one row per 3 bits, top row first.
const std::map<char, std::array<uint8_t, 5>> kGlyphs = {
    {'0', {7, 5, 5, 5, 7}}, {'1', {2, 6, 2, 2, 7}}, {'2', {7, 1, 7, 4, 7}}, {'3', {7, 1, 7, 1, 7}},
    {'4', {5, 5, 7, 1, 1}}, {'5', {7, 4, 7, 1, 7}}, {'6', {7, 4, 7, 5, 7}}, {'7', {7, 1, 2, 2, 2}},
    {'8', {7, 5, 7, 5, 7}}, {'9', {7, 5, 7, 1, 7}}, {'A', {2, 5, 7, 5, 5}}, {'B', {6, 5, 6, 5, 6}},
    {'C', {3, 4, 4, 4, 3}}, {'D', {6, 5, 5, 5, 6}}, {'E', {7, 4, 6, 4, 7}}, {'F', {7, 4, 6, 4, 4}},
    {'G', {3, 4, 5, 5, 3}}, {'H', {5, 5, 7, 5, 5}}, {'I', {7, 2, 2, 2, 7}}, {'J', {1, 1, 1, 5, 2}},
    {'K', {5, 5, 6, 5, 5}}, {'L', {4, 4, 4, 4, 7}}, {'M', {5, 7, 7, 5, 5}}, {'N', {6, 5, 5, 5, 5}},
    {'O', {2, 5, 5, 5, 2}}, {'P', {6, 5, 6, 4, 4}}, {'Q', {2, 5, 5, 6, 3}}, {'R', {6, 5, 6, 5, 5}},
    {'S', {3, 4, 2, 1, 6}}, {'T', {7, 2, 2, 2, 2}}, {'U', {5, 5, 5, 5, 7}}, {'V', {5, 5, 5, 5, 2}},
    {'W', {5, 5, 7, 7, 5}}, {'X', {5, 5, 2, 5, 5}}, {'Y', {5, 5, 2, 2, 2}}, {'Z', {7, 1, 2, 4, 7}}};

struct Canvas {
    uint32_t width, height;
    std::vector<uint8_t> rgb;
    Canvas(uint32_t w, uint32_t h, uint8_t grey) : width(w), height(h), rgb(size_t(w) * h * 3, grey) {}
    void set(int64_t x, int64_t y, uint8_t r, uint8_t g, uint8_t b) {
        if (x < 0 || y < 0 || x >= width || y >= height) return;
        uint8_t* p = &rgb[(size_t(y) * width + size_t(x)) * 3];
        p[0] = r, p[1] = g, p[2] = b;
    }
    void fill(int64_t x0, int64_t y0, int64_t w, int64_t h, uint8_t r, uint8_t g, uint8_t b) {
        for (int64_t y = y0; y < y0 + h; ++y)
            for (int64_t x = x0; x < x0 + w; ++x) set(x, y, r, g, b);
    }
    // Upper-case letters and digits (others leave a space); returns the x after the text.
    int64_t text(int64_t x, int64_t y, const std::string& s, int scale, uint32_t rgb = 0xDCDCDC) {
        for (char ch : s) {
            auto g = kGlyphs.find(char(std::toupper(static_cast<unsigned char>(ch))));
            if (g != kGlyphs.end())
                for (int row = 0; row < 5; ++row)
                    for (int col = 0; col < 3; ++col)
                        if (g->second[size_t(row)] & (4 >> col))
                            fill(x + col * scale, y + row * scale, scale, scale, uint8_t(rgb >> 16), uint8_t(rgb >> 8), uint8_t(rgb));
            x += 4 * scale;
        }
        return x;
    }
    void cross(int64_t x0, int64_t y0, int64_t w, int64_t h) {
        fill(x0, y0, w, h, 90, 0, 0);
        for (int64_t i = 0; i < std::max(w, h); ++i) {
            int64_t x = x0 + i * w / std::max<int64_t>(1, std::max(w, h)), y = y0 + i * h / std::max<int64_t>(1, std::max(w, h));
            for (int d = 0; d < 2; ++d) {
                set(x + d, y, 255, 60, 60);
                set(x0 + w - 1 - (x - x0) - d, y, 255, 60, 60);
            }
        }
    }
};

uint32_t hex_color(const std::string& rrggbb) {
    try {
        return uint32_t(std::stoul(rrggbb, nullptr, 16)) & 0xFFFFFF;
    } catch (const std::exception&) {
        return 0xFFFFFF;
    }
}

double pixel_value(const Plane& p, size_t i) {
    switch (p.dtype) {
        case DType::u8: return p.as<uint8_t>()[i];
        case DType::i8: return p.as<int8_t>()[i];
        case DType::u16: return p.as<uint16_t>()[i];
        case DType::i16: return p.as<int16_t>()[i];
        case DType::u32: return p.as<uint32_t>()[i];
        case DType::i32: return p.as<int32_t>()[i];
        case DType::f32: return p.as<float>()[i];
    }
    return 0;
}

// The rectangle of wells `--wells` names ("B02:D05", or one well "C03"), checked against the plate.
struct WellWindow {
    int row0 = 0, col0 = 0, rows = 0, cols = 0;
};
WellWindow well_window(const std::string& spec, const PlateLayout& L) {
    WellWindow all{0, 0, std::max(1, L.rows), std::max(1, L.cols)};
    if (spec.empty()) return all;
    const size_t colon = spec.find(':');
    const std::string first = spec.substr(0, colon), last = colon == std::string::npos ? first : spec.substr(colon + 1);
    int r0, c0, r1, c1;
    if (!parse_well_name(first, r0, c0) || !parse_well_name(last, r1, c1))
        throw Error("--wells '" + spec + "': expected two wells like B02:D05", Error::Kind::usage);
    if (r1 < r0) std::swap(r0, r1);
    if (c1 < c0) std::swap(c0, c1);
    if (r1 >= all.rows || c1 >= all.cols)
        throw Error("--wells '" + spec + "': the plate has " + std::to_string(all.rows) + " rows and " +
                        std::to_string(all.cols) + " columns", Error::Kind::usage);
    bool any = false;
    for (auto& w : L.wells) any = any || (w.row >= r0 && w.row <= r1 && w.col >= c0 && w.col <= c1);
    if (!any) throw Error("--wells '" + spec + "': no well of plate '" + L.name + "' holds images there", Error::Kind::usage);
    return {r0, c0, r1 - r0 + 1, c1 - c0 + 1};
}

}  // namespace

OverviewResult write_overview(const Workspace& ws, const OverviewOptions& opt) {
    ws.require();
    Catalog cat(ws.catalog_file(), true);
    auto store = open_store(cat.config().store);
    auto plates = cat.plates();
    const CatalogPlate* plate = nullptr;
    for (auto& p : plates)
        if (opt.plate.empty() ? true : p.name == opt.plate) {
            plate = &p;
            break;
        }
    if (!plate)
        throw Error(opt.plate.empty() ? "the experiment has no plate" : "no plate named '" + opt.plate + "'",
                    Error::Kind::usage);
    NgffPlate ngff(*store, NgffPlate::read_layout(*store, plate->store_path));
    const PlateLayout& L = ngff.layout();

    // Channels: the chosen ones, else all of them (at most 7, the palette's size).
    std::vector<int> channels;
    for (auto& name : opt.channels) {
        int found = -1;
        for (size_t i = 0; i < L.channels.size(); ++i)
            if (L.channels[i].label == name || std::to_string(i) == name) found = int(i);
        if (found < 0) throw Error("no channel '" + name + "' in plate '" + L.name + "'", Error::Kind::usage);
        channels.push_back(found);
    }
    // Multiplexing: each field image holds its own cycle's channels; draw up to 7 of each.
    if (channels.empty() && !L.plate_channels.empty())
        for (size_t i = 0; i < L.plate_channels.size() && i < 7; ++i) channels.push_back(L.plate_channels[i]);
    if (channels.empty())
        for (size_t i = 0; i < L.channels.size(); ++i)
            if (int(i) % L.image_channels() < 7) channels.push_back(int(i));
    const int zplane = opt.zplane >= 0 ? opt.zplane : L.zplanes / 2;
    if (zplane >= L.zplanes || opt.tpoint < 0 || opt.tpoint >= L.tpoints)
        throw Error("the plate has " + std::to_string(L.tpoints) + " time-point(s) and " + std::to_string(L.zplanes) +
                        " z-plane(s)", Error::Kind::usage);

    int max_sites = 1;
    for (auto& w : L.wells) max_sites = std::max(max_sites, w.sites);
    const int grid_cols = int(std::ceil(std::sqrt(double(max_sites))));
    const int grid_rows = (max_sites + grid_cols - 1) / grid_cols;
    const int level = L.levels - 1;
    auto [lw, lh] = level_size(L.width, L.height, level);
    // Field size: the lowest level, shrunk further so the picture stays a few thousand pixels wide.
    const WellWindow window = well_window(opt.wells, L);
    const int plate_cols = window.cols, plate_rows = window.rows;
    int field = opt.field_size > 0 ? opt.field_size : std::clamp(3000 / (plate_cols * grid_cols), 8, 128);
    field = std::min<int>(field, int(std::max(lw, lh)));
    const double step = double(std::max(lw, lh)) / field;  // source pixels per picture pixel
    const int fw = std::max(1, int(lw / step)), fh = std::max(1, int(lh / step));
    const int gap = 1, pad = 6, scale = std::max(1, std::min(3, field / 16));
    const int label = 5 * scale + 6;
    const int well_w = grid_cols * fw + (grid_cols - 1) * gap, well_h = grid_rows * fh + (grid_rows - 1) * gap;
    const int64_t width = label + int64_t(plate_cols) * (well_w + pad) + pad;
    // Below the wells a legend: the plate name, then each channel's name in its colour.
    const int64_t legend_top = label + int64_t(plate_rows) * (well_h + pad) + pad;
    const int64_t height = legend_top + 2 * (5 * scale + 4) + pad;
    if (width * height > 400'000'000) throw Error("overview would be too large; choose a smaller --field-size", Error::Kind::usage);
    Canvas canvas(uint32_t(width), uint32_t(height), 32);

    for (int c = 0; c < plate_cols; ++c) canvas.text(label + c * (well_w + pad) + pad, 3, column_name(window.col0 + c), scale);
    for (int r = 0; r < plate_rows; ++r)
        canvas.text(2, label + r * (well_h + pad) + pad + well_h / 2 - 2 * scale, row_name(window.row0 + r), scale);
    canvas.text(pad, legend_top, L.name, scale);
    int64_t legend_x = pad;
    for (int ch : channels)
        legend_x = canvas.text(legend_x, legend_top + 5 * scale + 4, L.channels[size_t(ch)].label, scale,
                               hex_color(L.channels[size_t(ch)].color)) + 4 * scale;

    OverviewResult result;
    result.width = uint32_t(width);
    result.height = uint32_t(height);
    std::set<std::pair<int, int>> present;
    for (auto& w : L.wells) present.insert({w.row - window.row0, w.col - window.col0});
    for (int r = 0; r < plate_rows; ++r)
        for (int c = 0; c < plate_cols; ++c)
            if (!present.count({r, c}))
                canvas.fill(label + c * (well_w + pad) + pad, label + r * (well_h + pad) + pad, well_w, well_h, 18, 18, 18);

    std::vector<double> acc(size_t(fw) * fh * 3);
    for (auto& w : L.wells) {
        const int row = w.row - window.row0, col = w.col - window.col0;
        if (row < 0 || col < 0 || row >= plate_rows || col >= plate_cols) continue;  // outside --wells
        const int64_t x0 = label + col * (well_w + pad) + pad, y0 = label + row * (well_h + pad) + pad;
        bool well_ok = true;
        for (int s = 0; s < w.sites; ++s) {
            const int64_t fx = x0 + (s % grid_cols) * (fw + gap), fy = y0 + (s / grid_cols) * (fh + gap);
            std::fill(acc.begin(), acc.end(), 0.0);
            bool ok = true;
            for (int ch : channels) {
                if (!L.image_has_channel(s, ch)) continue;  // another cycle's field image, or not this plate's
                Plane p;
                try {
                    p = ngff.read_plane(w.row, w.col, s, opt.tpoint, ch, zplane, level);

                } catch (const Error& e) {
                    log::debug("overview: {}", e.what());
                    ok = false;
                    break;
                }
                const auto& cr = L.channels[size_t(ch)];
                double lo = cr.window_start, hi = cr.window_end;
                if (hi <= lo) {
                    lo = 0;
                    hi = L.dtype == DType::u8 ? 255 : 65535;
                }
                const uint32_t rgb = hex_color(cr.color);
                const double k[3] = {double((rgb >> 16) & 255), double((rgb >> 8) & 255), double(rgb & 255)};
                for (int y = 0; y < fh; ++y)
                    for (int x = 0; x < fw; ++x) {
                        size_t sx = std::min<size_t>(lw - 1, size_t(x * step)), sy = std::min<size_t>(lh - 1, size_t(y * step));
                        double v = std::clamp((pixel_value(p, sy * lw + sx) - lo) / (hi - lo), 0.0, 1.0);
                        for (int k3 = 0; k3 < 3; ++k3) acc[(size_t(y) * fw + size_t(x)) * 3 + size_t(k3)] += v * k[k3];
                    }
            }
            if (!ok) {
                canvas.cross(fx, fy, fw, fh);
                well_ok = false;
                continue;
            }
            for (int y = 0; y < fh; ++y)
                for (int x = 0; x < fw; ++x) {
                    const double* a = &acc[(size_t(y) * fw + size_t(x)) * 3];
                    canvas.set(fx + x, fy + y, uint8_t(std::min(255.0, a[0])), uint8_t(std::min(255.0, a[1])),
                               uint8_t(std::min(255.0, a[2])));
                }
        }
        (well_ok ? result.wells_drawn : result.wells_failed)++;
    }
    result.bytes_read = ngff.bytes_read();
    write_png_rgb(opt.output, canvas.width, canvas.height, canvas.rgb);
    return result;
}

}  // namespace imx
