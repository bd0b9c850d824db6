// PLACEHOLDER: replaced by the real implementation.
#include "formats/builtin.h"
namespace imx {
std::unique_ptr<LayoutReader> make_plain_files_layout() { throw Error("make_plain_files_layout: not implemented yet"); }
}  // namespace imx
