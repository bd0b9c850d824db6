// Which acquisition a source folder holds. People point imextract at the folder the microscope
// wrote (a CV8000 writes NAME_DATE_TIME/ around the measurement folder), at its parent, or at a
// folder holding several unrelated things. So every folder below the source is asked, reader by
// reader, whether it holds an acquisition of its own (LayoutReader::detect looks only at the folder
// and the sub-folders its layout defines); image files outside every acquisition are counted as
// files without vendor metadata. One acquisition is used; several are refused with a list, since
// guessing would convert one and silently leave the others out (or mix them into one plate).
#include <algorithm>
#include <deque>
#include <set>

#include "core/fileutil.h"
#include "core/log.h"
#include "formats/reader.h"
#include "storage/source_files.h"

namespace imx {

namespace {

// Beyond this many folders the search stops and asks for a narrower --source: `files` would read
// the whole tree, so it may only be chosen after every folder was looked at.
constexpr size_t kMaxSearchFolders = 5000;
// A second reader that claims a folder already claimed with at least this score (its own metadata
// file or container files, not a guess from names) is a second acquisition in that folder.
constexpr int kStrongClaim = 80;
constexpr size_t kNamedLooseFiles = 3;

bool is_plain_image(const fs::path& p) {
    const std::string ext = lower_extension(p);
    return ext == ".tif" || ext == ".tiff" || ext == ".png";
}

struct Search {
    std::vector<Acquisition> found;
    size_t loose_count = 0;               // image files outside every acquisition folder
    std::vector<fs::path> loose_examples;  // the first few of them
};

Search search(const source::Folder& source) {
    const source::ListingMemo memo;  // every reader lists each folder: list it once
    Search out;
    // Breadth first, so a folder is claimed before its sub-folders are looked at. `inside`: the
    // folder lies in an acquisition found above it (its images are that acquisition's business).
    std::deque<std::pair<source::Folder, bool>> queue{{source, false}};
    size_t visited = 0;
    while (!queue.empty()) {
        auto [dir, inside] = queue.front();
        queue.pop_front();
        if (++visited > kMaxSearchFolders)
            throw input_error(source.path().string(), "more than " + std::to_string(kMaxSearchFolders) +
                                                    " folders to search for microscope metadata; give the acquisition "
                                                    "folder itself as --source (or --format NAME to read this one)");
        std::vector<std::pair<int, const LayoutReader*>> claims;
        for (auto& r : layout_readers()) {
            if (r->name() == "files") continue;
            if (int score = r->detect(dir); score > 0) claims.emplace_back(score, r.get());
        }
        std::stable_sort(claims.begin(), claims.end(), [](auto& a, auto& b) { return a.first > b.first; });
        for (size_t i = 0; i < claims.size(); ++i)
            if (i == 0 || claims[i].first >= kStrongClaim) out.found.push_back({claims[i].second, dir.path()});
        for (auto& e : dir.list()) {
            if (e.name.empty() || e.name[0] == '.') continue;  // .snapshots, .Trash, hidden files
            if (e.is_dir) {
                bool owned = std::any_of(claims.begin(), claims.end(), [&](auto& c) { return c.second->owns_subfolder(e.name); });
                if (!owned) queue.emplace_back(dir.sub(e.name), inside || !claims.empty());
            } else if (!inside && claims.empty() && is_plain_image(e.path)) {
                if (out.loose_examples.size() < kNamedLooseFiles) out.loose_examples.push_back(e.path);
                ++out.loose_count;
            }
        }
    }
    return out;
}

// The deepest folder holding every acquisition (all lie at or below `source`).
fs::path common_folder(const fs::path& source, const std::vector<Acquisition>& list) {
    std::vector<std::string> common;
    bool first = true;
    for (auto& a : list) {
        std::vector<std::string> parts;
        for (auto& part : a.folder.lexically_relative(source))
            if (part != ".") parts.push_back(part.string());
        if (first) common = parts;
        size_t n = 0;
        while (n < common.size() && n < parts.size() && common[n] == parts[n]) ++n;
        common.resize(n);
        first = false;
    }
    fs::path out = source;
    for (auto& c : common) out = out / c;
    return out;
}

std::string where(const fs::path& source, const fs::path& folder) {
    return folder == source ? source.string() + " (the folder itself)" : folder.string();
}

[[noreturn]] void refuse_several(const fs::path& source, const std::vector<Acquisition>& list, const Search& s,
                                 const std::string& format) {
    std::string text = "holds " + std::to_string(list.size() + (s.loose_count ? 1 : 0)) +
                       (format.empty() ? " acquisitions" : " " + format + " acquisitions") +
                       "; imextract does not guess which one you mean:";
    auto line = [](std::string format) {
        format.resize(std::max<size_t>(format.size(), 12), ' ');
        return "\n  " + format + "  ";
    };
    for (auto& a : list) text += line(a.reader->name()) + where(source, a.folder);
    if (s.loose_count) {
        text += line("files") + std::to_string(s.loose_count) + " image file(s) without microscope metadata outside them (";
        for (size_t i = 0; i < s.loose_examples.size(); ++i)
            text += (i ? ", " : "") + s.loose_examples[i].lexically_relative(source).generic_string();
        text += s.loose_count > s.loose_examples.size() ? ", ...)" : ")";
    }
    text += "\nConvert each on its own (convert FOLDER OUT, or create --source FOLDER: one experiment each), or "
            "several plates of one screen together with one source per folder (convert A B OUT, or create --source "
            "A --source B); in a folder that two formats claim, --format NAME picks one.";
    throw input_error(source.string(), text);
}

const LayoutReader& reader_named(const std::string& format) {
    const LayoutReader* reader = find_layout_reader(format);
    if (!reader) {
        std::string names;
        for (auto& r : layout_readers()) names += " " + r->name();
        throw Error("unknown format '" + format + "' (known: auto" + names + ")", Error::Kind::usage);
    }
    return *reader;
}

Acquisition report(const fs::path& source, Acquisition a) {
    if (a.folder != source)
        log::info("{}: acquisition of format '{}' found in {}", source.string(), a.reader->name(), a.folder.string());
    else
        log::info("{}: detected format '{}'", source.string(), a.reader->name());
    return a;
}

}  // namespace

Acquisition find_acquisition(const fs::path& source, const std::string& format) {
    const source::Folder folder = source::Folder::at(source);
    if (!folder.is_dir(""))
        throw Error(source.string() + ": not a folder (the source must be the folder the microscope wrote)",
                    Error::Kind::input);
    const bool automatic = format.empty() || format == "auto";
    if (!automatic) {
        // The named reader on this folder when it claims it (or is `files`): the user's choice.
        const LayoutReader& reader = reader_named(format);
        if (reader.name() == "files" || reader.detect(folder) > 0) return {&reader, source};
    }
    Search s = search(folder);
    if (!automatic) {
        // An explicit format on a folder above its acquisition: that format's acquisitions only.
        const LayoutReader& reader = reader_named(format);
        std::vector<Acquisition> mine, others;
        for (auto& a : s.found) (a.reader == &reader ? mine : others).push_back(a);
        if (mine.empty()) return {&reader, source};  // configure() says what is missing
        if (mine.size() == 1) return report(source, mine.front());
        const fs::path common = common_folder(source, mine);
        const bool others_inside = std::any_of(others.begin(), others.end(), [&](auto& o) {
            return o.folder == common || o.folder.native().rfind(common.native() + "/", 0) == 0;
        });
        if (reader.reads_several() && !others_inside) return report(source, {&reader, common});
        refuse_several(source, mine, {}, format);
    }
    if (s.found.empty()) {
        if (s.loose_count) return report(source, {find_layout_reader("files"), source});
        std::string names;
        for (auto& r : layout_readers()) names += (names.empty() ? "" : ", ") + r->name();
        throw Error(source.string() + ": no supported microscope layout found (tried " + names +
                        "); for a folder of plain image files give --format files --pattern REGEX",
                    Error::Kind::input);
    }
    if (!s.loose_count) {
        if (s.found.size() == 1) return report(source, s.found.front());
        const LayoutReader* reader = s.found.front().reader;
        const bool one_format = std::all_of(s.found.begin(), s.found.end(), [&](auto& a) { return a.reader == reader; });
        if (one_format && reader->reads_several()) return report(source, {reader, common_folder(source, s.found)});
    }
    refuse_several(source, s.found, s, "");
}

const LayoutReader& detect_layout(const fs::path& source) { return *find_acquisition(source).reader; }

}  // namespace imx
