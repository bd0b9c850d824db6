// OME/METADATA.ome.xml, the bioformats2raw layout convention (NGFF "bf2raw"): the plate's OME-XML
// (Plate, Wells, WellSamples with stage positions, Images with Pixels and Channels) in an "OME"
// group beside the plate's rows, which tools that read bioformats2raw output understand.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "storage/store.h"
#include "zarr/ngff.h"

namespace imx {

// What the vendor metadata says of an experiment channel beyond its name (nanometres).
struct OmeChannelFacts {
    std::optional<double> excitation_nm, emission_nm;
};

// The OME-XML document of a plate. Images are in plate order (wells by row and column, then
// fields), the order bioformats2raw readers expect; `channels` is indexed like layout.channels
// (missing entries: nothing known).
std::string plate_ome_xml(const PlateLayout& layout, const std::vector<OmeChannelFacts>& channels);

// Writes <plate>/OME (group) and <plate>/OME/METADATA.ome.xml.
void write_ome_metadata(Store& store, const PlateLayout& layout, const std::vector<OmeChannelFacts>& channels);

}  // namespace imx
