#include "workflow/merge.h"

#include "storage/scheme.h"

#include <algorithm>
#include <map>
#include <set>

namespace imx {

MergeMode parse_merge_mode(const std::string& text) {
    if (text.empty() || text == "plates") return MergeMode::plates;
    if (text == "time") return MergeMode::time;
    if (text == "multiplexing") return MergeMode::multiplexing;
    throw Error("--mode must be plates, time or multiplexing (got '" + text + "')", Error::Kind::usage);
}

std::string merge_mode_name(MergeMode m) {
    switch (m) {
        case MergeMode::plates: return "plates";
        case MergeMode::time: return "time";
        case MergeMode::multiplexing: return "multiplexing";
    }
    return "plates";
}

std::filesystem::path common_root(const std::vector<std::filesystem::path>& folders) {
    if (folders.empty()) return {};
    if (const Scheme* scheme = scheme_of(folders[0].native())) {
        // "s3://bucket/a/b": compare the parts after the scheme (path iteration would fold "//").
        const std::string prefix = std::string(scheme->name) + "://";
        auto parts_of = [&prefix](const std::filesystem::path& p) {
            std::vector<std::string> parts;
            std::string s = p.native().substr(prefix.size());
            size_t start = 0;
            while (start <= s.size()) {
                size_t end = s.find('/', start);
                if (end == std::string::npos) end = s.size();
                if (end > start) parts.push_back(s.substr(start, end - start));
                start = end + 1;
            }
            return parts;
        };
        std::vector<std::string> common = parts_of(folders[0]);
        for (size_t i = 1; i < folders.size(); ++i) {
            std::vector<std::string> parts = parts_of(folders[i]);
            size_t n = 0;
            while (n < common.size() && n < parts.size() && common[n] == parts[n]) ++n;
            common.resize(n);
        }
        if (common.empty()) throw Error(prefix + " sources in different buckets cannot be combined", Error::Kind::usage);
        std::string root = prefix.substr(0, prefix.size() - 1);
        for (auto& c : common) root += "/" + c;
        return root;
    }
    std::vector<std::filesystem::path> common(folders[0].begin(), folders[0].end());
    for (size_t i = 1; i < folders.size(); ++i) {
        std::vector<std::filesystem::path> parts(folders[i].begin(), folders[i].end());
        size_t n = 0;
        while (n < common.size() && n < parts.size() && common[n] == parts[n]) ++n;
        common.resize(n);
    }
    std::filesystem::path root;
    for (auto& p : common) root /= p;
    return root;
}

namespace {

std::string channel_list(const ImageSet& s) {
    std::string out;
    for (auto& c : s.channels) out += (out.empty() ? "" : ", ") + c.name;
    return out;
}

std::string join_path(const std::string& prefix, const std::string& file) {
    return prefix.empty() ? file : prefix + "/" + file;
}

}  // namespace

ImageSet merge_image_sets(std::vector<SourceSet> sources, MergeMode mode, CycleLayout* cycles) {
    if (sources.empty()) throw Error("internal: no source to merge");
    if (cycles) *cycles = {};
    if (sources.size() == 1 && sources[0].prefix.empty()) return std::move(sources[0].set);

    const ImageSet& first = sources[0].set;
    const std::string& first_label = sources[0].label;
    ImageSet out;
    out.width = first.width;
    out.height = first.height;
    out.dtype = first.dtype;
    const bool several = sources.size() > 1;

    // One experiment stores one plane size and pixel type (the catalog and every plate share them).
    for (auto& src : sources) {
        const ImageSet& s = src.set;
        if (s.width != first.width || s.height != first.height || s.dtype != first.dtype)
            throw input_error(src.label, "planes are " + std::to_string(s.width) + "x" + std::to_string(s.height) + " " +
                                             dtype_name(s.dtype.value_or(DType::u16)) + " but " + first_label +
                                             " has " + std::to_string(first.width) + "x" +
                                             std::to_string(first.height) + " " +
                                             dtype_name(first.dtype.value_or(DType::u16)) +
                                             "; one experiment stores one plane size and pixel type");
    }

    // Channels.
    size_t per_cycle = first.channels.size();
    if (mode == MergeMode::multiplexing && several) {
        for (size_t k = 0; k < sources.size(); ++k) {
            const ImageSet& s = sources[k].set;
            if (s.channels.size() != per_cycle)
                throw input_error(sources[k].label,
                                  "cycle " + std::to_string(k + 1) + " has " + std::to_string(s.channels.size()) +
                                      " channel(s) (" + channel_list(s) + ") but cycle 1 (" + first_label + ") has " +
                                      std::to_string(per_cycle) + " (" + channel_list(first) +
                                      "); multiplexing needs the same number of channels in every cycle");
            for (auto& c : s.channels) {
                ChannelInfo renamed = c;
                renamed.name = "cycle" + std::to_string(k + 1) + "_" + c.name;
                out.channels.push_back(renamed);
            }
        }
    } else {
        out.channels = first.channels;
        for (auto& src : sources) {
            bool same = src.set.channels.size() == per_cycle;
            for (size_t i = 0; same && i < per_cycle; ++i) same = src.set.channels[i].name == first.channels[i].name;
            if (!same)
                throw input_error(src.label, "channels (" + channel_list(src.set) + ") differ from those of " +
                                                 first_label + " (" + channel_list(first) +
                                                 "); an experiment has one channel list for all its plates" +
                                                 (mode == MergeMode::plates
                                                      ? std::string(" (for re-stained cycles of one plate use --mode "
                                                                    "multiplexing)")
                                                      : std::string()));
        }
    }

    // Plates: which sources hold which plate.
    std::map<std::string, std::vector<size_t>> holders;  // plate name -> source indices
    std::vector<std::string> plate_order;
    for (size_t k = 0; k < sources.size(); ++k)
        for (auto& p : sources[k].set.plates) {
            auto& h = holders[p.name];
            if (h.empty()) {
                plate_order.push_back(p.name);
                out.plates.push_back(p);
            } else {
                for (auto& q : out.plates)
                    if (q.name == p.name) q.rows = std::max(q.rows, p.rows), q.cols = std::max(q.cols, p.cols);
            }
            if (std::find(h.begin(), h.end(), k) == h.end()) h.push_back(k);
        }
    if (mode == MergeMode::plates)
        for (auto& [name, h] : holders)
            if (h.size() > 1)
                throw input_error(sources[h[1]].label,
                                  "holds plate '" + name + "' which " + sources[h[0]].label +
                                      " holds too; to merge acquisitions of one plate choose --mode time "
                                      "(time-points) or --mode multiplexing (staining cycles)");

    // Acquisitions of one plate: warn about wells or whole plates missing in some of them.
    if (mode != MergeMode::plates && several) {
        std::map<std::string, std::vector<std::set<std::pair<int, int>>>> wells;  // plate -> per source
        for (auto& name : plate_order) wells[name].resize(sources.size());
        for (size_t k = 0; k < sources.size(); ++k)
            for (auto& pl : sources[k].set.planes) wells[pl.plate][k].insert({pl.row, pl.col});
        for (auto& name : plate_order) {
            std::set<std::pair<int, int>> all;
            for (auto& w : wells[name]) all.insert(w.begin(), w.end());
            for (size_t k = 0; k < sources.size(); ++k) {
                auto& mine = wells[name][k];
                if (mine.empty()) {
                    out.warnings.push_back(sources[k].label + ": plate '" + name +
                                           "' is missing from this acquisition");
                    continue;
                }
                std::string missing;
                int n = 0;
                for (auto& w : all)
                    if (!mine.count(w) && n++ < 8) missing += (missing.empty() ? "" : ", ") + well_name(w.first, w.second);
                if (n)
                    out.warnings.push_back(sources[k].label + ": plate '" + name + "' lacks " + std::to_string(n) +
                                           " well(s) that other acquisitions have (" + missing + (n > 8 ? ", ..." : "") +
                                           ")");
            }
        }
    }

    int sites_per_cycle = 0;
    if (mode == MergeMode::multiplexing)
        for (auto& src : sources)
            for (auto& pl : src.set.planes) sites_per_cycle = std::max(sites_per_cycle, pl.site + 1);

    std::map<std::string, int> t_offset;  // plate -> time-points of the acquisitions before
    bool objective_differs = false;
    std::set<std::string> formats;
    std::string format;
    for (size_t k = 0; k < sources.size(); ++k) {
        ImageSet& s = sources[k].set;
        if (formats.insert(s.format).second) format += (format.empty() ? "" : "+") + s.format;
        std::map<std::string, int> t_count;
        for (auto& pl : s.planes) {
            PlaneRecord p = std::move(pl);
            p.file = join_path(sources[k].prefix, p.file);
            if (mode == MergeMode::time) {
                t_count[p.plate] = std::max(t_count[p.plate], p.tpoint + 1);
                p.tpoint += t_offset[p.plate];
            } else if (mode == MergeMode::multiplexing) {
                p.channel += int(k * per_cycle);
                p.site += int(k) * sites_per_cycle;
            }
            out.planes.push_back(std::move(p));
        }
        for (auto& [plate, n] : t_count) t_offset[plate] += n;
        for (auto& w : s.warnings) out.warnings.push_back(several ? sources[k].label + ": " + w : w);
        out.bits_per_sample = std::max(out.bits_per_sample, s.bits_per_sample);
        if (!out.pixel_size_x) out.pixel_size_x = s.pixel_size_x, out.pixel_size_y = s.pixel_size_y;
        else if (s.pixel_size_x && std::abs(*s.pixel_size_x - *out.pixel_size_x) > 1e-9 * *out.pixel_size_x)
            out.warnings.push_back(sources[k].label + ": pixel size " + std::to_string(*s.pixel_size_x) +
                                   " um differs from the first source's; the plate uses " +
                                   std::to_string(*out.pixel_size_x) + " um");
        if (!out.pixel_size_z) out.pixel_size_z = s.pixel_size_z;
        if (!out.time_interval_s) out.time_interval_s = s.time_interval_s;
        // One objective for the experiment's OME-XML only when every acquisition names the same.
        if (k == 0) {
            out.objective = s.objective;
        } else if (out.objective != s.objective && !objective_differs) {
            objective_differs = true;
            out.objective.reset();
            out.warnings.push_back(sources[k].label + ": the objective differs from (or is unknown in) the first "
                                   "source's; the plates' OME-XML names none");
        }
    }
    out.format = format;
    if (mode == MergeMode::multiplexing && several && cycles) {
        cycles->channels_per_cycle = int(per_cycle);
        cycles->sites_per_cycle = sites_per_cycle;
        for (auto& src : sources) cycles->names.push_back(src.prefix.empty() ? src.label : src.prefix);
    }
    return out;
}

}  // namespace imx
