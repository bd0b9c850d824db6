// Key-value storage under the array format (TensorStore's kvstore/driver split): the zarr/NGFF
// writer speaks only in keys ("plate.zarr/B/03/0/0/0/1/2/0/0") and byte strings, so the same writer
// works on a local filesystem and on S3-compatible object storage (s3_store.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imx {

class Store {
public:
    virtual ~Store() = default;
    // Where the store is, as the user wrote it ("/data/plates", "s3://bucket/prefix").
    virtual std::string url() const = 0;
    // Writes a whole value atomically: readers see the old value, or the new one, never a part.
    virtual void put(const std::string& key, std::string_view value) = 0;
    // A value written piece by piece (the shard of a plane too large to hold, whose chunks come
    // band by band): append(), then commit() makes it visible whole, as put() does; a writer
    // destroyed before commit() leaves nothing. This default holds the pieces in memory and puts
    // them at commit(); the filesystem store writes them to a temporary file as they come.
    class Writer {
    public:
        virtual ~Writer() = default;
        virtual void append(std::string_view bytes) = 0;
        virtual uint64_t size() const = 0;
        virtual void commit() = 0;
    };
    virtual std::unique_ptr<Writer> open_writer(const std::string& key) {
        class Buffered final : public Writer {
        public:
            Buffered(Store& store, std::string key) : store_(store), key_(std::move(key)) {}
            void append(std::string_view bytes) override { value_.append(bytes); }
            uint64_t size() const override { return value_.size(); }
            void commit() override { store_.put(key_, value_); }

        private:
            Store& store_;
            std::string key_, value_;
        };
        return std::make_unique<Buffered>(*this, key);
    }
    virtual std::optional<std::string> get(const std::string& key) const = 0;
    // Bytes [offset, offset + length) of a value (fewer at its end); nullopt when the key is absent.
    // Object stores answer with one ranged GET, so a reader of a big container or a shard index
    // does not fetch the whole object.
    virtual std::optional<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) const {
        auto v = get(key);
        if (!v) return v;
        if (offset >= v->size()) return std::string();
        return v->substr(size_t(offset), size_t(std::min<uint64_t>(length, v->size() - offset)));
    }
    // A whole value into `out`, reusing its buffer: a reader of many chunks then does not allocate
    // and zero-fill one per chunk (a fifth of collect's time). False when the key is absent.
    virtual bool get_into(const std::string& key, std::string& out) const {
        auto v = get(key);
        if (!v) return false;
        out = std::move(*v);
        return true;
    }
    virtual std::optional<uint64_t> size(const std::string& key) const = 0;
    bool exists(const std::string& key) const { return size(key).has_value(); }
    virtual void remove(const std::string& key) = 0;
    // Removes every key that starts with `prefix` (a folder-like prefix ending in '/', or a key).
    virtual uint64_t remove_prefix(const std::string& prefix) = 0;
    // Every key under `prefix`, sorted.
    virtual std::vector<std::string> list(const std::string& prefix) const = 0;
    struct KeySize {
        std::string key;
        uint64_t size = 0;
    };
    // Like list(), with each value's size (one listing on object stores, no request per key).
    virtual std::vector<KeySize> list_sizes(const std::string& prefix) const {
        std::vector<KeySize> out;
        for (auto& k : list(prefix))
            if (auto n = size(k)) out.push_back({k, *n});
        return out;
    }
    // Removes leftovers of interrupted writes (temporary objects); returns how many.
    virtual uint64_t remove_temporaries() { return 0; }
};

// Opens a store from a URL or a path: the backend of the URL's scheme (storage/scheme.h); plain
// paths and file:// URLs give the filesystem store.
std::unique_ptr<Store> open_store(const std::string& url);
// The filesystem store rooted at an absolute folder.
std::unique_ptr<Store> make_filesystem_store(const std::filesystem::path& root);

// Throws Error when a key could escape the store root ("..", absolute, empty parts).
void check_key(const std::string& key);

}  // namespace imx
