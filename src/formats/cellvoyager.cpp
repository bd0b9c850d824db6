// Yokogawa CellVoyager (CV7000, CV8000, CQ1, CQ3000): MeasurementData.mlf lists every image with
// its well, field, time, z and channel; MeasurementDetail.mrf gives the plate format and, per
// channel, pixel size and image size. Both are XML in the BTS schema namespace.
#include <pugixml.hpp>

#include <algorithm>
#include <climits>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/fileutil.h"
#include "formats/builtin.h"
#include "storage/source_folder.h"

namespace imx {

namespace {


// Attribute by local name, whatever the namespace prefix ("bts:Row" or "Row").
const char* attr(const pugi::xml_node& n, const char* local) {
    for (auto a = n.first_attribute(); a; a = a.next_attribute()) {
        const char* name = a.name();
        const char* colon = std::strrchr(name, ':');
        if (std::strcmp(colon ? colon + 1 : name, local) == 0) return a.value();
    }
    return nullptr;
}

bool local_name_is(const pugi::xml_node& n, const char* local) {
    const char* name = n.name();
    const char* colon = std::strrchr(name, ':');
    return std::strcmp(colon ? colon + 1 : name, local) == 0;
}

pugi::xml_document parse_xml(const source::Folder& folder, const std::string& name, std::string& buffer) {
    const fs::path file = folder.path_of(name);
    buffer = folder.read_all(name);
    pugi::xml_document doc;
    // parse_default without DOCTYPE expansion: pugixml never expands entities it does not know.
    auto r = doc.load_buffer_inplace(buffer.data(), buffer.size(), pugi::parse_default, pugi::encoding_auto);
    if (!r)
        throw input_error(file.string(), std::string("malformed XML: ") + r.description() + " at byte " +
                                             std::to_string(r.offset));
    return doc;
}

class RecordReader {
public:
    RecordReader(const fs::path& file, size_t index, const pugi::xml_node& n) : file_(file), index_(index), n_(n) {}

    long integer(const char* key, long lo, long hi, std::optional<long> fallback = std::nullopt) const {
        const char* v = attr(n_, key);
        if (!v) {
            if (fallback) return *fallback;
            throw bad(key, "is missing");
        }
        long out = 0;
        auto end = v + std::strlen(v);
        auto [p, ec] = std::from_chars(v, end, out);
        if (ec != std::errc() || p != end) throw bad(key, std::string("is not a whole number ('") + v + "')");
        if (out < lo || out > hi)
            throw bad(key, "value " + std::to_string(out) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
        return out;
    }
    std::optional<double> real(const char* key) const {
        const char* v = attr(n_, key);
        if (!v || !*v) return std::nullopt;
        char* end = nullptr;
        double d = std::strtod(v, &end);
        if (*end != '\0' || !std::isfinite(d)) throw bad(key, std::string("is not a number ('") + v + "')");
        return d;
    }

private:
    Error bad(const char* key, const std::string& what) const {
        return input_error(file_.string(), "record " + std::to_string(index_ + 1) + ": attribute " + key + " " + what);
    }
    const fs::path& file_;
    size_t index_;
    const pugi::xml_node& n_;
};

// Smallest standard plate that holds every well, else just those wells.
void standard_format(int max_row, int max_col, int& rows, int& cols) {
    const PlateFormat f = smallest_plate(max_row + 1, max_col + 1);
    rows = f.rows ? f.rows : max_row + 1;
    cols = f.cols ? f.cols : max_col + 1;
}

// The name of the folder's `standard` file, else of its only *`ext` file; "" when neither.
std::string find_one(const source::Folder& dir, const char* standard, const char* ext) {
    if (dir.is_file(standard)) return standard;
    std::string found;
    int n = 0;
    for (auto& e : dir.list()) {
        if (e.path.extension() == ext && !e.is_dir) {
            found = e.name;
            ++n;
        }
    }
    return n == 1 ? found : std::string();
}

// The instrument writes shading (SC_*, named by the mrf's ShadingCorrectionSource) and dark-current
// (DC_*) images beside the planes. They are calibration data, not planes of the plate: named in a
// warning so that nobody takes their absence from the plate for lost pixels.
void note_correction_images(const source::Folder& source, ImageSet& set, const std::set<std::string>& shading_files) {
    std::set<std::string> planes;
    for (auto& p : set.planes) planes.insert(p.file);
    std::vector<std::string> names;
    for (auto& e : source.list()) {
        const std::string ext = lower_extension(e.path);
        if (e.is_dir || (ext != ".tif" && ext != ".tiff" && ext != ".png") || planes.count(e.name)) continue;
        if (shading_files.count(e.name) || e.name.rfind("SC_", 0) == 0 || e.name.rfind("DC_", 0) == 0)
            names.push_back(e.name);
    }
    if (names.empty()) return;
    std::string text = std::to_string(names.size()) +
                       " shading (SC_) / dark-current (DC_) correction image(s) are calibration data, not planes of "
                       "the plate, and are not stored:";
    for (size_t i = 0; i < names.size() && i < 64; ++i) text += (i ? ", " : " ") + names[i];
    if (names.size() > 64) text += ", ...";
    set.warnings.push_back(text);
}

// What the measurement settings (.mes, named by the mrf's MeasurementSettingFileName) say of each
// channel Ch: exposure time (ExposureTime, milliseconds) and objective (Objective, Magnification).
// The file only describes the acquisition, so a missing, unreadable or malformed one (or value) is
// a warning, never a refusal; malformed values are dropped.
struct MesChannel {
    std::optional<double> exposure_s;
    ObjectiveInfo objective;
};
std::map<long, MesChannel> read_mes(const source::Folder& source, const std::string& name, ImageSet& set) {
    std::map<long, MesChannel> channels;
    if (name.empty()) return channels;
    try {
        check_relative_name(name);
    } catch (const Error&) {
        set.warnings.push_back("measurement settings '" + name + "' named by the .mrf are not in the folder: "
                               "no exposure times or objective");
        return channels;
    }
    if (!source.is_file(name)) {
        set.warnings.push_back("no " + name + " (the .mrf's measurement settings) in the folder: no exposure "
                               "times or objective");
        return channels;
    }
    std::string buffer;
    pugi::xml_document doc;
    try {
        doc = parse_xml(source, name, buffer);
    } catch (const Error& e) {
        set.warnings.push_back(std::string(e.what()) + "; no exposure times or objective");
        return channels;
    }
    size_t dropped = 0;
    std::string first_dropped;
    auto number = [&](const pugi::xml_node& n, const char* key, double max) -> std::optional<double> {
        const char* v = attr(n, key);
        if (!v || !*v) return std::nullopt;
        char* end = nullptr;
        const double d = std::strtod(v, &end);
        if (*end != '\0' || !std::isfinite(d) || !(d > 0) || d > max) {
            if (!dropped++) first_dropped = std::string(key) + " '" + v + "'";
            return std::nullopt;
        }
        return d;
    };
    auto list = doc.document_element().find_node([](const pugi::xml_node& n) { return local_name_is(n, "ChannelList"); });
    for (auto n : list.children()) {
        if (!local_name_is(n, "Channel")) continue;
        const char* ch = attr(n, "Ch");
        long id = 0;
        if (!ch || std::from_chars(ch, ch + std::strlen(ch), id).ptr != ch + std::strlen(ch)) continue;
        MesChannel c;
        if (auto ms = number(n, "ExposureTime", 86400e3)) c.exposure_s = exposure_seconds(*ms, "ms");
        if (const char* model = attr(n, "Objective")) c.objective.model = trim(model);
        c.objective.magnification = number(n, "Magnification", 1000);
        channels[id] = c;
    }
    if (dropped)
        set.warnings.push_back(source.path_of(name).string() + ": " + std::to_string(dropped) +
                               " malformed ExposureTime or Magnification value(s) ignored (first: " + first_dropped + ")");
    return channels;
}

class CellVoyagerLayout final : public LayoutReader {
public:
    std::string name() const override { return "cellvoyager"; }
    std::string description() const override {
        return "Yokogawa CellVoyager CV7000/CV8000/CQ1/CQ3000: MeasurementData.mlf + MeasurementDetail.mrf, TIFF or PNG; "
               "ZImageProcessing records are projections (channels of their own, or --skip-projections)";
    }

    int detect(const source::Folder& source) const override {
        if (!find_one(source, "MeasurementData.mlf", ".mlf").empty()) return 90;
        // Several .mlf files and no MeasurementData.mlf, or a MeasurementDetail.mrf without its .mlf:
        // ours still, so that configure says why rather than `files` reading the planes, shading
        // and dark-current images as sites.
        int score = 0;
        for (auto& e : source.list()) {
            if (e.path.extension() == ".mlf") return 50;
            if (e.path.extension() == ".mrf") score = 40;
        }
        return score;
    }

    ImageSet configure(const source::Folder& source, const LayoutOptions&) const override {
        ImageSet set;
        set.format = name();
        const std::string mlf_name = find_one(source, "MeasurementData.mlf", ".mlf");
        if (mlf_name.empty()) {
            std::string names;
            bool mrf = false;
            for (auto& e : source.list()) {
                if (e.path.extension() == ".mlf") names += (names.empty() ? "" : ", ") + e.name;
                mrf = mrf || e.path.extension() == ".mrf";
            }
            throw input_error(source.path().string(),
                              names.empty() ? std::string("no MeasurementData.mlf in the folder") +
                                                  (mrf ? " beside its .mrf: the list of images is missing; copy it from "
                                                         "the instrument's measurement folder, or give --format files "
                                                         "to read the image files without it"
                                                       : "")
                                            : "several .mlf files (" + names +
                                                  ") and no MeasurementData.mlf: the instrument writes one "
                                                  "MeasurementData.mlf per acquisition; give each its own folder");
        }
        const fs::path mlf = source.path_of(mlf_name);
        const std::string mrf_name = find_one(source, "MeasurementDetail.mrf", ".mrf");
        const fs::path mrf = mrf_name.empty() ? fs::path() : source.path_of(mrf_name);

        std::string plate_name = source.path().filename().string();
        int plate_rows = 0, plate_cols = 0;
        std::map<long, std::pair<std::optional<double>, std::optional<double>>> pixel_size;  // Ch -> (x, y)
        std::set<std::string> shading_files;  // the mrf's ShadingCorrectionSource per channel
        std::string mrf_buffer, mes_name;
        if (!mrf.empty()) {
            auto doc = parse_xml(source, mrf_name, mrf_buffer);
            auto root = doc.document_element();
            if (!local_name_is(root, "MeasurementDetail"))
                throw input_error(mrf.string(), "not a MeasurementDetail file (root element is '" +
                                                    std::string(root.name()) + "')");
            RecordReader rr(mrf, 0, root);
            plate_rows = int(rr.integer("RowCount", 0, kMaxWellRows, 0));
            plate_cols = int(rr.integer("ColumnCount", 0, kMaxWellColumns, 0));
            if (const char* t = attr(root, "Title"); t && *t) plate_name = t;
            if (const char* m = attr(root, "MeasurementSettingFileName")) mes_name = trim(m);
            size_t idx = 0;
            for (auto n : root.children()) {
                RecordReader r(mrf, idx++, n);
                if (local_name_is(n, "MeasurementSamplePlate")) {
                    if (const char* nm = attr(n, "Name"); nm && *nm) plate_name = nm;
                } else if (local_name_is(n, "MeasurementChannel")) {
                    long ch = r.integer("Ch", 0, LONG_MAX);
                    pixel_size[ch] = {r.real("HorizontalPixelDimension"), r.real("VerticalPixelDimension")};
                    long w = r.integer("HorizontalPixels", 0, UINT32_MAX, 0), h = r.integer("VerticalPixels", 0, UINT32_MAX, 0);
                    if (w && h && !set.width) {
                        set.width = uint32_t(w);
                        set.height = uint32_t(h);
                    }
                    if (const char* sc = attr(n, "ShadingCorrectionSource"); sc && *sc) shading_files.insert(sc);
                    long bits = r.integer("InputBitDepth", 0, 64, 0);
                    if (bits && !set.bits_per_sample) set.bits_per_sample = int(bits);
                }
            }
        } else {
            set.warnings.push_back("no MeasurementDetail.mrf: plate format and pixel size unknown");
        }

        std::string mlf_buffer;
        auto doc = parse_xml(source, mlf_name, mlf_buffer);
        auto root = doc.document_element();
        if (!local_name_is(root, "MeasurementData"))
            throw input_error(mlf.string(), "not a MeasurementData file (root element is '" + std::string(root.name()) + "')");

        struct Raw {
            int row, col, site, z;
            std::pair<long, long> channel;  // (ActionIndex, Ch)
            std::pair<long, long> time;     // (TimelineIndex, TimePoint)
            std::string file;
            std::optional<double> x, y, zpos;
            std::string projection;  // ZImageProcessing ("Maximum"): an image the instrument projected
            std::string acquired;    // Time, ISO 8601
        };
        std::vector<Raw> raws;
        size_t index = 0, errors = 0, others = 0;
        // Field and z indices are stored as they are: a file cannot number more of them than it
        // has bytes (a record takes far more), nor more than an int holds.
        const long max_index = long(std::min<size_t>(mlf_buffer.size(), INT32_MAX));
        for (auto n : root.children()) {
            if (!local_name_is(n, "MeasurementRecord")) continue;
            RecordReader r(mlf, index, n);
            const char* type = attr(n, "Type");
            std::string t = type ? type : "";
            if (t != "IMG") {
                if (t == "ERR") {
                    if (errors < 10)
                        set.warnings.push_back("skipped ERR record " + std::to_string(index + 1) + " (well " +
                                               well_name(int(r.integer("Row", 1, kMaxWellRows, 1)) - 1,
                                                         int(r.integer("Column", 1, kMaxWellColumns, 1)) - 1) +
                                               ", field " + std::to_string(r.integer("FieldIndex", 0, max_index, 0)) +
                                               "): " + n.child_value());
                    ++errors;
                } else {
                    ++others;
                }
                ++index;
                continue;
            }
            Raw raw;
            raw.row = int(r.integer("Row", 1, kMaxWellRows)) - 1;
            raw.col = int(r.integer("Column", 1, kMaxWellColumns)) - 1;
            raw.site = int(r.integer("FieldIndex", 1, max_index)) - 1;
            raw.z = int(r.integer("ZIndex", 1, max_index, 1)) - 1;
            // Channels and time points are ranked, so any number serves.
            raw.channel = {r.integer("ActionIndex", 0, LONG_MAX, 1), r.integer("Ch", 0, LONG_MAX)};
            raw.time = {r.integer("TimelineIndex", 0, LONG_MAX, 1), r.integer("TimePoint", 0, LONG_MAX, 1)};
            raw.file = n.child_value();
            // Trim whitespace around the file name.
            auto b = raw.file.find_first_not_of(" \t\r\n"), e = raw.file.find_last_not_of(" \t\r\n");
            raw.file = b == std::string::npos ? "" : raw.file.substr(b, e - b + 1);
            if (raw.file.empty()) throw input_error(mlf.string(), "record " + std::to_string(index + 1) + " names no image file");
            check_relative_name(raw.file);  // refuses '../' and absolute names now
            raw.x = r.real("X");
            raw.y = r.real("Y");
            raw.zpos = r.real("Z");
            if (const char* time = attr(n, "Time")) raw.acquired = iso_date_time(time);
            if (const char* zp = attr(n, "ZImageProcessing"); zp && *zp && std::strcmp(zp, "None") != 0) raw.projection = zp;
            raws.push_back(std::move(raw));
            ++index;
        }
        if (errors > 10) set.warnings.push_back("... and " + std::to_string(errors - 10) + " more ERR records skipped");
        if (others) set.warnings.push_back("skipped " + std::to_string(others) + " records that are not images");
        if (raws.empty()) throw input_error(mlf.string(), "no IMG records");

        std::set<std::pair<long, long>> channels, times;
        int max_row = 0, max_col = 0;
        for (auto& r : raws) {
            channels.insert(r.channel);
            times.insert(r.time);
            max_row = std::max(max_row, r.row);
            max_col = std::max(max_col, r.col);
        }
        std::vector<std::pair<long, long>> channel_list(channels.begin(), channels.end());
        std::vector<std::pair<long, long>> time_list(times.begin(), times.end());
        for (auto& [action, ch] : channel_list) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "A%02ld_C%02ld", action, ch);
            set.channels.push_back({buf, std::nullopt, std::nullopt});
        }
        if (plate_rows <= max_row || plate_cols <= max_col) standard_format(max_row, max_col, plate_rows, plate_cols);
        set.plates.push_back({plate_name, plate_rows, plate_cols});
        // Pixel size of the first channel that has one (all channels share the camera binning in
        // practice; a plate stores one scale).
        for (auto& [ch, xy] : pixel_size)
            if (xy.first) {
                set.pixel_size_x = xy.first;
                set.pixel_size_y = xy.second ? xy.second : xy.first;
                break;
            }

        const std::map<long, MesChannel> mes = read_mes(source, mes_name, set);
        // The objective when every channel the records use names the same one.
        if (!mes.empty()) {
            std::optional<ObjectiveInfo> objective;
            bool same = true;
            for (auto& [action, ch] : channel_list) {
                auto it = mes.find(ch);
                const ObjectiveInfo o = it == mes.end() ? ObjectiveInfo{} : it->second.objective;
                if (!objective) objective = o;
                else same = same && *objective == o;
            }
            if (same && objective && !objective->empty()) set.objective = objective;
            else if (!same)
                set.warnings.push_back(mes_name + ": the channels name different objectives; the plate's OME-XML names none");
        }

        std::set<std::tuple<int, int, int, size_t, size_t, int, std::string>> seen;
        std::map<std::tuple<int, int, int, size_t, size_t>, std::vector<std::pair<int, double>>> zpos;
        set.planes.reserve(raws.size());
        for (auto& r : raws) {
            size_t c = size_t(std::lower_bound(channel_list.begin(), channel_list.end(), r.channel) - channel_list.begin());
            size_t t = size_t(std::lower_bound(time_list.begin(), time_list.end(), r.time) - time_list.begin());
            if (!seen.insert({r.row, r.col, r.site, c, t, r.z, r.projection}).second)
                throw input_error(mlf.string(), "two records for well " + well_name(r.row, r.col) + " field " +
                                                    std::to_string(r.site + 1) + " channel " + set.channels[c].name +
                                                    " time " + std::to_string(t) + " z " + std::to_string(r.z + 1) +
                                                    " (second: " + r.file + ")");
            PlaneRecord p;
            p.plate = plate_name;
            p.row = r.row;
            p.col = r.col;
            p.site = r.site;
            p.channel = int(c);
            p.tpoint = int(t);
            p.zplane = r.z;
            p.file = r.file;
            p.stage_x = r.x;
            p.stage_y = r.y;
            p.stage_z = r.zpos;
            p.acquired = r.acquired;
            if (auto m = mes.find(r.channel.second); m != mes.end()) p.exposure_s = m->second.exposure_s;
            p.projection = r.projection;
            if (r.zpos && r.projection.empty()) zpos[{r.row, r.col, r.site, c, t}].push_back({r.z, *r.zpos});
            set.planes.push_back(std::move(p));
        }
        note_correction_images(source, set, shading_files);
        if (auto step = z_step_um(zpos)) set.pixel_size_z = *step;
        return set;
    }
};

}  // namespace

std::unique_ptr<LayoutReader> make_cellvoyager_layout() { return std::make_unique<CellVoyagerLayout>(); }

}  // namespace imx
