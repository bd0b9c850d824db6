#include "workflow/inventory.h"


#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "core/fileutil.h"
#include "storage/source_files.h"
#include "storage/source_folder.h"
#include "core/workspace.h"

namespace imx {

namespace {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

void add_to_ranges(Ranges& r, uint64_t first, uint64_t last) {
    if (!r.empty() && r.back().second + 1 == first) r.back().second = last;
    else r.emplace_back(first, last);
}

// What one file holds, or why it could not be read.
struct Probe {
    std::optional<FileContents> contents;
    std::string content = "complete";  // missing | unreadable when `contents` is empty
    std::string why;
    bool denied = false;  // a local file this user may not read (permissions)
};

// An input error's text names the file (libtiff's messages too); the inventory names it itself.
std::string reason_of(std::string what, const std::string& full) {
    for (size_t at; (at = what.find(full + ": ")) != std::string::npos;) what.erase(at, full.size() + 2);
    return what;
}

// What a file holds, read by the decoder its extension names (TIFF, PNG: contents() checks the
// magic bytes itself), else, or when that fails (a .tif that is really a PNG), by the decoder
// its first bytes pick, as a run job picks it. Saves opening every plane file twice.
FileContents contents_of(const fs::path& full) {
    const auto file = source::open(full);
    for (auto& d : pixel_decoders())
        if (d->accepts(full, nullptr, 0)) {
            try {
                return d->contents(*file);
            } catch (const Error&) {
                break;
            }
        }
    return decoder_for(*file).contents(*file);
}

// Reads every file's contents, on one thread more than the usable CPUs (reads of headers wait for
// the disk or the network as much as they compute).
std::vector<Probe> probe_files(const std::vector<std::string>& names, const fs::path& source) {
    std::vector<Probe> out(names.size());
    const source::Folder folder = source::Folder::at(source);
    const bool remote = source::is_remote(source);
    std::atomic<size_t> next{0};
    auto work = [&] {
        source::HeaderReads headers_only;  // objects in S3: 64 KiB ranges, not whole plane files
        for (size_t i = next++; i < names.size(); i = next++) {
            Probe& p = out[i];
            fs::path full = source / names[i];
            try {
                // The handle refuses names and symlinks that lead out of the source folder.
                if (!folder.is_file(names[i])) {
                    p.content = "missing";
                    p.why = "file not found";
                    continue;
                }
                // Permissions the owner can fix: told apart from a corrupt file (take_inventory refuses).
                if (!remote && ::access(full.c_str(), R_OK) != 0 && errno == EACCES) {
                    p.content = "unreadable";
                    p.why = std::strerror(EACCES);
                    p.denied = true;
                    continue;
                }
                p.contents = contents_of(full);
            } catch (const std::exception& e) {
                p.content = "unreadable";
                p.why = reason_of(e.what(), full.string());
            }
        }
    };
    const size_t threads = std::min<size_t>(names.size(), size_t(usable_cpus()) + 1);
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    return out;
}

// Each sample of a multi-sample page becomes a channel: channel c of S samples turns into S
// channels, named "<name> R", "<name> G", "<name> B" (A) when the file says RGB (R, G, B alone for
// the files layout's placeholder channel), else "<name> S0", "<name> S1", ...
void samples_to_channels(ImageSet& set, std::vector<size_t>& file_of, const std::vector<Probe>& probes,
                         const fs::path& source) {
    const size_t nc = set.channels.size();
    std::vector<uint32_t> samples(nc, 0);
    std::vector<bool> rgb(nc, false);
    std::vector<size_t> example(nc, 0);
    std::vector<bool> mapped(nc, false);  // a channel the layout already points at a sample > 0
    for (auto& pl : set.planes)
        if (pl.sample != 0) mapped[size_t(pl.channel)] = true;
    for (size_t i = 0; i < set.planes.size(); ++i) {
        const PlaneRecord& pl = set.planes[i];
        const Probe& p = probes[file_of[i]];
        const PageRun* run = p.contents ? p.contents->run_of(pl.page) : nullptr;
        if (!run || mapped[size_t(pl.channel)]) continue;
        const size_t c = size_t(pl.channel);
        if (samples[c] == 0) {
            samples[c] = run->samples;
            rgb[c] = run->rgb;
            example[c] = i;
        } else if (samples[c] != run->samples) {
            throw input_error(source.string(), "'" + set.planes[example[c]].file + "' has " + std::to_string(samples[c]) +
                                                   " samples per pixel and '" + pl.file + "' " +
                                                   std::to_string(run->samples) + ", both in channel '" +
                                                   set.channels[c].name + "'; one channel cannot hold both: give them "
                                                   "different channels (--pattern) or convert them separately");
        }
    }
    if (std::none_of(samples.begin(), samples.end(), [](uint32_t n) { return n > 1; })) return;
    // The files layout's made-up name for its only channel says nothing: R, G, B alone then.
    const bool placeholder = nc == 1 && set.format == "files" && set.channels[0].name == "C0";
    std::vector<size_t> first(nc);
    std::vector<ChannelInfo> channels;
    std::set<std::string> names;
    for (size_t c = 0; c < nc; ++c) {
        first[c] = channels.size();
        for (uint32_t s = 0; s < std::max<uint32_t>(samples[c], 1); ++s) {
            ChannelInfo ch = set.channels[c];
            if (samples[c] > 1) {
                const std::string suffix = rgb[c] && samples[c] <= 4 ? std::string(1, "RGBA"[s]) : "S" + std::to_string(s);
                ch.name = placeholder && rgb[c] ? suffix : ch.name + " " + suffix;
                ch.excitation_nm = ch.emission_nm = std::nullopt;  // the filter's, not the sample's
            }
            for (int k = 2; names.count(ch.name); ++k) ch.name = set.channels[c].name + " S" + std::to_string(s) + "_" + std::to_string(k);
            names.insert(ch.name);
            channels.push_back(std::move(ch));
        }
    }
    const size_t planes = set.planes.size();
    for (size_t i = 0; i < planes; ++i) {
        const size_t c = size_t(set.planes[i].channel);
        set.planes[i].channel = int(first[c]);
        if (samples[c] <= 1 || set.planes[i].sample != 0) continue;
        for (uint32_t s = 1; s < samples[c]; ++s) {
            PlaneRecord copy = set.planes[i];
            copy.channel = int(first[c] + s);
            copy.sample = s;
            set.planes.push_back(std::move(copy));
            file_of.push_back(file_of[i]);
        }
    }
    set.channels = std::move(channels);
}

std::string plural(uint64_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

// "12 pages x 3 samples", "2 pages in 2 series".
std::string holds(const FileContents& c) {
    uint64_t pages = 0;
    uint32_t low = UINT32_MAX, high = 0;
    std::set<uint32_t> series;
    for (auto& r : c.runs) {
        pages += r.count;
        low = std::min(low, r.samples);
        high = std::max(high, r.samples);
        series.insert(r.series);
    }
    std::string s = plural(pages, "page", "pages");
    if (high > 1) s += " x " + (low == high ? std::to_string(high) : std::to_string(low) + "-" + std::to_string(high)) + " samples";
    if (series.size() > 1) s += " in " + std::to_string(series.size()) + " series";
    return s;
}

// Pages and samples of `c` that no reference reads; `refs` sorted and unique.
std::vector<std::string> pages_left_out(const FileContents& c, const std::vector<PlaneRef>& refs) {
    std::vector<std::string> parts;
    std::set<uint32_t> series;
    for (auto& r : c.runs) series.insert(r.series);
    size_t i = 0;
    for (const PageRun& run : c.runs) {
        const uint64_t end = uint64_t(run.first) + run.count;
        uint64_t next = run.first;
        Ranges unread;
        std::map<std::string, Ranges> partly;  // samples not read -> pages
        while (i < refs.size() && refs[i].page < run.first) ++i;
        while (i < refs.size() && refs[i].page < end) {
            const uint32_t page = refs[i].page;
            if (page > next) add_to_ranges(unread, next, page - 1);
            Ranges missing_samples;
            uint64_t s = 0;
            for (; i < refs.size() && refs[i].page == page; ++i) {
                if (refs[i].sample >= run.samples) continue;  // not in the file: a missing plane
                if (refs[i].sample > s) add_to_ranges(missing_samples, s, refs[i].sample - 1);
                s = uint64_t(refs[i].sample) + 1;
            }
            if (s < run.samples) add_to_ranges(missing_samples, s, run.samples - 1);
            if (!missing_samples.empty()) add_to_ranges(partly[describe_ranges(missing_samples)], page, page);
            next = uint64_t(page) + 1;
        }
        if (next < end) add_to_ranges(unread, next, end - 1);
        const std::string where = series.size() > 1 ? "series " + std::to_string(run.series) + " " : "";
        if (!unread.empty())
            parts.push_back(where + (unread.size() == 1 && unread[0].first == unread[0].second ? "page " : "pages ") +
                            describe_ranges(unread));
        for (auto& [which, pages] : partly)
            parts.push_back("sample(s) " + which + " of " + where + (pages.size() == 1 && pages[0].first == pages[0].second ? "page " : "pages ") +
                            describe_ranges(pages));
    }
    return parts;
}

// Marks the planes of one file whose page or sample the file does not hold; returns the sorted
// references of the others.
std::vector<PlaneRef> check_planes(const Probe& p, std::vector<PlaneRecord*>& planes) {
    std::vector<PlaneRef> refs;
    refs.reserve(planes.size());
    for (PlaneRecord* pl : planes) {
        if (!p.contents) {
            pl->missing = p.content == "missing" ? "file not found" : "file unreadable: " + p.why;
            continue;
        }
        const PageRun* run = p.contents->run_of(pl->page);
        if (!run) pl->missing = "page " + std::to_string(pl->page) + " does not exist (the file holds " + holds(*p.contents) + ")";
        else if (pl->sample >= run->samples)
            pl->missing = "sample " + std::to_string(pl->sample) + " does not exist (page " + std::to_string(pl->page) +
                          " has " + plural(run->samples, "sample", "samples") + " per pixel)";
        else refs.push_back({pl->page, pl->sample});
    }
    std::sort(refs.begin(), refs.end());
    refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
    return refs;
}

// Files the user running create may not read: refused now, naming them, rather than found by
// the run jobs (whose planes would be missing).
void refuse_denied(const std::vector<std::string>& names, const std::vector<Probe>& probes, const fs::path& source) {
    std::string listed;
    size_t denied = 0;
    for (size_t f = 0; f < names.size(); ++f) {
        if (!probes[f].denied) continue;
        if (denied++ < 3) listed += (listed.empty() ? "" : ", ") + (source / names[f]).string();
    }
    if (denied == 0) return;
    if (denied > 3) listed += " and " + std::to_string(denied - 3) + " more";
    throw input_error(listed, std::string(std::strerror(EACCES)) + ": " + plural(denied, "image file", "image files") +
                                  " of the source cannot be read by this user (uid " + std::to_string(::getuid()) +
                                  "); give read permission (e.g. chmod -R a+rX on the folder) and run create again");
}

bool is_image_name(const fs::path& p) {
    static const std::set<std::string> kinds = {".tif", ".tiff", ".png", ".stk", ".btf", ".tf2", ".tf8",
                                                ".czi", ".nd2",  ".lif"};
    return kinds.count(lower_extension(p)) > 0;
}

}  // namespace

std::string describe_ranges(const Ranges& ranges, size_t max_ranges) {
    std::string s;
    for (size_t k = 0; k < ranges.size() && k < max_ranges; ++k) {
        if (k) s += ", ";
        s += std::to_string(ranges[k].first);
        if (ranges[k].second != ranges[k].first) s += "-" + std::to_string(ranges[k].second);
    }
    if (ranges.size() > max_ranges) s += " and " + std::to_string(ranges.size() - max_ranges) + " more ranges";
    return s;
}

SourceInventory take_inventory(ImageSet& set, const fs::path& source) {
    std::vector<std::string> names;
    std::unordered_map<std::string, size_t> index;
    std::vector<size_t> file_of(set.planes.size());
    for (size_t i = 0; i < set.planes.size(); ++i) {
        auto [it, fresh] = index.emplace(set.planes[i].file, names.size());
        if (fresh) names.push_back(set.planes[i].file);
        file_of[i] = it->second;
    }
    const std::vector<Probe> probes = probe_files(names, source);
    refuse_denied(names, probes, source);
    if (!set.maps_samples) samples_to_channels(set, file_of, probes, source);

    std::vector<std::vector<PlaneRecord*>> planes_of(names.size());
    for (size_t i = 0; i < set.planes.size(); ++i) planes_of[file_of[i]].push_back(&set.planes[i]);
    SourceInventory inv;
    size_t missing_planes = 0, unreadable = 0;
    std::string first_missing;
    for (size_t f = 0; f < names.size(); ++f) {
        const Probe& p = probes[f];
        const std::vector<PlaneRef> refs = check_planes(p, planes_of[f]);
        for (PlaneRecord* pl : planes_of[f])
            if (!pl->missing.empty() && missing_planes++ == 0) first_missing = pl->file + ": " + pl->missing;
        FileInventory& fi = inv.files[names[f]];
        if (p.contents && std::any_of(p.contents->runs.begin(), p.contents->runs.end(),
                                      [](const PageRun& r) { return r.width != 0; }))
            inv.geometry[names[f]].runs = p.contents->runs;
        if (!p.contents) {
            fi.content = p.content;
            fi.detail = p.why;
            unreadable += p.content == "unreadable";
            continue;
        }
        std::vector<std::string> left = p.contents->composed_left_out ? p.contents->composed_left_out(refs)
                                                                      : pages_left_out(*p.contents, refs);
        left.insert(left.end(), p.contents->unreachable.begin(), p.contents->unreachable.end());
        if (left.empty()) continue;
        fi.content = "incomplete";
        fi.detail = p.contents->composed_left_out ? "" : "holds " + holds(*p.contents) + "; ";
        fi.detail += "left out: ";
        for (size_t k = 0; k < left.size(); ++k) fi.detail += (k ? "; " : "") + left[k];
    }
    if (unreadable)
        set.warnings.push_back(plural(unreadable, "image file", "image files") + " cannot be read (status lists them)");
    if (missing_planes)
        set.warnings.push_back(plural(missing_planes, "plane has", "planes have") +
                               " no pixels in the source (first: " + first_missing +
                               "); recorded as missing: status and verify list them and the plate stays incomplete");

    for (auto& e : source::list_tree(source)) {
        if (e.is_dir || !is_image_name(e.path)) continue;
        const fs::path rel = e.path.lexically_relative(source);
        bool hidden = false;
        for (auto& part : rel) hidden = hidden || (!part.empty() && part.native()[0] == '.');
        if (hidden || index.count(rel.generic_string())) continue;
        const uint64_t size = source::is_remote(source) ? e.size : source::file_size(e.path).value_or(0);
        inv.unused.emplace_back(rel.generic_string(), int64_t(size));
    }
    return inv;
}

void refuse_mixed_geometry(const ImageSet& set, const SourceInventory& inventory, const fs::path& source) {
    auto text = [](uint32_t w, uint32_t h, DType t) { return std::to_string(w) + "x" + std::to_string(h) + " " + dtype_name(t); };
    std::map<std::string, std::string> odd;  // file -> what it holds, sorted by name
    std::string plate_geometry;
    for (const PlaneRecord& pl : set.planes) {
        auto files = inventory.geometry.find(pl.file);
        if (files == inventory.geometry.end() || !pl.missing.empty() || odd.count(pl.file)) continue;
        const PageRun* run = files->second.run_of(pl.page);
        if (!run || run->width == 0) continue;
        uint32_t w = set.width, h = set.height;
        std::optional<DType> t = set.dtype;
        for (const PlateInfo& plate : set.plates)
            if (plate.name == pl.plate && plate.own_geometry()) {
                w = plate.width, h = plate.height, t = plate.dtype;
                break;
            }
        if (!t || (run->width == w && run->height == h && run->dtype == *t)) continue;
        odd[pl.file] = text(run->width, run->height, run->dtype);
        if (plate_geometry.empty()) plate_geometry = "plate " + pl.plate + ": " + text(w, h, *t);
    }
    if (odd.empty()) return;
    std::string list;
    size_t shown = 0;
    for (const auto& [file, what] : odd)
        if (shown++ < 5) list += (list.empty() ? "" : ", ") + file + " (" + what + ")";
    if (odd.size() > 5) list += " and " + std::to_string(odd.size() - 5) + " more";
    throw input_error(source.string(), plural(odd.size(), "image file holds", "image files hold") +
                                           " planes of another size or pixel type than the rest of their plate (" +
                                           plate_geometry + "): " + list +
                                           "; a plate stores one plane size and type: convert such files separately "
                                           "(a source folder of their own, or a --pattern that leaves them out)");
}

void place_projections(ImageSet& set, const fs::path& source, bool skip) {
    const size_t projections = size_t(std::count_if(set.planes.begin(), set.planes.end(),
                                                    [](const PlaneRecord& p) { return !p.projection.empty(); }));
    if (projections == 0) return;
    std::set<std::string> added;
    if (skip) {
        std::erase_if(set.planes, [](const PlaneRecord& p) { return !p.projection.empty(); });
        if (set.planes.empty())
            throw input_error(source.string(), "every image is a projection computed by the microscope software; run "
                                               "create without --skip-projections to store them");
    } else {
        std::map<std::pair<int, std::string>, int> channel_of;  // (channel, method) -> its projection channel
        for (auto& pl : set.planes) {
            if (pl.projection.empty()) continue;
            auto [it, fresh] = channel_of.try_emplace({pl.channel, pl.projection}, int(set.channels.size()));
            if (fresh) {
                ChannelInfo ch = set.channels[size_t(pl.channel)];
                std::string lower = pl.projection;
                for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
                const bool says_projection = lower.find("projection") != std::string::npos;
                ch.name += " (" + pl.projection + (says_projection ? ")" : " projection)");
                added.insert(ch.name);
                set.channels.push_back(std::move(ch));
            }
            pl.channel = it->second;
            pl.zplane = 0;
        }
    }
    // Channels left without planes (a wave acquired only as a projection) go.
    std::vector<int> remap(set.channels.size(), -1);
    std::vector<ChannelInfo> kept;
    for (auto& pl : set.planes) remap[size_t(pl.channel)] = 0;
    for (size_t c = 0; c < set.channels.size(); ++c)
        if (remap[c] == 0) {
            remap[c] = int(kept.size());
            kept.push_back(set.channels[c]);
        }
    for (auto& pl : set.planes) pl.channel = remap[size_t(pl.channel)];
    set.channels = std::move(kept);
    std::string list;
    for (auto& n : added) list += (list.empty() ? "" : ", ") + n;
    set.warnings.push_back(plural(projections, "projection", "projections") + " computed by the microscope software " +
                           (skip ? "left out (--skip-projections)"
                                 : "stored as channel(s) " + list + " (create --skip-projections leaves them out)"));
}

}  // namespace imx
