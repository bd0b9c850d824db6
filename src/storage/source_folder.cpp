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

// Refuses `dir / rel` (rel passed the lexical check) when a symlink on the way leads out of
// `canonical_root`. One lstat per component; only a path through a symlink is resolved in full.
void check_no_symlink_out(const fs::path& canonical_root, const fs::path& dir, const std::string& rel) {
    struct stat st {};
    fs::path at = dir;
    bool link = false;
    for (auto& part : fs::path(rel)) {
        at /= part;
        if (::lstat(at.c_str(), &st) != 0) return;  // missing: nothing to follow
        if ((link = S_ISLNK(st.st_mode))) break;
    }
    if (!link) return;
    const fs::path full = dir / rel;
    std::error_code ec;
    const fs::path canon = fs::weakly_canonical(full, ec);
    const auto& s = canonical_root.native();
    const auto& c = canon.native();
    if (ec || c.compare(0, s.size(), s) != 0 || (c.size() > s.size() && c[s.size()] != '/' && s != "/"))
        throw input_error(full.string(), "resolves outside the source folder " + canonical_root.string() +
                                             (ec ? " (a symlink that cannot be resolved)" : " (symlink to " + c + ")") +
                                             "; refused");
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
    std::error_code ec;
    check_no_symlink_out(fs::weakly_canonical(source, ec), source, relative);
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

fs::path Folder::checked(const std::string& rel) const {
    if (rel.empty()) return dir_;
    if (const char* why = why_outside(rel)) throw input_error(dir_.string(), "'" + rel + "': " + why);
    if (!remote_) check_no_symlink_out(canonical_root_, dir_, rel);
    return dir_ / rel;
}

fs::path Folder::path_of(const std::string& rel) const { return checked(rel); }

std::vector<Entry> Folder::list(const std::string& rel) const { return source::list(checked(rel)); }

std::vector<Entry> Folder::list_tree(const std::string& rel, int max_depth, size_t max_entries) const {
    return source::list_tree(checked(rel), max_depth, max_entries);
}

bool Folder::is_dir(const std::string& rel) const { return source::is_dir(checked(rel)); }
bool Folder::is_file(const std::string& rel) const { return source::is_file(checked(rel)); }
std::optional<uint64_t> Folder::size(const std::string& rel) const { return source::file_size(checked(rel)); }
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
