// A microscope folder as a layout reader sees it: a handle, not a path to sniff (as OpenImageIO
// passes an IOProxy). Readers name files relative to it; every name goes through one check, so a
// metadata file that names "../../other/x.tif", "/etc/passwd", or a symlink that leads out of the
// source folder is refused here, for every reader alike, with the name and the folder in the error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/source_files.h"

namespace imx {

namespace fs = std::filesystem;

// The lexical check of a file name from metadata: refuses empty, absolute and '..' names (an
// input error naming `relative`). Cheap: for checking a million names.
void check_relative_name(const std::string& relative);
// `source / relative` after check_relative_name, refusing a local path that a symlink leads out of
// `source`. Costs one lstat per path component (a full resolution only through a symlink).
fs::path resolve_inside(const fs::path& source, const std::string& relative);

}  // namespace imx

namespace imx::source {

class Folder {
public:
    // A local folder or a URL of a registered scheme; it is its own confinement root.
    static Folder at(const fs::path& path);

    const fs::path& path() const { return dir_; }
    // The folder everything, this folder included, must stay in (the one `at` was given).
    const fs::path& root() const { return root_; }
    // path() / rel for messages and for the names readers record; refuses names that escape.
    fs::path path_of(const std::string& rel) const;

    // Children of the folder or of sub-folder `rel` (source::list: sorted, memoised under a
    // ListingMemo, symlinked folders not followed); empty when it is missing.
    std::vector<Entry> list(const std::string& rel = "") const;
    std::vector<Entry> list_tree(const std::string& rel = "", int max_depth = 1 << 20,
                                 size_t max_entries = SIZE_MAX) const;
    bool is_dir(const std::string& rel) const;
    bool is_file(const std::string& rel) const;
    std::optional<uint64_t> size(const std::string& rel) const;
    std::unique_ptr<File> open(const std::string& rel) const;
    // The whole file, bounded by its own size and by `max_bytes`.
    std::string read_all(const std::string& rel, uint64_t max_bytes = UINT64_MAX) const;
    // Sub-folder `rel`, confined to the same root.
    Folder sub(const std::string& rel) const;
    // `entry` (a path from list / list_tree of this folder) relative to it, generic spelling; "" for
    // the folder itself.
    std::string name_of(const fs::path& entry) const;

private:
    Folder() = default;
    // path() / rel once `rel` is known to stay inside the root ("" = the folder itself).
    fs::path checked(const std::string& rel) const;

    fs::path root_, dir_;
    fs::path canonical_root_;  // local folders: symlinks resolved, for the symlink check
    bool remote_ = false;
};

}  // namespace imx::source
