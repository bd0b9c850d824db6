// The microscope's files as the format readers see them: a folder on a local filesystem, or a
// remote folder under a URL whose scheme is registered (storage/scheme.h; "s3://bucket/plates/run1"
// is served by the S3 backend's provider). Readers list folders, test for files and read byte
// ranges only through here, so every reader works on both without knowing which it is. Remote
// paths keep their URL spelling, so `source / "a.tif"` composes as for local folders; they are
// never canonicalised (that would fold "s3://" to "s3:/").
//
// Remote files are read in ranges: small files in one request, big containers (CZI, ND2, LIF,
// ImageJ > 4 GB) block by block, so nothing is copied to local disk first.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace imx {
class Store;
}

namespace imx::source {

namespace fs = std::filesystem;

// True for URLs of a registered scheme ("s3://..."), false for local paths.
bool is_remote(const fs::path& p);

// The endpoint for remote sources whose URL names none ("" = the scheme's default, for S3
// AWS_ENDPOINT_URL or AWS itself); set from the experiment configuration before any remote path is
// touched. Credentials come from the usual places.
void set_endpoint(const std::string& endpoint);

// Splits a remote URL as given ("s3://bucket/key?endpoint=URL") into the path readers use
// ("s3://bucket/key") and the endpoint ("" when none is given). Throws Error (usage) for a
// malformed URL.
struct RemoteSpec {
    std::string path;
    std::string endpoint;
};
RemoteSpec parse_remote(const std::string& given);

struct Entry {
    fs::path path;       // dir / name
    std::string name;    // last component
    bool is_dir = false;
    uint64_t size = 0;   // objects in S3 (their listing says it); 0 for local files: file_size() stats one
    int depth = 0;       // list_tree: 0 = a child of the folder listed
};

// Children of `dir`, sorted by name; empty when `dir` is missing or unreadable. Symlinked folders
// are not followed.
std::vector<Entry> list(const fs::path& dir);
// While one exists, list() of a local folder answers from the first listing this thread made of
// it: detection asks every reader about every folder, and a folder of 100,000 planes costs a stat
// per file and listing.
class ListingMemo {
public:
    ListingMemo();
    ~ListingMemo();
    ListingMemo(const ListingMemo&) = delete;
    ListingMemo& operator=(const ListingMemo&) = delete;
};
// Everything below `dir` down to `max_depth` (0 = children only), in sorted path order, at most
// `max_entries` entries.
std::vector<Entry> list_tree(const fs::path& dir, int max_depth = 1 << 20, size_t max_entries = SIZE_MAX);
bool is_dir(const fs::path& p);
bool is_file(const fs::path& p);
std::optional<uint64_t> file_size(const fs::path& p);

// A file opened for positional reads; safe to use from several threads.
class File {
public:
    virtual ~File() = default;
    const std::string& path() const { return path_; }
    uint64_t size() const { return size_; }
    // Modification time for change detection (0 for objects: their size and listing stand in).
    int64_t mtime_ns() const { return mtime_ns_; }
    // Reads exactly `len` bytes at `offset`; throws an input error naming the file when it cannot
    // (the caller checks the range against size() first for a better message).
    virtual void read_at(uint64_t offset, void* out, size_t len) const = 0;

protected:
    std::string path_;
    uint64_t size_ = 0;
    int64_t mtime_ns_ = 0;
};

// Throws an input error naming the file when it is missing, not a regular file or unreadable.
std::unique_ptr<File> open(const fs::path& p);

// While one lives, remote files this thread opens are read in 64 KiB blocks whatever their size, not
// in one GET of the whole object: for reading the headers of many files (create's pixel inventory)
// without fetching their pixels.
class HeaderReads {
public:
    HeaderReads();
    ~HeaderReads();
    HeaderReads(const HeaderReads&) = delete;
    HeaderReads& operator=(const HeaderReads&) = delete;

private:
    bool before_;
};
bool header_reads();  // true on a thread inside a HeaderReads

// The whole file (metadata files, not pixels): its own size bounds the allocation; `max_bytes`
// refuses larger files where a caller knows a tighter bound.
std::string read_all(const fs::path& p, uint64_t max_bytes = UINT64_MAX);

// Deletes a remote object (collect --delete on remote sources); local files are deleted by the
// caller, which checks symlinks and modes first.
void remove(const fs::path& p);

// Forgets what the remote providers cached: listings, sizes, blocks (tests; a long-running process
// that watches a prefix).
void clear_cache();

}  // namespace imx::source
