// GE / Cytiva IN Cell Analyzer (1000/2000/2200/6000/6500): one .xdce XML file per plate next to
// one TIFF per plane, named like "A - 1(fld 1 wv DAPI - DAPI z 1).tif".
//   ImageStack
//     AutoLeadAcquisitionProtocol
//       Camera/Size width height; ObjectiveCalibration pixel_width pixel_height (micrometres)
//       Wavelengths/Wavelength (fusion_wave) with ExcitationFilter / EmissionFilter (name, wavelength)
//       Plate rows columns name
//     Images/Image filename
//       Identifier wave_index field_index time_index z_index (0-based)
//       Well/Row number, Well/Column number (1-based)
//       OffsetFromWellCenter x y (micrometres from the well centre), FocusPosition z
//       ExcitationFilter / EmissionFilter name (the image's own wavelength, when written)
// The file names come from the XML; the indices in the name are not parsed.
#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <set>

#include "formats/builtin.h"
#include "formats/xml_util.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

constexpr long kMaxIndex = LONG_MAX;  // ranked, never used as a size

std::vector<fs::path> xdce_files(const source::Folder& source) {
    std::vector<fs::path> out;
    for (auto& e : source.list()) {
        std::string ext = e.path.extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        if (ext == ".xdce" && !e.is_dir) out.push_back(e.path);
    }
    std::sort(out.begin(), out.end());
    return out;
}

struct Filters {
    std::string ex, em;
    std::optional<double> ex_nm, em_nm;
    bool empty() const { return ex.empty() && em.empty(); }
};

struct Image {
    int row = 0, col = 0;
    long wave = 0, field = 0, time = 0, z = 0;
    std::string file;
    std::optional<double> x, y, zpos;
};

class XdceReader {
public:
    explicit XdceReader(const fs::path& xdce) : xdce_(xdce), num_(xdce.string()) {}

    ImageSet run(const source::Folder& folder) {
        const fs::path& source = folder.path();
        ImageSet set;
        set.format = "incell";
        std::string buffer;
        auto doc = xml::parse_file(folder, xdce_.filename().string(), buffer);
        auto root = doc.document_element();
        if (!xml::named(root, "ImageStack"))
            throw input_error(xdce_.string(), "not an IN Cell .xdce file (root element is '" + std::string(root.name()) +
                                                  "', expected ImageStack)");
        auto protocol = xml::child(root, "AutoLeadAcquisitionProtocol");

        PlateInfo plate{xdce_.stem().string(), 0, 0};
        if (auto p = xml::descendant(protocol ? protocol : root, "Plate")) {
            if (auto n = xml::attr_str(p, "name"); !n.empty()) plate.name = n;
            if (auto r = xml::attr_str(p, "rows"); !r.empty()) plate.rows = int(num_.integer(r, "Plate rows", 0, kMaxWellRows));
            if (auto c = xml::attr_str(p, "columns"); !c.empty())
                plate.cols = int(num_.integer(c, "Plate columns", 0, kMaxWellColumns));
        }

        if (auto oc = xml::descendant(protocol ? protocol : root, "ObjectiveCalibration")) {
            set.pixel_size_x = positive(xml::attr_str(oc, "pixel_width"), "ObjectiveCalibration pixel_width");
            set.pixel_size_y = positive(xml::attr_str(oc, "pixel_height"), "ObjectiveCalibration pixel_height");
            if (!set.pixel_size_y) set.pixel_size_y = set.pixel_size_x;
        }
        if (auto size = xml::descendant(xml::descendant(protocol ? protocol : root, "Camera"), "Size")) {
            std::string w = xml::attr_str(size, "width"), h = xml::attr_str(size, "height");
            if (!w.empty() && !h.empty()) {
                set.width = uint32_t(num_.integer(w, "Camera Size width", 1, UINT32_MAX));
                set.height = uint32_t(num_.integer(h, "Camera Size height", 1, UINT32_MAX));
            }
        }

        // The protocol's wavelengths, in order; wave_index counts the non-fusion ones.
        std::vector<Filters> protocol_waves;
        if (auto waves = xml::descendant(protocol ? protocol : root, "Wavelengths"))
            for (auto w : xml::children(waves, "Wavelength")) {
                if (xml::attr_str(w, "fusion_wave") == "true") continue;
                protocol_waves.push_back(filters(w, "Wavelength"));
            }

        auto images_node = xml::child(root, "Images");
        if (!images_node) throw input_error(xdce_.string(), "no Images element: the file lists no images");
        std::vector<Image> images;
        std::map<long, Filters> image_waves;  // wave_index -> filters written in the first image of it
        size_t index = 0;
        for (auto n : images_node.children()) {
            if (!xml::named(n, "Image")) continue;
            ++index;  // Image elements of the parsed file: as many as its size allows
            const std::string where = "Image " + std::to_string(index);
            Image im;
            im.file = xml::attr_str(n, "filename");
            if (im.file.empty()) throw input_error(xdce_.string(), where + " has no filename");
            xml::check_name_from(xdce_.string(), where, im.file);
            auto id = xml::child(n, "Identifier");
            if (!id) throw input_error(xdce_.string(), where + " (" + im.file + ") has no Identifier");
            im.wave = index_attr(id, "wave_index", where);
            im.field = index_attr(id, "field_index", where);
            im.time = index_attr(id, "time_index", where, 0);
            im.z = index_attr(id, "z_index", where, 0);
            auto well = xml::child(n, "Well");
            auto row = xml::child(well, "Row"), col = xml::child(well, "Column");
            if (!row || !col) throw input_error(xdce_.string(), where + " (" + im.file + ") has no Well/Row and Well/Column");
            im.row = int(num_.integer(xml::attr_str(row, "number"), where + " Well/Row number", 1, kMaxWellRows)) - 1;
            im.col = int(num_.integer(xml::attr_str(col, "number"), where + " Well/Column number", 1, kMaxWellColumns)) - 1;
            if (auto off = xml::child(n, "OffsetFromWellCenter")) {
                im.x = num_.real(xml::attr_str(off, "x"), where + " OffsetFromWellCenter x");
                im.y = num_.real(xml::attr_str(off, "y"), where + " OffsetFromWellCenter y");
            }
            if (auto focus = xml::child(n, "FocusPosition")) im.zpos = num_.real(xml::attr_str(focus, "z"), where + " FocusPosition z");
            if (!image_waves.count(im.wave))
                if (Filters f = filters(n, where); !f.empty()) image_waves[im.wave] = f;
            images.push_back(std::move(im));
        }
        if (images.empty()) throw input_error(xdce_.string(), "the Images element lists no images");

        std::set<long> waves, fields, times, zs;
        int max_row = 0, max_col = 0;
        for (auto& im : images) {
            waves.insert(im.wave);
            fields.insert(im.field);
            times.insert(im.time);
            zs.insert(im.z);
            max_row = std::max(max_row, im.row);
            max_col = std::max(max_col, im.col);
        }
        auto rank = [](const std::set<long>& s, long v) { return int(std::distance(s.begin(), s.find(v))); };

        // Channel names: the emission filter name, or "EX - EM" (as in the file names) when two
        // channels share an emission filter.
        std::vector<Filters> wave_filters;
        for (long w : waves) {
            Filters f;
            if (auto it = image_waves.find(w); it != image_waves.end()) f = it->second;
            else if (w >= 0 && size_t(w) < protocol_waves.size()) f = protocol_waves[size_t(w)];
            wave_filters.push_back(f);
        }
        std::map<std::string, int> em_count;
        for (auto& f : wave_filters) ++em_count[f.em];
        std::set<std::string> names;
        size_t wi = 0;
        for (long w : waves) {
            const Filters& f = wave_filters[wi++];
            std::string name = f.em.empty() ? "wave " + std::to_string(w)
                                            : (em_count[f.em] > 1 && !f.ex.empty() ? f.ex + " - " + f.em : f.em);
            if (!names.insert(name).second) {
                name += " (wave " + std::to_string(w) + ")";
                names.insert(name);
            }
            set.channels.push_back({name, f.ex_nm, f.em_nm});
        }

        if (plate.rows <= max_row || plate.cols <= max_col) {
            if (plate.rows || plate.cols)
                set.warnings.push_back("well " + well_name(max_row, max_col) + " lies outside the " +
                                       std::to_string(plate.rows) + "x" + std::to_string(plate.cols) +
                                       " plate the .xdce declares; the plate format is taken from the wells");
            plate.rows = std::max(plate.rows, max_row + 1);
            plate.cols = std::max(plate.cols, max_col + 1);
        }
        set.plates.push_back(plate);

        // Image file names are relative to the .xdce file.
        std::string rel_dir = xdce_.parent_path().lexically_relative(source).generic_string();
        if (rel_dir == ".") rel_dir.clear();
        std::set<std::tuple<int, int, int, int, int, int>> seen;
        std::map<std::tuple<int, int, int, int, int>, std::vector<std::pair<int, double>>> zpos;
        set.planes.reserve(images.size());
        for (auto& im : images) {
            PlaneRecord p;
            p.plate = plate.name;
            p.row = im.row;
            p.col = im.col;
            p.site = rank(fields, im.field);
            p.channel = rank(waves, im.wave);
            p.tpoint = rank(times, im.time);
            p.zplane = rank(zs, im.z);
            p.file = rel_dir.empty() ? im.file : rel_dir + "/" + im.file;
            p.stage_x = im.x;
            p.stage_y = im.y;
            p.stage_z = im.zpos;
            if (!seen.insert({p.row, p.col, p.site, p.channel, p.tpoint, p.zplane}).second)
                throw input_error(xdce_.string(), "two images for well " + well_name(p.row, p.col) + " field_index " +
                                                      std::to_string(im.field) + " wave_index " + std::to_string(im.wave) +
                                                      " time_index " + std::to_string(im.time) + " z_index " +
                                                      std::to_string(im.z) + " (second: " + im.file + ")");
            if (im.zpos) zpos[{p.row, p.col, p.site, p.channel, p.tpoint}].push_back({p.zplane, *im.zpos});
            set.planes.push_back(std::move(p));
        }
        if (auto step = z_step_um(zpos)) set.pixel_size_z = *step;
        return set;
    }

private:
    long index_attr(const pugi::xml_node& id, const char* key, const std::string& where,
                    std::optional<long> fallback = std::nullopt) const {
        std::string v = xml::attr_str(id, key);
        if (v.empty()) {
            if (fallback) return *fallback;
            throw input_error(xdce_.string(), where + " Identifier has no " + key);
        }
        return num_.integer(v, where + " Identifier " + key, 0, kMaxIndex);
    }
    std::optional<double> positive(const std::string& v, const std::string& what) const {
        auto d = num_.real(v, what);
        if (d && !(*d > 0)) throw input_error(xdce_.string(), what + " must be positive ('" + v + "')");
        return d;
    }
    Filters filters(const pugi::xml_node& n, const std::string& where) const {
        Filters f;
        if (auto ex = xml::descendant(n, "ExcitationFilter")) {
            f.ex = xml::attr_str(ex, "name");
            f.ex_nm = num_.real(xml::attr_str(ex, "wavelength"), where + " ExcitationFilter wavelength");
        }
        if (auto em = xml::descendant(n, "EmissionFilter")) {
            f.em = xml::attr_str(em, "name");
            f.em_nm = num_.real(xml::attr_str(em, "wavelength"), where + " EmissionFilter wavelength");
        }
        return f;
    }

    fs::path xdce_;
    xml::Numbers num_;
};

class InCellLayout final : public LayoutReader {
public:
    std::string name() const override { return "incell"; }
    std::string description() const override {
        return "GE/Cytiva IN Cell Analyzer: one .xdce file + one TIFF per plane ('A - 1(fld 1 wv DAPI - DAPI).tif'); "
               "not yet: .xdce files without an Images list, IN Cell 1000 .im / .frm pixel files, fused waves";
    }

    int detect(const source::Folder& source) const override {
        auto files = xdce_files(source);
        return files.empty() ? 0 : files.size() == 1 ? 90 : 50;
    }

    ImageSet configure(const source::Folder& source, const LayoutOptions&) const override {
        auto files = xdce_files(source);
        if (files.empty()) throw input_error(source.path().string(), "no .xdce file in the folder");
        if (files.size() > 1) {
            std::string names;
            for (auto& f : files) names += (names.empty() ? "" : ", ") + f.filename().string();
            throw input_error(source.path().string(), "several .xdce files (" + names +
                                                   "); the IN Cell Analyzer writes one per plate: give each plate its own folder");
        }
        return XdceReader(files.front()).run(source);
    }
};

}  // namespace

std::unique_ptr<LayoutReader> make_incell_layout() { return std::make_unique<InCellLayout>(); }

}  // namespace imx
