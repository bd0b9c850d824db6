// Folders of TIFF/PNG files with no vendor metadata: a filename regex with named groups says which
// well, site, channel, z-plane and time-point each file holds. Multi-page TIFFs are expanded: an
// ImageJ description (channels=, slices=, frames=) says how pages map to c/z/t; otherwise the
// pages of a file are its z-planes.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "core/fileutil.h"
#include "formats/builtin.h"
#include "formats/tiff/tiff_decoder.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

const char* kGroups[] = {"well", "row", "col", "site", "channel", "z", "t", "plate"};

bool is_tiff(const fs::path& p) {
    std::string ext = lower_extension(p);
    return ext == ".tif" || ext == ".tiff";
}

bool is_image(const fs::path& p) { return is_tiff(p) || lower_extension(p) == ".png"; }

// std::regex (ECMAScript) has no named groups: rewrite (?P<name>...) and (?<name>...) into plain
// groups and remember which group number each name got.
std::string translate_named_groups(const std::string& pattern, std::map<std::string, size_t>& groups) {
    std::string out;
    size_t group = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            out += c;
            out += pattern[++i];
            continue;
        }
        if (c == '[') {  // a character class: copy to its end, parentheses inside do not count
            size_t j = i + 1;
            if (j < pattern.size() && pattern[j] == '^') ++j;
            if (j < pattern.size() && pattern[j] == ']') ++j;
            while (j < pattern.size() && pattern[j] != ']') j += (pattern[j] == '\\') ? 2 : 1;
            out += pattern.substr(i, j - i + 1);
            i = j;
            continue;
        }
        if (c == '(') {
            if (pattern.compare(i, 4, "(?P<") == 0 || (pattern.compare(i, 3, "(?<") == 0 && i + 3 < pattern.size() &&
                                                       pattern[i + 3] != '=' && pattern[i + 3] != '!')) {
                size_t start = pattern.find('<', i) + 1, end = pattern.find('>', start);
                if (end == std::string::npos) throw Error("--pattern: unterminated group name", Error::Kind::usage);
                std::string name = pattern.substr(start, end - start);
                if (std::find(std::begin(kGroups), std::end(kGroups), name) == std::end(kGroups))
                    throw Error("--pattern: unknown group name '" + name +
                                    "' (use well, row, col, site, channel, z, t, plate)",
                                Error::Kind::usage);
                groups[name] = ++group;
                out += '(';
                i = end;
                continue;
            }
            if (pattern.compare(i, 2, "(?") != 0) ++group;  // plain capturing group
        }
        out += c;
    }
    return out;
}

// Natural order: "2" before "10", then text.
bool natural_less(const std::string& a, const std::string& b) {
    bool an = !a.empty() && std::all_of(a.begin(), a.end(), ::isdigit);
    bool bn = !b.empty() && std::all_of(b.begin(), b.end(), ::isdigit);
    if (an && bn) return a.size() != b.size() ? a.size() < b.size() : a < b;
    if (an != bn) return an;
    return a < b;
}

struct Dense {
    std::set<std::string, decltype(&natural_less)> values{&natural_less};
    int index(const std::string& v) const { return int(std::distance(values.begin(), values.find(v))); }
};

// ImageJ hyperstack geometry from the ImageDescription ("ImageJ=1.53\nimages=6\nchannels=3\n...").
struct HyperStack {
    int channels = 1, slices = 1, frames = 1;
    double spacing = 0;       // z spacing in `unit`
    double unit_um = 0;       // micrometres per `unit`; 0 when the unit is unknown
};
// unit= as ImageJ writes it: "micron", "um", "\u00B5m" (escaped) or UTF-8 "µm", "nm", "mm".
double unit_in_um(const std::string& u) {
    if (u == "micron" || u == "microns" || u == "um" || u == "\\u00B5m" || u == "\xC2\xB5m" || u == "\xB5m") return 1;
    if (u == "nm") return 1e-3;
    if (u == "mm") return 1e3;
    return 0;
}
std::string imagej_value(const std::string& desc, const char* key) {
    std::string k = std::string("\n") + key + "=";
    size_t p = desc.find(k);
    if (p == std::string::npos) return {};
    size_t start = p + k.size(), end = desc.find('\n', start);
    return desc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}
bool imagej_geometry(const std::string& desc, HyperStack& h) {
    if (desc.rfind("ImageJ=", 0) != 0) return false;
    h.unit_um = unit_in_um(imagej_value(desc, "unit"));
    if (std::string sp = imagej_value(desc, "spacing"); !sp.empty()) {
        double v = std::strtod(sp.c_str(), nullptr);
        if (v > 0 && std::isfinite(v)) h.spacing = v;
    }
    auto value = [&](const char* key) {
        std::string k = std::string("\n") + key + "=";
        size_t p = desc.find(k);
        if (p == std::string::npos) return 1;
        long v = std::strtol(desc.c_str() + p + k.size(), nullptr, 10);
        return v > 0 && v <= INT32_MAX ? int(v) : 1;  // a Java int in ImageJ
    };
    h.channels = value("channels");
    h.slices = value("slices");
    h.frames = value("frames");
    return true;
}

// Rows and columns of a standard plate of `wells` wells (96, 384, 1536); 0 x 0 for 0.
PlateFormat plate_format_of(int wells) {
    switch (wells) {
        case 96: return {8, 12};
        case 384: return {16, 24};
        case 1536: return {32, 48};
        default: return {};
    }
}

// A well given by its number, 1 for A01, counted row by row on a plate of `format` (from `from`:
// --plate-format or the vendor metadata that gave the size).
void well_by_number(const std::string& number, PlateFormat format, const std::string& from, int& row, int& col,
                    const std::string& file) {
    if (format.rows == 0 || format.cols == 0)
        throw input_error(file, "the pattern's well '" + number + "' is a number; give --plate-format 96, 384 or 1536 "
                                "to say which plate the wells are numbered on (1 = A01, row by row): the source holds "
                                "no metadata that gives the plate size (a MetaXpress .HTD with XWells/YWells or a ScanR "
                                "experiment_descriptor.xml)");
    const long wells = long(format.rows) * format.cols;
    const long n = number.size() > 6 ? 0 : std::stol(number);
    if (n < 1 || n > wells)
        throw input_error(file, "well number " + number + " is not a well of a " + std::to_string(wells) +
                                    "-well plate (1 to " + std::to_string(wells) + ", row by row; " + from + ")");
    row = int((n - 1) / format.cols);
    col = int((n - 1) % format.cols);
}

// The plate size the vendor metadata in the source gives, for numbered wells without
// --plate-format: the top-most MetaXpress .HTD (XWells, YWells) or ScanR experiment_descriptor.xml
// (format Rows, Columns). Several at that depth must agree. `from` names the file.
PlateFormat metadata_plate_format(const source::Folder& folder, std::string& from) {
    std::vector<std::pair<size_t, fs::path>> found;  // (depth, entry)
    for (auto& e : folder.list_tree("", 8, 100000)) {
        if (e.is_dir) continue;
        const std::string name = e.path.filename().string();
        if (lower_extension(e.path) != ".htd" && name != "experiment_descriptor.xml") continue;
        const std::string rel = folder.name_of(e.path);
        found.push_back({size_t(std::count(rel.begin(), rel.end(), '/')), e.path});
    }
    if (found.empty()) return {};
    const size_t top = std::min_element(found.begin(), found.end())->first;
    PlateFormat format;
    for (auto& [depth, path] : found) {
        if (depth != top) continue;
        const std::string rel = folder.name_of(path);
        const PlateFormat f = lower_extension(path) == ".htd" ? htd_plate_format(folder, rel) : scanr_plate_format(folder, rel);
        if (!f.rows || !f.cols) continue;
        if (format.rows && (format.rows != f.rows || format.cols != f.cols))
            throw input_error(folder.path_of(rel).string(), "gives a plate of " + std::to_string(f.rows) + "x" +
                                                                std::to_string(f.cols) + " wells, " + from + " one of " +
                                                                std::to_string(format.rows) + "x" + std::to_string(format.cols) +
                                                                ": give --plate-format to say which the wells are numbered on");
        if (!format.rows) {
            format = f;
            from = "the plate size in " + folder.path_of(rel).string();
        }
    }
    return format;
}

class PlainFilesLayout final : public LayoutReader {
public:
    std::string name() const override { return "files"; }
    std::string description() const override {
        return "a folder of TIFF/PNG files, mapped by --pattern (named groups well, row, col, site, channel, z, t; "
               "default NAME_WELL_sS[_wC]); ImageJ TIFFs: channels/slices/frames, pixel size from unit= and "
               "XResolution, spacing=, >4 GB contiguous files. Not yet: ImageJ channel names/LUTs, frame interval";
    }

    int detect(const source::Folder& source) const override {
        for (auto& e : source.list_tree("", 1 << 20, 100000))
            if (!e.is_dir && is_image(e.path)) return 1;
        return 0;
    }

    ImageSet configure(const source::Folder& folder, const LayoutOptions& opt) const override {
        const fs::path& source = folder.path();
        ImageSet set;
        set.format = name();
        std::vector<std::string> files;
        for (auto& e : folder.list_tree()) {
            if (e.is_dir || !is_image(e.path)) continue;
            const fs::path rel = e.path.lexically_relative(source);
            // Hidden files and everything in hidden folders (.snapshots, .Trash) are not images.
            bool hidden = false;
            for (auto& part : rel) hidden = hidden || (!part.empty() && part.native()[0] == '.');
            if (!hidden) files.push_back(rel.generic_string());
        }
        std::sort(files.begin(), files.end());
        if (files.empty()) throw input_error(source.string(), "no TIFF or PNG files in the folder");

        std::string pattern = opt.pattern;
        bool user_pattern = !pattern.empty();
        if (!user_pattern)
            pattern = R"((?:.*_)?(?P<well>[A-Za-z]{1,2}\d{1,3})_s(?P<site>\d+)(?:_w(?P<channel>\d+))?.*\.(?:tif|tiff|png))";
        // A pattern that names folders (holds a /) sees the path below the source, others the name.
        const bool match_path = pattern.find('/') != std::string::npos;
        std::map<std::string, size_t> groups;
        std::regex re;
        try {
            re = std::regex(translate_named_groups(pattern, groups), std::regex::ECMAScript | std::regex::icase);
        } catch (const std::regex_error& e) {
            throw Error("--pattern '" + pattern + "' is not a valid regular expression: " + e.what(), Error::Kind::usage);
        }

        struct Match {
            std::string file, plate, well, row, col, site, channel, z, t;
        };
        std::vector<Match> matches;
        std::string unmatched;  // the first few names, for messages
        for (auto& f : files) {
            std::smatch m;
            const std::string subject = match_path ? f : fs::path(f).filename().string();
            if (!std::regex_match(subject, m, re)) {
                if (unmatched.size() < 400) unmatched += (unmatched.empty() ? "" : ", ") + f;
                else if (unmatched.back() != '.') unmatched += ", ...";
                continue;
            }
            auto g = [&](const char* n) { return groups.count(n) ? m[groups[n]].str() : std::string(); };
            matches.push_back({f, g("plate"), g("well"), g("row"), g("col"), g("site"), g("channel"), g("z"), g("t")});
        }
        if (matches.empty()) {
            if (user_pattern)
                throw input_error(source.string(), "no file name matches --pattern '" + pattern + "'");
            // No pattern and no standard names: every file is one site of well A01.
            for (size_t i = 0; i < files.size(); ++i) matches.push_back({files[i], "", "", "", "", std::to_string(i), "", "", ""});
        } else if (matches.size() < files.size()) {
            const std::string count = std::to_string(files.size() - matches.size()) + " of the " +
                                      std::to_string(files.size()) + " image files";
            // Without a pattern, a folder whose files half follow NAME_WELL_sS is two things.
            if (!user_pattern)
                throw input_error(source.string(), count + " do not follow the NAME_WELL_sS[_wC] names of the others (" +
                                                       unmatched + "): give --pattern to say how every file maps to "
                                                                   "wells and sites, or convert them separately");
            set.warnings.push_back(count + " do not match the pattern and are not stored: " + unmatched);
        }

        Dense plates, sites, channels, zs, ts;
        for (auto& m : matches) {
            plates.values.insert(m.plate);
            sites.values.insert(m.site);
            channels.values.insert(m.channel);
            zs.values.insert(m.z);
            ts.values.insert(m.t);
        }
        const std::string folder_name = source.filename().string();
        auto plate_name = [&](const std::string& p) { return p.empty() ? folder_name : p; };
        for (auto& p : plates.values) set.plates.push_back({plate_name(p), 0, 0});

        PlateFormat given_format = plate_format_of(opt.plate_format);
        // Numbered wells without --plate-format: the plate size from the vendor metadata, if any.
        std::string format_from = "--plate-format " + std::to_string(opt.plate_format);
        const bool numbered = std::any_of(matches.begin(), matches.end(), [](const Match& m) {
            return !m.well.empty() && std::all_of(m.well.begin(), m.well.end(), ::isdigit);
        });
        if (numbered && !opt.plate_format) given_format = metadata_plate_format(folder, format_from);
        const bool sized = given_format.rows && given_format.cols;
        std::map<std::string, std::pair<int, int>> plate_extent;
        std::vector<std::string> channel_names;
        auto channel_index = [&](const std::string& name) {
            auto it = std::find(channel_names.begin(), channel_names.end(), name);
            if (it != channel_names.end()) return int(it - channel_names.begin());
            channel_names.push_back(name);
            return int(channel_names.size() - 1);
        };
        for (auto& m : matches) {
            int row = 0, col = 0;
            if (!m.well.empty() && std::all_of(m.well.begin(), m.well.end(), ::isdigit)) {
                well_by_number(m.well, given_format, format_from, row, col, (source / m.file).string());
            } else if (!m.well.empty()) {
                if (!parse_well_name(m.well, row, col))
                    throw input_error((source / m.file).string(), "'" + m.well + "' is not a well name");
            } else if (!m.row.empty() || !m.col.empty()) {
                if (!m.row.empty()) {
                    std::string up = m.row;
                    for (auto& ch : up) ch = char(std::toupper(static_cast<unsigned char>(ch)));
                    row = std::isdigit(static_cast<unsigned char>(up[0])) ? std::stoi(up) - 1 : row_index(up);
                }
                if (!m.col.empty()) col = std::stoi(m.col) - 1;
                if (row < 0 || col < 0) throw input_error((source / m.file).string(), "row/column out of range");
            }
            // Pages: several per file for multi-page TIFFs.
            HyperStack h;
            uint32_t pages = 1;
            fs::path full = source / m.file;
            if (is_tiff(full)) {
                const auto file = folder.open(m.file);
                // ImageJ files over 4 GB declare more images than they have IFDs (contiguous planes).
                pages = tiff_declared_planes(*file);
                const std::string description = tiff_image_description(*file, 0);
                // Plain pages would fold an OME-TIFF's channels and time-points into z.
                if (is_ome_xml(description))
                    throw input_error(full.string(), "carries OME-XML metadata (an OME-TIFF); the files layout would read "
                                                     "its pages as z-planes: convert its folder with --format ome-tiff");
                const bool imagej = imagej_geometry(description, h);
                if (pages > 1 && !imagej) h.slices = int(pages);
                if (imagej && !set.pixel_size_x && h.unit_um > 0) {
                    // XResolution is pixels per unit.
                    if (auto res = tiff_resolution(*file)) {
                        set.pixel_size_x = h.unit_um / res->first;
                        set.pixel_size_y = h.unit_um / res->second;
                    }
                    if (h.spacing > 0 && h.slices > 1) set.pixel_size_z = h.spacing * h.unit_um;
                }
                uint64_t described = 0;
                if (__builtin_mul_overflow(uint64_t(h.channels) * uint64_t(h.slices), uint64_t(h.frames), &described) ||
                    described > pages) {
                    set.warnings.push_back(m.file + ": ImageJ description promises more planes than the file's " +
                                           std::to_string(pages) + " pages; using one plane per page as z");
                    h = {1, int(pages), 1, 0, 0};
                }
            }
            if (sized && (row >= given_format.rows || col >= given_format.cols))
                throw input_error((source / m.file).string(), "well " + well_name(row, col) + " lies outside a " +
                                                                  std::to_string(given_format.rows * given_format.cols) +
                                                                  "-well plate (" + format_from + ")");
            std::string pname = plate_name(m.plate);
            auto& ext = plate_extent[pname];
            ext.first = std::max(ext.first, row + 1);
            ext.second = std::max(ext.second, col + 1);
            for (int t = 0; t < h.frames; ++t)
                for (int z = 0; z < h.slices; ++z)
                    for (int c = 0; c < h.channels; ++c) {
                        PlaneRecord p;
                        p.plate = pname;
                        p.row = row;
                        p.col = col;
                        p.site = sites.index(m.site);
                        std::string cname = m.channel.empty() ? (h.channels > 1 ? "C" + std::to_string(c) : "C0")
                                                              : (h.channels > 1 ? m.channel + "_C" + std::to_string(c) : m.channel);
                        p.channel = channel_index(cname);
                        p.zplane = zs.index(m.z) * h.slices + z;
                        p.tpoint = ts.index(m.t) * h.frames + t;
                        p.file = m.file;
                        p.page = uint32_t((t * h.slices + z) * h.channels + c);  // ImageJ order: c fastest, then z, t
                        set.planes.push_back(std::move(p));
                    }
        }
        // Channel order: natural order of their names, planes re-pointed accordingly.
        std::vector<std::string> sorted = channel_names;
        std::sort(sorted.begin(), sorted.end(), natural_less);
        std::vector<int> remap(channel_names.size());
        for (size_t i = 0; i < channel_names.size(); ++i)
            remap[i] = int(std::find(sorted.begin(), sorted.end(), channel_names[i]) - sorted.begin());
        for (auto& p : set.planes) p.channel = remap[size_t(p.channel)];
        for (auto& n : sorted) set.channels.push_back({n, std::nullopt, std::nullopt});
        for (auto& p : set.plates) {
            auto [r, c] = plate_extent[p.name];
            const PlateFormat format = sized ? given_format : smallest_plate(r, c);
            p.rows = format.rows ? format.rows : r;
            p.cols = format.cols ? format.cols : c;
        }
        // Two files for one plane: name both.
        std::map<std::tuple<std::string, int, int, int, int, int, int>, std::string> seen;
        for (auto& p : set.planes) {
            auto [it, fresh] = seen.emplace(std::make_tuple(p.plate, p.row, p.col, p.site, p.channel, p.tpoint, p.zplane), p.file);
            if (!fresh && it->second != p.file)
                throw input_error(source.string(), "'" + it->second + "' and '" + p.file +
                                                       "' map to the same plane; add groups to --pattern to tell them apart");
        }
        return set;
    }
};

}  // namespace

std::unique_ptr<LayoutReader> make_plain_files_layout() { return std::make_unique<PlainFilesLayout>(); }

}  // namespace imx
