// CZI pixel decoding: a plane (a whole mosaic, or one tile) from its subblocks, uncompressed, zstd
// (with the hi/lo byte packing) or JPEG-XR (czi_jxr.cpp), colour subblocks as R, G, B samples.
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

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

// Where a subblock's pixel data lies, checked against the file: `expected` is the decoded size.
struct Located {
    uint64_t pixels_pos = 0, data_size = 0;
    size_t expected = 0;
};

Located locate_subblock(const File& f, const Subblock& sb) {
    const uint32_t bpp = bytes_per_pixel(sb.pixel_type);
    if (!bpp) subblock_fail(f, sb, "pixel type " + pixel_type_name(sb.pixel_type) + " is not supported");
    const uint64_t expected64 = uint64_t(sb.stored_width) * sb.stored_height * bpp;
    if (expected64 > kMaxPlaneBytes) subblock_fail(f, sb, "stored size " + std::to_string(expected64) + " bytes is too large");
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
    const size_t expected = size_t(expected64);
    if (sb.compression == kUncompressed && uint64_t(data_size) < expected)
        subblock_fail(f, sb, "holds " + std::to_string(data_size) + " bytes of pixels but " +
                                 std::to_string(sb.stored_width) + " x " + std::to_string(sb.stored_height) + " " +
                                 pixel_type_name(sb.pixel_type) + " needs " + std::to_string(expected));
    return {pixels_pos, uint64_t(data_size), expected};
}

// Decodes one subblock into `out` (stored_width x stored_height x bpp bytes).
void decode_subblock(const File& f, const Subblock& sb, std::vector<unsigned char>& out) {
    const Located loc = locate_subblock(f, sb);
    const uint64_t pixels_pos = loc.pixels_pos;
    const int64_t data_size = int64_t(loc.data_size);
    const size_t expected = loc.expected;
    switch (sb.compression) {
    case kUncompressed:
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

// Where a subblock lands in its plane: the part of it inside the plane in subblock pixels
// [x_begin, x_end) x [y_begin, y_end), and its offset (plane = subblock + d).
struct Placement {
    int64_t dx = 0, dy = 0, x_begin = 0, x_end = 0, y_begin = 0, y_end = 0;
    bool empty() const { return x_begin >= x_end || y_begin >= y_end; }
};

Placement place(const Subblock& sb, const PlaneEntry& pl, const PlaneGeometry& g) {
    Placement p;
    p.dx = int64_t(sb.x) - pl.x0;
    p.dy = int64_t(sb.y) - pl.y0;
    p.x_begin = std::max<int64_t>(0, -p.dx);
    p.x_end = std::min<int64_t>(sb.width, int64_t(g.width) - p.dx);
    p.y_begin = std::max<int64_t>(0, -p.dy);
    p.y_end = std::min<int64_t>(sb.height, int64_t(g.height) - p.dy);
    return p;
}

// Copies one sample of a subblock's rows into plane rows.
struct Copier {
    Copier(const Index& idx, const PlaneGeometry& g, uint32_t sample)
        : width(g.width), samples(g.samples), es(dtype_size(g.dtype)), bpp(bytes_per_pixel(idx.pixel_type)),
          // Colour is stored B, G, R: sample 0 (R) is the last component.
          component(g.samples == 3 ? 2 - sample : 0) {}
    // Subblock rows [ya, yb) of placement p, `src` pointing at row ya (stored_width pixels a row),
    // into `dst`, whose first row is plane row dst_y0.
    void rows(const Subblock& sb, const Placement& p, int64_t ya, int64_t yb, const unsigned char* src,
              std::byte* dst, uint32_t dst_y0) const {
        const size_t stride = size_t(sb.stored_width) * bpp, n = size_t(p.x_end - p.x_begin);
        for (int64_t y = ya; y < yb; ++y, src += stride) {
            const unsigned char* s = src + size_t(p.x_begin) * bpp + component * es;
            std::byte* d = dst + (size_t(y + p.dy - dst_y0) * width + size_t(p.x_begin + p.dx)) * es;
            if (samples == 1) std::memcpy(d, s, n * es);
            else
                for (size_t x = 0; x < n; ++x, s += bpp, d += es) std::memcpy(d, s, es);
        }
    }
    size_t width, samples, es, bpp, component;
};

void check_sample(const std::string& file, const Index& idx, const PlaneGeometry& g, uint32_t sample) {
    if (sample >= g.samples)
        throw input_error(file, "sample " + std::to_string(sample) + " does not exist (" +
                                    pixel_type_name(idx.pixel_type) + " has " + std::to_string(g.samples) + ")");
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
    check_sample(file.path(), idx, g, sample);
    // A mosaic above this is read only band by band (open_plane_rows), never held whole.
    const uint64_t bytes = uint64_t(g.width) * g.height * bytes_per_pixel(idx.pixel_type);
    if (bytes > kMaxPlaneBytes)
        throw input_error(file.path(), "the mosaic is " + std::to_string(g.width) + " x " + std::to_string(g.height) +
                                           " pixels (" + std::to_string(bytes) +
                                           " bytes), more than a plane read whole may hold (2 GiB): store it in at least 4 "
                                           "rows of chunks (create --chunk) to read it band by band, or use --tiles "
                                           "as-sites");
    File f(file);
    bool allocated = false;
    const Copier copy(idx, g, sample);
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
        const Placement p = place(sb, pl, g);
        if (p.empty()) continue;
        copy.rows(sb, p, p.y_begin, p.y_end, tile.data() + size_t(p.y_begin) * sb.stored_width * copy.bpp,
                  out.data.data(), 0);
    }
}

namespace {

// A plane read band by band: each band is composed of the subblocks that intersect it, in the
// plane's drawing order (the same rule as decode_plane). Uncompressed subblocks are read only for
// the rows the band needs; compressed ones (zstd, JPEG-XR) are decoded whole once and kept only
// while a later band still needs their rows, so about one row of subblocks is held besides the band.
class CziRows final : public PlaneRows {
public:
    CziRows(const source::File& file, std::shared_ptr<const Index> index, uint32_t page, uint32_t sample)
        : file_(&file), idx_(std::move(index)), g_(plane_geometry(file.path(), *idx_, page)),
          pl_(&plane_at(file.path(), *idx_, page)), copy_(*idx_, g_, sample) {
        check_sample(file.path(), *idx_, g_, sample);
        for (uint32_t b : pl_->blocks) {
            const Placement p = place(idx_->subblocks[b], *pl_, g_);
            if (!p.empty()) placed_.push_back({b, p});
        }
        pixels_pos_.assign(placed_.size(), UINT64_MAX);
    }
    uint32_t width() const override { return g_.width; }
    uint32_t height() const override { return g_.height; }
    DType dtype() const override { return g_.dtype; }

    void read(uint32_t y0, uint32_t count, std::byte* out) override {
        check_row_range(y0, count, g_.height);
        const int64_t band_end = int64_t(y0) + count;
        std::memset(out, 0, size_t(count) * g_.width * dtype_size(g_.dtype));
        File f(*file_);
        for (size_t k = 0; k < placed_.size(); ++k) {
            const auto& [b, p] = placed_[k];
            const Subblock& sb = idx_->subblocks[b];
            // The subblock's rows inside this band (subblock coordinates).
            const int64_t ya = std::max<int64_t>(p.y_begin, int64_t(y0) - p.dy);
            const int64_t yb = std::min<int64_t>(p.y_end, band_end - p.dy);
            if (ya >= yb) continue;
            const size_t stride = size_t(sb.stored_width) * copy_.bpp;
            if (sb.compression == kUncompressed) {
                if (pixels_pos_[k] == UINT64_MAX) pixels_pos_[k] = locate_subblock(f, sb).pixels_pos;
                rows_.resize(size_t(yb - ya) * stride);
                f.read(pixels_pos_[k] + uint64_t(ya) * stride, rows_.data(), rows_.size(), "subblock pixels");
                copy_.rows(sb, p, ya, yb, rows_.data(), out, y0);
                continue;
            }
            auto it = decoded_.find(b);
            if (it == decoded_.end()) {
                std::vector<unsigned char> tile;
                decode_subblock(f, sb, tile);
                it = decoded_.emplace(b, std::move(tile)).first;
            }
            copy_.rows(sb, p, ya, yb, it->second.data() + size_t(ya) * stride, out, y0);
            // Bands come top to bottom: a subblock that ends in this band is not needed again.
            if (p.dy + p.y_end <= band_end) decoded_.erase(it);
        }
    }

private:
    const source::File* file_;
    std::shared_ptr<const Index> idx_;
    PlaneGeometry g_;
    const PlaneEntry* pl_;
    Copier copy_;
    std::vector<std::pair<uint32_t, Placement>> placed_;  // drawing order
    std::vector<uint64_t> pixels_pos_;                     // of placed_[k], once located
    std::map<uint32_t, std::vector<unsigned char>> decoded_;
    std::vector<unsigned char> rows_;
};

}  // namespace

std::unique_ptr<PlaneRows> open_plane_rows(const source::File& file, std::shared_ptr<const Index> index, uint32_t page,
                                           uint32_t sample) {
    return std::make_unique<CziRows>(file, std::move(index), page, sample);
}

}  // namespace imx::czi
