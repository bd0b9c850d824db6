// PLACEHOLDER: replaced by the real implementation.
#include "formats/builtin.h"
namespace imx {
std::unique_ptr<LayoutReader> make_cellvoyager_layout() { throw Error("make_cellvoyager_layout: not implemented yet"); }
}  // namespace imx
