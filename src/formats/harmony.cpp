// PerkinElmer / Revvity Harmony exports (Operetta, Operetta CLS, Opera Phenix): an index XML
// (EvaluationInputData) next to one TIFF per plane, usually in an "Images" folder.
//   * Harmony V5 ("HarmonyV5" namespace): Images/Index.idx.xml; every Image element carries its
//     channel's name, resolution and wavelengths itself.
//   * Harmony V6 and later ("HarmonyV6", "HarmonyV7"): Images/Index.xml; per-channel properties
//     may live only in Maps/Map/Entry[@ChannelID], so both places are read (the Image wins).
//   * Index.ref.xml: the same schema, written when images are referenced rather than copied.
// Elements are matched by local name, so the namespace version does not matter. Positions and
// resolutions carry a Unit attribute (metres in practice) and are converted to micrometres.
#include <algorithm>
#include <climits>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "formats/builtin.h"
#include "formats/xml_util.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

// FieldID, PlaneID, ... are ranked, never used as sizes: any non-negative integer.
constexpr long kMaxId = LONG_MAX;

const char* const kIndexNames[] = {"Index.idx.xml", "Index.xml", "Index.ref.xml"};

// True when the first bytes of the file look like a Harmony index (root EvaluationInputData).
bool looks_like_harmony(const source::Folder& folder, const std::string& name) {
    try {
        auto f = folder.open(name);
        std::string head(size_t(std::min<uint64_t>(f->size(), 4096)), '\0');
        f->read_at(0, head.data(), head.size());
        return head.find("EvaluationInputData") != std::string::npos;
    } catch (const Error&) {
        return false;
    }
}

// The index file: in SOURCE/Images (the export folder was given) or in SOURCE (the Images folder
// itself was given); its name in SOURCE, empty when there is none.
std::string find_index(const source::Folder& source) {
    for (const std::string dir : {"Images/", ""})
        for (const char* name : kIndexNames)
            if (source.is_file(dir + name) && looks_like_harmony(source, dir + name)) return dir + name;
    return {};
}

struct Image {
    int row = 0, col = 0;
    long field = 0, plane = 0, time = 0, channel = 0, flim = 0;
    std::string file;
    std::optional<double> x, y, z;  // micrometres
    std::string acquired;           // AbsTime, ISO 8601
    std::optional<double> exposure_s;
    std::optional<double> magnification, na;  // ObjectiveMagnification, ObjectiveNA
};

struct ChannelProps {
    std::string name;
    std::optional<double> ex, em, res_x, res_y;
    long width = 0, height = 0;
};

class IndexReader {
public:
    IndexReader(const source::Folder& source, const std::string& index)
        : folder_(source), source_(source.path()), index_name_(index), index_(source.path_of(index)),
          num_(index_.string()) {}

    ImageSet run() {
        ImageSet set;
        set.format = "harmony";
        std::string buffer;
        auto doc = xml::parse_file(folder_, index_name_, buffer);
        auto root = doc.document_element();
        if (!xml::named(root, "EvaluationInputData"))
            throw input_error(index_.string(), "not a Harmony index (root element is '" + std::string(root.name()) +
                                                   "', expected EvaluationInputData)");

        // Folder of the index relative to the source: image URLs are relative to the index.
        std::string rel_dir = index_.parent_path().lexically_relative(source_).generic_string();
        if (rel_dir == ".") rel_dir.clear();

        PlateInfo plate{source_.filename().string(), 0, 0};
        auto plates = xml::child(root, "Plates");
        auto plate_nodes = xml::children(plates, "Plate");
        if (!plate_nodes.empty()) {
            auto p = plate_nodes.front();
            if (auto n = xml::child_text(p, "Name"); !n.empty()) plate.name = n;
            else if (auto id = xml::child_text(p, "PlateID"); !id.empty()) plate.name = id;
            if (auto r = xml::child_text(p, "PlateRows"); !r.empty())
                plate.rows = int(num_.integer(r, "Plate/PlateRows", 0, kMaxWellRows));
            if (auto c = xml::child_text(p, "PlateColumns"); !c.empty())
                plate.cols = int(num_.integer(c, "Plate/PlateColumns", 0, kMaxWellColumns));
            if (plate_nodes.size() > 1)
                set.warnings.push_back(index_.string() + " lists " + std::to_string(plate_nodes.size()) +
                                       " plates; the images are assigned to the first ('" + plate.name + "')");
        }

        // Channel maps (V6+): Maps/Map/Entry ChannelID="N" with per-channel elements.
        std::map<long, std::vector<pugi::xml_node>> entries;
        for (auto map : xml::children(xml::child(root, "Maps"), "Map"))
            for (auto e : xml::children(map, "Entry")) {
                std::string id = xml::attr_str(e, "ChannelID");
                if (id.empty()) continue;
                entries[num_.integer(id, "Maps/Map/Entry ChannelID", 0, kMaxId)].push_back(e);
            }

        auto images_node = xml::child(root, "Images");
        if (!images_node) throw input_error(index_.string(), "no Images element: the index lists no images");
        std::vector<Image> images;
        std::map<long, ChannelProps> channels;
        size_t index = 0, skipped_state = 0;
        std::string first_skipped;
        for (auto n : images_node.children()) {
            if (!xml::named(n, "Image")) continue;
            ++index;  // Image elements of the parsed index: as many as its size allows
            const std::string where = "Image " + std::to_string(index);
            std::string state = xml::child_text(n, "State");
            Image im;
            im.file = xml::child_text(n, "URL");
            if (!state.empty() && state != "Ok") {
                if (first_skipped.empty()) first_skipped = im.file + " (State " + state + ")";
                ++skipped_state;
                continue;
            }
            if (im.file.empty()) throw input_error(index_.string(), where + " has no URL");
            if (im.file.find("://") != std::string::npos)
                throw input_error(index_.string(), where + " refers to a remote image (" + im.file +
                                                       "); only images inside the export folder are supported");
            xml::check_name_from(index_.string(), where, im.file);
            if (!rel_dir.empty()) im.file = rel_dir + "/" + im.file;
            im.row = int(need_int(n, "Row", where, 1, kMaxWellRows)) - 1;
            im.col = int(need_int(n, "Col", where, 1, kMaxWellColumns)) - 1;
            im.field = need_int(n, "FieldID", where, 0, kMaxId);
            im.plane = opt_int(n, "PlaneID", where, 1);
            im.time = opt_int(n, "TimepointID", where, 0);
            im.channel = need_int(n, "ChannelID", where, 0, kMaxId);
            im.flim = opt_int(n, "FlimID", where, 1);
            im.x = length(n, "PositionX", where);
            im.y = length(n, "PositionY", where);
            im.z = length(n, "PositionZ", where);
            im.acquired = iso_date_time(n.child_value("AbsTime"));
            im.exposure_s = exposure(n);
            im.magnification = positive(n, "ObjectiveMagnification", 1000);
            im.na = positive(n, "ObjectiveNA", 2);

            auto [it, fresh] = channels.try_emplace(im.channel);
            if (fresh) it->second = channel_props(n, entries[im.channel], where);
            images.push_back(std::move(im));
        }
        if (skipped_state)
            set.warnings.push_back("skipped " + std::to_string(skipped_state) +
                                   " image(s) whose State is not Ok (first: " + first_skipped + ")");
        if (images.empty()) throw input_error(index_.string(), "the index lists no usable images");
        if (dropped_)
            set.warnings.push_back(index_.string() + ": " + std::to_string(dropped_) +
                                   " malformed ExposureTime, ObjectiveMagnification or ObjectiveNA value(s) ignored "
                                   "(first: " + first_dropped_ + ")");
        // The objective, when every image names the same one (OME Instrument/Objective).
        {
            ObjectiveInfo o{"", images.front().magnification, images.front().na, ""};
            bool same = true;
            for (auto& im : images) same = same && im.magnification == o.magnification && im.na == o.lens_na;
            if (same && !o.empty()) set.objective = o;
            else if (!same)
                set.warnings.push_back(index_.string() +
                                       ": the images name different objectives (ObjectiveMagnification, ObjectiveNA); "
                                       "the plate's OME-XML names none");
        }

        // Dense 0-based indices from the sorted IDs: FieldID, PlaneID and TimepointID values are
        // never used as sizes, so a hostile "FieldID 1000000000" costs nothing.
        std::set<long> fields, planes, times;
        int max_row = 0, max_col = 0;
        for (auto& im : images) {
            fields.insert(im.field);
            planes.insert(im.plane);
            times.insert(im.time);
            max_row = std::max(max_row, im.row);
            max_col = std::max(max_col, im.col);
        }
        auto rank = [](const std::set<long>& s, long v) { return int(std::distance(s.begin(), s.find(v))); };

        std::map<long, int> channel_index;
        std::set<std::string> names;
        for (auto& [id, props] : channels) {
            std::string name = props.name.empty() ? "Channel " + std::to_string(id) : props.name;
            if (!names.insert(name).second) {
                name += " (ChannelID " + std::to_string(id) + ")";
                names.insert(name);
            }
            channel_index[id] = int(set.channels.size());
            set.channels.push_back({name, props.ex, props.em});
            if (!set.pixel_size_x && props.res_x) {
                set.pixel_size_x = props.res_x;
                set.pixel_size_y = props.res_y ? props.res_y : props.res_x;
            }
            if (!set.width && props.width > 0 && props.height > 0) {
                set.width = uint32_t(props.width);
                set.height = uint32_t(props.height);
            }
        }

        if (plate.rows <= max_row || plate.cols <= max_col) {
            if (plate.rows || plate.cols)
                set.warnings.push_back("well " + well_name(max_row, max_col) + " lies outside the " +
                                       std::to_string(plate.rows) + "x" + std::to_string(plate.cols) +
                                       " plate the index declares; the plate format is taken from the wells");
            standard_plate(max_row, max_col, plate.rows, plate.cols);
        }
        set.plates.push_back(plate);

        std::set<std::tuple<int, int, int, int, int, int>> seen;
        std::map<std::tuple<int, int, int, int, int>, std::vector<std::pair<int, double>>> zpos;
        set.planes.reserve(images.size());
        for (auto& im : images) {
            PlaneRecord p;
            p.plate = plate.name;
            p.row = im.row;
            p.col = im.col;
            p.site = rank(fields, im.field);
            p.zplane = rank(planes, im.plane);
            p.tpoint = rank(times, im.time);
            p.channel = channel_index.at(im.channel);
            p.file = im.file;
            p.stage_x = im.x;
            p.stage_y = im.y;
            p.stage_z = im.z;
            p.acquired = im.acquired;
            p.exposure_s = im.exposure_s;
            if (!seen.insert({p.row, p.col, p.site, p.channel, p.tpoint, p.zplane}).second)
                throw input_error(index_.string(),
                                  "two images for well " + well_name(p.row, p.col) + " FieldID " + std::to_string(im.field) +
                                      " PlaneID " + std::to_string(im.plane) + " TimepointID " + std::to_string(im.time) +
                                      " ChannelID " + std::to_string(im.channel) + " (second: " + im.file +
                                      (im.flim != 1 ? "; FLIM series (FlimID) are not supported yet" : "") + ")");
            if (im.z) zpos[{p.row, p.col, p.site, p.channel, p.tpoint}].push_back({p.zplane, *im.z});
            set.planes.push_back(std::move(p));
        }
        if (auto step = z_step_um(zpos)) set.pixel_size_z = *step;
        return set;
    }

private:
    static void standard_plate(int max_row, int max_col, int& rows, int& cols) {
        const PlateFormat f = smallest_plate(max_row + 1, max_col + 1);
        rows = f.rows ? f.rows : max_row + 1;
        cols = f.cols ? f.cols : max_col + 1;
    }

    long need_int(const pugi::xml_node& n, const char* key, const std::string& where, long lo, long hi) const {
        std::string v = xml::child_text(n, key);
        if (v.empty()) throw input_error(index_.string(), where + " has no " + key);
        return num_.integer(v, where + " " + key, lo, hi);
    }
    long opt_int(const pugi::xml_node& n, const char* key, const std::string& where, long fallback) const {
        std::string v = xml::child_text(n, key);
        return v.empty() ? fallback : num_.integer(v, where + " " + key, 0, kMaxId);
    }
    // A length element with a Unit attribute, in micrometres.
    std::optional<double> length(const pugi::xml_node& n, const char* key, const std::string& where) const {
        auto c = xml::child(n, key);
        if (!c) return std::nullopt;
        auto v = num_.real(c.text().get(), where + " " + key);
        if (!v) return std::nullopt;
        std::string unit = xml::attr_str(c, "Unit");
        auto um = xml::to_micrometres(*v, unit);
        if (!um) throw input_error(index_.string(), where + " " + key + " has unknown unit '" + unit + "'");
        return um;
    }
    // Values the OME-XML only describes (exposure, objective): a malformed one is dropped and
    // counted, never a reason to refuse the plate nor guessed at.
    void drop(const std::string& what, const std::string& text) {
        if (!dropped_++) first_dropped_ = what + " '" + text + "'";
    }
    std::optional<double> plain_number(const std::string& text) const {
        if (text.empty()) return std::nullopt;
        char* end = nullptr;
        const double d = std::strtod(text.c_str(), &end);
        if (*end != '\0' || !std::isfinite(d)) return std::nullopt;
        return d;
    }
    // A positive number up to `max` (ObjectiveMagnification, ObjectiveNA; unit-less).
    std::optional<double> positive(const pugi::xml_node& n, const char* key, double max) {
        auto c = xml::child(n, key);
        if (!c) return std::nullopt;
        const std::string text = trim(c.text().get());
        if (text.empty()) return std::nullopt;
        auto v = plain_number(text);
        if (!v || !(*v > 0) || *v > max) {
            drop(key, text);
            return std::nullopt;
        }
        return v;
    }
    // ExposureTime with its Unit (seconds in Harmony exports), in seconds.
    std::optional<double> exposure(const pugi::xml_node& n) {
        auto c = xml::child(n, "ExposureTime");
        if (!c) return std::nullopt;
        const std::string text = trim(c.text().get());
        if (text.empty()) return std::nullopt;
        auto v = plain_number(text);
        auto s = v ? exposure_seconds(*v, xml::attr_str(c, "Unit")) : std::nullopt;
        if (!s) drop("ExposureTime", text + " " + xml::attr_str(c, "Unit"));
        return s;
    }

    std::optional<double> wavelength_nm(const pugi::xml_node& n, const char* key, const std::string& where) const {
        auto c = xml::child(n, key);
        if (!c) return std::nullopt;
        auto v = num_.real(c.text().get(), where + " " + key);
        if (!v) return std::nullopt;
        std::string unit = xml::attr_str(c, "Unit");
        if (unit.empty() || unit == "nm") return v;
        auto um = xml::to_micrometres(*v, unit);
        if (!um) throw input_error(index_.string(), where + " " + key + " has unknown unit '" + unit + "'");
        return *um * 1000;
    }

    // Channel properties: the first image of the channel, completed from the channel map entries.
    ChannelProps channel_props(const pugi::xml_node& image, const std::vector<pugi::xml_node>& map_entries,
                               const std::string& where) const {
        std::vector<std::pair<pugi::xml_node, std::string>> sources{{image, where}};
        for (auto& e : map_entries) sources.push_back({e, "Maps/Map/Entry ChannelID " + xml::attr_str(e, "ChannelID")});
        ChannelProps p;
        for (auto& [node, label] : sources) {
            if (p.name.empty()) p.name = xml::child_text(node, "ChannelName");
            if (!p.ex) p.ex = wavelength_nm(node, "MainExcitationWavelength", label);
            if (!p.em) p.em = wavelength_nm(node, "MainEmissionWavelength", label);
            if (!p.res_x) p.res_x = length(node, "ImageResolutionX", label);
            if (!p.res_y) p.res_y = length(node, "ImageResolutionY", label);
            if (!p.width) {
                std::string w = xml::child_text(node, "ImageSizeX"), h = xml::child_text(node, "ImageSizeY");
                if (!w.empty() && !h.empty()) {
                    p.width = num_.integer(w, label + " ImageSizeX", 1, UINT32_MAX);
                    p.height = num_.integer(h, label + " ImageSizeY", 1, UINT32_MAX);
                }
            }
        }
        for (auto* r : {&p.res_x, &p.res_y})
            if (*r && !(**r > 0)) throw input_error(index_.string(), where + ": image resolution must be positive");
        return p;
    }

    const source::Folder& folder_;
    fs::path source_;
    std::string index_name_;
    fs::path index_;
    xml::Numbers num_;
    size_t dropped_ = 0;
    std::string first_dropped_;
};

class HarmonyLayout final : public LayoutReader {
public:
    std::string name() const override { return "harmony"; }
    std::string description() const override {
        return "PerkinElmer/Revvity Harmony (Operetta, Opera Phenix): Images/Index.idx.xml (V5), Index.xml (V6+), "
               "Index.ref.xml, one TIFF per plane; not yet: FLIM series, several plates in one index, remote URLs";
    }

    int detect(const source::Folder& source) const override { return find_index(source).empty() ? 0 : 90; }
    bool owns_subfolder(const std::string& name) const override { return name == "Images"; }

    ImageSet configure(const source::Folder& source, const LayoutOptions&) const override {
        const std::string index = find_index(source);
        if (index.empty())
            throw input_error(source.path().string(),
                              "no Harmony index (Images/Index.idx.xml, Index.xml or Index.ref.xml "
                              "with root EvaluationInputData) in the folder or its Images folder");
        return IndexReader(source, index).run();
    }
};

}  // namespace

std::unique_ptr<LayoutReader> make_harmony_layout() { return std::make_unique<HarmonyLayout>(); }

}  // namespace imx
