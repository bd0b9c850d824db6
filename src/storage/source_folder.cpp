#include "storage/source_folder.h"

#include <sys/stat.h>

#include "core/types.h"

namespace imx {

namespace {

// Why `relative` names something outside the folder it is read in, or nullptr when it does not.
const char* why_outside(const std::string& relative) {
    if (!relative.empty() && relative.front() == '/')
        return "file name in metadata is absolute; only names inside the source folder are allowed";
    size_t start = 0;
    while (start <= relative.size()) {
        size_t end = relative.find_first_of("/\\", start);
        if (end == std::string::npos) end = relative.size();
        if (end - start == 2 && relative.compare(start, 2, "..") == 0)
            return "file name in metadata leaves the source folder ('..'); refused";
        start = end + 1;
    }
    return nullptr;
}

// What the walk below a folder saw of `dir / rel`: its lstat when no symlink is on the way (so
// is_file, is_dir and size need no second stat), or nothing when a link inside the root was followed.
struct Walk {
    bool known = false;
    bool missing = false;  // a component does not exist
    struct stat st {};
};

// Refuses `dir / rel` (rel passed the lexical check) when a symlink on the way leads out of
// `canonical_root`. One lstat per component; only a path through a symlink is resolved in full.
Walk check_no_symlink_out(const fs::path& canonical_root, const fs::path& dir, const std::string& rel) {
    Walk w;
    fs::path at = dir;
    bool link = false;
    for (auto& part : fs::path(rel)) {
        at /= part;
        if (::lstat(at.c_str(), &w.st) != 0) {
            w.known = w.missing = true;  // nothing to follow
            return w;
        }
        if ((link = S_ISLNK(w.st.st_mode))) break;
    }
    if (!link) {
        w.known = true;
        return w;
    }
    const fs::path full = dir / rel;
    std::error_code ec;
    const fs::path canon = fs::weakly_canonical(full, ec);
    const auto& s = canonical_root.native();
    const auto& c = canon.native();
    if (ec || c.compare(0, s.size(), s) != 0 || (c.size() > s.size() && c[s.size()] != '/' && s != "/"))
        throw input_error(full.string(), "resolves outside the source folder " + canonical_root.string() +
                                             (ec ? " (a symlink that cannot be resolved)" : " (symlink to " + c + ")") +
                                             "; refused");
    return w;
}

}  // namespace

void check_relative_name(const std::string& relative) {
    if (relative.empty())
        throw input_error(relative, "file name in metadata is empty; only names inside the source folder are allowed");
    if (const char* why = why_outside(relative)) throw input_error(relative, why);
}

fs::path resolve_inside(const fs::path& source, const std::string& relative) {
    check_relative_name(relative);
    if (source::is_remote(source)) return source / relative;  // object keys have no symlinks
    // The source folder's resolution is the same for every file a thread reads from it (a run job
    // reads thousands): resolved once, then one lstat per component of `relative`.
    thread_local fs::path last_source, last_canonical;
    if (source != last_source || last_source.empty()) {
        std::error_code ec;
        last_canonical = fs::weakly_canonical(source, ec);
        last_source = ec ? fs::path() : source;
        if (ec) last_canonical = source;
    }
    check_no_symlink_out(last_canonical, source, relative);
    return source / relative;
}

}  // namespace imx

namespace imx::source {

Folder Folder::at(const fs::path& path) {
    Folder f;
    f.root_ = f.dir_ = path;
    f.remote_ = is_remote(path);
    if (!f.remote_) {
        std::error_code ec;
        f.canonical_root_ = fs::weakly_canonical(path, ec);
        if (ec) f.canonical_root_ = path;
    }
    return f;
}

namespace {
// Folder::checked, with what the walk saw (local folders).
fs::path checked_walk(const fs::path& canonical_root, const fs::path& dir, bool remote, const std::string& rel,
                      Walk& walk) {
    if (rel.empty()) return dir;
    if (const char* why = why_outside(rel)) throw input_error(dir.string(), "'" + rel + "': " + why);
    if (!remote) walk = check_no_symlink_out(canonical_root, dir, rel);
    return dir / rel;
}
}  // namespace

fs::path Folder::checked(const std::string& rel) const {
    Walk walk;
    return checked_walk(canonical_root_, dir_, remote_, rel, walk);
}

fs::path Folder::path_of(const std::string& rel) const { return checked(rel); }

std::vector<Entry> Folder::list(const std::string& rel) const { return source::list(checked(rel)); }

std::vector<Entry> Folder::list_tree(const std::string& rel, int max_depth, size_t max_entries) const {
    return source::list_tree(checked(rel), max_depth, max_entries);
}

bool Folder::is_dir(const std::string& rel) const {
    Walk w;
    const fs::path full = checked_walk(canonical_root_, dir_, remote_, rel, w);
    return w.known ? !w.missing && S_ISDIR(w.st.st_mode) : source::is_dir(full);
}

bool Folder::is_file(const std::string& rel) const { return size(rel).has_value(); }

std::optional<uint64_t> Folder::size(const std::string& rel) const {
    Walk w;
    const fs::path full = checked_walk(canonical_root_, dir_, remote_, rel, w);
    if (!w.known) return source::file_size(full);
    if (w.missing || !S_ISREG(w.st.st_mode)) return std::nullopt;
    return uint64_t(w.st.st_size);
}
std::unique_ptr<File> Folder::open(const std::string& rel) const { return source::open(checked(rel)); }

std::string Folder::read_all(const std::string& rel, uint64_t max_bytes) const {
    return source::read_all(checked(rel), max_bytes);
}

Folder Folder::sub(const std::string& rel) const {
    Folder f = *this;
    f.dir_ = checked(rel);
    return f;
}

std::string Folder::name_of(const fs::path& entry) const {
    std::string rel = entry.lexically_relative(dir_).generic_string();
    return rel == "." ? std::string() : rel;
}

}  // namespace imx::source
