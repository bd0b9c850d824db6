// MetaMorph / VisiView multi-dimensional acquisitions: a BASE.nd text file (`"Key", value` lines:
// DoStage/NStagePositions/StageN, DoWave/NWavelengths/WaveNameN/WaveDoZN, DoTimelapse/NTimePoints,
// DoZSeries/NZSteps/ZStepSize, WaveInFileName) next to one file per stage position, wave and
// time-point: BASE[_wN[WaveName]][_sS][_tT].TIF, or .STK when that wave has a z-series (the STK
// holds the z-planes).
// Each .nd file is one plate. Stage names that are well names ("A01", "A01 site 2", "A1_s2",
// "Row A, Column 1") map to those wells; when any stage name is not a well, all stage positions
// are sites of well A01, in stage order.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>

#include "core/fileutil.h"
#include "formats/builtin.h"
#include "formats/metamorph.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

// A .nd file gives counts, not planes, and names image files that may be absent: no file's size
// bounds what it describes, so the counts and their product are capped where the plane records
// would take gigabytes (50 million records of about 150 bytes).
constexpr long kMaxCount = 100000;          // stages, waves, time-points or z-steps
constexpr uint64_t kMaxPlanes = 50000000;


struct NdFile {
    bool do_stage = false, do_wave = false, do_time = false, do_z = false, wave_in_name = true;
    long stages = 1, waves = 1, timepoints = 1, zsteps = 1;
    double z_step = 0;
    std::map<long, std::string> stage_names, wave_names;
    std::map<long, bool> wave_do_z;
};

std::string unquote(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    s.erase(0, i);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    return s;
}

NdFile parse_nd(const source::Folder& folder, const std::string& name) {
    const fs::path file = folder.path_of(name);
    std::string text = folder.read_all(name);
    if (text.rfind("\"NDInfoFile\"", 0) != 0)
        throw input_error(file.string(), "not a MetaMorph .nd file (does not start with \"NDInfoFile\")");
    NdFile nd;
    auto count = [&](const std::string& key, const std::string& v) {
        long out = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
        if (ec != std::errc() || p != v.data() + v.size() || out < 1 || out > kMaxCount)
            throw input_error(file.string(), "\"" + key + "\": '" + v + "' is not a count in 1.." +
                                                 std::to_string(kMaxCount));
        return out;
    };
    auto flag = [](const std::string& v) { return v == "TRUE" || v == "True" || v == "true"; };
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        size_t comma = line.find(',');
        if (comma == std::string::npos) continue;
        std::string key = unquote(line.substr(0, comma)), v = unquote(line.substr(comma + 1));
        if (key == "DoStage") nd.do_stage = flag(v);
        else if (key == "DoWave") nd.do_wave = flag(v);
        else if (key == "DoTimelapse") nd.do_time = flag(v);
        else if (key == "DoZSeries") nd.do_z = flag(v);
        else if (key == "WaveInFileName") nd.wave_in_name = flag(v);
        else if (key == "NStagePositions") nd.stages = count(key, v);
        else if (key == "NWavelengths") nd.waves = count(key, v);
        else if (key == "NTimePoints") nd.timepoints = count(key, v);
        else if (key == "NZSteps") nd.zsteps = count(key, v);
        else if (key == "ZStepSize") nd.z_step = std::strtod(v.c_str(), nullptr);
        else if (key.rfind("Stage", 0) == 0 && key.size() > 5 && std::isdigit(static_cast<unsigned char>(key[5])))
            nd.stage_names[count(key, key.substr(5))] = v;
        else if (key.rfind("WaveName", 0) == 0 && key.size() > 8) nd.wave_names[count(key, key.substr(8))] = v;
        else if (key.rfind("WaveDoZ", 0) == 0 && key.size() > 7) nd.wave_do_z[count(key, key.substr(7))] = flag(v);
    }
    if (!nd.do_stage) nd.stages = 1;
    if (!nd.do_wave) nd.waves = 1;
    if (!nd.do_time) nd.timepoints = 1;
    if (!nd.do_z) nd.zsteps = 1;
    return nd;
}

// "A01", "A1", "A01 site 2", "A1_s2", "Row A, Column 1" (site optional). Returns false otherwise.
bool stage_to_well(const std::string& name, int& row, int& col, int& site) {
    static const std::regex plain(R"(^\s*([A-Za-z]{1,2}\d{1,3})(?:(?:\s*[,:]?\s*site\s*|_s)(\d{1,4}))?\s*$)",
                                  std::regex::icase);
    static const std::regex spelled(R"(^\s*row\s+([A-Za-z]{1,2})\s*,\s*col(?:umn)?\s+(\d{1,3})(?:\s*,?\s*site\s*(\d{1,4}))?\s*$)",
                                    std::regex::icase);
    std::smatch m;
    site = -1;
    if (std::regex_match(name, m, plain)) {
        if (!parse_well_name(m[1].str(), row, col)) return false;
        if (m[2].matched) site = std::stoi(m[2].str()) - 1;
        return true;
    }
    if (std::regex_match(name, m, spelled)) {
        std::string r = m[1].str();
        for (auto& ch : r) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        row = row_index(r);
        col = std::stoi(m[2].str()) - 1;
        if (m[3].matched) site = std::stoi(m[3].str()) - 1;
        return row >= 0 && col >= 0;
    }
    return false;
}

// The file actually present among the case variants of the extension, or the default name.
std::string existing_variant(const std::set<std::string>& present, const std::string& stem, bool stack) {
    for (const char* e : {".STK", ".stk", ".TIF", ".tif", ".TIFF", ".tiff"})
        if (present.count(stem + e)) return stem + e;
    return stem + (stack ? ".STK" : ".TIF");
}

class MetaMorphNdLayout final : public LayoutReader {
public:
    std::string name() const override { return "metamorph-nd"; }
    std::string description() const override {
        return "MetaMorph/VisiView multi-dimensional acquisitions: .nd + BASE_wN<Wave>_sS_tT.TIF/.STK (one plate per "
               ".nd; stage names that are wells map to wells, else sites of A01); STK z-planes read after the first IFD. "
               "Not yet: UIC1/UIC3/UIC4 metadata (z positions, wavelengths come from the .nd only), compressed STK, "
               "per-plane _zN TIFFs, stage positions";
    }

    int detect(const source::Folder& source) const override { return nd_files(source).empty() ? 0 : 85; }

    ImageSet configure(const source::Folder& source, const LayoutOptions&) const override {
        ImageSet set;
        set.format = name();
        auto files = nd_files(source);
        if (files.empty()) throw input_error(source.path().string(), "no .nd file in the folder");
        for (auto& nd_name : files) add_acquisition(source, nd_name, set);
        return set;
    }

private:
    // .nd files in the folder (acquisitions further down are found by find_acquisition).
    static std::vector<std::string> nd_files(const source::Folder& source) {
        std::vector<std::string> out;
        for (auto& e : source.list())
            if (!e.is_dir && lower_extension(e.path) == ".nd") out.push_back(e.name);
        std::sort(out.begin(), out.end());
        return out;
    }

    static void add_acquisition(const source::Folder& source, const std::string& nd_name, ImageSet& set) {
        const fs::path nd_path = source.path_of(nd_name);
        NdFile nd = parse_nd(source, nd_name);
        uint64_t total = uint64_t(nd.stages) * uint64_t(nd.waves) * uint64_t(nd.timepoints) * uint64_t(nd.zsteps);
        if (total > kMaxPlanes)
            throw input_error(nd_path.string(), "describes " + std::to_string(total) + " planes, more than the " +
                                                    std::to_string(kMaxPlanes) + " imextract accepts");
        std::set<std::string> present;  // one listing instead of a stat per expected name
        for (auto& e : source.list()) present.insert(e.name);
        const std::string stem = nd_path.stem().string();
        std::string plate = stem;
        for (int k = 2; std::any_of(set.plates.begin(), set.plates.end(), [&](auto& p) { return p.name == plate; }); ++k)
            plate = stem + "_" + std::to_string(k);

        // Stage positions -> (row, col, site).
        struct Pos {
            int row = 0, col = 0, site = 0;
        };
        std::vector<Pos> pos(size_t(nd.stages));
        bool wells = nd.do_stage;
        for (long s = 1; s <= nd.stages && wells; ++s) {
            auto it = nd.stage_names.find(s);
            int site = -1;
            if (it == nd.stage_names.end() || !stage_to_well(it->second, pos[size_t(s - 1)].row, pos[size_t(s - 1)].col, site))
                wells = false;
            pos[size_t(s - 1)].site = site;
        }
        if (wells) {
            std::map<std::pair<int, int>, int> next_site;
            for (auto& p : pos) {
                int& n = next_site[{p.row, p.col}];
                if (p.site < 0) p.site = n;
                n = std::max(n, p.site + 1);
            }
        } else {
            for (long s = 0; s < nd.stages; ++s) pos[size_t(s)] = {0, 0, int(s)};
            if (nd.do_stage && nd.stages > 1)
                set.warnings.push_back(nd_path.filename().string() +
                                       ": stage names are not well names; stage positions stored as sites of well A01");
        }
        int max_row = 0, max_col = 0;
        for (auto& p : pos) {
            max_row = std::max(max_row, p.row);
            max_col = std::max(max_col, p.col);
        }

        // Channels: one per wave, named by WaveNameN (unique across the plates of this set).
        std::vector<int> channel_of(size_t(nd.waves));
        for (long w = 1; w <= nd.waves; ++w) {
            auto it = nd.wave_names.find(w);
            std::string cname = it != nd.wave_names.end() && !it->second.empty() ? it->second : "w" + std::to_string(w);
            auto found = std::find_if(set.channels.begin(), set.channels.end(), [&](auto& c) { return c.name == cname; });
            if (found == set.channels.end()) {
                set.channels.push_back({cname, std::nullopt, std::nullopt});
                found = set.channels.end() - 1;
            }
            channel_of[size_t(w - 1)] = int(found - set.channels.begin());
        }
        if (nd.do_z && nd.z_step > 0 && !set.pixel_size_z) set.pixel_size_z = nd.z_step;

        const size_t first_plane = set.planes.size();
        set.planes.reserve(set.planes.size() + size_t(total));
        for (long s = 1; s <= nd.stages; ++s)
            for (long t = 1; t <= nd.timepoints; ++t)
                for (long w = 1; w <= nd.waves; ++w) {
                    auto dz = nd.wave_do_z.find(w);
                    const bool wave_z = nd.do_z && nd.zsteps > 1 && (dz == nd.wave_do_z.end() || dz->second);
                    std::string fstem = stem;
                    if (nd.do_wave) {
                        fstem += "_w" + std::to_string(w);
                        if (nd.wave_in_name) {
                            auto it = nd.wave_names.find(w);
                            if (it != nd.wave_names.end()) fstem += it->second;
                        }
                    }
                    if (nd.do_stage) fstem += "_s" + std::to_string(s);
                    if (nd.do_time) fstem += "_t" + std::to_string(t);
                    std::string file = existing_variant(present, fstem, wave_z);
                    check_relative_name(file);
                    const long nz = wave_z ? nd.zsteps : 1;
                    for (long z = 0; z < nz; ++z) {
                        PlaneRecord p;
                        p.plate = plate;
                        p.row = pos[size_t(s - 1)].row;
                        p.col = pos[size_t(s - 1)].col;
                        p.site = pos[size_t(s - 1)].site;
                        p.channel = channel_of[size_t(w - 1)];
                        p.tpoint = int(t - 1);
                        p.zplane = int(z);
                        p.file = file;
                        p.page = uint32_t(z);
                        set.planes.push_back(std::move(p));
                    }
                }
        stage_positions_from_descriptions(source, set.planes.begin() + ptrdiff_t(first_plane), set.planes.end());
        const PlateFormat format = smallest_plate(max_row + 1, max_col + 1);
        PlateInfo info{plate, format.rows, format.cols};
        set.plates.push_back(info);
    }
};

}  // namespace

std::unique_ptr<LayoutReader> make_metamorph_nd_layout() { return std::make_unique<MetaMorphNdLayout>(); }

}  // namespace imx
