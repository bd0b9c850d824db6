// Molecular Devices ImageXpress / MetaXpress, two layouts:
//  * "exported plate": PLATE.HTD (text: plate format, selected wells and sites, wave names) next to
//    PLATE_WELL_sSITE_wWAVE[GUID].tif, optionally under TimePoint_N/ and ZStep_N/ folders (the
//    HTD is often copied into those folders too: only the top-most copy counts);
//  * the database layout: DATE/PLATE_ID/[TimePoint_N/][ZStep_N/]NAME_WELL_sS_wC<GUID>.tif with no
//    HTD; channel names then come from the MetaMorph XML in the TIFF description.
// Both: single-site / single-wave acquisitions omit _s / _w; *_thumb* files are thumbnails and are
// ignored; projections are the files beside ZStep_N folders and files whose description names a
// "Z Projection Method" (PlaneRecord::projection: create keeps them as channels of their own or
// leaves them out).
// The plane list comes from the files present: HTDs often promise waves or time-points that were
// never exported.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "core/fileutil.h"
#include "formats/builtin.h"
#include "formats/metamorph.h"
#include "formats/tiff/tiff_decoder.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

constexpr int kMaxDepth = 6;            // DATE/PLATE/TimePoint_N/ZStep_N/file below the source
constexpr size_t kMaxDetectEntries = 4000;

bool is_tiff(const fs::path& p) {
    std::string ext = lower_extension(p);
    return ext == ".tif" || ext == ".tiff";
}

// ---- HTD -------------------------------------------------------------------------------------

struct Htd {
    int xwells = 0, ywells = 0;
    std::map<int, std::string> wave_names;  // 1-based wave number -> name
    std::string plate_id;
};

std::string unquote(std::string s) {
    s = trim(s);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
}

int htd_int(const fs::path& file, const std::string& key, const std::string& value, int lo, int hi) {
    std::string v = unquote(value);
    int out = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || p != v.data() + v.size() || out < lo || out > hi)
        throw input_error(file.string(), "\"" + key + "\": '" + v + "' is not a whole number in " + std::to_string(lo) +
                                             ".." + std::to_string(hi));
    return out;
}

// Lines are `"Key", value[, value...]`. Unknown keys are ignored.
Htd parse_htd(const source::Folder& folder, const std::string& name) {
    const fs::path file = folder.path_of(name);
    std::string text = folder.read_all(name);
    if (text.rfind("\"HTSInfoFile\"", 0) != 0)
        throw input_error(file.string(), "not a MetaXpress HTD file (does not start with \"HTSInfoFile\")");
    Htd h;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        size_t comma = line.find(',');
        if (comma == std::string::npos) continue;
        std::string key = unquote(line.substr(0, comma)), value = line.substr(comma + 1);
        // Plate sizes as far as well names go (types.h); wave numbers are the two digits of _wN.
        if (key == "XWells") h.xwells = htd_int(file, key, value, 1, kMaxWellColumns);
        else if (key == "YWells") h.ywells = htd_int(file, key, value, 1, kMaxWellRows);
        else if (key == "UniquePlateIdentifier") h.plate_id = unquote(value);
        else if (key.rfind("WaveName", 0) == 0 && key.size() > 8) {
            int n = htd_int(file, key, key.substr(8), 1, 99);
            h.wave_names[n] = unquote(value);
        }
    }
    return h;
}

// ---- file names ------------------------------------------------------------------------------

// NAME_WELL[_sSITE][_wWAVE][_thumb][_][GUID or [GUID]].tif. The GUID has a fixed shape, which is
// what separates "_s1" + "17654C10-..." in "_s117654C10-...".
const std::regex& name_regex() {
    static const std::regex re(
        R"(^(.*?)_([A-Za-z]{1,2}\d{1,3})(?:_s(\d{1,4}))?(?:_w(\d{1,2}))?(_thumb)?)"
        R"((?:_?(\[?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\]?))?\.tiff?$)",
        std::regex::ECMAScript | std::regex::icase);
    return re;
}

struct ParsedName {
    std::string plate_name;
    int row = 0, col = 0, site = 1, wave = 0;  // wave 0: no _w in the name
    bool thumb = false, guid = false;
};

bool parse_name(const std::string& fname, ParsedName& out) {
    std::smatch m;
    if (!std::regex_match(fname, m, name_regex())) return false;
    if (!parse_well_name(m[2].str(), out.row, out.col)) return false;
    out.plate_name = m[1].str();
    out.site = m[3].matched ? std::stoi(m[3].str()) : 1;
    out.wave = m[4].matched ? std::stoi(m[4].str()) : 0;
    out.thumb = m[5].matched;
    out.guid = m[6].matched;
    return out.site >= 1;
}

// "TimePoint_3" -> 3, "ZStep_0" -> 0; -1 when `dir` is not such a folder.
int numbered_folder(const std::string& dir, const char* prefix) {
    size_t n = std::strlen(prefix);
    if (dir.size() <= n || dir.size() > n + 6 || dir.compare(0, n, prefix) != 0) return -1;
    int v = 0;
    auto [p, ec] = std::from_chars(dir.data() + n, dir.data() + dir.size(), v);
    return ec == std::errc() && p == dir.data() + dir.size() ? v : -1;
}
bool is_tz_folder(const std::string& d) {
    return numbered_folder(d, "TimePoint_") >= 0 || numbered_folder(d, "ZStep_") >= 0;
}

struct FoundFile {
    std::string rel;  // relative to the source
    ParsedName name;
    int timepoint = 1;
    int zstep = -1;   // -1: not in a ZStep folder
};

// Image files of one plate: in `root` and in its TimePoint_N / ZStep_N sub-folders.
void list_plate_files(const source::Folder& folder, const fs::path& root, std::vector<FoundFile>& out, int& thumbs) {
    const fs::path& source = folder.path();
    for (auto& e : folder.list_tree(folder.name_of(root), 2)) {
        if (e.is_dir || !is_tiff(e.path)) continue;
        // Only files in the plate folder and in its TimePoint_N / ZStep_N sub-folders.
        bool in_tz = true;
        for (auto p = e.path.parent_path(); p != root && p.has_relative_path(); p = p.parent_path())
            if (!is_tz_folder(p.filename().string())) in_tz = false;
        if (!in_tz) continue;
        FoundFile f;
        if (!parse_name(e.name, f.name)) continue;
        if (f.name.thumb) {
            ++thumbs;
            continue;
        }
        for (auto p = e.path.parent_path(); p != root && p.has_relative_path(); p = p.parent_path()) {
            std::string d = p.filename().string();
            if (int t = numbered_folder(d, "TimePoint_"); t >= 0) f.timepoint = t;
            if (int z = numbered_folder(d, "ZStep_"); z >= 0) f.zstep = z;
        }
        f.rel = e.path.lexically_relative(source).generic_string();
        check_relative_name(f.rel);
        out.push_back(std::move(f));
    }
}

// Files of the folder and of its TimePoint_N / ZStep_N sub-folders (two levels), at most
// kMaxDetectEntries: what detect() looks at.
std::vector<source::Entry> plate_folder_entries(const source::Folder& root) {
    std::vector<source::Entry> out;
    std::vector<std::string> dirs{""};
    for (int depth = 0; depth < 3 && !dirs.empty(); ++depth) {
        std::vector<std::string> next;
        for (auto& d : dirs)
            for (auto& e : root.list(d)) {
                if (out.size() >= kMaxDetectEntries) return out;
                if (e.is_dir) {
                    if (is_tz_folder(e.name)) next.push_back(d.empty() ? e.name : d + "/" + e.name);
                } else {
                    out.push_back(e);
                }
            }
        dirs = std::move(next);
    }
    return out;
}

// Dense rank of a value in a set.
int rank(const std::set<int>& s, int v) { return int(std::distance(s.begin(), s.find(v))); }

class MetaXpressLayout final : public LayoutReader {
public:
    std::string name() const override { return "metaxpress"; }
    std::string description() const override {
        return "Molecular Devices ImageXpress/MetaXpress: exported plates (.HTD + PLATE_WELL_sS_wC.tif, TimePoint_N/"
               "ZStep_N) and the database layout (DATE/PLATE_ID/... GUID names); thumbnails ignored, projections kept "
               "as channels of their own or skipped (--skip-projections); stage positions per site from the first file's "
               "MetaMorph description. Not yet: time interval, "
               "HTD SiteSelection gaps (sites are numbered as in the file names)";
    }

    // Plate folders only: the files in the folder and its TimePoint_N / ZStep_N sub-folders.
    int detect(const source::Folder& source) const override {
        bool metamorph_name = false;
        fs::path plain_candidate;
        for (auto& e : plate_folder_entries(source)) {
            std::string ext = lower_extension(e.path);
            if (ext == ".htd") return 90;
            if (ext != ".tif" && ext != ".tiff") continue;
            ParsedName n;
            if (!parse_name(e.name, n)) continue;
            if (n.guid) metamorph_name = true;
            else if (plain_candidate.empty()) plain_candidate = e.path;
        }
        if (metamorph_name) return 70;
        // WELL_sS_wC names without GUID: ours only when the TIFF carries MetaMorph metadata.
        if (!plain_candidate.empty()) {
            try {
                if (is_metamorph_description(tiff_image_description(*source.open(source.name_of(plain_candidate)), 0)))
                    return 60;
            } catch (const Error&) {
            }
        }
        return 0;
    }
    bool owns_subfolder(const std::string& name) const override { return is_tz_folder(name); }
    bool reads_several() const override { return true; }

    ImageSet configure(const source::Folder& folder, const LayoutOptions&) const override {
        const fs::path& source = folder.path();
        ImageSet set;
        set.format = name();
        // Plate roots: folders with an HTD whose ancestors (below the source) have none.
        std::vector<fs::path> htd_roots;
        std::map<fs::path, fs::path> htd_of;
        const std::vector<source::Entry> tree = folder.list_tree("", kMaxDepth);
        for (auto& e : tree) {
            if (e.is_dir || lower_extension(e.path) != ".htd") continue;
            fs::path dir = e.path.parent_path();
            if (!htd_of.count(dir)) htd_of[dir] = e.path;
        }
        for (auto& [dir, file] : htd_of) {
            bool nested = false;
            for (auto p = dir.parent_path(); p.native().size() >= source.native().size() && p != p.parent_path();
                 p = p.parent_path())
                if (htd_of.count(p) && p != dir) nested = true;
            if (!nested) htd_roots.push_back(dir);
        }

        struct Plate {
            fs::path root;
            std::optional<Htd> htd;
            std::vector<FoundFile> files;
        };
        std::vector<Plate> plates;
        int thumbs = 0;
        for (auto& r : htd_roots) {
            Plate p{r, parse_htd(folder, folder.name_of(htd_of[r])), {}};
            list_plate_files(folder, r, p.files, thumbs);
            plates.push_back(std::move(p));
        }
        // Database layout (no HTD; also beside exported plates when a folder holds both): the plate
        // folder is what is left of a file's folder once the TimePoint_N / ZStep_N components are
        // removed. Folders inside an exported plate are that plate's.
        std::map<fs::path, Plate> by_root;
        for (auto& e : tree) {
            if (e.is_dir || !is_tiff(e.path)) continue;
            fs::path root = e.path.parent_path();
            while (root != source && is_tz_folder(root.filename().string())) root = root.parent_path();
            const bool exported = std::any_of(htd_roots.begin(), htd_roots.end(), [&](const fs::path& r) {
                return root == r || root.native().rfind(r.native() + "/", 0) == 0;
            });
            if (!exported) by_root.emplace(root, Plate{root, std::nullopt, {}});
        }
        for (auto& [root, p] : by_root) {
            list_plate_files(folder, root, p.files, thumbs);
            if (!p.files.empty()) plates.push_back(std::move(p));
        }
        if (thumbs) set.warnings.push_back(std::to_string(thumbs) + " thumbnail file(s) (_thumb) ignored");

        std::vector<std::string> channel_names;
        auto channel_index = [&](const std::string& n) {
            auto it = std::find(channel_names.begin(), channel_names.end(), n);
            if (it != channel_names.end()) return int(it - channel_names.begin());
            channel_names.push_back(n);
            return int(channel_names.size() - 1);
        };
        std::set<std::string> plate_names;
        std::optional<MetaMorphPlane> first_meta;
        ObjectiveInfo first_objective;  // of the first wave's first file, over every plate
        size_t objectives_seen = 0;
        bool objectives_differ = false;
        std::map<std::string, double> wavelengths;  // channel name -> MetaMorph "wavelength" (nm)
        for (auto& pl : plates) {
            if (pl.files.empty()) {
                set.warnings.push_back(pl.root.string() + ": plate without image files; skipped");
                continue;
            }
            std::sort(pl.files.begin(), pl.files.end(), [](auto& a, auto& b) { return a.rel < b.rel; });
            // Plate name: the folder of an exported plate; the name in the files for the database
            // layout (its folder is a bare database id).
            // A TimePoint_N / ZStep_N folder is not the plate: an export opened one level down (the
            // source is PLATE/TimePoint_1, which holds a copy of the HTD) is named by PLATE.
            fs::path named = pl.root;
            while (is_tz_folder(named.filename().string()) && !named.parent_path().filename().empty())
                named = named.parent_path();
            std::string pname = pl.htd ? named.filename().string() : pl.files.front().name.plate_name;
            if (pname.empty() || pl.root == source) pname = pl.htd ? named.filename().string() : pname;
            if (pname.empty()) pname = "plate";
            if (plate_names.count(pname)) pname += "_" + pl.root.filename().string();
            for (int k = 2; plate_names.count(pname); ++k) pname += "_" + std::to_string(k);
            plate_names.insert(pname);

            std::set<int> tps, zsteps;
            std::map<int, const FoundFile*> first_of_wave;
            for (auto& f : pl.files) {
                tps.insert(f.timepoint);
                if (f.zstep >= 0) zsteps.insert(f.zstep);
                first_of_wave.emplace(f.name.wave, &f);
            }
            // Channel names: HTD WaveNameN, else the MetaMorph metadata of the wave's first file.
            std::map<int, std::string> wave_name;
            // The exposure of each wave, from its first file: MetaXpress sets it per wavelength in
            // the plate's acquisition settings, so one header per wave serves every plane of it
            // (reading every TIFF's header would cost a read per plane, a GET per plane from S3).
            std::map<int, std::optional<double>> wave_exposure;
            std::optional<MetaMorphPlane> plate_meta;  // this plate's pixel size (plates may differ)
            for (auto& [wave, f] : first_of_wave) {
                std::string cname;
                if (pl.htd) {
                    auto it = pl.htd->wave_names.find(wave == 0 ? 1 : wave);
                    if (it != pl.htd->wave_names.end()) cname = it->second;
                }
                std::optional<MetaMorphPlane> meta;
                try {
                    meta = parse_metamorph_description(tiff_image_description(*folder.open(f->rel), 0));
                } catch (const Error&) {
                    // unreadable files are reported by configure's file checks and by the jobs
                }
                if (meta) wave_exposure[wave] = meta->exposure_s;
                // The objective (_MagSetting_, _MagNA_) when every wave's first file names the same.
                const ObjectiveInfo objective{meta ? meta->objective : "", std::nullopt,
                                              meta ? meta->objective_na : std::nullopt, ""};
                if (!objectives_seen++) first_objective = objective;
                else if (!(first_objective == objective)) objectives_differ = true;
                if (meta && !first_meta) first_meta = meta;
                if (meta && !plate_meta) plate_meta = meta;
                if (cname.empty() && meta) cname = meta->illumination;
                if (cname.empty()) cname = wave == 0 ? "C0" : "w" + std::to_string(wave);
                wave_name[wave] = cname;
                if (meta && meta->wavelength_nm) wavelengths.emplace(cname, *meta->wavelength_nm);
            }
            // Two waves with one name (copied settings): name them by wave number instead.
            std::set<std::string> distinct;
            for (auto& [wave, n] : wave_name) distinct.insert(n);
            if (distinct.size() < wave_name.size()) {
                set.warnings.push_back(pname + ": several waves share the name '" + *distinct.begin() +
                                       "'; channels named by wave number (w1, w2, ...)");
                for (auto& [wave, n] : wave_name) {
                    wavelengths.erase(n);
                    n = wave == 0 ? "C0" : "w" + std::to_string(wave);
                }
            }
            std::map<int, int> wave_channel;
            for (auto& [wave, n] : wave_name) wave_channel[wave] = channel_index(n);
            // z spacing from two neighbouring ZStep folders of the first site and wave.
            if (!set.pixel_size_z && zsteps.size() >= 2) {
                const FoundFile* a = nullptr;
                const FoundFile* b = nullptr;
                int z0 = *zsteps.begin(), z1 = *std::next(zsteps.begin());
                for (auto& f : pl.files) {
                    auto& ref = pl.files.front().name;
                    if (f.name.row != ref.row || f.name.col != ref.col || f.name.site != ref.site ||
                        f.name.wave != ref.wave || f.timepoint != pl.files.front().timepoint)
                        continue;
                    if (f.zstep == z0) a = &f;
                    if (f.zstep == z1) b = &f;
                }
                if (a && b) {
                    try {
                        auto ma = parse_metamorph_description(tiff_image_description(*folder.open(a->rel), 0));
                        auto mb = parse_metamorph_description(tiff_image_description(*folder.open(b->rel), 0));
                        if (ma && mb && ma->z_position && mb->z_position && *ma->z_position != *mb->z_position)
                            set.pixel_size_z = std::fabs(*mb->z_position - *ma->z_position);
                    } catch (const Error&) {
                    }
                }
            }
            // Projections: the files beside ZStep_N folders, and any whose wave's description names a
            // projection method (a plate of projections only has no ZStep folders). One description
            // per wave: the wave's first file outside the ZStep folders.
            std::map<int, std::string> projection_of_wave;
            for (auto& f : pl.files) {
                if (f.zstep >= 0 || projection_of_wave.count(f.name.wave)) continue;
                std::string method;
                try {
                    if (auto m = parse_metamorph_description(tiff_image_description(*folder.open(f.rel), 0)))
                        method = m->projection_method;
                } catch (const Error&) {
                }
                if (method.empty() && !zsteps.empty()) method = "Z";  // beside a z-stack: a projection of it
                projection_of_wave[f.name.wave] = method;
            }
            int max_row = 0, max_col = 0;
            for (auto& f : pl.files) {
                PlaneRecord p;
                p.plate = pname;
                p.row = f.name.row;
                p.col = f.name.col;
                p.site = f.name.site - 1;
                p.channel = wave_channel[f.name.wave];
                p.tpoint = rank(tps, f.timepoint);
                if (f.zstep >= 0) p.zplane = rank(zsteps, f.zstep);
                else p.projection = projection_of_wave[f.name.wave];
                p.file = f.rel;
                p.exposure_s = wave_exposure[f.name.wave];
                max_row = std::max(max_row, p.row);
                max_col = std::max(max_col, p.col);
                set.planes.push_back(std::move(p));
            }
            stage_positions_from_descriptions(folder, set.planes.end() - ptrdiff_t(pl.files.size()), set.planes.end());
            PlateInfo info{pname, 0, 0};
            if (plate_meta) {  // used when the plate keeps a plane size of its own (configure.cpp)
                info.pixel_size_x = plate_meta->pixel_size_x;
                info.pixel_size_y = plate_meta->pixel_size_y;
            }
            if (pl.htd && pl.htd->ywells > 0 && pl.htd->xwells > 0) {
                info.rows = pl.htd->ywells;
                info.cols = pl.htd->xwells;
                if (max_row >= info.rows || max_col >= info.cols)
                    throw input_error(htd_of[pl.root].string(),
                                      "a file names well " + well_name(max_row, max_col) + ", outside the " +
                                          std::to_string(info.rows) + "x" + std::to_string(info.cols) +
                                          " plate the HTD declares (YWells x XWells)");
            } else {
                const PlateFormat format = smallest_plate(max_row + 1, max_col + 1);
                info.rows = format.rows;
                info.cols = format.cols;
            }
            set.plates.push_back(info);
        }
        if (set.planes.empty())
            throw input_error(source.string(), thumbs ? "only thumbnails (_thumb files), no MetaXpress images to convert"
                                                      : "no MetaXpress image files (NAME_WELL[_sS][_wC][GUID].tif) found");
        for (auto& n : channel_names) {
            ChannelInfo c{n, std::nullopt, std::nullopt};
            if (auto it = wavelengths.find(n); it != wavelengths.end()) c.emission_nm = it->second;
            set.channels.push_back(c);
        }
        if (objectives_differ)
            set.warnings.push_back("the waves' files name different objectives (_MagSetting_, _MagNA_); the plate's "
                                   "OME-XML names none");
        else if (!first_objective.empty())
            set.objective = first_objective;
        if (first_meta) {
            set.pixel_size_x = first_meta->pixel_size_x;
            set.pixel_size_y = first_meta->pixel_size_y;
        }
        return set;
    }
};

}  // namespace

PlateFormat htd_plate_format(const source::Folder& folder, const std::string& name) {
    const Htd h = parse_htd(folder, name);
    return h.xwells && h.ywells ? PlateFormat{h.ywells, h.xwells} : PlateFormat{};
}

std::unique_ptr<LayoutReader> make_metaxpress_layout() { return std::make_unique<MetaXpressLayout>(); }

}  // namespace imx
