// Olympus / Evident ScanR: experiment_descriptor.xml (LabVIEW XML: nested Cluster / Array
// elements whose scalars are <TYPE><Name>key</Name><Val>value</Val></TYPE>) next to a data/
// folder with one TIFF per plane, named
//     [LABEL]--W00001--P00001--Z00000--T00000--CHANNEL.tif
// W is the 1-based well position in the plate, row by row; P the position (site) in the well,
// Z and T 0-based; LABEL (e.g. "B2", written by newer versions) names the well directly.
// The file names say which planes exist; the descriptor gives the plate name and format, the
// channel order, the pixel size and the well labels ("well selection table + cDNA").
// experiment_descriptor.dat is LabVIEW's binary flattening of the same data: not decoded, the
// planes are then taken from the file names alone.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "formats/builtin.h"
#include "formats/xml_util.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

// Well numbers count the wells of a plate, whose rows and columns well names bound (types.h).
constexpr long kMaxWellNumber = long(kMaxWellRows) * kMaxWellColumns;

struct Descriptor {
    std::string plate_name;
    int rows = 0, cols = 0;
    std::vector<std::string> channels;        // used channels, acquisition order
    std::optional<double> pixel_size;          // micrometres
    std::map<long, std::string> well_labels;   // W number -> "B2"
};

// Scalars of a LabVIEW XML element: (Name, Val) of its direct children that have both.
std::string scalar_name(const pugi::xml_node& n) { return xml::child_text(n, "Name"); }
bool is_scalar(const pugi::xml_node& n) { return xml::child(n, "Name") && xml::child(n, "Val"); }

Descriptor read_descriptor(const source::Folder& folder, const std::string& name) {
    const fs::path file = folder.path_of(name);
    Descriptor d;
    std::string buffer;
    auto doc = xml::parse_file(folder, name, buffer);
    auto root = doc.document_element();
    xml::Numbers num(file.string());
    // Depth-first walk over every element: LabVIEW nests clusters freely, keys are unique enough.
    struct Walker : pugi::xml_tree_walker {
        Descriptor& d;
        xml::Numbers& num;
        Walker(Descriptor& d_, xml::Numbers& n_) : d(d_), num(n_) {}
        bool for_each(pugi::xml_node& n) override {
            if (n.type() != pugi::node_element) return true;
            std::string name = scalar_name(n);
            if (name.empty()) return true;
            if (xml::named(n, "Cluster") || xml::named(n, "Array")) {
                if (name == "well selection table + cDNA") read_wells(n);
                if (is_channel(n)) read_channel(n);
                if (name == "format typedef") format_seen = true;
                return true;
            }
            if (!is_scalar(n)) return true;
            std::string val = xml::child_text(n, "Val");
            if (name == "plate name" && d.plate_name.empty()) d.plate_name = val;
            else if (name == "conversion factor um/pixel" && !d.pixel_size) {
                d.pixel_size = num.real(val, "'conversion factor um/pixel'");
                if (d.pixel_size && !(*d.pixel_size > 0))
                    throw input_error(num.file(), "'conversion factor um/pixel' must be positive ('" + val + "')");
            } else if (name == "format typedef") {
                format_seen = true;
            } else if ((name == "Rows" || name == "Columns") && format_seen) {
                // The first Rows / Columns after "format typedef" are the plate's (the same names
                // appear elsewhere, e.g. for the field grid).
                int& target = name == "Rows" ? d.rows : d.cols;
                if (!target)
                    target = int(num.integer(val, "plate format '" + name + "'", 1, name == "Rows" ? kMaxWellRows : kMaxWellColumns));
            }
            return true;
        }
        // A channel is a cluster with scalars "name" and "idle" (idle 0 = acquired).
        static bool is_channel(const pugi::xml_node& c) {
            bool has_name = false, has_idle = false;
            for (auto s : c.children()) {
                std::string k = scalar_name(s);
                has_name |= k == "name";
                has_idle |= k == "idle";
            }
            return has_name && has_idle;
        }
        void read_channel(const pugi::xml_node& c) {
            std::string name, idle;
            for (auto s : c.children()) {
                if (!is_scalar(s)) continue;
                std::string k = scalar_name(s);
                if (k == "name") name = xml::child_text(s, "Val");
                else if (k == "idle") idle = xml::child_text(s, "Val");
            }
            if (!name.empty() && idle == "0" && name != "Autofocus" &&
                std::find(d.channels.begin(), d.channels.end(), name) == d.channels.end())
                d.channels.push_back(name);
        }
        // Values in order: a number starts a well, the text after it is its label.
        void read_wells(const pugi::xml_node& table) {
            long current = -1;
            // Pre-order walk below the table, without recursion.
            pugi::xml_node cur = table.first_child();
            while (cur) {
                if (xml::named(cur, "Val")) {
                    std::string s = xml::trim(cur.text().get());
                    if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0])))
                        current = num.integer(s, "'well selection table + cDNA' well number", 0, kMaxWellNumber);
                    else if (!s.empty() && current >= 0)
                        d.well_labels.emplace(current, s);
                }
                if (cur.first_child()) {
                    cur = cur.first_child();
                    continue;
                }
                while (cur && cur != table && !cur.next_sibling()) cur = cur.parent();
                if (!cur || cur == table) break;
                cur = cur.next_sibling();
            }
        }
        bool format_seen = false;
    } walker(d, num);
    root.traverse(walker);
    if (d.rows == 0 || d.cols == 0) d.rows = d.cols = 0;  // half a format is no format
    return d;
}

struct FileName {
    std::string label, channel;
    long w = -1, p = -1, z = 0, t = 0;
};

// Parses "[LABEL]--W00001--P00001--Z00000--T00000--CHANNEL.tif"; false when the name is not one.
bool parse_name(const std::string& name, FileName& out) {
    std::string stem = name;
    for (const char* ext : {".tiff", ".tif", ".TIFF", ".TIF"}) {
        std::string e(ext);
        if (stem.size() > e.size() && stem.compare(stem.size() - e.size(), e.size(), e) == 0) {
            stem.resize(stem.size() - e.size());
            break;
        }
    }
    if (stem.size() == name.size()) return false;
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
        size_t at = stem.find("--", start);
        parts.push_back(stem.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) break;
        start = at + 2;
    }
    if (parts.size() < 4) return false;
    out = {};
    out.label = parts.front();
    out.channel = parts.back();
    if (out.channel.empty()) return false;
    for (size_t i = 1; i + 1 < parts.size(); ++i) {
        const std::string& s = parts[i];
        if (s.size() < 2 || !std::all_of(s.begin() + 1, s.end(), [](unsigned char c) { return std::isdigit(c); }) ||
            s.size() > 9)
            return false;
        long v = std::stol(s.substr(1));
        switch (s[0]) {
            case 'W': out.w = v; break;
            case 'P': out.p = v; break;
            case 'Z': out.z = v; break;
            case 'T': out.t = v; break;
            default: return false;
        }
    }
    return out.w >= 0 && out.p >= 0;
}

// The image folder's name in the source: data/ (any case), else "" (the source folder itself).
std::string data_dir(const source::Folder& source) {
    for (auto& e : source.list()) {
        std::string n = e.name;
        std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        if (n == "data" && e.is_dir) return e.name;
    }
    return {};
}

class ScanrLayout final : public LayoutReader {
public:
    std::string name() const override { return "scanr"; }
    std::string description() const override {
        return "Olympus/Evident ScanR: experiment_descriptor.xml + data/--W00001--P00001--Z00000--T00000--CHANNEL.tif; "
               "not yet: the binary experiment_descriptor.dat (file names only), stage positions, data/metadata.ome.xml";
    }

    int detect(const source::Folder& source) const override {
        if (!source.is_file("experiment_descriptor.xml") && !source.is_file("experiment_descriptor.dat"))
            return 0;
        return 90;
    }
    bool owns_subfolder(const std::string& name) const override {
        return name.size() == 4 && std::equal(name.begin(), name.end(), "data",
                                              [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
    }

    ImageSet configure(const source::Folder& folder, const LayoutOptions&) const override {
        const fs::path& source = folder.path();
        ImageSet set;
        set.format = name();
        Descriptor d;
        const bool xml_descriptor = folder.is_file("experiment_descriptor.xml");
        if (xml_descriptor) {
            d = read_descriptor(folder, "experiment_descriptor.xml");
        } else if (folder.is_file("experiment_descriptor.dat")) {
            set.warnings.push_back("only the binary experiment_descriptor.dat is present: plate format, channel order "
                                   "and pixel size are not read; planes come from the file names");
        } else {
            throw input_error(source.string(), "no experiment_descriptor.xml (or .dat) in the folder");
        }
        const std::string rel_dir = data_dir(folder);
        const fs::path data = folder.path_of(rel_dir);

        std::vector<std::pair<std::string, FileName>> files;
        size_t unparsed = 0;
        std::string first_unparsed;
        for (auto& e : folder.list(rel_dir)) {
            if (e.is_dir) continue;
            std::string n = e.name;
            std::string ext = lower_extension(e.path);
            if (ext != ".tif" && ext != ".tiff") continue;
            FileName f;
            if (!parse_name(n, f)) {
                if (first_unparsed.empty()) first_unparsed = n;
                ++unparsed;
                continue;
            }
            files.push_back({n, f});
        }
        if (unparsed)
            set.warnings.push_back("ignored " + std::to_string(unparsed) + " TIFF file(s) not named "
                                   "--W#####--P#####--Z#####--T#####--CHANNEL.tif (first: " + first_unparsed + ")");
        if (files.empty())
            throw input_error(data.string(), "no ScanR image files (--W00001--P00001--Z00000--T00000--CHANNEL.tif)");
        std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return a.first < b.first; });

        // Plate format: the descriptor's, else the smallest standard plate that holds every W.
        long max_w = 0;
        for (auto& [_, f] : files) max_w = std::max(max_w, f.w);
        int rows = d.rows, cols = d.cols;
        if (!rows) {
            const PlateFormat format = plate_for_well_count(uint64_t(max_w));
            rows = format.rows;
            cols = format.cols;
            if (!rows) throw input_error(source.string(), "well index W" + std::to_string(max_w) +
                                                              " exceeds a 1536-well plate and the descriptor gives no plate format");
            if (xml_descriptor)
                set.warnings.push_back("the descriptor gives no plate format; assuming " + std::to_string(rows * cols) +
                                       " wells (" + std::to_string(rows) + "x" + std::to_string(cols) + ")");
        }

        std::set<long> positions, zs, ts;
        std::set<std::string> channel_names;
        for (auto& [_, f] : files) {
            positions.insert(f.p);
            zs.insert(f.z);
            ts.insert(f.t);
            channel_names.insert(f.channel);
        }
        // Channel order: the descriptor's, then any other names in the files, sorted.
        std::vector<std::string> channels;
        for (auto& c : d.channels)
            if (channel_names.count(c)) channels.push_back(c);
        for (auto& c : channel_names)
            if (std::find(channels.begin(), channels.end(), c) == channels.end()) channels.push_back(c);
        for (auto& c : channels) set.channels.push_back({c, std::nullopt, std::nullopt});
        auto rank = [](const std::set<long>& s, long v) { return int(std::distance(s.begin(), s.find(v))); };

        std::string plate_name = d.plate_name.empty() ? source.filename().string() : d.plate_name;
        int max_row = 0, max_col = 0;
        size_t label_mismatch = 0;
        std::set<std::tuple<int, int, int, int, int, int>> seen;
        for (auto& [n, f] : files) {
            int row = -1, col = -1;
            if (f.w < 1 || f.w > long(rows) * cols)
                throw input_error((data / n).string(), "well index W" + std::to_string(f.w) + " is outside the " +
                                                           std::to_string(rows) + "x" + std::to_string(cols) + " plate");
            int wrow = int((f.w - 1) / cols), wcol = int((f.w - 1) % cols);
            // A label in the name ("B2") or the descriptor's table names the well directly.
            std::string label = f.label;
            if (label.empty())
                if (auto it = d.well_labels.find(f.w); it != d.well_labels.end()) label = it->second;
            if (!label.empty() && parse_well_name(label, row, col)) {
                if (row != wrow || col != wcol) ++label_mismatch;
            } else {
                row = wrow;
                col = wcol;
            }
            if (row >= kMaxWellRows || col >= kMaxWellColumns)
                throw input_error((data / n).string(), "well '" + label + "' is outside any plate");
            max_row = std::max(max_row, row);
            max_col = std::max(max_col, col);
            PlaneRecord p;
            p.plate = plate_name;
            p.row = row;
            p.col = col;
            p.site = rank(positions, f.p);
            p.zplane = rank(zs, f.z);
            p.tpoint = rank(ts, f.t);
            p.channel = int(std::find(channels.begin(), channels.end(), f.channel) - channels.begin());
            p.file = rel_dir.empty() ? n : rel_dir + "/" + n;
            if (!seen.insert({p.row, p.col, p.site, p.channel, p.tpoint, p.zplane}).second)
                throw input_error((data / n).string(), "a second file for well " + well_name(row, col) + " position P" +
                                                           std::to_string(f.p) + " Z" + std::to_string(f.z) + " T" +
                                                           std::to_string(f.t) + " channel " + f.channel);
            set.planes.push_back(std::move(p));
        }
        if (label_mismatch)
            set.warnings.push_back(std::to_string(label_mismatch) + " file(s) whose well label disagrees with the well "
                                   "index W in a " + std::to_string(rows) + "x" + std::to_string(cols) +
                                   " plate; the label was used");
        set.plates.push_back({plate_name, std::max(rows, max_row + 1), std::max(cols, max_col + 1)});
        set.pixel_size_x = d.pixel_size;
        set.pixel_size_y = d.pixel_size;
        return set;
    }
};

}  // namespace

PlateFormat scanr_plate_format(const source::Folder& folder, const std::string& name) {
    const Descriptor d = read_descriptor(folder, name);
    return d.rows && d.cols ? PlateFormat{d.rows, d.cols} : PlateFormat{};
}

std::unique_ptr<LayoutReader> make_scanr_layout() { return std::make_unique<ScanrLayout>(); }

}  // namespace imx
