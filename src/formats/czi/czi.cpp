// Zeiss CZI (ZISRAW) reader: a layout reader for a folder of .czi files and a pixel decoder.
//
// File structure: segments, each a 32-byte header (16-byte id, allocated size, used size) and its
// data. ZISRAWFILE at offset 0 points at the subblock directory (ZISRAWDIRECTORY: one
// DirectoryEntryDV per subblock with its pixel type, compression, file position and dimension
// entries X, Y, C, Z, T, S, M, B, H, ...) and at the metadata segment (ZISRAWMETADATA: XML with
// channel names and scaling). Every offset and size read from the file is checked against the real
// file size before we seek or allocate; a bad subblock fails only the plane that needs it.
//
// Colour subblocks (Bgr24, Bgr48) are stored B, G, R; we expose them as three samples with
// sample 0 = R, 1 = G, 2 = B, like the TIFF and PNG decoders.
#include "formats/czi/czi.h"

#include <zstd.h>

#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "formats/builtin.h"
#include "formats/container_util.h"
#include "formats/reader.h"
#include "storage/source_files.h"

namespace imx {
namespace czi {

namespace {

static_assert(std::endian::native == std::endian::little, "CZI and planes are little endian");

constexpr uint64_t kSegmentHeader = 32;
// One decoded plane (a whole mosaic) or tile is held in memory and stored as one chunk, which
// blosc compresses only up to 2 GiB.
constexpr uint64_t kMaxPlaneBytes = 2ull << 30;

std::string at(uint64_t offset) { return "offset " + std::to_string(offset); }

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
    explicit File(const fs::path& path) : file_(source::open(path)) {}

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
    std::unique_ptr<source::File> file_;
};

// Parses one DirectoryEntryDV at p (n bytes available); returns its size, 0 when it does not fit.
size_t parse_entry(const unsigned char* p, size_t n, Subblock& sb, std::string& error) {
    if (n < 32) return error = "directory entry is cut off", 0;
    if (p[0] != 'D' || p[1] != 'V') return error = "directory entry has schema '" + std::string(1, char(p[0])) +
                                                    std::string(1, char(p[1])) + "', expected 'DV'",
                                        0;
    sb.pixel_type = get<int32_t>(p + 2);
    sb.file_pos = get<int64_t>(p + 6);
    sb.file_part = get<int32_t>(p + 14);
    sb.compression = get<int32_t>(p + 18);
    sb.pyramid_type = p[22];
    const int32_t count = get<int32_t>(p + 28);
    if (count < 1) return error = "directory entry declares " + std::to_string(count) + " dimensions", 0;
    const size_t size = 32 + size_t(count) * 20;  // what the directory holds bounds it: checked next
    if (n < size) return error = "directory entry is cut off", 0;
    bool have_x = false, have_y = false;
    for (int32_t k = 0; k < count; ++k) {
        const unsigned char* d = p + 32 + size_t(k) * 20;
        const char dim = char(d[0]);
        const int32_t start = get<int32_t>(d + 4), sz = get<int32_t>(d + 8), stored = get<int32_t>(d + 16);
        switch (dim) {
        case 'X':
        case 'Y': {
            if (sz <= 0 || stored <= 0)
                return error = std::string("dimension ") + dim + " has size " + std::to_string(sz) + " (stored " +
                               std::to_string(stored) + ")",
                       0;
            (dim == 'X' ? sb.x : sb.y) = start;
            (dim == 'X' ? sb.width : sb.height) = uint32_t(sz);
            (dim == 'X' ? sb.stored_width : sb.stored_height) = uint32_t(stored);
            (dim == 'X' ? have_x : have_y) = true;
            break;
        }
        case 'C': sb.c = start; break;
        case 'Z': sb.z = start; break;
        case 'T': sb.t = start; break;
        case 'S': sb.s = start; break;
        case 'B': sb.b = start; break;
        case 'H': sb.h = start; break;
        case 'M': sb.m = start; break;
        default: sb.other = std::max(sb.other, start); break;  // R, I, V, ...: only their first index is read
        }
    }
    if (!have_x || !have_y) return error = "directory entry has no X or Y dimension", 0;
    return size;
}

void build_planes(const std::string& path, Index& idx) {
    // The subblocks we use: full resolution, of the first B, H (and R, I, V) index present, in this
    // file part.
    std::vector<uint32_t> used;
    int32_t b0 = INT32_MAX, h0 = INT32_MAX, o0 = INT32_MAX;
    for (auto& sb : idx.subblocks)
        if (sb.full_resolution() && sb.file_part == 0) {
            b0 = std::min(b0, sb.b);
            h0 = std::min(h0, sb.h);
            o0 = std::min(o0, sb.other);
        }
    size_t pyramid = 0, other_bh = 0, parts = 0;
    for (uint32_t i = 0; i < idx.subblocks.size(); ++i) {
        const Subblock& sb = idx.subblocks[i];
        if (sb.file_part != 0) ++parts;
        else if (!sb.full_resolution()) ++pyramid;
        else if (sb.b != b0 || sb.h != h0 || sb.other != o0) ++other_bh;
        else used.push_back(i);
    }
    (void)pyramid;  // downscaled pyramid levels are expected and silently left out
    idx.other_index_blocks = other_bh;
    idx.other_part_blocks = parts;
    if (other_bh)
        idx.warnings.push_back(path + ": " + std::to_string(other_bh) +
                               " subblocks of further B (block), H (phase), R, I or V indices are not extracted");
    if (parts)
        idx.warnings.push_back(path + ": " + std::to_string(parts) +
                               " subblocks live in other parts of a multi-file CZI and are not extracted");
    if (used.empty()) throw input_error(path, "the subblock directory lists no full-resolution subblock");

    idx.pixel_type = idx.subblocks[used.front()].pixel_type;
    for (uint32_t i : used)
        if (idx.subblocks[i].pixel_type != idx.pixel_type)
            throw input_error(path, "subblock at " + at(uint64_t(idx.subblocks[i].file_pos)) + " has pixel type " +
                                        pixel_type_name(idx.subblocks[i].pixel_type) + " but others have " +
                                        pixel_type_name(idx.pixel_type) + "; mixed pixel types are not supported");

    std::set<int32_t> s, c, z, t;
    for (uint32_t i : used) {
        const Subblock& sb = idx.subblocks[i];
        s.insert(sb.s);
        c.insert(sb.c);
        z.insert(sb.z);
        t.insert(sb.t);
    }
    idx.scenes.assign(s.begin(), s.end());
    idx.channels.assign(c.begin(), c.end());
    idx.zplanes.assign(z.begin(), z.end());
    idx.tpoints.assign(t.begin(), t.end());

    // Subblocks of one (S, T, C, Z) in drawing order: by M, then directory order.
    std::map<std::tuple<int32_t, int32_t, int32_t, int32_t>, std::vector<uint32_t>> groups;
    for (uint32_t i : used) {
        const Subblock& sb = idx.subblocks[i];
        groups[{sb.s, sb.t, sb.c, sb.z}].push_back(i);
    }
    for (auto& [key, blocks] : groups)
        std::stable_sort(blocks.begin(), blocks.end(), [&](uint32_t a, uint32_t b) {
            return idx.subblocks[a].m.value_or(INT32_MIN) < idx.subblocks[b].m.value_or(INT32_MIN);
        });

    // Mosaics: every plane of a scene spans the scene's bounding box; all scenes of a file get the
    // size of the largest (smaller ones are padded with zeros at the right and bottom).
    const uint64_t bpp = std::max<uint32_t>(bytes_per_pixel(idx.pixel_type), 1);
    std::map<int32_t, std::array<int64_t, 4>> box;  // scene -> x0, y0, x1, y1
    for (uint32_t i : used) {
        const Subblock& sb = idx.subblocks[i];
        auto [it, fresh] = box.try_emplace(sb.s, std::array<int64_t, 4>{sb.x, sb.y, int64_t(sb.x) + sb.width,
                                                                         int64_t(sb.y) + sb.height});
        if (!fresh) {
            auto& b = it->second;
            b[0] = std::min<int64_t>(b[0], sb.x);
            b[1] = std::min<int64_t>(b[1], sb.y);
            b[2] = std::max<int64_t>(b[2], int64_t(sb.x) + sb.width);
            b[3] = std::max<int64_t>(b[3], int64_t(sb.y) + sb.height);
        }
    }
    uint64_t mw = 0, mh = 0;
    for (auto& [scene, b] : box) {
        mw = std::max<uint64_t>(mw, uint64_t(b[2] - b[0]));
        mh = std::max<uint64_t>(mh, uint64_t(b[3] - b[1]));
    }
    // Tiles of one plane cover most of their bounding box in a real mosaic. A box mostly empty
    // means scattered positions or corrupt coordinates; refusing it keeps a few bad bytes from
    // making every plane a gigabyte of zeros.
    std::map<int32_t, double> covered;  // scene -> largest tile area of one of its planes
    for (auto& [key, blocks] : groups) {
        double area = 0;
        for (uint32_t i : blocks) area += double(idx.subblocks[i].width) * idx.subblocks[i].height;
        double& c = covered[std::get<0>(key)];
        c = std::max(c, area);
    }
    for (auto& [scene, b] : box) {
        const double area = double(b[2] - b[0]) * double(b[3] - b[1]);
        if (area > 16 * covered[scene] && idx.mosaic_error.empty())
            idx.mosaic_error = "the tiles of scene " + std::to_string(scene) + " cover less than 1/16 of their " +
                               std::to_string(b[2] - b[0]) + " x " + std::to_string(b[3] - b[1]) +
                               " pixel bounding box (scattered positions or corrupt coordinates); use --tiles as-sites";
    }
    if (idx.mosaic_error.empty()) {
        if (mw > UINT32_MAX || mh > UINT32_MAX || mw * mh > kMaxPlaneBytes / bpp) {
            idx.mosaic_error = "the mosaic of a scene is " + std::to_string(mw) + " x " + std::to_string(mh) +
                               " pixels, more than one plane may hold (2 GiB); use --tiles as-sites";
        } else {
            idx.mosaic_width = uint32_t(mw);
            idx.mosaic_height = uint32_t(mh);
        }
    }
    for (auto& [key, blocks] : groups) {
        PlaneEntry p;
        std::tie(p.s, p.t, p.c, p.z) = key;
        p.blocks = blocks;
        p.x0 = int32_t(box[p.s][0]);
        p.y0 = int32_t(box[p.s][1]);
        idx.mosaic_planes.push_back(std::move(p));
    }

    // Tiles: the k-th subblock (drawing order) of each (S, T, C, Z) is tile k of the scene.
    std::map<int32_t, uint32_t> tiles;
    for (auto& [key, blocks] : groups) {
        uint32_t& n = tiles[std::get<0>(key)];
        n = std::max<uint32_t>(n, uint32_t(blocks.size()));
    }
    for (int32_t scene : idx.scenes) idx.tiles_per_scene.push_back(tiles[scene]);
    std::map<std::tuple<int32_t, int32_t, int32_t, int32_t, int32_t>, uint32_t> tile_keys;
    for (auto& [key, blocks] : groups)
        for (size_t k = 0; k < blocks.size(); ++k)
            tile_keys[{std::get<0>(key), int32_t(k), std::get<1>(key), std::get<2>(key), std::get<3>(key)}] = blocks[k];
    const Subblock& first = idx.subblocks[used.front()];
    idx.tile_width = first.width;
    idx.tile_height = first.height;
    for (auto& [key, block] : tile_keys) {
        const Subblock& sb = idx.subblocks[block];
        if ((sb.width != idx.tile_width || sb.height != idx.tile_height) && idx.tile_error.empty())
            idx.tile_error = "tiles differ in size (" + std::to_string(sb.width) + " x " + std::to_string(sb.height) +
                             " at " + at(uint64_t(sb.file_pos)) + ", " + std::to_string(idx.tile_width) + " x " +
                             std::to_string(idx.tile_height) + " for the first); they cannot be sites of one plate";
        PlaneEntry p;
        std::tie(p.s, p.tile, p.t, p.c, p.z) = key;
        p.blocks = {block};
        p.x0 = sb.x;
        p.y0 = sb.y;
        idx.tile_planes.push_back(std::move(p));
    }
    if (uint64_t(idx.tile_width) * idx.tile_height > kMaxPlaneBytes / bpp && idx.tile_error.empty())
        idx.tile_error = "a tile is " + std::to_string(idx.tile_width) + " x " + std::to_string(idx.tile_height) +
                         " pixels, more than one plane may hold (2 GiB)";
}

// ---- subblock decoding -------------------------------------------------------------------------

uint32_t samples_of(int32_t pixel_type) { return pixel_type == kBgr24 || pixel_type == kBgr48 ? 3 : 1; }

[[noreturn]] void subblock_fail(const File& f, const Subblock& sb, const std::string& reason) {
    throw input_error(f.path(), "subblock at " + at(uint64_t(sb.file_pos)) + ": " + reason);
}

void unpack_hilo(const std::vector<unsigned char>& packed, std::vector<unsigned char>& out) {
    // Hi/lo byte packing stores all low bytes of the 16-bit words first, then all high bytes.
    const size_t words = packed.size() / 2;
    out.resize(words * 2);
    for (size_t i = 0; i < words; ++i) {
        out[2 * i] = packed[i];
        out[2 * i + 1] = packed[words + i];
    }
}

void zstd_decode(const File& f, const Subblock& sb, const unsigned char* src, size_t n, size_t expected,
                 std::vector<unsigned char>& out) {
    const unsigned long long content = ZSTD_getFrameContentSize(src, n);
    if (content == ZSTD_CONTENTSIZE_ERROR) subblock_fail(f, sb, "zstd data is not a zstd frame");
    if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != expected)
        subblock_fail(f, sb, "zstd frame holds " + std::to_string(content) + " bytes but " +
                                 std::to_string(sb.stored_width) + " x " + std::to_string(sb.stored_height) + " " +
                                 pixel_type_name(sb.pixel_type) + " needs " + std::to_string(expected));
    out.resize(expected);
    const size_t got = ZSTD_decompress(out.data(), expected, src, n);
    if (ZSTD_isError(got)) subblock_fail(f, sb, std::string("zstd: ") + ZSTD_getErrorName(got));
    if (got != expected)
        subblock_fail(f, sb, "zstd data decompresses to " + std::to_string(got) + " bytes, expected " +
                                 std::to_string(expected));
}

void jxr_decode(const File& f, const Subblock& sb, std::vector<unsigned char>& data, size_t expected,
                std::vector<unsigned char>& out) {
    const std::string err = jxr_decode_pixels(data.data(), data.size(), sb.stored_width, sb.stored_height,
                                              bytes_per_pixel(sb.pixel_type) * 8, samples_of(sb.pixel_type) == 3, out);
    if (!err.empty()) subblock_fail(f, sb, "JPEG-XR: " + err);
    if (out.size() != expected) subblock_fail(f, sb, "JPEG-XR: decoded size does not match");
}

// Decodes one subblock into `out` (stored_width x stored_height x bpp bytes).
void decode_subblock(const File& f, const Subblock& sb, std::vector<unsigned char>& out) {
    const uint32_t bpp = bytes_per_pixel(sb.pixel_type);
    if (!bpp) subblock_fail(f, sb, "pixel type " + pixel_type_name(sb.pixel_type) + " is not supported");
    const uint64_t expected64 = uint64_t(sb.stored_width) * sb.stored_height * bpp;
    if (expected64 > kMaxPlaneBytes) subblock_fail(f, sb, "stored size " + std::to_string(expected64) + " bytes is too large");
    const size_t expected = size_t(expected64);
    if (sb.file_pos < 0) subblock_fail(f, sb, "negative file position");
    const uint64_t pos = uint64_t(sb.file_pos);
    uint64_t data_pos = 0;
    try {
        data_pos = f.segment(pos, "ZISRAWSUBBLOCK", "subblock");
    } catch (const Error& e) {
        subblock_fail(f, sb, std::string(e.what()).substr(f.path().size() + 2));
    }
    unsigned char head[16 + 32];
    if (!f.fits(data_pos, sizeof head)) subblock_fail(f, sb, "subblock header lies beyond the end of the file");
    f.read(data_pos, head, sizeof head, "subblock header");
    const int32_t meta_size = get<int32_t>(head), attach_size = get<int32_t>(head + 4);
    const int64_t data_size = get<int64_t>(head + 8);
    const int32_t dims = get<int32_t>(head + 16 + 28);
    if (meta_size < 0 || attach_size < 0 || data_size < 0)
        subblock_fail(f, sb, "negative metadata, attachment or data size");
    if (head[16] != 'D' || head[17] != 'V' || dims < 1)
        subblock_fail(f, sb, "the subblock's own directory entry is not a valid DV entry");
    const uint64_t header_len = std::max<uint64_t>(256, 16 + 32 + uint64_t(dims) * 20);
    const uint64_t pixels_pos = data_pos + header_len + uint64_t(meta_size);
    if (!f.fits(pixels_pos, uint64_t(data_size)))
        subblock_fail(f, sb, "pixel data (" + std::to_string(data_size) + " bytes at " + at(pixels_pos) +
                                 ") lies beyond the end of the file (" + std::to_string(f.size()) +
                                 " bytes); truncated file?");
    switch (sb.compression) {
    case kUncompressed:
        if (uint64_t(data_size) < expected)
            subblock_fail(f, sb, "holds " + std::to_string(data_size) + " bytes of pixels but " +
                                     std::to_string(sb.stored_width) + " x " + std::to_string(sb.stored_height) + " " +
                                     pixel_type_name(sb.pixel_type) + " needs " + std::to_string(expected));
        out.resize(expected);
        f.read(pixels_pos, out.data(), expected, "subblock pixels");
        return;
    case kZstd0:
    case kZstd1:
    case kJpegXr: {
        std::vector<unsigned char> data(static_cast<size_t>(data_size));
        f.read(pixels_pos, data.data(), data.size(), "subblock pixels");
        if (sb.compression == kJpegXr) return jxr_decode(f, sb, data, expected, out);
        size_t skip = 0;
        bool hilo = false;
        if (sb.compression == kZstd1) {
            // Header: its own size in the first byte (1, or 3 with chunk type 1 = hi/lo packing flag).
            if (data.empty()) subblock_fail(f, sb, "zstd1 data is empty");
            if (data[0] == 1) skip = 1;
            else if (data[0] == 3 && data.size() >= 3 && data[1] == 1) {
                skip = 3;
                hilo = (data[2] & 1) != 0;
            } else
                subblock_fail(f, sb, "zstd1 header is invalid (first bytes " + std::to_string(data[0]) + ")");
            if (hilo && sb.pixel_type != kGray16 && sb.pixel_type != kBgr48)
                subblock_fail(f, sb, "zstd1 hi/lo byte packing is only defined for Gray16 and Bgr48, not " +
                                         pixel_type_name(sb.pixel_type));
        }
        if (!hilo) return zstd_decode(f, sb, data.data() + skip, data.size() - skip, expected, out);
        std::vector<unsigned char> packed;
        zstd_decode(f, sb, data.data() + skip, data.size() - skip, expected, packed);
        unpack_hilo(packed, out);
        return;
    }
    default:
        subblock_fail(f, sb, "compression " + std::to_string(sb.compression) + " (" + compression_name(sb.compression) +
                                 ") is not supported (imextract reads uncompressed, JPEG-XR, zstd0 and zstd1)");
    }
}

DType dtype_of(int32_t pixel_type) {
    switch (pixel_type) {
    case kGray8:
    case kBgr24: return DType::u8;
    case kGray16:
    case kBgr48: return DType::u16;
    case kGray32Float: return DType::f32;
    default: return DType::u16;
    }
}


const PlaneEntry& plane_at(const fs::path& file, const Index& idx, uint32_t page) {
    const bool tiles = (page & kTilePageFlag) != 0;
    const uint32_t n = page & ~kTilePageFlag;
    const std::string& err = tiles ? idx.tile_error : idx.mosaic_error;
    if (!err.empty()) throw input_error(file.string(), err);
    const auto& list = tiles ? idx.tile_planes : idx.mosaic_planes;
    if (n >= list.size())
        throw input_error(file.string(), std::string(tiles ? "tile plane " : "plane ") + std::to_string(n) +
                                             " does not exist (the file has " + std::to_string(list.size()) + ")");
    return list[n];
}

// ---- metadata XML -------------------------------------------------------------------------------

std::optional<double> number(std::string_view text) {
    const std::string t = trim(text);
    double v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || p != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// A non-negative integer below `end`, else nothing.
std::optional<int> index_below(std::string_view text, int end) {
    const std::string t = trim(text);
    int v = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || p != t.data() + t.size() || v < 0 || v >= end) return std::nullopt;
    return v;
}

// ---- cache ----------------------------------------------------------------------------------------

struct CacheEntry {
    std::string path;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    std::shared_ptr<const Index> index;
};

}  // namespace

std::string pixel_type_name(int32_t id) {
    switch (id) {
    case kGray8: return "Gray8";
    case kGray16: return "Gray16";
    case kGray32Float: return "Gray32Float";
    case kBgr24: return "Bgr24";
    case kBgr48: return "Bgr48";
    case kBgr96Float: return "Bgr96Float";
    case kBgra32: return "Bgra32";
    case kGray64ComplexFloat: return "Gray64ComplexFloat";
    case kBgr192ComplexFloat: return "Bgr192ComplexFloat";
    case kGray32: return "Gray32";
    case kGray64: return "Gray64";
    default: return "unknown pixel type " + std::to_string(id);
    }
}

std::string compression_name(int32_t id) {
    switch (id) {
    case kUncompressed: return "uncompressed";
    case kJpeg: return "JPEG";
    case kLzw: return "LZW";
    case kJpegXr: return "JPEG-XR";
    case kZstd0: return "zstd0";
    case kZstd1: return "zstd1";
    default: return id >= 1000 ? "camera-specific" : "unknown";
    }
}

uint32_t bytes_per_pixel(int32_t pixel_type) {
    switch (pixel_type) {
    case kGray8: return 1;
    case kGray16: return 2;
    case kGray32Float: return 4;
    case kBgr24: return 3;
    case kBgr48: return 6;
    default: return 0;
    }
}

Index read_index(const fs::path& path) {
    File f(path);
    Index idx;
    idx.file_size = f.size();
    const uint64_t hdr = f.segment(0, "ZISRAWFILE", "file header");
    unsigned char h[80];
    f.read(hdr, h, sizeof h, "file header");
    idx.major = get<int32_t>(h);
    idx.minor = get<int32_t>(h + 4);
    idx.directory_pos = get<int64_t>(h + 52);
    idx.metadata_pos = get<int64_t>(h + 60);
    if (idx.major != 1)
        throw input_error(f.path(), "ZISRAW version " + std::to_string(idx.major) + "." + std::to_string(idx.minor) +
                                        " is not supported (only 1.x)");
    if (idx.directory_pos <= 0 || !f.fits(uint64_t(idx.directory_pos), kSegmentHeader + 128))
        throw input_error(f.path(), "the file header points at the subblock directory at " +
                                        std::to_string(idx.directory_pos) + ", outside the file (" +
                                        std::to_string(f.size()) + " bytes); truncated file?");
    const uint64_t dir = f.segment(uint64_t(idx.directory_pos), "ZISRAWDIRECTORY", "subblock directory");
    unsigned char count_bytes[4];
    f.read(dir, count_bytes, 4, "subblock directory");
    const int32_t count = get<int32_t>(count_bytes);
    const uint64_t entries = dir + 128;
    const uint64_t avail = f.size() > entries ? f.size() - entries : 0;
    if (count < 0 || uint64_t(count) * 32 > avail)
        throw input_error(f.path(), "subblock directory at " + at(uint64_t(idx.directory_pos)) + " declares " +
                                        std::to_string(count) + " entries, more than the " + std::to_string(avail) +
                                        " bytes after it can hold; truncated or corrupt file");
    // The segment's allocated size bounds the entries too (the directory may sit before gigabytes
    // of subblocks); entries are read as far as they go, so the buffer is the entries' own size.
    uint64_t limit = avail;
    unsigned char seg[kSegmentHeader];
    f.read(uint64_t(idx.directory_pos), seg, sizeof seg, "subblock directory");
    const int64_t allocated = get<int64_t>(seg + 16);
    if (allocated > 128) limit = std::min<uint64_t>(limit, uint64_t(allocated) - 128);
    std::vector<unsigned char> buf;
    auto have = [&](uint64_t need) {  // at least `need` bytes read, if the directory holds them
        if (need <= buf.size()) return;
        const uint64_t want = std::min<uint64_t>(limit, std::max<uint64_t>(need, 2 * buf.size() + 4096));
        if (want <= buf.size()) return;
        const size_t old = buf.size();
        buf.resize(size_t(want));
        f.read(entries + old, buf.data() + old, buf.size() - old, "subblock directory");
    };
    idx.subblocks.reserve(size_t(count));
    size_t off = 0;
    for (int32_t i = 0; i < count; ++i) {
        Subblock sb;
        std::string error;
        have(off + 32);
        if (buf.size() >= off + 32) have(off + 32 + uint64_t(std::max<int32_t>(0, get<int32_t>(buf.data() + off + 28))) * 20);
        const size_t used = parse_entry(buf.data() + off, buf.size() - off, sb, error);
        if (!used)
            throw input_error(f.path(), "subblock directory entry " + std::to_string(i) + " at " +
                                            at(entries + off) + ": " + error);
        idx.subblocks.push_back(sb);
        off += used;
    }
    build_planes(f.path(), idx);
    return idx;
}

std::shared_ptr<const Index> cached_index(const fs::path& file) {
    static std::mutex mu;
    static std::list<CacheEntry> cache;  // most recently used first
    constexpr size_t kEntries = 8;
    uint64_t size = 0;
    int64_t mtime = 0;  // objects in S3 have none: their size tells a changed object (source_files.h)
    {
        auto f = source::open(file);
        size = f->size();
        mtime = f->mtime_ns();
    }
    const std::string key = file.string();
    {
        std::lock_guard lock(mu);
        for (auto it = cache.begin(); it != cache.end(); ++it)
            if (it->path == key && it->size == size && it->mtime_ns == mtime) {
                cache.splice(cache.begin(), cache, it);
                return cache.front().index;
            }
    }
    // Parsed outside the lock: two threads may parse one file at once, which is harmless.
    auto index = std::make_shared<const Index>(read_index(file));
    std::lock_guard lock(mu);
    cache.remove_if([&](const CacheEntry& e) { return e.path == key; });
    cache.push_front(CacheEntry{key, size, mtime, index});
    if (cache.size() > kEntries) cache.pop_back();
    return index;
}

Metadata parse_metadata_xml(const std::string& file_label, std::string_view xml) {
    Metadata md;
    if (xml.empty()) return md;
    pugi::xml_document doc;
    // parse_default: no DOCTYPE processing and no entities beyond the five built-in ones.
    auto r = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default);
    if (!r)
        throw input_error(file_label, std::string("metadata XML is not well-formed: ") + r.description() +
                                          " at byte " + std::to_string(r.offset));
    auto meta = doc.child("ImageDocument").child("Metadata");
    if (!meta) return md;
    auto image = meta.child("Information").child("Image");
    if (auto bits = index_below(image.child_value("ComponentBitCount"), 65)) md.component_bits = *bits;

    auto channel_list = [&](pugi::xml_node channels) {
        std::vector<std::string> names;
        for (auto ch : channels.children("Channel")) {
            std::string name = trim(ch.attribute("Name").value());
            if (name.empty()) name = trim(ch.child_value("ShortName"));
            names.push_back(name.substr(0, 200));
        }
        return names;
    };
    md.channel_names = channel_list(image.child("Dimensions").child("Channels"));
    if (md.channel_names.empty()) md.channel_names = channel_list(meta.child("DisplaySetting").child("Channels"));

    for (auto d : meta.child("Scaling").child("Items").children("Distance")) {
        const std::string id = d.attribute("Id").value();
        auto v = number(d.child_value("Value"));
        if (!v || *v <= 0) continue;
        const double um = *v * 1e6;  // CZI stores metres
        if (id == "X") md.pixel_size_x = um;
        else if (id == "Y") md.pixel_size_y = um;
        else if (id == "Z") md.pixel_size_z = um;
    }

    int order = 0;
    for (auto sc : image.child("Dimensions").child("S").child("Scenes").children("Scene")) {
        SceneInfo s;
        auto index = index_below(sc.attribute("Index").value(), INT32_MAX);  // the S index is an int32
        s.index = index ? *index : order;
        ++order;
        s.name = trim(sc.attribute("Name").value()).substr(0, 200);
        int row = 0, col = 0;
        const std::string array = trim(sc.child_value("ArrayName"));
        const std::string shape = trim(sc.child("Shape").attribute("Name").value());
        auto ri = index_below(sc.child("Shape").child_value("RowIndex"), kMaxWellRows);
        auto ci = index_below(sc.child("Shape").child_value("ColumnIndex"), kMaxWellColumns);
        if (!array.empty() && parse_well_name(array, row, col)) {
            s.row = row;
            s.col = col;
        } else if (ri && ci) {
            s.row = *ri;
            s.col = *ci;
        } else if (!shape.empty() && parse_well_name(shape, row, col)) {
            s.row = row;
            s.col = col;
        }
        md.scenes.push_back(std::move(s));
    }
    return md;
}

Metadata read_metadata(const fs::path& path, const Index& index) {
    if (index.metadata_pos <= 0) return {};
    File f(path);
    const std::string label = f.path();
    if (!f.fits(uint64_t(index.metadata_pos), kSegmentHeader + 256))
        throw input_error(label, "the file header points at the metadata segment at " +
                                     std::to_string(index.metadata_pos) + ", outside the file; truncated file?");
    const uint64_t data = f.segment(uint64_t(index.metadata_pos), "ZISRAWMETADATA", "metadata");
    unsigned char h[8];
    f.read(data, h, 8, "metadata segment");
    const int32_t xml_size = get<int32_t>(h);
    if (xml_size < 0 || !f.fits(data + 256, uint64_t(xml_size)))
        throw input_error(label, "metadata segment at " + at(uint64_t(index.metadata_pos)) + " declares " +
                                     std::to_string(xml_size) + " bytes of XML, past the end of the file (" +
                                     std::to_string(f.size()) + " bytes)");
    std::string xml(size_t(xml_size), '\0');
    f.read(data + 256, xml.data(), xml.size(), "metadata XML");
    return parse_metadata_xml(label, xml);
}

PlaneGeometry plane_geometry(const fs::path& file, const Index& idx, uint32_t page) {
    plane_at(file, idx, page);
    if (!bytes_per_pixel(idx.pixel_type))
        throw input_error(file.string(), "pixel type " + pixel_type_name(idx.pixel_type) +
                                             " is not supported (imextract reads Gray8, Gray16, Gray32Float, Bgr24, Bgr48)");
    PlaneGeometry g;
    const bool tiles = page & kTilePageFlag;
    g.width = tiles ? idx.tile_width : idx.mosaic_width;
    g.height = tiles ? idx.tile_height : idx.mosaic_height;
    g.samples = samples_of(idx.pixel_type);
    g.dtype = dtype_of(idx.pixel_type);
    g.bits = int(bytes_per_pixel(idx.pixel_type) / g.samples * 8);
    return g;
}

void decode_plane(const fs::path& path, const Index& idx, uint32_t page, uint32_t sample, Plane& out) {
    const PlaneGeometry g = plane_geometry(path, idx, page);
    const PlaneEntry& pl = plane_at(path, idx, page);
    if (sample >= g.samples)
        throw input_error(path.string(), "sample " + std::to_string(sample) + " does not exist (" +
                                             pixel_type_name(idx.pixel_type) + " has " + std::to_string(g.samples) + ")");
    File f(path);
    bool allocated = false;
    const size_t es = dtype_size(g.dtype);
    const uint32_t bpp = bytes_per_pixel(idx.pixel_type);
    // Colour is stored B, G, R: sample 0 (R) is the last component.
    const size_t component = g.samples == 3 ? 2 - sample : 0;
    std::vector<unsigned char> tile;
    for (uint32_t b : pl.blocks) {
        const Subblock& sb = idx.subblocks[b];
        decode_subblock(f, sb, tile);
        // Allocated only once a subblock really held its declared pixels: a few corrupt bytes in
        // the directory cannot make us allocate a huge empty mosaic.
        if (!allocated) {
            out.allocate(g.dtype, g.width, g.height);
            std::fill(out.data.begin(), out.data.end(), std::byte{0});
            allocated = true;
        }
        // Place the tile at its logical position, clipped to the plane.
        const int64_t dx = int64_t(sb.x) - pl.x0, dy = int64_t(sb.y) - pl.y0;
        const int64_t x_begin = std::max<int64_t>(0, -dx), x_end = std::min<int64_t>(sb.width, int64_t(g.width) - dx);
        const int64_t y_begin = std::max<int64_t>(0, -dy), y_end = std::min<int64_t>(sb.height, int64_t(g.height) - dy);
        if (x_begin >= x_end) continue;
        for (int64_t y = y_begin; y < y_end; ++y) {
            const unsigned char* src = tile.data() + (size_t(y) * sb.stored_width + size_t(x_begin)) * bpp + component * es;
            std::byte* dst = out.data.data() + (size_t(y + dy) * g.width + size_t(x_begin + dx)) * es;
            if (g.samples == 1) std::memcpy(dst, src, size_t(x_end - x_begin) * es);
            else
                for (int64_t x = x_begin; x < x_end; ++x, src += bpp, dst += es) std::memcpy(dst, src, es);
        }
    }
}

}  // namespace czi

// ---- the layout reader and the decoder ------------------------------------------------------------

namespace {

bool is_czi_name(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".czi";
}

std::string folder_name(const fs::path& source) {
    fs::path p = source.lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    std::string name = p.filename().string();
    if (name.empty() || name == "." || name == "..") {
        std::error_code ec;
        name = fs::weakly_canonical(source, ec).filename().string();
    }
    return name.empty() ? "plate" : name;
}

class CziLayout final : public LayoutReader {
public:
    std::string name() const override { return "czi"; }
    std::string description() const override {
        return "Zeiss CZI (*.czi; each file a well, scenes -> sites, or the wells its metadata names); "
               "mosaics stitched by position (or --tiles as-sites)";
    }

    int detect(const fs::path& source) const override {
        for (auto& e : source::list(source))
            if (is_czi_name(e.path)) return 85;
        return 0;
    }

    ImageSet configure(const fs::path& source, const LayoutOptions& options) const override {
        const bool as_sites = options.tiles == "as-sites";
        if (!options.tiles.empty() && options.tiles != "as-sites" && options.tiles != "mosaic")
            throw Error("--tiles must be 'mosaic' (default) or 'as-sites', not '" + options.tiles + "'",
                        Error::Kind::usage);
        std::vector<std::string> names;
        for (auto& e : source::list(source))
            if (is_czi_name(e.path) && !e.is_dir) names.push_back(e.name);
        std::sort(names.begin(), names.end());
        if (names.empty()) throw input_error(source.string(), "no .czi files in this folder");

        ImageSet set;
        set.format = name();
        set.maps_samples = true;  // colour samples are channels already
        set.plates.push_back(PlateInfo{folder_name(source), 0, 0});
        const std::string& plate = set.plates.front().name;
        std::map<std::pair<int, int>, int> next_site;  // well -> next free site
        std::string first_file;
        czi::PlaneGeometry first{};
        for (size_t fi = 0; fi < names.size(); ++fi) {
            const fs::path path = source / names[fi];
            const czi::Index idx = czi::read_index(path);
            const czi::Metadata md = czi::read_metadata(path, idx);
            for (auto& w : idx.warnings) set.warnings.push_back(w);
            const uint32_t page0 = as_sites ? czi::kTilePageFlag : 0;
            const czi::PlaneGeometry g = czi::plane_geometry(path, idx, page0);
            if (fi == 0) {
                first = g;
                first_file = path.string();
                set.width = g.width;
                set.height = g.height;
                set.dtype = g.dtype;
                set.bits_per_sample = md.component_bits && md.component_bits <= g.bits ? md.component_bits : 0;
                set.pixel_size_x = md.pixel_size_x;
                set.pixel_size_y = md.pixel_size_y;
                set.pixel_size_z = md.pixel_size_z;
            } else if (g.width != first.width || g.height != first.height || g.dtype != first.dtype ||
                       g.samples != first.samples) {
                throw input_error(path.string(), "planes are " + std::to_string(g.width) + " x " +
                                                     std::to_string(g.height) + " " + czi::pixel_type_name(idx.pixel_type) +
                                                     " but " + first_file + " has " + std::to_string(first.width) +
                                                     " x " + std::to_string(first.height) + " " + dtype_name(first.dtype) +
                                                     " x" + std::to_string(first.samples) +
                                                     "; one plate needs one plane size and pixel type");
            }
            // Channels: one per C index (x3 for colour), named from the first file that names them.
            const uint32_t spp = g.samples;
            for (size_t c = 0; c < idx.channels.size(); ++c) {
                const int32_t raw = idx.channels[c];
                std::string base = raw >= 0 && size_t(raw) < md.channel_names.size() ? md.channel_names[size_t(raw)] : "";
                if (base.empty()) base = "C" + std::to_string(c);
                for (uint32_t s = 0; s < spp; ++s) {
                    const size_t k = c * spp + s;
                    if (k < set.channels.size()) continue;
                    set.channels.push_back(ChannelInfo{spp == 3 ? base + "_" + "RGB"[s] : base, {}, {}});
                }
            }
            // Wells: from the scenes' metadata when every scene names one, else this file's own well.
            std::map<int32_t, const czi::SceneInfo*> scene_md;
            for (auto& s : md.scenes) scene_md.emplace(s.index, &s);
            bool from_metadata = true;
            for (int32_t s : idx.scenes) {
                auto it = scene_md.find(s);
                if (it == scene_md.end() || !it->second->row) from_metadata = false;
            }
            const std::pair<int, int> file_well{int(fi / 12), int(fi % 12)};
            // Site of each (scene rank, tile): numbered per well in file order.
            std::map<std::pair<size_t, int32_t>, std::tuple<int, int, int>> where;
            const auto& planes = as_sites ? idx.tile_planes : idx.mosaic_planes;
            auto rank = [](const std::vector<int32_t>& v, int32_t x) {
                return int(std::lower_bound(v.begin(), v.end(), x) - v.begin());
            };
            for (const auto& p : planes) {
                const size_t sr = size_t(rank(idx.scenes, p.s));
                auto key = std::make_pair(sr, p.tile);
                if (where.count(key)) continue;
                std::pair<int, int> well = file_well;
                if (from_metadata) well = {*scene_md[p.s]->row, *scene_md[p.s]->col};
                where[key] = {well.first, well.second, next_site[well]++};
            }
            for (size_t k = 0; k < planes.size(); ++k) {
                const auto& p = planes[k];
                auto [row, col, site] = where[{size_t(rank(idx.scenes, p.s)), p.tile}];
                for (uint32_t s = 0; s < spp; ++s) {
                    PlaneRecord r;
                    r.plate = plate;
                    r.row = row;
                    r.col = col;
                    r.site = site;
                    r.channel = rank(idx.channels, p.c) * int(spp) + int(s);
                    r.zplane = rank(idx.zplanes, p.z);
                    r.tpoint = rank(idx.tpoints, p.t);
                    r.file = names[fi];
                    r.page = uint32_t(k) | (as_sites ? czi::kTilePageFlag : 0);
                    r.sample = spp > 1 ? s : 0;
                    set.planes.push_back(std::move(r));
                }
            }
        }
        // Channel names must be unique.
        std::vector<std::string> channel_names;
        for (auto& ch : set.channels) channel_names.push_back(ch.name);
        container::make_unique_names(channel_names);
        for (size_t c = 0; c < channel_names.size(); ++c) set.channels[c].name = channel_names[c];
        return set;
    }
};

class CziDecoder final : public PixelDecoder {
public:
    std::string name() const override { return "czi"; }
    std::string description() const override {
        return "Zeiss CZI subblocks: Gray8/16, Gray32Float, Bgr24/48 (as R,G,B samples); uncompressed, JPEG-XR, "
               "zstd0, zstd1 (hi/lo packing). Not yet: JPEG, LZW and camera-specific compression, Bgra32, "
               "Gray32/64, Bgr96Float, complex pixels, multi-part files, B/H beyond the first index";
    }
    bool accepts(const fs::path&, const unsigned char* head, size_t n) const override {
        return n >= 10 && std::memcmp(head, "ZISRAWFILE", 10) == 0;
    }
    uint32_t page_count(const fs::path& file) const override {
        return uint32_t(czi::cached_index(file)->mosaic_planes.size());
    }
    PageInfo page_info(const fs::path& file, uint32_t page) const override {
        auto idx = czi::cached_index(file);
        const czi::PlaneGeometry g = czi::plane_geometry(file, *idx, page);
        return PageInfo{g.width, g.height, g.samples, g.dtype, g.bits};
    }
    void read(const fs::path& file, const PlaneAddress& at, Plane& out) const override {
        const uint32_t page = at.page, sample = at.sample;
        auto idx = czi::cached_index(file);
        czi::decode_plane(file, *idx, page, sample, out);
    }
    FileContents contents(const fs::path& file) const override { return czi::contents(file, czi::cached_index(file)); }
};

}  // namespace

std::unique_ptr<LayoutReader> make_czi_layout() { return std::make_unique<CziLayout>(); }
std::unique_ptr<PixelDecoder> make_czi_decoder() { return std::make_unique<CziDecoder>(); }

}  // namespace imx
