// The OME-TIFF reader's parts that do not need its file handling (formats/ome_tiff.cpp): OME-XML
// access by local name, strict numbers and units, and the model it builds (Images with their
// planes, plates), the Pixels element's sizes and positions (ome_tiff_pixels.cpp), and how placed
// Images are split into plates by kind (ome_tiff_kinds.cpp).
#pragma once

#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/container_util.h"
#include "formats/reader.h"
#include "formats/xml_util.h"

namespace imx::ome_tiff {

// Elements and attributes by local name, as every schema version writes them (xml_util.h).
using xml::attr;
using xml::attr_str;
using xml::child;
using xml::children;
using xml::local_name;
using xml::named;
using xml::trim;

// Parses numbers strictly; errors name the metadata file, the element and the attribute.
class Numbers {
public:
    explicit Numbers(std::string file) : file_(std::move(file)) {}

    std::optional<uint64_t> uint(const pugi::xml_node& n, std::string_view name) const {
        const std::string v = attr_str(n, name);
        if (v.empty()) return std::nullopt;
        uint64_t out = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
        if (ec != std::errc() || p != v.data() + v.size()) bad(n, name, v, "a non-negative integer");
        return out;
    }
    uint64_t uint_or(const pugi::xml_node& n, std::string_view name, uint64_t fallback) const {
        return uint(n, name).value_or(fallback);
    }
    std::optional<double> real(const pugi::xml_node& n, std::string_view name) const {
        const std::string v = attr_str(n, name);
        if (v.empty()) return std::nullopt;
        double out = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
        if (ec != std::errc() || p != v.data() + v.size() || !std::isfinite(out)) bad(n, name, v, "a number");
        return out;
    }
    [[noreturn]] void bad(const pugi::xml_node& n, std::string_view name, const std::string& v,
                          const char* expected) const {
        throw input_error(file_, "OME-XML " + std::string(local_name(n.name())) + " attribute " + std::string(name) +
                                     "='" + v.substr(0, 64) + "' is not " + expected);
    }
    [[noreturn]] void fail(const std::string& reason) const { throw input_error(file_, reason); }
    const std::string& file() const { return file_; }

private:
    std::string file_;
};

// Unit conversions. OME defaults: lengths in µm, time in s, wavelengths in nm.
inline std::optional<double> length_factor_um(const std::string& unit) {
    if (unit.empty() || unit == "\xC2\xB5m" || unit == "\xCE\xBCm" || unit == "um" || unit == "micron" ||
        unit == "reference frame")
        return 1.0;
    if (unit == "nm") return 1e-3;
    if (unit == "mm") return 1e3;
    if (unit == "cm") return 1e4;
    if (unit == "m") return 1e6;
    if (unit == "pm") return 1e-6;
    if (unit == "\xC3\x85" || unit == "\xE2\x84\xAB") return 1e-4;  // Ångström (two spellings)
    return std::nullopt;
}

inline std::optional<double> time_factor_s(const std::string& unit) {
    if (unit.empty() || unit == "s") return 1.0;
    if (unit == "ms") return 1e-3;
    if (unit == "\xC2\xB5s" || unit == "\xCE\xBCs" || unit == "us") return 1e-6;
    if (unit == "ns") return 1e-9;
    if (unit == "min") return 60.0;
    if (unit == "h") return 3600.0;
    return std::nullopt;
}

inline std::optional<double> wavelength_factor_nm(const std::string& unit) {
    if (unit.empty() || unit == "nm") return 1.0;
    auto um = length_factor_um(unit);
    if (um && unit != "reference frame") return *um * 1e3;
    return std::nullopt;
}

inline DType ome_pixel_type(const Numbers& num, const std::string& type) {
    if (type == "uint8") return DType::u8;
    if (type == "uint16") return DType::u16;
    if (type == "uint32") return DType::u32;
    if (type == "int8") return DType::i8;
    if (type == "int16") return DType::i16;
    if (type == "int32") return DType::i32;
    if (type == "float") return DType::f32;
    num.fail("OME-XML pixel type '" + type.substr(0, 32) +
             "' is not supported (imextract reads uint8/16/32, int8/16/32 and float)");
}

// ---- what we collect --------------------------------------------------------------------------

struct Loc {
    int file = -1;     // index into Reader::files_; -1 = plane not stored anywhere
    uint32_t ifd = 0;
};

struct Placement {
    int plate = -1;  // index into the plate list
    int row = 0, col = 0, site = 0;
    std::optional<double> x, y;
};

struct Image {
    std::string doc;     // metadata file, for messages
    std::string id;
    uint32_t series = 0;  // index of the Image within its document
    uint32_t sx = 0, sy = 0, sz = 1, sc = 1, st = 1;
    uint32_t spp = 1;     // samples per pixel (3 for RGB)
    uint32_t ec = 1;      // effective channels = sc / spp, one TIFF page each
    std::string order = "XYZCT";
    DType dtype = DType::u16;
    int significant_bits = 0;
    std::optional<double> psx, psy, psz, dt;
    std::vector<ChannelInfo> channels;  // sc entries, names may be empty
    std::vector<Loc> planes;            // by plane index in dimension order
    std::vector<std::array<std::optional<double>, 3>> positions;  // by plane index, may be empty
    Placement where;

    // SizeZ x effective SizeC x SizeT; UINT64_MAX when the product overflows.
    uint64_t plane_count() const {
        uint64_t n = 0;
        return __builtin_mul_overflow(uint64_t(sz) * ec, uint64_t(st), &n) ? UINT64_MAX : n;
    }
    container::Geometry geometry() const { return {sx, sy, dtype, significant_bits, psx, psy, psz, dt}; }
    // (z, c, t) of plane index p, following DimensionOrder (letters 2..4, fastest first).
    void coords(uint64_t p, uint32_t& z, uint32_t& c, uint32_t& t) const {
        for (int i = 2; i < 5; ++i) {
            const char d = order[size_t(i)];
            const uint32_t n = d == 'Z' ? sz : d == 'C' ? ec : st;
            const uint32_t v = uint32_t(p % n);
            p /= n;
            (d == 'Z' ? z : d == 'C' ? c : t) = v;
        }
    }
    uint64_t index(uint32_t z, uint32_t c, uint32_t t) const {
        uint64_t p = 0;
        for (int i = 4; i >= 2; --i) {
            const char d = order[size_t(i)];
            const uint32_t n = d == 'Z' ? sz : d == 'C' ? ec : st;
            p = p * n + (d == 'Z' ? z : d == 'C' ? c : t);
        }
        return p;
    }
};

struct Plate {
    std::string doc, id;
    PlateInfo info;
};

// Placed Images by kind (plane size, pixel type, T/C/Z sizes). A plate's arrays have one shape, so
// an Image of another kind than its plate's first goes to a plate of its own, named after how it
// differs ("<plate>_t7c3z1", "<plate>_512x512"): padding one Image to another's shape would store
// planes that exist nowhere. Appends those plates to set.plates and a warning for each.
struct Kinds {
    std::vector<size_t> kind;         // per placed Image
    std::vector<Placement> where;     // per placed Image: plate (index in set.plates), well, site
    std::vector<size_t> first_image;  // per kind: index in `images`
};
Kinds split_by_kind(ImageSet& set, const std::vector<Image>& images, const std::vector<size_t>& placed,
                    std::vector<std::string>& warnings);

// Pixel sizes (micrometres) and the time increment (seconds) of an Image's Pixels element; a length
// in an unknown unit is left out with a warning (ome_tiff_pixels.cpp).
void read_physical(const Numbers& num, const pugi::xml_node& px, Image& img, std::vector<std::string>& warnings);
// The stage position of each plane from the Pixels element's Plane elements.
void read_plane_positions(const Numbers& num, const pugi::xml_node& px, Image& img);

}  // namespace imx::ome_tiff
