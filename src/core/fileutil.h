// Small file helpers used everywhere: atomic writes, whole-file reads bounded by the real size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>
#include <string_view>

namespace imx {

// A unique temporary name next to `target` (same folder, so rename() is atomic).
std::filesystem::path temporary_sibling(const std::filesystem::path& target);
// fsync()s nothing (speed), renames `tmp` to `target`; removes tmp and throws on failure.
void commit_temporary(const std::filesystem::path& tmp, const std::filesystem::path& target);
// How write_file_atomic writes. `direct_if_enabled`: with IMX_DIRECT_WRITES=1, values of 1 MiB or
// more bypass the page cache (O_DIRECT, through a small aligned bounce buffer) where the filesystem
// allows it; buffered otherwise. Through the page cache a chunk costs a copy into newly allocated
// memory, which on a VM that hands freed memory back to its host costs several times the copy;
// without it, reading the chunks back (collect's verification) comes from disk. Measured in
// docs/performance.md; off by default.
enum class WriteMode { buffered, direct_if_enabled };
// Writes `data` to `target` atomically (temporary name, then rename). Creates parent folders.
void write_file_atomic(const std::filesystem::path& target, std::string_view data,
                       WriteMode mode = WriteMode::buffered);
// A file written piece by piece under a temporary name beside `target` (folders created), renamed
// into place by commit(); destroyed uncommitted, it removes the temporary file. Errors (Error,
// storage) name the target and the OS reason.
class AtomicFileWriter {
public:
    explicit AtomicFileWriter(std::filesystem::path target);
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
    void append(std::string_view data);
    uint64_t size() const { return size_; }
    void commit();

private:
    std::filesystem::path target_, tmp_;
    int fd_ = -1;
    uint64_t size_ = 0;
};
// The file's extension in lower case, with the dot (".tif").
std::string lower_extension(const std::filesystem::path& file);
// Reads a whole file; refuses files larger than `max_bytes` with an Error naming the file.
// A file name in a job file: a JSON string when it is valid UTF-8, else {"hex": "..."} with its
// bytes, so that names the filesystem allows but JSON cannot hold still round-trip exactly.
nlohmann::json name_to_json(const std::string& name);
std::string name_from_json(const nlohmann::json& j);

std::string read_file(const std::filesystem::path& file, uint64_t max_bytes = 1ull << 30);

}  // namespace imx
