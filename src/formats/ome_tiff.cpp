// PLACEHOLDER: replaced by the real implementation.
#include "formats/builtin.h"
namespace imx {
std::unique_ptr<LayoutReader> make_ome_tiff_layout() { throw Error("make_ome_tiff_layout: not implemented yet"); }
}  // namespace imx
