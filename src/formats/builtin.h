// Factories of the built-in readers; registry.cpp lists them. Add a new format here and there.
#pragma once

#include <memory>

#include "formats/reader.h"

namespace imx {

std::unique_ptr<LayoutReader> make_cellvoyager_layout();
std::unique_ptr<LayoutReader> make_ome_tiff_layout();
std::unique_ptr<LayoutReader> make_plain_files_layout();
std::unique_ptr<LayoutReader> make_metaxpress_layout();
std::unique_ptr<LayoutReader> make_metamorph_nd_layout();

std::unique_ptr<PixelDecoder> make_tiff_decoder();
std::unique_ptr<PixelDecoder> make_png_decoder();

}  // namespace imx
