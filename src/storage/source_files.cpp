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
#include "storage/s3/s3_store.h"
#include "storage/store.h"

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

// ---- remote objects --------------------------------------------------------------------------------

uint64_t env_bytes(const char* name, uint64_t fallback, uint64_t min) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    unsigned long long n = std::strtoull(v, &end, 10);
    if (*end || n < min || n > (1ull << 32)) return fallback;
    return n;
}

struct RemotePath {
    std::string bucket, key;  // key without leading or trailing '/'; "" = the bucket itself
};

RemotePath split(const fs::path& p) {
    std::string s = p.string();
    if (s.rfind("s3://", 0) != 0) throw Error(s + ": not an s3:// path", Error::Kind::usage);
    s = s.substr(5);
    while (!s.empty() && s.back() == '/') s.pop_back();
    size_t slash = s.find('/');
    RemotePath r{s.substr(0, slash), slash == std::string::npos ? "" : s.substr(slash + 1)};
    if (r.bucket.empty()) throw Error(p.string() + ": an s3:// path needs a bucket name", Error::Kind::usage);
    return r;
}

struct Listing {
    std::string bucket, prefix;              // covers every key equal to or below prefix
    std::map<std::string, uint64_t> files;   // full key -> size
};

std::mutex g_mu;
std::string g_endpoint;
std::map<std::string, std::shared_ptr<Store>> g_stores;   // bucket -> store
std::list<std::shared_ptr<const Listing>> g_listings;
// Sizes from HEAD requests, by object (bounded; a process trusts an object not to change size
// while it runs, as the block cache does).
std::unordered_map<std::string, uint64_t> g_sizes;

std::shared_ptr<Store> store_for(const std::string& bucket) {
    std::lock_guard lock(g_mu);
    auto it = g_stores.find(bucket);
    if (it != g_stores.end()) return it->second;
    std::string url = "s3://" + bucket;
    if (!g_endpoint.empty()) url = s3::with_endpoint(url, g_endpoint);
    std::shared_ptr<Store> s = s3::open(url);
    g_stores.emplace(bucket, s);
    return s;
}

bool covers(const Listing& l, const RemotePath& r) {
    return l.bucket == r.bucket &&
           (l.prefix.empty() || r.key == l.prefix || r.key.rfind(l.prefix + "/", 0) == 0);
}

std::shared_ptr<const Listing> cached_listing(const RemotePath& r) {
    std::lock_guard lock(g_mu);
    for (auto& l : g_listings)
        if (covers(*l, r)) return l;
    return nullptr;
}

// The listing of everything under r.key: one paginated LIST request for the whole tree, reused for
// every later question about that part of the bucket (a reader's detect and configure ask many).
std::shared_ptr<const Listing> listing(const RemotePath& r) {
    if (auto l = cached_listing(r)) return l;
    auto l = std::make_shared<Listing>();
    l->bucket = r.bucket;
    l->prefix = r.key;
    for (auto& ks : store_for(r.bucket)->list_sizes(r.key)) l->files.emplace(ks.key, ks.size);
    std::lock_guard lock(g_mu);
    g_listings.push_front(l);
    while (g_listings.size() > 16) g_listings.pop_back();
    return l;
}

void remote_children(const Listing& l, const fs::path& dir, const std::string& key, int depth, int max_depth,
                     size_t max_entries, std::vector<Entry>& out) {
    const std::string base = key.empty() ? "" : key + "/";
    std::set<std::string> dirs_seen;
    for (auto it = l.files.lower_bound(base); it != l.files.end() && it->first.rfind(base, 0) == 0; ++it) {
        if (out.size() >= max_entries) return;
        std::string rest = it->first.substr(base.size());
        size_t slash = rest.find('/');
        if (rest.empty()) continue;
        if (slash == std::string::npos) {
            out.push_back({dir / rest, rest, false, it->second, depth});
            continue;
        }
        std::string name = rest.substr(0, slash);
        if (!dirs_seen.insert(name).second) continue;
        out.push_back({dir / name, name, true, 0, depth});
        if (depth < max_depth) remote_children(l, dir / name, base + name, depth + 1, max_depth, max_entries, out);
    }
}

// Blocks of remote objects, shared by every open file of the process: readers open a file again
// for every plane, and its header and directory blocks should be fetched once, not per plane.
// Bounded by bytes (IMX_SOURCE_CACHE_BYTES, default 32 MiB); at least the newest block stays.
struct CachedBlock {
    std::string name;
    uint64_t block;
    std::shared_ptr<const std::string> data;
};
std::mutex g_cache_mu;
thread_local bool g_header_reads = false;
std::list<CachedBlock> g_blocks;  // most recently used first
uint64_t g_cached_bytes = 0;

std::shared_ptr<const std::string> cached_block(const std::string& name, uint64_t block) {
    std::lock_guard lock(g_cache_mu);
    for (auto it = g_blocks.begin(); it != g_blocks.end(); ++it)
        if (it->block == block && it->name == name) {
            g_blocks.splice(g_blocks.begin(), g_blocks, it);
            return g_blocks.front().data;
        }
    return nullptr;
}

void cache_block(const std::string& name, uint64_t block, std::shared_ptr<const std::string> data) {
    static const uint64_t capacity = env_bytes("IMX_SOURCE_CACHE_BYTES", 32u << 20, 0);
    std::lock_guard lock(g_cache_mu);
    g_cached_bytes += data->size();
    g_blocks.push_front({name, block, std::move(data)});
    while (g_blocks.size() > 1 && g_cached_bytes > capacity) {
        g_cached_bytes -= g_blocks.back().data->size();
        g_blocks.pop_back();
    }
}

class RemoteFile final : public File {
public:
    RemoteFile(const fs::path& p, std::shared_ptr<Store> store, std::string key, uint64_t size)
        : store_(std::move(store)), key_(std::move(key)) {
        path_ = p.string();
        size_ = size;
    }

    void read_at(uint64_t offset, void* out, size_t len) const override {
        if (len == 0) return;
        if (offset > size_ || len > size_ - offset)
            throw input_error(path_, "offset " + std::to_string(offset) + ": read of " + std::to_string(len) +
                                         " bytes runs past the end of the " + std::to_string(size_) + "-byte object");
        auto* dst = static_cast<unsigned char*>(out);
        // Big reads (a container's pixel block) go straight through; small ones (headers,
        // directories, a TIFF's tags) come from cached blocks.
        if (size_ <= kWholeObject) {
            // The whole object is one cached piece: copy straight from it.
            std::shared_ptr<const std::string> whole = block_at(0);
            if (whole->size() < offset + len)
                throw input_error(path_, "offset " + std::to_string(offset) + ": the object is shorter than listed");
            std::memcpy(dst, whole->data() + offset, len);
            return;
        }
        if (len >= kBlock) return fetch(offset, dst, len);
        while (len > 0) {
            const uint64_t block = offset / kBlock;
            const size_t in_block = size_t(offset % kBlock);
            const size_t n = std::min<size_t>(len, kBlock - in_block);
            std::shared_ptr<const std::string> b = block_at(block);
            if (b->size() < in_block + n)
                throw input_error(path_, "offset " + std::to_string(offset) + ": the object is shorter than listed");
            std::memcpy(dst, b->data() + in_block, n);
            dst += n;
            offset += n;
            len -= n;
        }
    }

private:
    // Objects up to kWholeObject bytes are fetched in one GET; bigger ones in kBlock pieces.
    // IMX_SOURCE_WHOLE_BYTES / IMX_SOURCE_BLOCK_BYTES change them (tests use tiny blocks); header
    // reads (HeaderReads) take 64 KiB blocks of any object.
    const uint64_t kWholeObject = g_header_reads ? 0 : env_bytes("IMX_SOURCE_WHOLE_BYTES", 8u << 20, 0);
    const size_t kBlock = g_header_reads ? size_t(64) << 10 : size_t(env_bytes("IMX_SOURCE_BLOCK_BYTES", 1u << 20, 4096));

    void fetch(uint64_t offset, unsigned char* dst, size_t len) const {
        auto got = store_->get_range(key_, offset, len);
        if (!got) throw input_error(path_, "the object is gone (deleted while reading?)");
        if (got->size() != len)
            throw input_error(path_, "offset " + std::to_string(offset) + ": got " + std::to_string(got->size()) +
                                         " of " + std::to_string(len) + " bytes (object changed while reading?)");
        std::memcpy(dst, got->data(), len);
    }

    std::shared_ptr<const std::string> block_at(uint64_t block) const {
        // Small objects are one "block" holding all of it.
        const bool whole = size_ <= kWholeObject;
        const uint64_t id = whole ? 0 : block;
        // A changed object is another; blocks of another size are other pieces.
        const std::string name = path_ + "#" + std::to_string(size_) + "#" + std::to_string(whole ? 0 : kBlock);
        if (auto hit = cached_block(name, id)) return hit;
        const uint64_t start = whole ? 0 : block * kBlock;
        const uint64_t n = whole ? size_ : std::min<uint64_t>(kBlock, size_ - start);
        auto got = store_->get_range(key_, start, n);
        if (!got) throw input_error(path_, "the object is gone (deleted while reading?)");
        auto data = std::make_shared<const std::string>(std::move(*got));
        cache_block(name, id, data);
        return data;
    }

    std::shared_ptr<Store> store_;
    std::string key_;
};

}  // namespace

bool is_remote(const fs::path& p) { return p.native().rfind("s3://", 0) == 0; }

void set_s3_endpoint(const std::string& endpoint) {
    std::lock_guard lock(g_mu);
    if (endpoint != g_endpoint) {
        g_endpoint = endpoint;
        g_stores.clear();
        g_listings.clear();
    }
}

const std::string& s3_endpoint() { return g_endpoint; }

RemoteSpec parse_remote(const std::string& given) {
    RemoteSpec spec;
    std::string path = given;
    if (auto q = path.find('?'); q != std::string::npos) {
        std::string query = path.substr(q + 1);
        path = path.substr(0, q);
        if (query.rfind("endpoint=", 0) != 0 || query.find('&') != std::string::npos)
            throw Error(given + ": the only option an s3:// source takes is ?endpoint=URL", Error::Kind::usage);
        spec.endpoint = query.substr(9);
    }
    RemotePath r = split(path);
    if (r.key.find("//") != std::string::npos)
        throw Error(given + ": empty folder names ('//') in an s3:// source are not supported", Error::Kind::usage);
    spec.path = "s3://" + r.bucket + (r.key.empty() ? "" : "/" + r.key);
    return spec;
}

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
    if (is_remote(dir)) {
        RemotePath r = split(dir);
        auto l = listing(r);
        remote_children(*l, dir, r.key, 0, max_depth, max_entries, out);
        return out;
    }
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
    if (!is_remote(p)) {
        std::error_code ec;
        return fs::is_directory(p, ec);
    }
    RemotePath r = split(p);
    if (r.key.empty()) return true;  // the bucket itself (its existence shows at the first listing)
    auto l = listing(r);
    auto it = l->files.lower_bound(r.key + "/");
    return it != l->files.end() && it->first.rfind(r.key + "/", 0) == 0;
}

std::optional<uint64_t> file_size(const fs::path& p) {
    if (!is_remote(p)) {
        std::error_code ec;
        if (!fs::is_regular_file(p, ec)) return std::nullopt;
        auto n = fs::file_size(p, ec);
        if (ec) return std::nullopt;
        return n;
    }
    RemotePath r = split(p);
    if (r.key.empty()) return std::nullopt;
    if (auto l = cached_listing(r)) {
        auto it = l->files.find(r.key);
        if (it == l->files.end()) return std::nullopt;
        return it->second;
    }
    // A worker asking about one file: a HEAD, not a listing; remembered, because a reader opens
    // the same file two or three times per plane (format sniffing, then the decoder).
    {
        std::lock_guard lock(g_mu);
        if (auto it = g_sizes.find(p.string()); it != g_sizes.end()) return it->second;
    }
    auto size = store_for(r.bucket)->size(r.key);
    if (size) {
        std::lock_guard lock(g_mu);
        if (g_sizes.size() >= 65536) g_sizes.clear();
        g_sizes.emplace(p.string(), *size);
    }
    return size;
}

bool is_file(const fs::path& p) { return source::file_size(p).has_value(); }

std::unique_ptr<File> open(const fs::path& p) {
    if (!is_remote(p)) return std::make_unique<LocalFile>(p);
    RemotePath r = split(p);
    auto size = r.key.empty() ? std::nullopt : source::file_size(p);
    if (!size) throw input_error(p.string(), "no such object in the bucket (or it is a folder)");
    return std::make_unique<RemoteFile>(p, store_for(r.bucket), r.key, *size);
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
    if (!is_remote(p)) throw Error(p.string() + ": source::remove is for objects in S3", Error::Kind::usage);
    RemotePath r = split(p);
    if (r.key.empty()) throw Error(p.string() + ": not an object", Error::Kind::usage);
    store_for(r.bucket)->remove(r.key);
    std::lock_guard lock(g_mu);
    g_listings.clear();  // they list the object no more
    g_sizes.erase(p.string());
}

void use_store_for_bucket(const std::string& bucket, std::shared_ptr<Store> store) {
    std::lock_guard lock(g_mu);
    g_stores[bucket] = std::move(store);
    g_listings.clear();
    g_sizes.clear();
}

void clear_cache() {
    {
        std::lock_guard lock(g_mu);
        g_listings.clear();
        g_sizes.clear();
        g_stores.clear();
    }
    std::lock_guard lock(g_cache_mu);
    g_blocks.clear();
    g_cached_bytes = 0;
}

}  // namespace imx::source
