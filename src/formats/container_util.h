// Helpers shared by the single-file container readers (ND2, LIF): bounded reads at an offset,
// UTF-16LE decoding with checks, plates by plane size, and a small per-file cache of parsed
// structures so that decoding N planes of one file does not parse its metadata N times.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/types.h"
#include "formats/reader.h"
#include "storage/source_files.h"

namespace imx::container {

namespace fs = std::filesystem;

inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t& out) { return __builtin_mul_overflow(a, b, &out); }
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t& out) { return __builtin_add_overflow(a, b, &out); }

// A file opened for positional reads (pread: safe from several threads, no shared position). Every
// read is checked against the size the file had when opened.
class RandomAccessFile {
public:
    // Local files and objects in S3 alike (storage/source_files.h).
    explicit RandomAccessFile(const fs::path& file) : file_(source::open(file)) {}

    uint64_t size() const { return file_->size(); }
    int64_t mtime_ns() const { return file_->mtime_ns(); }
    const std::string& path() const { return file_->path(); }

    // True when [offset, offset + len) lies inside the file.
    bool contains(uint64_t offset, uint64_t len) const {
        uint64_t end = 0;
        return !add_overflows(offset, len, end) && end <= size();
    }
    [[noreturn]] void fail(uint64_t offset, const std::string& reason) const {
        throw input_error(path(), "offset " + std::to_string(offset) + ": " + reason);
    }
    void read_at(uint64_t offset, void* out, size_t len, const char* what) const {
        if (!contains(offset, len))
            fail(offset, std::string(what) + " of " + std::to_string(len) + " bytes runs past the end of the file (" +
                             std::to_string(size()) + " bytes; truncated?)");
        file_->read_at(offset, out, len);
    }
    std::string read_string(uint64_t offset, size_t len, const char* what) const {
        std::string s(len, '\0');
        read_at(offset, s.data(), len, what);
        return s;
    }
    template <class T> T read_le(uint64_t offset, const char* what) const {
        T v{};
        read_at(offset, &v, sizeof v, what);  // little-endian host (static_assert in tiff_decoder.cpp)
        return v;
    }

private:
    std::unique_ptr<source::File> file_;
};

// Little-endian values from a byte buffer; the caller has checked the bounds.
template <class T> T load_le(const unsigned char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// UTF-16LE -> UTF-8. Unpaired surrogates become U+FFFD rather than failing: names in vendor
// metadata are informative, and one odd character must not make a file unreadable. Returns false
// only for an odd byte count.
inline bool utf16le_to_utf8(std::string_view in, std::string& out) {
    out.clear();
    if (in.size() % 2) return false;
    out.reserve(in.size() / 2 + in.size() / 8);
    auto unit = [&](size_t i) {
        return uint32_t(static_cast<unsigned char>(in[2 * i])) | uint32_t(static_cast<unsigned char>(in[2 * i + 1])) << 8;
    };
    const size_t n = in.size() / 2;
    for (size_t i = 0; i < n; ++i) {
        uint32_t cp = unit(i);
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < n && unit(i + 1) >= 0xDC00 && unit(i + 1) <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (unit(i + 1) - 0xDC00);
            ++i;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }
    return true;
}

// A plane geometry as readers find it, and the fields of it that ImageSet and PlateInfo share.
struct Geometry {
    uint32_t width = 0, height = 0;
    DType dtype = DType::u16;
    int bits_per_sample = 0;
    std::optional<double> pixel_size_x, pixel_size_y, pixel_size_z, time_interval_s;
};
template <class Target> void assign_geometry(Target& t, const Geometry& g) {
    t.width = g.width;
    t.height = g.height;
    t.dtype = g.dtype;
    t.bits_per_sample = g.bits_per_sample;
    t.pixel_size_x = g.pixel_size_x;
    t.pixel_size_y = g.pixel_size_y;
    t.pixel_size_z = g.pixel_size_z;
}

// Plates by plane geometry, for container folders whose files or images differ in plane size (a
// LIF file with an XY image and an XZ scan): a plate holds one plane size, so each further size
// becomes a plate of its own, "<base>_<W>x<H>[_<type>]", beside the base plate set.plates[0].
class PlatesBySize {
public:
    using Geometry = container::Geometry;
    explicit PlatesBySize(ImageSet& set) : set_(set) {}

    // Index in set.plates for planes of geometry `g`. The first geometry fills the set's own fields
    // (plate 0); another one adds a plate and a warning "<subject> WxH type, unlike the first
    // <first_of>'s WxH type: stored as plate NAME" (subject: "a.lif: image 'x' is").
    size_t plate_for(const Geometry& g, const std::string& subject, const char* first_of) {
        const auto key = std::make_tuple(g.width, g.height, g.dtype);
        if (auto it = plates_.find(key); it != plates_.end()) return it->second;
        if (plates_.empty()) {
            assign_geometry(set_, g);
            set_.time_interval_s = g.time_interval_s;
            return plates_.emplace(key, 0).first->second;
        }
        PlateInfo extra = set_.plates.front();
        extra.name += "_" + std::to_string(g.width) + "x" + std::to_string(g.height);
        if (g.dtype != *set_.dtype) extra.name += "_" + dtype_name(g.dtype);
        assign_geometry(extra, g);
        set_.warnings.push_back(subject + " " + std::to_string(g.width) + "x" + std::to_string(g.height) + " " +
                                dtype_name(g.dtype) + ", unlike the first " + first_of + "'s " +
                                std::to_string(set_.width) + "x" + std::to_string(set_.height) + " " +
                                dtype_name(*set_.dtype) + ": stored as plate " + extra.name);
        set_.plates.push_back(std::move(extra));
        return plates_.emplace(key, set_.plates.size() - 1).first->second;
    }

private:
    ImageSet& set_;
    std::map<std::tuple<uint32_t, uint32_t, DType>, size_t> plates_;
};

// The last few parsed file structures, keyed by path, size and modification time, so a changed
// file is parsed again. Thread-safe; parsing happens outside the lock (two threads may parse the
// same file once each, which is harmless).
template <class T> class StructureCache {
public:
    explicit StructureCache(size_t capacity = 8) : capacity_(capacity) {}

    std::shared_ptr<const T> get(const fs::path& file,
                                 const std::function<std::shared_ptr<const T>(const RandomAccessFile&)>& parse) {
        RandomAccessFile f(file);
        Key key{f.path(), f.size(), f.mtime_ns()};
        {
            std::lock_guard lock(mutex_);
            for (auto it = entries_.begin(); it != entries_.end(); ++it)
                if (it->first == key) {
                    entries_.splice(entries_.begin(), entries_, it);  // most recent first
                    return entries_.front().second;
                }
        }
        std::shared_ptr<const T> parsed = parse(f);
        std::lock_guard lock(mutex_);
        entries_.emplace_front(key, parsed);
        while (entries_.size() > capacity_) entries_.pop_back();
        return parsed;
    }

private:
    struct Key {
        std::string path;
        uint64_t size;
        int64_t mtime;
        bool operator==(const Key&) const = default;
    };
    size_t capacity_;
    std::mutex mutex_;
    std::list<std::pair<Key, std::shared_ptr<const T>>> entries_;
};

// Channel names must be unique within an acquisition: "GFP", "GFP" -> "GFP", "GFP (2)".
inline void make_unique_names(std::vector<std::string>& names) {
    for (size_t i = 0; i < names.size(); ++i) {
        if (names[i].empty()) names[i] = "C" + std::to_string(i);
        const std::string base = names[i];
        for (int k = 2;; ++k) {
            bool clash = false;
            for (size_t j = 0; j < i; ++j) clash |= names[j] == names[i];
            if (!clash) break;
            names[i] = base + " (" + std::to_string(k) + ")";
        }
    }
}

}  // namespace imx::container
