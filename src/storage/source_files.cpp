#include "storage/source_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "core/types.h"
#include "storage/scheme.h"

namespace imx::source {

namespace {

// ---- local files ---------------------------------------------------------------------------------

class LocalFile final : public File {
public:
    explicit LocalFile(const fs::path& p) {
        path_ = p.string();
        fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw input_error(path_, "cannot open file (missing or unreadable)");
        struct stat st {};
        if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd_);
            throw input_error(path_, "not a regular file");
        }
        size_ = uint64_t(st.st_size);
        mtime_ns_ = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    ~LocalFile() override { ::close(fd_); }

    void read_at(uint64_t offset, void* out, size_t len) const override {
        auto* p = static_cast<unsigned char*>(out);
        size_t done = 0;
        while (done < len) {
            ssize_t n = ::pread(fd_, p + done, len - done, off_t(offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0)
                throw input_error(path_, "offset " + std::to_string(offset + done) +
                                             ": cannot read (file shrank or I/O error)");
            done += size_t(n);
        }
    }

private:
    int fd_ = -1;
};

thread_local bool g_header_reads = false;

// The provider of a remote path's scheme; throws for a local path.
SourceProvider& provider_of(const fs::path& p) {
    const Scheme* s = scheme_of(p.native());
    if (!s) throw Error(p.string() + ": not a URL of a registered scheme", Error::Kind::usage);
    return s->sources();
}

}  // namespace

bool is_remote(const fs::path& p) { return scheme_of(p.native()) != nullptr; }

void set_endpoint(const std::string& endpoint) {
    for (const Scheme& s : schemes()) s.sources().set_endpoint(endpoint);
}

RemoteSpec parse_remote(const std::string& given) { return provider_of(given).parse(given); }

namespace {
thread_local std::map<std::string, std::vector<Entry>>* listing_memo = nullptr;
thread_local int listing_memos = 0;  // nested ListingMemo objects share the outermost one's listings
}

ListingMemo::ListingMemo() {
    if (listing_memos++ == 0) listing_memo = new std::map<std::string, std::vector<Entry>>;
}
ListingMemo::~ListingMemo() {
    if (--listing_memos == 0) {
        delete listing_memo;
        listing_memo = nullptr;
    }
}

std::vector<Entry> list(const fs::path& dir) {
    if (!listing_memo || is_remote(dir)) return list_tree(dir, 0);  // remote listings have their own cache
    auto it = listing_memo->find(dir.native());
    if (it == listing_memo->end()) it = listing_memo->emplace(dir.native(), list_tree(dir, 0)).first;
    return it->second;
}

std::vector<Entry> list_tree(const fs::path& dir, int max_depth, size_t max_entries) {
    std::vector<Entry> out;
    if (is_remote(dir)) return provider_of(dir).list_tree(dir, max_depth, max_entries);
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (out.size() >= max_entries) break;
        std::error_code ec2;
        Entry e;
        e.path = it->path();
        e.name = it->path().filename().string();
        e.depth = it.depth();
        // The entry's type comes from the directory itself (d_type): no stat per file, which
        // detection, listing every folder a few times, would pay for each of 100,000 files.
        e.is_dir = it->is_directory(ec2) && !it->is_symlink(ec2);
        if (!e.is_dir && !it->is_regular_file(ec2)) continue;  // sockets, dangling links
        if (e.is_dir && it.depth() >= max_depth) it.disable_recursion_pending();
        out.push_back(std::move(e));
    }
    // Sorted path order, as the remote listing is, so that every reader sees files in one order.
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.path < b.path; });
    return out;
}

bool is_dir(const fs::path& p) {
    if (is_remote(p)) return provider_of(p).is_dir(p);
    std::error_code ec;
    return fs::is_directory(p, ec);
}

std::optional<uint64_t> file_size(const fs::path& p) {
    if (is_remote(p)) return provider_of(p).file_size(p);
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return std::nullopt;
    auto n = fs::file_size(p, ec);
    if (ec) return std::nullopt;
    return n;
}

bool is_file(const fs::path& p) { return source::file_size(p).has_value(); }

std::unique_ptr<File> open(const fs::path& p) {
    if (is_remote(p)) return provider_of(p).open(p);
    return std::make_unique<LocalFile>(p);
}

HeaderReads::HeaderReads() : before_(g_header_reads) { g_header_reads = true; }
HeaderReads::~HeaderReads() { g_header_reads = before_; }
bool header_reads() { return g_header_reads; }

std::string read_all(const fs::path& p, uint64_t max_bytes) {
    auto f = open(p);
    if (f->size() > max_bytes)
        throw input_error(p.string(), "file is " + std::to_string(f->size()) + " bytes, more than the " +
                                          std::to_string(max_bytes) + " bytes allowed here");
    std::string s(size_t(f->size()), '\0');
    f->read_at(0, s.data(), s.size());
    return s;
}

void remove(const fs::path& p) {
    if (!is_remote(p)) throw Error(p.string() + ": source::remove is for remote objects", Error::Kind::usage);
    provider_of(p).remove(p);
}

void clear_cache() {
    for (const Scheme& s : schemes()) s.sources().clear_cache();
}

}  // namespace imx::source
