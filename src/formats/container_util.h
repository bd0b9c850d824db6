// Helpers shared by the single-file container readers (ND2, LIF): bounded reads at an offset,
// UTF-16LE decoding with checks, plates by plane size, and a small per-file cache of parsed
// structures so that decoding N planes of one file does not parse its metadata N times.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/types.h"
#include "formats/reader.h"
#include "storage/source_folder.h"

namespace imx::container {

namespace fs = std::filesystem;

inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t& out) { return __builtin_mul_overflow(a, b, &out); }
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t& out) { return __builtin_add_overflow(a, b, &out); }

// A file opened for positional reads (pread: safe from several threads, no shared position). Every
// read is checked against the size the file had when opened.
class RandomAccessFile {
public:
    // Local files and objects in S3 alike (storage/source_files.h), opened by the caller: a decoder's
    // handle, or a layout reader's from its folder handle.
    explicit RandomAccessFile(const source::File& file) : file_(&file) {}

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
    const source::File* file_;
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
// LIF file with an XY image and an XZ scan) or scale (ND2 files taken with two objectives): a plate
// holds one plane size and one scale, so each further geometry becomes a plate of its own,
// "<base>_<W>x<H>[_<type>]", then "_<pixel size>um", "_z<step>um" for another scale of a size
// already stored, beside the base plate set.plates[0].
class PlatesBySize {
public:
    using Geometry = container::Geometry;
    // split_by_scale: another pixel size or z step of a stored plane size makes a plate of its own
    // (ND2: each file a well); otherwise such planes join the plate of their size with a warning
    // that they are stored at that plate's scale (LIF: images of one file are sites of one well).
    explicit PlatesBySize(ImageSet& set, bool split_by_scale = false) : set_(set), split_by_scale_(split_by_scale) {}

    // Index in set.plates for planes of geometry `g`. The first geometry fills the set's own fields
    // (plate 0); another one adds a plate and a warning "<subject> WxH type[, pixel P um][, z step
    // Z um], unlike the first <first_of>'s ...: stored as plate NAME" (subject: "a.lif: image 'x' is"),
    // naming the pixel size and z step when they are what differs.
    size_t plate_for(const Geometry& g, const std::string& subject, const char* first_of) {
        Key key{g.width, g.height, g.dtype, g.pixel_size_x, g.pixel_size_y, g.pixel_size_z};
        if (!split_by_scale_) {
            std::get<3>(key) = std::get<4>(key) = std::get<5>(key) = std::nullopt;
            if (auto it = plates_.find(key); it != plates_.end()) {
                const PlateInfo& p = set_.plates[it->second];
                const auto px = it->second ? p.pixel_size_x : set_.pixel_size_x;
                if (g.pixel_size_x && px && *g.pixel_size_x != *px)
                    set_.warnings.push_back(subject + " at " + micrometres(g.pixel_size_x) + " um pixels, stored in plate " +
                                            p.name + " with its " + micrometres(px) + " um pixels");
                return it->second;
            }
        }
        if (auto it = plates_.find(key); it != plates_.end()) return it->second;
        if (plates_.empty()) {
            assign_geometry(set_, g);
            set_.time_interval_s = g.time_interval_s;
            return plates_.emplace(key, 0).first->second;
        }
        PlateInfo extra = set_.plates.front();
        extra.name += "_" + std::to_string(g.width) + "x" + std::to_string(g.height);
        if (g.dtype != *set_.dtype) extra.name += "_" + dtype_name(g.dtype);
        // The same plane size at another scale: the name says the scale.
        const bool xy_differs = g.pixel_size_x != set_.pixel_size_x || g.pixel_size_y != set_.pixel_size_y;
        const bool z_differs = g.pixel_size_z != set_.pixel_size_z;
        const bool same_plane = g.width == set_.width && g.height == set_.height && g.dtype == *set_.dtype;
        const bool xy_named = (same_plane || taken(extra.name)) && xy_differs;
        if (xy_named) extra.name += "_" + micrometres(g.pixel_size_x) + "um";
        const bool z_named = (same_plane || taken(extra.name)) && z_differs;
        if (z_named) extra.name += "_z" + micrometres(g.pixel_size_z) + "um";
        for (int k = 2; taken(extra.name); ++k) extra.name += "_" + std::to_string(k);
        assign_geometry(extra, g);
        // The scale is described where the plate's name says it.
        auto describe = [&](uint32_t w, uint32_t h, DType t, const std::optional<double>& px, const std::optional<double>& pz) {
            std::string d = std::to_string(w) + "x" + std::to_string(h) + " " + dtype_name(t);
            if (xy_named) d += px ? ", pixel " + micrometres(px) + " um" : ", no pixel size";
            if (z_named) d += pz ? ", z step " + micrometres(pz) + " um" : ", no z step";
            return d;
        };
        set_.warnings.push_back(subject + " " + describe(g.width, g.height, g.dtype, g.pixel_size_x, g.pixel_size_z) +
                                ", unlike the first " + first_of + "'s " +
                                describe(set_.width, set_.height, *set_.dtype, set_.pixel_size_x, set_.pixel_size_z) +
                                ": stored as plate " + extra.name);
        set_.plates.push_back(std::move(extra));
        return plates_.emplace(key, set_.plates.size() - 1).first->second;
    }

private:
    using Key = std::tuple<uint32_t, uint32_t, DType, std::optional<double>, std::optional<double>, std::optional<double>>;

    static std::string micrometres(const std::optional<double>& v) {
        if (!v) return "uncalibrated";  // only in names: the description says "no pixel size"
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.4g", *v);
        return buf;
    }
    bool taken(const std::string& name) const {
        for (auto& p : set_.plates)
            if (p.name == name) return true;
        return false;
    }
    ImageSet& set_;
    bool split_by_scale_;
    std::map<Key, size_t> plates_;
};

// The last few parsed file structures, keyed by path, size and modification time, so a changed
// file is parsed again. Thread-safe; parsing happens outside the lock (two threads may parse the
// same file once each, which is harmless).
template <class T> class StructureCache {
public:
    explicit StructureCache(size_t capacity = 8) : capacity_(capacity) {}

    std::shared_ptr<const T> get(const source::File& file,
                                 const std::function<std::shared_ptr<const T>(const RandomAccessFile&)>& parse) {
        const RandomAccessFile f(file);
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

// Channel names must be unique within an acquisition: "GFP", "GFP" -> "GFP", "GFP (2)"; an empty
// name becomes "C<index>". The names taken and the next suffix of each name keep this near linear
// in the count, which a file chooses.
inline void make_unique_names(std::vector<std::string>& names) {
    std::set<std::string> taken;
    std::map<std::string, size_t> next_suffix;
    for (size_t i = 0; i < names.size(); ++i) {
        if (names[i].empty()) names[i] = "C" + std::to_string(i);
        const std::string base = names[i];
        size_t& k = next_suffix.emplace(base, 2).first->second;
        while (!taken.insert(names[i]).second) names[i] = base + " (" + std::to_string(k++) + ")";
    }
}

// Names of the files in `folder` that `is_kind` accepts, sorted: the files of a folder of
// containers (ND2, LIF), one well each.
template <class Accept> std::vector<std::string> files_of_kind(const source::Folder& folder, Accept is_kind) {
    std::vector<std::string> names;
    for (auto& e : folder.list())
        if (!e.is_dir && is_kind(e.path)) names.push_back(e.name);
    std::sort(names.begin(), names.end());
    return names;
}

// The plate of a folder of `count` container files, one well per file in name order: named after
// the folder, the smallest standard plate of 96 wells or more that holds them; throws naming the
// folder when none does. `kind`: "ND2", "LIF".
inline PlateInfo plate_of_files(const fs::path& folder, size_t count, const std::string& kind) {
    PlateInfo plate{folder.filename().string(), 0, 0};
    if (plate.name.empty()) plate.name = "plate";
    const PlateFormat format = plate_for_well_count(count);
    plate.rows = format.rows;
    plate.cols = format.cols;
    if (plate.rows == 0)
        throw input_error(folder.string(), std::to_string(count) + " " + kind + " files: more than the 1536 wells of a plate");
    return plate;
}

}  // namespace imx::container
