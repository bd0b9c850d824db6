// Positional, bounds-checked reads of a CZI file, shared by the index (czi_file.cpp) and the pixel
// decoding (czi_pixels.cpp). Internal to formats/czi.
#pragma once

#include <bit>
#include <cstring>
#include <memory>
#include <string>

#include "formats/czi/czi.h"
#include "storage/source_files.h"

namespace imx::czi {

static_assert(std::endian::native == std::endian::little, "CZI and planes are little endian");

constexpr uint64_t kSegmentHeader = 32;
// One decoded plane (a whole mosaic) or tile is held in memory and stored as one chunk, which
// blosc compresses only up to 2 GiB.
constexpr uint64_t kMaxPlaneBytes = 2ull << 30;

inline std::string at(uint64_t offset) { return "offset " + std::to_string(offset); }

// Little-endian reads from a byte buffer whose bounds the caller checked.
template <class T> T get(const unsigned char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Positional reads of a local file or an S3 object (storage/source_files.h); every read is checked
// against the size first.
class File {
public:
    explicit File(const source::File& file) : file_(&file) {}

    uint64_t size() const { return file_->size(); }
    const std::string& path() const { return file_->path(); }
    bool fits(uint64_t pos, uint64_t n) const { return pos <= size() && n <= size() - pos; }

    void read(uint64_t pos, void* dst, uint64_t n, const std::string& what) const {
        if (!fits(pos, n))
            throw input_error(path(), what + " at " + at(pos) + " (" + std::to_string(n) +
                                          " bytes) lies beyond the end of the file (" + std::to_string(size()) +
                                          " bytes); truncated or corrupt file");
        file_->read_at(pos, dst, size_t(n));
    }

    // Checks the 32-byte segment header at `pos` and returns the position of its data.
    uint64_t segment(uint64_t pos, const char* id, const std::string& what) const {
        unsigned char h[kSegmentHeader];
        read(pos, h, sizeof h, what + " segment header");
        char name[17] = {};
        std::memcpy(name, h, 16);
        if (std::strncmp(name, id, 16) != 0) {
            std::string shown;
            for (char ch : std::string_view(name, strnlen(name, 16)))
                shown += (ch >= 32 && ch < 127) ? ch : '?';
            throw input_error(path(), what + " at " + at(pos) + ": expected a " + id + " segment, found '" + shown + "'");
        }
        if (get<int64_t>(h + 16) < 0 || get<int64_t>(h + 24) < 0)
            throw input_error(path(), what + " at " + at(pos) + ": negative segment size");
        return pos + kSegmentHeader;
    }

private:
    const source::File* file_;
};

}  // namespace imx::czi
