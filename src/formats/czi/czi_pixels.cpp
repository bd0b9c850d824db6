// CZI pixel decoding: a plane (a whole mosaic, or one tile) from its subblocks, uncompressed, zstd
// (with the hi/lo byte packing) or JPEG-XR (czi_jxr.cpp), colour subblocks as R, G, B samples.
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "formats/czi/czi.h"
#include "formats/czi/czi_io.h"

namespace imx::czi {

namespace {

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


const PlaneEntry& plane_at(const std::string& file, const Index& idx, uint32_t page) {
    const bool tiles = (page & kTilePageFlag) != 0;
    const uint32_t n = page & ~kTilePageFlag;
    const std::string& err = tiles ? idx.tile_error : idx.mosaic_error;
    if (!err.empty()) throw input_error(file, err);
    const auto& list = tiles ? idx.tile_planes : idx.mosaic_planes;
    if (n >= list.size())
        throw input_error(file, std::string(tiles ? "tile plane " : "plane ") + std::to_string(n) +
                                             " does not exist (the file has " + std::to_string(list.size()) + ")");
    return list[n];
}

}  // namespace

PlaneGeometry plane_geometry(const std::string& file, const Index& idx, uint32_t page) {
    plane_at(file, idx, page);
    if (!bytes_per_pixel(idx.pixel_type))
        throw input_error(file, "pixel type " + pixel_type_name(idx.pixel_type) +
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

void decode_plane(const source::File& file, const Index& idx, uint32_t page, uint32_t sample, Plane& out) {
    const PlaneGeometry g = plane_geometry(file.path(), idx, page);
    const PlaneEntry& pl = plane_at(file.path(), idx, page);
    if (sample >= g.samples)
        throw input_error(file.path(), "sample " + std::to_string(sample) + " does not exist (" +
                                             pixel_type_name(idx.pixel_type) + " has " + std::to_string(g.samples) + ")");
    File f(file);
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

}  // namespace imx::czi
