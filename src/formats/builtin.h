// Factories of the built-in readers; registry.cpp lists them. Add a new format here and there.
#pragma once

#include <memory>

#include "formats/reader.h"

namespace imx {

std::unique_ptr<LayoutReader> make_cellvoyager_layout();
std::unique_ptr<LayoutReader> make_ome_tiff_layout();
std::unique_ptr<LayoutReader> make_plain_files_layout();
std::unique_ptr<LayoutReader> make_czi_layout();
std::unique_ptr<LayoutReader> make_harmony_layout();
std::unique_ptr<LayoutReader> make_incell_layout();
std::unique_ptr<LayoutReader> make_scanr_layout();
std::unique_ptr<LayoutReader> make_nd2_layout();
std::unique_ptr<LayoutReader> make_lif_layout();
std::unique_ptr<LayoutReader> make_metaxpress_layout();
std::unique_ptr<LayoutReader> make_metamorph_nd_layout();

// The plate size vendor metadata gives, for layouts that number wells (files with --pattern and a
// numeric well group): a MetaXpress PLATE.HTD (YWells x XWells), a ScanR experiment_descriptor.xml
// (its format's Rows x Columns). 0 x 0 when the file does not say; throws Error (input) when it is
// not such a file or its numbers are invalid.
PlateFormat htd_plate_format(const source::Folder& folder, const std::string& name);
PlateFormat scanr_plate_format(const source::Folder& folder, const std::string& name);

std::unique_ptr<PixelDecoder> make_tiff_decoder();
std::unique_ptr<PixelDecoder> make_png_decoder();
std::unique_ptr<PixelDecoder> make_czi_decoder();
std::unique_ptr<PixelDecoder> make_nd2_decoder();
std::unique_ptr<PixelDecoder> make_lif_decoder();

}  // namespace imx
