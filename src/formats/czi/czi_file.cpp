// Zeiss CZI (ZISRAW) files: the subblock directory, the plane index built from it, and the metadata
// XML (the layout reader and decoder are in czi_reader.cpp, pixel decoding in czi_pixels.cpp).
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
#include "formats/czi/czi_io.h"

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
    if (idx.mosaic_error.empty() && (mw > UINT32_MAX || mh > UINT32_MAX))
        idx.mosaic_error = "the mosaic of a scene is " + std::to_string(mw) + " x " + std::to_string(mh) +
                           " pixels, more than a plane may be (4294967295 a side); use --tiles as-sites";
    if (idx.mosaic_error.empty() && mw * mh > kMaxPlaneBytes / bpp) {
        // Above 2 GiB a mosaic is never held whole: it is read band by band (open_plane_rows), and
        // only the band is allocated. Its declared tile sizes must then be backed by the file: each
        // subblock decodes to at most its segment's bytes (up to the next segment) times what its
        // compression can expand (1 uncompressed, 32768 for zstd, whose 4-byte RLE block stands
        // for 128 KiB), and the tiles must still cover 1/16 of the bounding box by that measure.
        std::vector<uint64_t> bounds{idx.file_size};
        for (const Subblock& sb : idx.subblocks)
            if (sb.file_pos >= 0) bounds.push_back(uint64_t(sb.file_pos));
        if (idx.directory_pos > 0) bounds.push_back(uint64_t(idx.directory_pos));
        if (idx.metadata_pos > 0) bounds.push_back(uint64_t(idx.metadata_pos));
        std::sort(bounds.begin(), bounds.end());
        bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
        auto space = [&](int64_t pos) -> uint64_t {
            if (pos < 0 || uint64_t(pos) >= idx.file_size) return 0;
            return *std::upper_bound(bounds.begin(), bounds.end(), uint64_t(pos)) - uint64_t(pos);
        };
        std::map<int32_t, double> backed;  // scene -> most pixel bytes one of its planes can decode to
        for (auto& [key, blocks] : groups) {
            std::set<int64_t> seen;  // a segment counts once, however many entries point at it
            double bytes = 0;
            for (uint32_t i : blocks) {
                const Subblock& sb = idx.subblocks[i];
                if (!seen.insert(sb.file_pos).second) continue;
                const double stored = double(sb.stored_width) * sb.stored_height * double(bpp);
                const double expansion = sb.compression == kUncompressed ? 1.0 : 32768.0;
                bytes += std::min(stored, double(space(sb.file_pos)) * expansion);
            }
            double& b = backed[std::get<0>(key)];
            b = std::max(b, bytes);
        }
        for (auto& [scene, b] : box) {
            const double bytes = double(b[2] - b[0]) * double(b[3] - b[1]) * double(bpp);
            if (bytes > 16 * backed[scene] && idx.mosaic_error.empty())
                idx.mosaic_error = "the subblocks of scene " + std::to_string(scene) + " can hold at most " +
                                   std::to_string(uint64_t(backed[scene])) + " bytes of pixels in this " +
                                   std::to_string(idx.file_size) + "-byte file, less than 1/16 of their " +
                                   std::to_string(b[2] - b[0]) + " x " + std::to_string(b[3] - b[1]) +
                                   " pixel mosaic (corrupt sizes or coordinates); use --tiles as-sites";
        }
    }
    if (idx.mosaic_error.empty()) {
        idx.mosaic_width = uint32_t(mw);
        idx.mosaic_height = uint32_t(mh);
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

Index read_index(const source::File& file) {
    File f(file);
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

std::shared_ptr<const Index> cached_index(const source::File& file) {
    static std::mutex mu;
    static std::list<CacheEntry> cache;  // most recently used first
    constexpr size_t kEntries = 8;
    const uint64_t size = file.size();
    // Objects in S3 have no mtime: their size tells a changed object (source_files.h).
    const int64_t mtime = file.mtime_ns();
    const std::string& key = file.path();
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

Metadata read_metadata(const source::File& file, const Index& index) {
    if (index.metadata_pos <= 0) return {};
    File f(file);
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

}  // namespace czi

}  // namespace imx
