// OME/METADATA.ome.xml, the bioformats2raw layout convention (NGFF "bf2raw"): the plate's OME-XML
// (Plate, Wells, WellSamples with stage positions, Instrument/Objective, Images with Pixels,
// Channels and Planes) in an "OME" group beside the plate's rows, which tools that read
// bioformats2raw output understand.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/image_set.h"
#include "storage/store.h"
#include "zarr/ngff.h"

namespace imx {

// What the vendor metadata says of an experiment channel beyond its name (nanometres).
struct OmeChannelFacts {
    std::optional<double> excitation_nm, emission_nm;
};

// What the metadata says of one stored plane (an OME Plane): its array position (channel: an
// experiment channel index, as in layout.channels), when it was acquired (ISO 8601, "" unknown),
// its exposure time (s) and stage z (µm).
struct OmePlaneFacts {
    int channel = 0, tpoint = 0, zplane = 0;
    std::string acquired;
    std::optional<double> exposure_s, stage_z;
};

// Everything the OME-XML says beyond the plate layout.
struct OmeFacts {
    std::vector<OmeChannelFacts> channels;  // indexed like layout.channels (missing entries: nothing known)
    std::optional<ObjectiveInfo> objective;  // the plate's Instrument/Objective
    // Stored planes by (row, col, site): each becomes a Plane of its field image. Images without
    // an entry get none.
    std::map<std::array<int, 3>, std::vector<OmePlaneFacts>> planes;
};

// The OME-XML document of a plate. Images are in plate order (wells by row and column, then
// fields), the order bioformats2raw readers expect.
std::string plate_ome_xml(const PlateLayout& layout, const OmeFacts& facts);

// Writes <plate>/OME (group) and <plate>/OME/METADATA.ome.xml.
void write_ome_metadata(Store& store, const PlateLayout& layout, const OmeFacts& facts);

}  // namespace imx
