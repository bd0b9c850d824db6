#pragma once

namespace imx::cli {

// `imextract convert SOURCE... OUT [options]`; returns the exit code.
int convert_command(int argc, char** argv);

}  // namespace imx::cli
