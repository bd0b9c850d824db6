// Which files of a folder the OME-TIFF reader takes: names (.ome.tif, .ome.tiff, .ome.tf2, .ome.tf8,
// .ome.btf, .companion.ome) and plain .tif files whose first page carries OME-XML.
#pragma once

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/types.h"
#include "formats/ome_tiff/ome_tiff_model.h"
#include "formats/tiff/tiff_decoder.h"
#include "storage/source_folder.h"

namespace imx::ome_tiff {

namespace fs = std::filesystem;

inline std::string lower(std::string_view s) {
    std::string r(s);
    std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return r;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

inline bool is_ome_tiff_name(const std::string& name) {
    const std::string n = lower(name);
    for (const char* ext : {".ome.tif", ".ome.tiff", ".ome.tf2", ".ome.tf8", ".ome.btf"})
        if (ends_with(n, ext)) return true;
    return false;
}

inline bool is_companion_name(const std::string& name) { return ends_with(lower(name), ".companion.ome"); }

inline bool is_plain_tiff_name(const std::string& name) {
    const std::string n = lower(name);
    return (ends_with(n, ".tif") || ends_with(n, ".tiff")) && !is_ome_tiff_name(name);
}

// A TIFF named .tif whose first page carries OME-XML (some writers do not add ".ome").
inline bool carries_ome_xml(const source::Folder& folder, const std::string& name) {
    try {
        return is_ome_xml(tiff_image_description(*folder.open(name), 0));
    } catch (const Error&) {
        return false;  // not a readable TIFF: whoever reads it says why
    }
}

inline std::string strip_ome_suffix(const std::string& name) {
    const std::string n = lower(name);
    for (const char* ext : {".ome.tiff", ".ome.tif", ".ome.tf2", ".ome.tf8", ".ome.btf", ".companion.ome"})
        if (ends_with(n, ext)) return name.substr(0, name.size() - std::string_view(ext).size());
    return name;
}

}  // namespace imx::ome_tiff
