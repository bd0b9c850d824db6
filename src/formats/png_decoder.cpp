// PLACEHOLDER: replaced by the real implementation.
#include "formats/builtin.h"
namespace imx {
std::unique_ptr<PixelDecoder> make_png_decoder() { throw Error("make_png_decoder: not implemented yet"); }
}  // namespace imx
