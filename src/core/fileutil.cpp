#include "core/fileutil.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <fstream>

#include "core/types.h"

namespace imx {

namespace fs = std::filesystem;

fs::path temporary_sibling(const fs::path& target) {
    static std::atomic<uint64_t> counter{0};
    // Leading '.' and a '.tmp' suffix: readers listing the store never mistake it for a chunk.
    std::string name = "." + target.filename().string() + "." + std::to_string(::getpid()) + "." +
                       std::to_string(counter++) + ".tmp";
    return target.parent_path() / name;
}

void commit_temporary(const fs::path& tmp, const fs::path& target) {
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw Error(target.string() + ": cannot rename temporary file into place: " + std::strerror(err),
                    Error::Kind::storage);
    }
}

namespace {

constexpr size_t kDirectMinBytes = size_t(1) << 20;
constexpr size_t kDirectAlign = 4096;             // covers every device's logical block size
constexpr size_t kDirectBounceBytes = size_t(4) << 20;

bool direct_writes_enabled() {
    const char* v = std::getenv("IMX_DIRECT_WRITES");  // per call: next to a 1 MiB write it is free
    return v && *v && std::string_view(v) != "0";
}

struct AlignedFree {
    void operator()(void* p) const { std::free(p); }
};

// A failed write: errno and what was being done.
struct WriteError {
    int err = 0;
    const char* what = "";
};

// Writes `data` to `fd` (opened with O_DIRECT) in aligned pieces copied through a per-thread bounce
// buffer; the last piece is padded and the file cut to size. Sets `refused`, having written
// nothing, when the filesystem refuses direct I/O only at the first write (or no aligned buffer
// could be had): the caller then writes through the page cache.
WriteError write_direct(int fd, std::string_view data, bool& refused) {
    refused = false;
    thread_local std::unique_ptr<void, AlignedFree> bounce;
    if (!bounce) {
        void* p = nullptr;
        if (::posix_memalign(&p, kDirectAlign, kDirectBounceBytes) != 0) {
            refused = true;
            return {};
        }
        bounce.reset(p);
    }
    auto* buf = static_cast<char*>(bounce.get());
    size_t off = 0;
    while (off < data.size()) {
        const size_t take = std::min(kDirectBounceBytes, data.size() - off);
        const size_t padded = (take + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
        std::memcpy(buf, data.data() + off, take);
        std::memset(buf + take, 0, padded - take);
        size_t done = 0;
        while (done < padded) {
            ssize_t n = ::pwrite(fd, buf + done, padded - done, off_t(off + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EINVAL && off == 0 && done == 0) {  // O_DIRECT accepted, then refused
                refused = true;
                return {};
            }
            if (n < 0) return {errno, "write failed"};
            if (n == 0 || size_t(n) % kDirectAlign != 0) return {EIO, "write failed"};
            done += size_t(n);
        }
        off += take;
    }
    if (::ftruncate(fd, off_t(data.size())) != 0) return {errno, "cannot cut the padding"};
    return {};
}

// Creates the temporary file; creates missing folders only when the first open says they are
// missing (most writes go into an existing folder, and checking every path component on every
// write costs more than the write of a chunk).
int create_temporary(const fs::path& tmp, const fs::path& target, int extra_flags) {
    const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | extra_flags;
    int fd = ::open(tmp.c_str(), flags, 0644);
    if (fd < 0 && errno == ENOENT && target.has_parent_path()) {
        std::error_code ec;
        fs::create_directories(target.parent_path(), ec);
        if (ec)
            throw Error(target.parent_path().string() + ": cannot create folder: " + ec.message(), Error::Kind::storage);
        fd = ::open(tmp.c_str(), flags, 0644);
    }
    return fd;
}

}  // namespace

void write_file_atomic(const fs::path& target, std::string_view data, WriteMode mode) {
    const fs::path tmp = temporary_sibling(target);
    bool direct = mode == WriteMode::direct_if_enabled && data.size() >= kDirectMinBytes && direct_writes_enabled();
    int fd = create_temporary(tmp, target, direct ? O_DIRECT : 0);
    if (fd < 0 && direct && (errno == EINVAL || errno == EOPNOTSUPP)) {  // no direct I/O on this filesystem
        direct = false;
        fd = create_temporary(tmp, target, 0);
    }
    if (fd < 0)
        throw Error(target.string() + ": cannot create file: " + std::strerror(errno), Error::Kind::storage);
    auto fail = [&](const WriteError& e) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw Error(target.string() + ": " + e.what + ": " + std::strerror(e.err), Error::Kind::storage);
    };
    if (direct) {
        bool refused = false;
        if (WriteError e = write_direct(fd, data, refused); e.err) fail(e);
        if (refused && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_DIRECT) != 0) fail({errno, "write failed"});
        direct = !refused;
    }
    if (!direct) {
        size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ::write(fd, data.data() + off, data.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail({errno, "write failed"});
            off += size_t(n);
        }
    }
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw Error(target.string() + ": write failed: " + std::strerror(err), Error::Kind::storage);
    }
    commit_temporary(tmp, target);
}

AtomicFileWriter::AtomicFileWriter(fs::path target) : target_(std::move(target)), tmp_(temporary_sibling(target_)) {
    fd_ = create_temporary(tmp_, target_, 0);
    if (fd_ < 0) throw Error(target_.string() + ": cannot create file: " + std::strerror(errno), Error::Kind::storage);
}

AtomicFileWriter::~AtomicFileWriter() {
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlink(tmp_.c_str());
    }
}

void AtomicFileWriter::append(std::string_view data) {
    if (fd_ < 0) throw Error("internal: " + target_.string() + " appended to after commit");
    for (size_t off = 0; off < data.size();) {
        const ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(target_.string() + ": write failed: " + std::strerror(errno), Error::Kind::storage);
        off += size_t(n);
    }
    size_ += data.size();
}

void AtomicFileWriter::commit() {
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp_.c_str());
        throw Error(target_.string() + ": write failed: " + std::strerror(err), Error::Kind::storage);
    }
    commit_temporary(tmp_, target_);
}

std::string lower_extension(const fs::path& file) {
    std::string ext = file.extension().string();
    for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
    return ext;
}

std::string read_file(const fs::path& file, uint64_t max_bytes) {
    std::error_code ec;
    auto size = fs::file_size(file, ec);
    if (ec) throw input_error(file.string(), "cannot read file: " + ec.message());
    if (size > max_bytes)
        throw input_error(file.string(), "file is " + std::to_string(size) + " bytes, more than the " +
                                             std::to_string(max_bytes) + " bytes allowed here");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw input_error(file.string(), "cannot open file");
    std::string s(size, '\0');
    in.read(s.data(), std::streamsize(size));
    s.resize(size_t(in.gcount()));
    return s;
}

nlohmann::json name_to_json(const std::string& name) {
    if (valid_utf8(name)) return name;
    static const char* digits = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : name) hex += digits[c >> 4], hex += digits[c & 15];
    return {{"hex", hex}};
}

std::string name_from_json(const nlohmann::json& j) {
    if (j.is_string()) return j.get<std::string>();
    const std::string hex = j.at("hex").get<std::string>();
    if (hex.size() % 2) throw Error("corrupt file name in job description (odd hex length)");
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        throw Error("corrupt file name in job description (not hex)");
    };
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) out += char(nibble(hex[i]) * 16 + nibble(hex[i + 1]));
    return out;
}

}  // namespace imx
