// Small helpers for vendor XML metadata read with pugixml: element and attribute lookup by local
// name (so "bts:Row", "Row" and a default namespace all read the same), strict number parsing
// with errors that name the file and the element, and a bounded, non-expanding parse.
#pragma once

#include <pugixml.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fileutil.h"
#include "core/types.h"
#include "formats/reader.h"
#include "storage/source_folder.h"

namespace imx::xml {

inline std::string_view local_name(const char* qualified) {
    std::string_view n(qualified);
    auto colon = n.rfind(':');
    return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

inline bool named(const pugi::xml_node& n, std::string_view local) {
    return n.type() == pugi::node_element && local_name(n.name()) == local;
}

inline pugi::xml_node child(const pugi::xml_node& n, std::string_view local) {
    for (auto c : n.children())
        if (named(c, local)) return c;
    return {};
}

inline std::vector<pugi::xml_node> children(const pugi::xml_node& n, std::string_view local) {
    std::vector<pugi::xml_node> out;
    for (auto c : n.children())
        if (named(c, local)) out.push_back(c);
    return out;
}

// First descendant element with this local name (depth first), or an empty node.
inline pugi::xml_node descendant(const pugi::xml_node& n, std::string_view local) {
    return n.find_node([&](const pugi::xml_node& d) { return named(d, local); });
}

inline pugi::xml_attribute attr(const pugi::xml_node& n, std::string_view local) {
    for (auto a : n.attributes())
        if (local_name(a.name()) == local) return a;
    return {};
}

using imx::trim;

inline std::string attr_str(const pugi::xml_node& n, std::string_view local) {
    auto a = attr(n, local);
    return a ? trim(a.value()) : std::string();
}

// Text of the child element `local` (trimmed), empty when absent.
inline std::string child_text(const pugi::xml_node& n, std::string_view local) {
    auto c = child(n, local);
    return c ? trim(c.text().get()) : std::string();
}

// Reads the folder's metadata file `name` (its size bounds the buffer) and parses it. pugixml never
// expands entities other than the five predefined ones and character references, and does not read
// DOCTYPE internal subsets (parse_default has no parse_doctype), so "billion laughs" and external
// entities cannot work.
inline pugi::xml_document parse_file(const source::Folder& folder, const std::string& name, std::string& buffer) {
    const std::filesystem::path file = folder.path_of(name);
    buffer = folder.read_all(name);
    pugi::xml_document doc;
    auto r = doc.load_buffer_inplace(buffer.data(), buffer.size(), pugi::parse_default, pugi::encoding_auto);
    if (!r)
        throw input_error(file.string(), std::string("malformed XML: ") + r.description() + " at byte " +
                                             std::to_string(r.offset));
    if (!doc.document_element()) throw input_error(file.string(), "malformed XML: no root element");
    return doc;
}

// check_relative_name, with the metadata file and the element that named the file in the error.
inline void check_name_from(const std::string& metadata_file, const std::string& where, const std::string& name) {
    try {
        check_relative_name(name);
    } catch (const Error& e) {
        throw input_error(metadata_file, where + ": " + e.what());
    }
}

// Strict numbers from metadata text; errors name the file and what was being read.
class Numbers {
public:
    explicit Numbers(std::string file) : file_(std::move(file)) {}

    long integer(const std::string& text, const std::string& what, long lo, long hi) const {
        std::string v = trim(text);
        long out = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
        if (v.empty() || ec != std::errc() || p != v.data() + v.size())
            throw input_error(file_, what + " is not a whole number ('" + v + "')");
        if (out < lo || out > hi)
            throw input_error(file_, what + " value " + v + " is outside " + std::to_string(lo) + ".." +
                                         std::to_string(hi));
        return out;
    }
    std::optional<double> real(const std::string& text, const std::string& what) const {
        std::string v = trim(text);
        if (v.empty()) return std::nullopt;
        char* end = nullptr;
        double d = std::strtod(v.c_str(), &end);
        if (*end != '\0' || !std::isfinite(d)) throw input_error(file_, what + " is not a number ('" + v + "')");
        return d;
    }
    const std::string& file() const { return file_; }

private:
    std::string file_;
};

// Length in micrometres from a value and its unit ("m", "mm", "um", "µm", "nm"; empty = um).
inline std::optional<double> to_micrometres(double value, std::string_view unit) {
    if (unit.empty() || unit == "um" || unit == "µm" || unit == "micron" || unit == "microns") return value;
    if (unit == "m") return value * 1e6;
    if (unit == "mm") return value * 1e3;
    if (unit == "nm") return value * 1e-3;
    return std::nullopt;
}

}  // namespace imx::xml
