#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/fileutil.h"
#include "core/memory.h"
#include "core/types.h"
#include "storage/store.h"
#include "storage/store.h"

namespace imx {

namespace fs = std::filesystem;

void check_key(const std::string& key) {
    if (key.empty() || key.front() == '/' || key.back() == '/')
        throw Error("invalid store key '" + key + "'", Error::Kind::storage);
    size_t start = 0;
    while (start <= key.size()) {
        size_t end = key.find('/', start);
        if (end == std::string::npos) end = key.size();
        std::string_view part(key.data() + start, end - start);
        if (part.empty() || part == "." || part == "..")
            throw Error("invalid store key '" + key + "' (empty, '.' or '..' part)", Error::Kind::storage);
        start = end + 1;
    }
}

namespace {

class FilesystemStore final : public Store {
public:
    explicit FilesystemStore(fs::path root) : root_(std::move(root)) {}

    std::string url() const override { return root_.string(); }

    void put(const std::string& key, std::string_view value) override {
        check_key(key);
        write_file_atomic(root_ / key, value, WriteMode::direct_if_enabled);  // creates missing folders
    }

    std::unique_ptr<Writer> open_writer(const std::string& key) override {
        check_key(key);
        class FileWriter final : public Writer {
        public:
            explicit FileWriter(fs::path target) : file_(std::move(target)) {}
            void append(std::string_view bytes) override { file_.append(bytes); }
            uint64_t size() const override { return file_.size(); }
            void commit() override { file_.commit(); }

        private:
            AtomicFileWriter file_;
        };
        return std::make_unique<FileWriter>(root_ / key);
    }

    std::optional<std::string> get(const std::string& key) const override {
        return get_range(key, 0, UINT64_MAX);
    }

    std::optional<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) const override {
        std::string out;
        if (!read_into(key, offset, length, out)) return std::nullopt;
        return out;
    }

    bool get_into(const std::string& key, std::string& out) const override {
        return read_into(key, 0, UINT64_MAX, out);
    }

    // Bytes [offset, offset + length) of the file into `out`, resized to what it holds (a reused
    // buffer is zero-filled only where it grows); false when the file is absent.
    bool read_into(const std::string& key, uint64_t offset, uint64_t length, std::string& out) const {
        check_key(key);
        fs::path p = root_ / key;
        int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR) return false;
            throw Error(p.string() + ": cannot open: " + std::strerror(errno), Error::Kind::storage);
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            return false;
        }
        const uint64_t size = uint64_t(st.st_size);
        const size_t want = offset >= size ? 0 : size_t(std::min<uint64_t>(length, size - offset));
        reserve_with_huge_pages(out, want);
        out.resize(want);
        size_t off = 0;
        while (off < out.size()) {
            ssize_t n = ::pread(fd, out.data() + off, out.size() - off, off_t(offset + off));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            off += size_t(n);
        }
        ::close(fd);
        out.resize(off);
        return true;
    }

    std::optional<uint64_t> size(const std::string& key) const override {
        check_key(key);
        struct stat st {};
        if (::stat((root_ / key).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
        return uint64_t(st.st_size);
    }

    void remove(const std::string& key) override {
        check_key(key);
        fs::path p = root_ / key;
        if (::unlink(p.c_str()) != 0 && errno != ENOENT)
            throw Error(p.string() + ": cannot delete: " + std::strerror(errno), Error::Kind::storage);
    }

    uint64_t remove_prefix(const std::string& prefix) override {
        std::string trimmed = prefix;
        while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
        check_key(trimmed);
        std::error_code ec;
        auto n = fs::remove_all(root_ / trimmed, ec);
        if (ec)
            throw Error((root_ / trimmed).string() + ": cannot delete: " + ec.message(), Error::Kind::storage);
        return uint64_t(n);
    }

    std::vector<std::string> list(const std::string& prefix) const override {
        std::vector<std::string> keys;
        std::string trimmed = prefix;
        while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
        fs::path start = trimmed.empty() ? root_ : root_ / trimmed;
        std::error_code ec;
        if (!fs::is_directory(start, ec)) return keys;
        for (auto it = fs::recursive_directory_iterator(start, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            if (!it->is_regular_file(ec)) continue;
            std::string name = it->path().filename().string();
            if (name.size() > 4 && name.front() == '.' && name.ends_with(".tmp")) continue;
            keys.push_back(fs::relative(it->path(), root_, ec).generic_string());
        }
        std::sort(keys.begin(), keys.end());
        return keys;
    }

    uint64_t remove_temporaries() override {
        uint64_t n = 0;
        std::error_code ec;
        if (!fs::is_directory(root_, ec)) return 0;
        std::vector<fs::path> doomed;
        for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            std::string name = it->path().filename().string();
            if (name.size() > 4 && name.front() == '.' && name.ends_with(".tmp")) doomed.push_back(it->path());
        }
        for (auto& p : doomed) n += fs::remove(p, ec) ? 1 : 0;
        return n;
    }

private:
    fs::path root_;
};

}  // namespace

std::unique_ptr<Store> make_filesystem_store(const fs::path& root) { return std::make_unique<FilesystemStore>(root); }

}  // namespace imx
