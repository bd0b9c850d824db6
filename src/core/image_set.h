// The value types every layer shares: what a layout reader found in a source folder (ImageSet,
// its plates, channels and planes) and where one plane's pixels live in a file (PlaneAddress). The
// catalog stores them, init and run carry them, the readers make them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <map>
#include <utility>
#include <vector>

#include "core/types.h"

namespace imx {

// Where one plane's pixels live inside an image file: the image/series of a container, the page
// (IFD, frame) in the decoder's numbering, and the sample of a multi-sample (RGB) page.
struct PlaneAddress {
    uint32_t series = 0;
    uint32_t page = 0;
    uint32_t sample = 0;
};

struct ChannelInfo {
    std::string name;                       // unique within the acquisition
    std::optional<double> excitation_nm;
    std::optional<double> emission_nm;
};

// Where one plane of one site lives, and what it is. Indices are 0-based.
struct PlaneRecord {
    std::string plate;      // plate name (ImageSet::plates)
    int row = 0, col = 0;   // well position, 0-based
    int site = 0;           // field index within the well, 0-based
    int channel = 0;        // index into ImageSet::channels
    int tpoint = 0;
    int zplane = 0;
    std::string file;       // path relative to the source folder, '/' separated
    uint32_t series = 0;    // image/series inside a container (OME-TIFF Image index)
    uint32_t page = 0;      // IFD / page index inside the file
    uint32_t sample = 0;    // sample index for interleaved RGB/multi-sample files, else 0
    // A projection over z (maximum, best focus, ...) that the microscope software computed: the
    // method as the metadata names it ("Maximum"), "" for acquired planes. create stores kept
    // projections as channels of their own, named "<channel> (<method> projection)".
    std::string projection;
    // Why this plane's pixels do not exist (file missing, page beyond the file); set by create's
    // inventory, "" when they do.
    std::string missing;
    // Stage position of the site (micrometres), when the metadata gives it.
    std::optional<double> stage_x, stage_y, stage_z;
    // When the plane was acquired, an ISO 8601 date-time (iso_date_time below); "" when unknown.
    std::string acquired;
    // The camera's exposure time of this plane in seconds, when the metadata gives it (positive).
    std::optional<double> exposure_s;
};

// The objective lens the metadata names (OME Objective): what is known of it; every field may be
// unset. Readers set ImageSet::objective only when one objective took every plane.
struct ObjectiveInfo {
    std::string model;                          // the vendor's name for it ("40X Plan Apo Lambda")
    std::optional<double> magnification;        // nominal magnification (OME NominalMagnification)
    std::optional<double> lens_na;              // numerical aperture
    std::string immersion;                      // an OME Immersion value ("Oil", "Water", ...) or ""
    bool empty() const { return model.empty() && !magnification && !lens_na && immersion.empty(); }
    bool operator==(const ObjectiveInfo&) const = default;
};

struct PlateInfo {
    PlateInfo() = default;
    PlateInfo(std::string name_, int rows_ = 0, int cols_ = 0) : name(std::move(name_)), rows(rows_), cols(cols_) {}
    std::string name;
    int rows = 0, cols = 0;  // plate format (8x12 for 96 wells); 0 when unknown
    // A plate's own plane geometry, for sources whose images differ in size (a LIF file with an XY
    // image and an XZ scan): each size becomes a plate. 0 / unset: the ImageSet's.
    uint32_t width = 0, height = 0;
    std::optional<DType> dtype;
    int bits_per_sample = 0;
    std::optional<double> pixel_size_x, pixel_size_y, pixel_size_z;
    bool own_geometry() const { return width != 0; }
};

// Everything a layout reader found in a source folder.
struct ImageSet {
    std::string format;                     // the reader's name
    std::vector<PlateInfo> plates;
    std::vector<ChannelInfo> channels;
    std::vector<PlaneRecord> planes;
    // Pixel geometry. width/height/dtype may be left 0/unset by the layout reader; the
    // configuration step then opens the first plane's file to fill them in.
    uint32_t width = 0, height = 0;
    std::optional<DType> dtype;
    int bits_per_sample = 0;                 // significant bits (12 for a 12-bit camera), 0 = unknown
    std::optional<double> pixel_size_x, pixel_size_y, pixel_size_z;  // micrometres
    std::optional<double> time_interval_s;
    std::vector<std::string> warnings;      // e.g. skipped ERR records; shown by create and status
    // The objective every plane was acquired with, when the metadata says so (OME Instrument).
    std::optional<ObjectiveInfo> objective;
    // True when the reader maps every sample of multi-sample pixels to channels itself (OME-TIFF,
    // CZI, ND2); otherwise create makes each sample of an RGB or multi-sample file a channel.
    bool maps_samples = false;
};

// ---- what layout readers work out the same way -----------------------------------------------------

// A plate format, rows x columns; 0 x 0 when unknown.
struct PlateFormat {
    int rows = 0, cols = 0;
};
// The smallest standard plate (6, 24, 96, 384 or 1536 wells) with at least `rows` rows and `cols`
// columns, for metadata that names wells but not the plate; 0 x 0 when none is that big.
PlateFormat smallest_plate(int rows, int cols);
// The smallest standard plate of 96 wells or more with room for `wells` wells, for layouts that
// put one file in each well, row by row; 0 x 0 when none is that big.
PlateFormat plate_for_well_count(uint64_t wells);

// A vendor's acquisition time as an ISO 8601 / xsd:dateTime ("2020-08-12T17:36:36.234+02:00"):
// ISO text as it is (a space instead of the "T" allowed), MetaMorph's "20200812 17:36:36.234"
// rewritten; "" for anything else, so no malformed date reaches the OME-XML.
std::string iso_date_time(const std::string& vendor_text);

// Seconds from one iso_date_time result to another (negative when `to` is earlier), exact to the
// nanosecond; unset when either is not such a date-time or only one of them names its time zone.
std::optional<double> seconds_between(const std::string& from, const std::string& to);

// An exposure time in seconds from a vendor's value and unit ("s", "ms", "us", "µs", "ns", "min");
// unset for an unknown unit, a value that is not finite or not positive, or beyond a day: a
// malformed value is dropped, never guessed at.
std::optional<double> exposure_seconds(double value, std::string_view unit);

// The z step in micrometres from the stage z positions of one stack's planes, (z index, position)
// pairs: the first two planes' distance over their index distance, rounded to 0.1 nm (positions
// in metres or with float noise would otherwise show as 2.0000000001). Unset below two planes or
// for a step of 0.
std::optional<double> z_step_of_stack(std::vector<std::pair<int, double>> stack);
// The z step of the first stack, in key order, that has two planes or more.
template <class Key> std::optional<double> z_step_um(const std::map<Key, std::vector<std::pair<int, double>>>& stacks) {
    for (auto& [_, stack] : stacks)
        if (stack.size() >= 2) return z_step_of_stack(stack);
    return std::nullopt;
}

}  // namespace imx
