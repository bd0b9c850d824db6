#include "cli/summary.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/log.h"

namespace imx::cli {

namespace {

std::string fmt_size(double v) {
    return v ? fmt::format("{:.4g}", v) : std::string("?");
}

}  // namespace

void print_summary(const CatalogSummary& s, int64_t stored_by_jobs) {
    fmt::print("format        {}\n", s.format);
    if (s.sources.size() > 1) {
        fmt::print("sources       {} (mode {}; file paths relative to {})\n", s.sources.size(), s.mode, s.source);
        for (auto& src : s.sources) fmt::print("              {}\n", src);
    } else {
        fmt::print("source        {}\n", s.source);
    }
    for (auto& [acquisition, given] : s.found_below)
        fmt::print("found         {} (below --source {})\n", acquisition, given);
    fmt::print("store         {}\n", s.store);
    fmt::print("compression   {}{}\n", s.compression, s.mip ? "  (maximum-intensity projections)" : "");
    std::string plate_names;
    for (auto& n : s.plate_names) plate_names += (plate_names.empty() ? "" : ", ") + n;
    fmt::print("plates        {} ({})\n", s.plates, plate_names);
    fmt::print("wells         {}\n", s.wells);
    fmt::print("sites         {}\n", s.sites);
    // The field images' NGFF translations come from these; none are ever made up.
    if (s.sites_positioned == 0)
        fmt::print("positions     none: the metadata records no stage positions, field images get no translation\n");
    else
        fmt::print("positions     {} of {} sites have a stage position (their images' translation){}\n", s.sites_positioned,
                   s.sites, s.pixel_size_x || s.pixel_size_y ? "" : "; no pixel size, so no translation is written");
    std::string names;
    for (auto& n : s.channel_names) names += (names.empty() ? "" : ", ") + n;
    fmt::print("channels      {} ({})\n", s.channels, names);
    fmt::print("tpoints       {}\n", s.tpoints);
    fmt::print("zplanes       {}\n", s.zplanes);
    fmt::print("plane         {}x{} {}", s.width, s.height, s.dtype);
    if (s.pixel_size_x) fmt::print(", pixel {} x {} um", fmt_size(*s.pixel_size_x), fmt_size(s.pixel_size_y.value_or(0)));
    if (s.pixel_size_z) fmt::print(", z step {} um", fmt_size(*s.pixel_size_z));
    fmt::print("\n");
    for (auto& g : s.own_geometry) fmt::print("plane of plate {}\n", g);
    fmt::print("source planes {} in {} file(s), {:.1f} MB{}{}\n", s.planes, s.files, s.source_bytes / 1e6,
               s.files_missing ? fmt::format(", {} missing", s.files_missing) : "",
               s.files_deleted ? fmt::format(", {} deleted after verification", s.files_deleted) : "");
    // What the files hold against what the plates will store (create's pixel inventory).
    std::string files = fmt::format("{} complete", s.files_complete);
    for (auto [n, what] : {std::pair{s.files_incomplete, "incomplete"}, {s.files_unreadable, "unreadable"},
                           {s.files_missing, "missing"}, {s.files_unknown, "not inventoried"}})
        if (n) files += fmt::format(", {} {}", n, what);
    fmt::print("inventory     {} (only complete files, every page and sample in a plane, may be deleted)\n", files);
    auto list = [](const char* label, const std::vector<std::string>& lines, int64_t total, const char* where) {
        for (auto& l : lines) fmt::print("{:<14}{}\n", label, l);
        if (total > int64_t(lines.size()))
            fmt::print("{:<14}... and {} more ({})\n", label, total - int64_t(lines.size()), where);
    };
    list("  file", s.file_problems, s.files_incomplete + s.files_unreadable, "catalog table files");
    if (s.unused_files) {
        fmt::print("unused files  {} image file(s), {:.1f} MB, in the source that no plane reads; they stay\n",
                   s.unused_files, s.unused_bytes / 1e6);
        list("  unused", s.unused_examples, s.unused_files, "catalog table unused_files");
    }
    fmt::print("planes        {} to store{}{}\n", s.outputs,
               s.outputs_missing ? fmt::format(", {} missing in the source", s.outputs_missing) : "",
               s.absent ? fmt::format("; {} array position(s) no source plane fills (they read as 0)", s.absent) : "");
    list("  missing", s.missing_examples, s.outputs_missing, "verify lists them all");
    list("  absent", s.absent_examples, s.absent, "catalog table absent_planes");
    fmt::print("stored planes {} ({} verified)\n", std::max(s.outputs_stored, stored_by_jobs), s.outputs_verified);
    for (auto& w : s.warnings) fmt::print("warning       {}\n", w);
}

}  // namespace imx::cli
