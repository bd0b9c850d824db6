// The microscope files of an "s3://bucket/prefix" source (storage/scheme.h): one paginated listing
// of the prefix answers every list, is_dir and is_file of a create; a run job, which holds no
// listing, asks for a file's size with one HEAD. Files are read in ranges: small objects in one
// GET, bigger ones through a byte-bounded LRU of 1 MiB blocks (IMX_SOURCE_CACHE_BYTES, default
// 32 MiB), reads of a block or more straight through. All of it is state of the one provider
// object, not of the process.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "core/types.h"
#include "storage/s3/s3_store.h"
#include "storage/scheme.h"
#include "storage/store.h"

namespace imx::s3 {

namespace {

using source::Entry;
using source::File;
namespace fs = std::filesystem;

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

bool covers(const Listing& l, const RemotePath& r) {
    return l.bucket == r.bucket &&
           (l.prefix.empty() || r.key == l.prefix || r.key.rfind(l.prefix + "/", 0) == 0);
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

// Blocks of objects, shared by every open file of the provider: readers open a file again for every
// plane, and its header and directory blocks should be fetched once, not per plane. Bounded by
// bytes; at least the newest block stays.
class BlockCache {
public:
    std::shared_ptr<const std::string> find(const std::string& name, uint64_t block) {
        std::lock_guard lock(mu_);
        for (auto it = blocks_.begin(); it != blocks_.end(); ++it)
            if (it->block == block && it->name == name) {
                blocks_.splice(blocks_.begin(), blocks_, it);
                return blocks_.front().data;
            }
        return nullptr;
    }
    void add(const std::string& name, uint64_t block, std::shared_ptr<const std::string> data) {
        std::lock_guard lock(mu_);
        bytes_ += data->size();
        blocks_.push_front({name, block, std::move(data)});
        while (blocks_.size() > 1 && bytes_ > capacity_) {
            bytes_ -= blocks_.back().data->size();
            blocks_.pop_back();
        }
    }
    void clear() {
        std::lock_guard lock(mu_);
        blocks_.clear();
        bytes_ = 0;
    }

private:
    struct Block {
        std::string name;
        uint64_t block;
        std::shared_ptr<const std::string> data;
    };
    const uint64_t capacity_ = env_bytes("IMX_SOURCE_CACHE_BYTES", 32u << 20, 0);
    std::mutex mu_;
    std::list<Block> blocks_;  // most recently used first
    uint64_t bytes_ = 0;
};

class RemoteFile final : public File {
public:
    RemoteFile(const fs::path& p, std::shared_ptr<Store> store, std::string key, uint64_t size, BlockCache& blocks)
        : store_(std::move(store)), key_(std::move(key)), blocks_(blocks) {
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
    const uint64_t kWholeObject = source::header_reads() ? 0 : env_bytes("IMX_SOURCE_WHOLE_BYTES", 8u << 20, 0);
    const size_t kBlock = source::header_reads() ? size_t(64) << 10 : size_t(env_bytes("IMX_SOURCE_BLOCK_BYTES", 1u << 20, 4096));

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
        if (auto hit = blocks_.find(name, id)) return hit;
        const uint64_t start = whole ? 0 : block * kBlock;
        const uint64_t n = whole ? size_ : std::min<uint64_t>(kBlock, size_ - start);
        auto got = store_->get_range(key_, start, n);
        if (!got) throw input_error(path_, "the object is gone (deleted while reading?)");
        auto data = std::make_shared<const std::string>(std::move(*got));
        blocks_.add(name, id, data);
        return data;
    }

    std::shared_ptr<Store> store_;
    std::string key_;
    BlockCache& blocks_;
};

class S3Sources final : public SourceProvider {
public:
    source::RemoteSpec parse(const std::string& given) const override {
        source::RemoteSpec spec;
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

    void set_endpoint(const std::string& endpoint) override {
        std::lock_guard lock(mu_);
        if (endpoint != endpoint_) {
            endpoint_ = endpoint;
            stores_.clear();
            listings_.clear();
        }
    }

    std::vector<Entry> list_tree(const fs::path& dir, int max_depth, size_t max_entries) override {
        std::vector<Entry> out;
        RemotePath r = split(dir);
        auto l = listing(r);
        remote_children(*l, dir, r.key, 0, max_depth, max_entries, out);
        return out;
    }

    bool is_dir(const fs::path& p) override {
        RemotePath r = split(p);
        if (r.key.empty()) return true;  // the bucket itself (its existence shows at the first listing)
        auto l = listing(r);
        auto it = l->files.lower_bound(r.key + "/");
        return it != l->files.end() && it->first.rfind(r.key + "/", 0) == 0;
    }

    std::optional<uint64_t> file_size(const fs::path& p) override {
        RemotePath r = split(p);
        if (r.key.empty()) return std::nullopt;
        if (auto l = cached_listing(r)) {
            auto it = l->files.find(r.key);
            if (it == l->files.end()) return std::nullopt;
            return it->second;
        }
        // A worker asking about one file: a HEAD, not a listing; remembered, because a reader opens
        // the same file two or three times per plane (format sniffing, then the decoder). Bounded;
        // a process trusts an object not to change size while it runs, as the block cache does.
        {
            std::lock_guard lock(mu_);
            if (auto it = sizes_.find(p.string()); it != sizes_.end()) return it->second;
        }
        auto size = store_for(r.bucket)->size(r.key);
        if (size) {
            std::lock_guard lock(mu_);
            if (sizes_.size() >= 65536) sizes_.clear();
            sizes_.emplace(p.string(), *size);
        }
        return size;
    }

    std::unique_ptr<File> open(const fs::path& p) override {
        RemotePath r = split(p);
        auto size = r.key.empty() ? std::nullopt : file_size(p);
        if (!size) throw input_error(p.string(), "no such object in the bucket (or it is a folder)");
        return std::make_unique<RemoteFile>(p, store_for(r.bucket), r.key, *size, blocks_);
    }

    void remove(const fs::path& p) override {
        RemotePath r = split(p);
        if (r.key.empty()) throw Error(p.string() + ": not an object", Error::Kind::usage);
        store_for(r.bucket)->remove(r.key);
        std::lock_guard lock(mu_);
        listings_.clear();  // they list the object no more
        sizes_.erase(p.string());
    }

    void clear_cache() override {
        {
            std::lock_guard lock(mu_);
            listings_.clear();
            sizes_.clear();
            stores_.clear();
        }
        blocks_.clear();
    }

    void use_store_for_bucket(const std::string& bucket, std::shared_ptr<Store> store) {
        std::lock_guard lock(mu_);
        stores_[bucket] = std::move(store);
        listings_.clear();
        sizes_.clear();
    }

private:
    std::shared_ptr<Store> store_for(const std::string& bucket) {
        std::lock_guard lock(mu_);
        auto it = stores_.find(bucket);
        if (it != stores_.end()) return it->second;
        std::string url = "s3://" + bucket;
        if (!endpoint_.empty()) url = with_endpoint(url, endpoint_);
        std::shared_ptr<Store> s = s3::open(url);
        stores_.emplace(bucket, s);
        return s;
    }

    std::shared_ptr<const Listing> cached_listing(const RemotePath& r) {
        std::lock_guard lock(mu_);
        for (auto& l : listings_)
            if (covers(*l, r)) return l;
        return nullptr;
    }

    // The listing of everything under r.key: one paginated LIST request for the whole tree, reused
    // for every later question about that part of the bucket (a reader's detect and configure ask
    // many).
    std::shared_ptr<const Listing> listing(const RemotePath& r) {
        if (auto l = cached_listing(r)) return l;
        auto l = std::make_shared<Listing>();
        l->bucket = r.bucket;
        l->prefix = r.key;
        for (auto& ks : store_for(r.bucket)->list_sizes(r.key)) l->files.emplace(ks.key, ks.size);
        std::lock_guard lock(mu_);
        listings_.push_front(l);
        while (listings_.size() > 16) listings_.pop_back();
        return l;
    }

    std::mutex mu_;
    std::string endpoint_;
    std::map<std::string, std::shared_ptr<Store>> stores_;  // bucket -> store
    std::list<std::shared_ptr<const Listing>> listings_;
    std::unordered_map<std::string, uint64_t> sizes_;       // from HEAD requests, by object
    BlockCache blocks_;
};

S3Sources& provider() {
    static S3Sources sources;
    return sources;
}

}  // namespace

SourceProvider& sources() { return provider(); }

void use_store_for_bucket(const std::string& bucket, std::shared_ptr<Store> store) {
    provider().use_store_for_bucket(bucket, std::move(store));
}

}  // namespace imx::s3
