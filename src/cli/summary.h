// The experiment summary that create, status, demo and convert print.
#pragma once

#include <cstdint>

#include "catalog/catalog.h"

namespace imx::cli {

// `stored_by_jobs`: planes the run jobs report stored, when more than collect has folded in.
void print_summary(const CatalogSummary& s, int64_t stored_by_jobs = 0);

}  // namespace imx::cli
