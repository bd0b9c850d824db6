// PLACEHOLDER: replaced by the real implementation.
#include "formats/builtin.h"
namespace imx {
std::unique_ptr<PixelDecoder> make_tiff_decoder() { throw Error("make_tiff_decoder: not implemented yet"); }
}  // namespace imx
