// TIFF pixel decoder on top of libtiff: strips and tiles, BigTIFF, multi-page, 8/16/32-bit
// integer and 32-bit float samples, contiguous and separate planar configurations, and whatever
// compression the system libtiff decodes. Files are untrusted: every size is checked before we
// allocate, and libtiff's messages are captured per file instead of going to stderr.
#include "formats/tiff/tiff_decoder.h"

#include <array>
#include <cmath>
#include <cctype>
#include <string_view>

#include "core/fileutil.h"
#include "formats/builtin.h"
#include "formats/tiff/tiff_file.h"

namespace imx {

using namespace tiffio;

namespace {

// Uncompressed strips that lie back to back in the file (most microscope TIFFs, whether written
// as one strip or as one strip per row) are read with one read of the whole range instead of one
// read per strip: libtiff reads strip by strip and chops a big uncompressed strip into rows, which
// cost a 2560x2160 plane 2,160 reads. False when the strips are not laid out so (the caller then
// reads strip by strip and reports any damage in libtiff's words).
bool read_adjacent_strips(TiffFile& f, const Layout& l, uint32_t sample, uint32_t strips_per_plane, uint64_t limit,
                     unsigned char* dst) {
    TIFF* t = f.get();
    const size_t bpp = dtype_size(l.dtype);
    if (l.compression != COMPRESSION_NONE || TIFFIsByteSwapped(t) || size_t(l.bps) != bpp * 8) return false;
    const unsigned strip_spp = l.separate() ? 1 : l.spp;
    const uint64_t row_bytes = uint64_t(l.width) * bpp * strip_spp;
    // libtiff's strips as it presents them (chopped into rows or not): the first of ours and count.
    const uint32_t rps = l.rows_per_strip;
    const uint32_t first = l.separate() ? sample * strips_per_plane : 0;
    const uint64_t start = TIFFGetStrileOffset(t, first);
    uint64_t expect = start;
    for (uint32_t s = 0; s < strips_per_plane; ++s) {
        const uint32_t rows = std::min(rps, l.height - s * rps);
        if (TIFFGetStrileOffset(t, first + s) != expect || TIFFGetStrileByteCount(t, first + s) < rows * row_bytes)
            return false;
        expect += rows * row_bytes;
        // A strip with padding after its rows breaks the run, unless it is the last one.
        if (s + 1 < strips_per_plane && TIFFGetStrileByteCount(t, first + s) != rows * row_bytes) return false;
    }
    const uint64_t total = expect - start;
    if (start == 0 || total != uint64_t(l.height) * row_bytes || total > limit) return false;
    if (strip_spp == 1) return f.read_at(start, dst, size_t(total));
    // Interleaved samples: the whole range into a scratch buffer, then our sample out of it.
    std::vector<unsigned char> scratch(total);
    if (!f.read_at(start, scratch.data(), size_t(total))) return false;
    pick_sample(scratch.data(), dst, size_t(l.width) * l.height, l.spp, sample, bpp);
    return true;
}

// Strips of one plane: how many, libtiff's index of the first (of our sample when planes are
// separate), and a scratch buffer for strips of interleaved samples.
struct Strips {
    uint32_t per_plane = 0, first = 0;
    std::vector<unsigned char> scratch;
};

Strips plane_strips(TiffFile& f, const Layout& l, uint32_t page, uint32_t sample, uint64_t limit) {
    TIFF* t = f.get();
    Strips s;
    s.per_plane = uint32_t((uint64_t(l.height) + l.rows_per_strip - 1) / l.rows_per_strip);
    const uint64_t needed = l.separate() ? uint64_t(s.per_plane) * l.spp : s.per_plane;
    if (TIFFNumberOfStrips(t) < needed)
        f.fail("page " + std::to_string(page) + " has " + std::to_string(TIFFNumberOfStrips(t)) + " strips, " +
               std::to_string(needed) + " expected");
    s.first = l.separate() ? sample * s.per_plane : 0;
    if (l.spp > 1 && !l.separate()) {
        uint64_t scratch_bytes = 0;
        if (mul_overflows(uint64_t(l.width) * dtype_size(l.dtype) * l.spp, l.rows_per_strip, scratch_bytes) ||
            scratch_bytes > limit)
            f.fail("strip of page " + std::to_string(page) + " would need " + std::to_string(scratch_bytes) +
                   " bytes, more than this file can hold; corrupt or hostile file");
        s.scratch.resize(scratch_bytes);
    }
    return s;
}

// Decodes strip `index` (of the plane's strips) into `dst`: its rows of our sample.
void decode_strip(TiffFile& f, const Layout& l, uint32_t page, uint32_t sample, Strips& s, uint32_t index,
                  unsigned char* dst) {
    const size_t bpp = dtype_size(l.dtype);
    const size_t row_bytes = size_t(l.width) * bpp;
    const uint32_t rows = std::min(l.rows_per_strip, l.height - index * l.rows_per_strip);
    const uint32_t strip = s.first + index;
    auto strip_error = [&] {
        f.fail("cannot decode strip " + std::to_string(strip) + " of page " + std::to_string(page) +
               " (file truncated or corrupt; compression " + compression_name(l.compression) + ")");
    };
    if (s.scratch.empty()) {  // one sample per strip: libtiff decodes straight into the plane
        const tmsize_t want = tmsize_t(rows * row_bytes);
        if (TIFFReadEncodedStrip(f.get(), strip, dst, want) != want) strip_error();
        return;
    }
    // Interleaved samples: decode into the scratch buffer, then pick ours.
    const tmsize_t want = tmsize_t(rows * row_bytes * l.spp);
    if (TIFFReadEncodedStrip(f.get(), strip, s.scratch.data(), want) != want) strip_error();
    pick_sample(s.scratch.data(), dst, size_t(rows) * l.width, l.spp, sample, bpp);
}

void read_strips(TiffFile& f, const Layout& l, uint32_t page, uint32_t sample, uint64_t limit, Plane& out) {
    const size_t row_bytes = size_t(l.width) * dtype_size(l.dtype);
    auto* dst = reinterpret_cast<unsigned char*>(out.data.data());
    const uint32_t strips_per_plane = uint32_t((uint64_t(l.height) + l.rows_per_strip - 1) / l.rows_per_strip);
    if (TIFFNumberOfStrips(f.get()) >= strips_per_plane * uint64_t(l.separate() ? l.spp : 1)) {
        f.clear_messages();
        if (read_adjacent_strips(f, l, sample, strips_per_plane, limit, dst)) return;
    }
    Strips s = plane_strips(f, l, page, sample, limit);
    f.clear_messages();
    f.prefetch_segments(s.first, s.per_plane, limit);
    for (uint32_t i = 0; i < s.per_plane; ++i)
        decode_strip(f, l, page, sample, s, i, dst + size_t(i) * l.rows_per_strip * row_bytes);
}

// Tiles of one plane: how many the file has, and a scratch buffer for one.
struct Tiles {
    uint32_t count = 0, across = 0, per_plane = 0;
    std::vector<unsigned char> scratch;
};

Tiles plane_tiles(TiffFile& f, const Layout& l, uint32_t page, uint64_t limit) {
    Tiles t;
    const unsigned tile_spp = l.separate() ? 1 : l.spp;
    uint64_t tile_bytes = 0;
    if (mul_overflows(uint64_t(l.tile_w) * dtype_size(l.dtype) * tile_spp, l.tile_h, tile_bytes) || tile_bytes > limit)
        f.fail("tile of page " + std::to_string(page) + " (" + std::to_string(l.tile_w) + " x " +
               std::to_string(l.tile_h) + ") is larger than this file can hold; corrupt or hostile file");
    t.scratch.resize(tile_bytes);
    t.count = TIFFNumberOfTiles(f.get());
    t.across = uint32_t((uint64_t(l.width) + l.tile_w - 1) / l.tile_w);
    t.per_plane = l.separate() ? t.count / l.spp : t.count;
    return t;
}

// Decodes the row of tiles starting at row `y` into `dst`: its rows (up to a tile's height) of the
// whole width, our sample only.
void decode_tile_row(TiffFile& f, const Layout& l, uint32_t page, uint32_t sample, Tiles& tiles, uint32_t y,
                     unsigned char* dst) {
    TIFF* t = f.get();
    const size_t bpp = dtype_size(l.dtype);
    const size_t row_bytes = size_t(l.width) * bpp;
    const unsigned tile_spp = l.separate() ? 1 : l.spp;
    const size_t tile_row_bytes = size_t(l.tile_w) * bpp * tile_spp;
    const uint32_t rows = std::min(l.tile_h, l.height - y);
    for (uint32_t x = 0; x < l.width; x += l.tile_w) {
        const uint32_t tile = TIFFComputeTile(t, x, y, 0, uint16_t(l.separate() ? sample : 0));
        if (tile >= tiles.count) f.fail("tile " + std::to_string(tile) + " of page " + std::to_string(page) + " is missing");
        const tmsize_t want = tmsize_t(tiles.scratch.size());
        if (TIFFReadEncodedTile(t, tile, tiles.scratch.data(), want) != want)
            f.fail("cannot decode tile " + std::to_string(tile) + " of page " + std::to_string(page) +
                   " (file truncated or corrupt; compression " + compression_name(l.compression) + ")");
        // Edge tiles are padded; copy only the part inside the image.
        const uint32_t cols = std::min(l.tile_w, l.width - x);
        for (uint32_t r = 0; r < rows; ++r) {
            const unsigned char* src = tiles.scratch.data() + r * tile_row_bytes;
            unsigned char* d = dst + size_t(r) * row_bytes + size_t(x) * bpp;
            if (tile_spp == 1)
                std::memcpy(d, src, cols * bpp);
            else
                pick_sample(src, d, cols, tile_spp, sample, bpp);
        }
    }
}

void read_tiles(TiffFile& f, const Layout& l, uint32_t page, uint32_t sample, uint64_t limit, Plane& out) {
    Tiles tiles = plane_tiles(f, l, page, limit);
    const size_t row_bytes = size_t(l.width) * dtype_size(l.dtype);
    auto* dst = reinterpret_cast<unsigned char*>(out.data.data());
    f.clear_messages();
    // The plane's tiles (of our sample when planes are separate) with one read when they lie together.
    f.prefetch_segments(l.separate() ? sample * tiles.per_plane : 0, tiles.per_plane, limit);
    for (uint32_t y = 0; y < l.height; y += l.tile_h) decode_tile_row(f, l, page, sample, tiles, y, dst + y * row_bytes);
}

// The checks before a page's pixels are read: the sample exists, and the plane is no larger than
// the file can hold with its codec (`limit`).
void check_plane_claim(TiffFile& f, const Layout& l, uint32_t page, uint32_t sample, uint64_t limit) {
    if (sample >= l.spp)
        throw input_error(f.path(), "sample " + std::to_string(sample) + " does not exist in page " +
                                        std::to_string(page) + " (it has " + std::to_string(l.spp) +
                                        " samples per pixel)");
    uint64_t pixels = 0, bytes = 0;
    if (mul_overflows(l.width, l.height, pixels) || mul_overflows(pixels, dtype_size(l.dtype), bytes) || bytes > limit)
        throw input_error(f.path(), "page " + std::to_string(page) + " claims " + std::to_string(l.width) + " x " +
                                        std::to_string(l.height) + " pixels of " + dtype_name(l.dtype) +
                                        ", more than a " + std::to_string(f.file_size()) +
                                        "-byte file with compression " + compression_name(l.compression) +
                                        " can hold; the file is corrupt or truncated");
}

// A page read band by band: a band's strips or tiles are fetched with one read where they lie
// together and decoded straight into the band; a strip or row of tiles cut by the band's edge is
// decoded once into `segment_` and its rows taken from there by both bands.
class TiffRows final : public PlaneRows {
public:
    TiffRows(const source::File& file, uint32_t page, uint32_t sample) : f_(file), page_(page), sample_(sample) {}
    // False for planes stored after the IFDs (tiff_contents.cpp), which are read whole.
    bool open() {
        const uint32_t page = page_, sample = sample_;
        if (page > 0 && page >= f_.page_count()) return false;
        f_.select(page);
        l_ = f_.layout(page);
        // The whole plane is never held, so it may exceed kMaxBuffer, but not what the file's bytes
        // can decode to; every buffer stays within buffer_limit.
        uint64_t decodable = 0;
        if (mul_overflows(f_.file_size(), max_expansion(l_.compression), decodable)) decodable = UINT64_MAX;
        check_plane_claim(f_, l_, page, sample, decodable);
        limit_ = f_.buffer_limit(l_);
        row_bytes_ = size_t(l_.width) * dtype_size(l_.dtype);
        segment_rows_ = l_.tiled ? l_.tile_h : l_.rows_per_strip;
        uint64_t segment_bytes = 0;
        const bool overflow = mul_overflows(row_bytes_, std::min(segment_rows_, l_.height), segment_bytes);
        const bool by_rows = !l_.tiled && l_.compression != COMPRESSION_NONE && segment_bytes > kScanlineStripBytes;
        if (overflow || (segment_bytes > limit_ && !by_rows))
            f_.fail("a " + std::string(l_.tiled ? "row of tiles" : "strip") + " of page " + std::to_string(page) +
                    " would need " + std::to_string(segment_bytes) + " bytes, more than this file can hold");
        if (l_.tiled) {
            tiles_ = plane_tiles(f_, l_, page, limit_);
        } else if (by_rows) {
            // A big compressed strip (a whole plane written as one deflate or LZW strip) is decoded
            // a row at a time: libtiff's scanline reading inflates it progressively and reads its
            // compressed bytes in pieces, so neither the strip nor the plane is ever held.
            // (Uncompressed single strips need nothing: libtiff presents them chopped into rows.)
            const tmsize_t line = TIFFScanlineSize(f_.get());
            if (line <= 0 || uint64_t(line) != row_bytes_ * (l_.separate() ? 1 : l_.spp))
                f_.fail("page " + std::to_string(page) + ": unexpected scanline size " + std::to_string(line));
            line_.resize(size_t(line));
            scanlines_ = true;
        } else {
            strips_ = plane_strips(f_, l_, page, sample, limit_);
        }
        return true;
    }
    uint32_t width() const override { return l_.width; }
    uint32_t height() const override { return l_.height; }
    DType dtype() const override { return l_.dtype; }

    void read(uint32_t y0, uint32_t count, std::byte* out) override {
        check_row_range(y0, count, l_.height);
        f_.clear_messages();
        if (scanlines_) return read_scanlines(y0, count, reinterpret_cast<unsigned char*>(out));
        const uint32_t first = y0 / segment_rows_, last = (y0 + count - 1) / segment_rows_;
        prefetch(first == cached_ ? first + 1 : first, last);
        auto* dst = reinterpret_cast<unsigned char*>(out);
        for (uint32_t s = first; s <= last; ++s) {
            const uint32_t sy = s * segment_rows_, rows = std::min(segment_rows_, l_.height - sy);
            if (sy >= y0 && sy + rows <= y0 + count) {  // wholly inside the band
                decode(s, dst + size_t(sy - y0) * row_bytes_);
                continue;
            }
            if (cached_ != s) {
                segment_.resize(row_bytes_ * segment_rows_);
                decode(s, segment_.data());
                cached_ = s;
            }
            const uint32_t from = std::max(sy, y0), to = std::min(sy + rows, y0 + count);
            std::memcpy(dst + size_t(from - y0) * row_bytes_, segment_.data() + size_t(from - sy) * row_bytes_,
                        size_t(to - from) * row_bytes_);
        }
    }

private:
    // Strips above this size are read row by row (open()); smaller ones whole, which is faster.
    static constexpr uint64_t kScanlineStripBytes = 64ull << 20;

    // Rows in order are decoded in one pass over the strip; a row before the last one read makes
    // libtiff start its strip again (bands are read in order, so that does not happen).
    void read_scanlines(uint32_t y0, uint32_t count, unsigned char* dst) {
        const size_t bpp = dtype_size(l_.dtype);
        const bool interleaved = l_.spp > 1 && !l_.separate();
        for (uint32_t y = y0; y < y0 + count; ++y, dst += row_bytes_) {
            unsigned char* into = interleaved ? line_.data() : dst;
            if (TIFFReadScanline(f_.get(), into, y, uint16_t(l_.separate() ? sample_ : 0)) < 0)
                f_.fail("cannot decode row " + std::to_string(y) + " of page " + std::to_string(page_) +
                        " (file truncated or corrupt; compression " + compression_name(l_.compression) + ")");
            if (interleaved) pick_sample(line_.data(), dst, l_.width, l_.spp, sample_, bpp);
        }
    }
    void decode(uint32_t s, unsigned char* dst) {
        if (l_.tiled)
            decode_tile_row(f_, l_, page_, sample_, tiles_, s * segment_rows_, dst);
        else
            decode_strip(f_, l_, page_, sample_, strips_, s, dst);
    }
    // Strips or tile rows first..last with one read when they lie together.
    void prefetch(uint32_t first, uint32_t last) {
        if (first > last) return;
        if (l_.tiled) {
            const uint32_t base = l_.separate() ? sample_ * tiles_.per_plane : 0;
            f_.prefetch_segments(base + first * tiles_.across, (last - first + 1) * tiles_.across, limit_);
        } else {
            f_.prefetch_segments(strips_.first + first, last - first + 1, limit_);
        }
    }

    TiffFile f_;
    uint32_t page_, sample_;
    Layout l_;
    uint64_t limit_ = 0;
    size_t row_bytes_ = 0;
    uint32_t segment_rows_ = 0;
    Tiles tiles_;
    Strips strips_;
    std::vector<unsigned char> segment_;
    uint32_t cached_ = UINT32_MAX;
    bool scanlines_ = false;           // read_scanlines: a big compressed strip, row by row
    std::vector<unsigned char> line_;  // one row of interleaved samples
};

class TiffDecoder final : public PixelDecoder {
public:
    std::string name() const override { return "tiff"; }

    bool accepts(const fs::path& file, const unsigned char* head, size_t head_len) const override {
        if (head && head_len >= 4) {
            static constexpr std::array<std::array<unsigned char, 4>, 4> magics{{
                {'I', 'I', 42, 0}, {'M', 'M', 0, 42}, {'I', 'I', 43, 0}, {'M', 'M', 0, 43}}};
            for (auto& m : magics)
                if (std::memcmp(head, m.data(), 4) == 0) return true;
            return false;
        }
        // Too few bytes to tell: trust the extension (the decoder reports the real problem).
        const std::string ext = lower_extension(file);
        return ext == ".tif" || ext == ".tiff" || ext == ".stk" || ext == ".btf" || ext == ".tf2" || ext == ".tf8";
    }

    uint32_t page_count(const source::File& file) const override { return TiffFile(file).page_count(); }
    FileContents contents(const source::File& file) const override { return tiffio::contents(file); }

    PageInfo page_info(const source::File& file, uint32_t page) const override {
        TiffFile f(file);
        if (page >= f.page_count()) {
            if (page >= declared_planes(f))
                throw input_error(f.path(), "page " + std::to_string(page) + " does not exist");
            page = 0;  // contiguous planes share page 0's geometry
        }
        f.select(page);
        const Layout l = f.layout(page);
        PageInfo info;
        info.width = l.width;
        info.height = l.height;
        info.samples = l.spp;
        info.dtype = l.dtype;
        info.bits_per_sample = l.bps;
        return info;
    }

    void read(const source::File& file, const PlaneAddress& at, Plane& out) const override {
        const uint32_t page = at.page, sample = at.sample;
        TiffFile f(file);
        if (page > 0 && page >= f.page_count()) return read_contiguous(f, page, sample, out);
        f.select(page);
        const Layout l = f.layout(page);
        const uint64_t limit = f.buffer_limit(l);
        check_plane_claim(f, l, page, sample, limit);
        out.allocate(l.dtype, l.width, l.height);
        if (l.tiled)
            read_tiles(f, l, page, sample, limit, out);
        else
            read_strips(f, l, page, sample, limit, out);
    }

    std::unique_ptr<PlaneRows> open_rows(const source::File& file, const PlaneAddress& at) const override {
        auto rows = std::make_unique<TiffRows>(file, at.page, at.sample);
        if (!rows->open()) return nullptr;
        return rows;
    }
};

}  // namespace

std::string tiff_image_description(const source::File& file, uint32_t page) {
    // Metadata only: a tag cannot be larger than the file.
    TiffFile f(file, TiffFile::kFileSize);
    f.select(page);
    const char* text = nullptr;
    if (!TIFFGetField(f.get(), TIFFTAG_IMAGEDESCRIPTION, &text) || !text) return {};
    return text;
}

uint32_t tiff_page_count(const source::File& file) {
    TiffFile f(file);
    return f.page_count();
}

std::optional<std::pair<double, double>> tiff_resolution(const source::File& file) {
    TiffFile f(file, TiffFile::kFileSize);
    f.select(0);
    float x = 0, y = 0;
    if (!TIFFGetField(f.get(), TIFFTAG_XRESOLUTION, &x) || !TIFFGetField(f.get(), TIFFTAG_YRESOLUTION, &y)) return {};
    if (!(x > 0) || !(y > 0) || !std::isfinite(x) || !std::isfinite(y)) return {};
    return std::make_pair(double(x), double(y));
}

uint32_t tiff_declared_planes(const source::File& file) {
    TiffFile f(file);
    return planes_that_fit(f, declared_planes(f));
}

std::unique_ptr<PixelDecoder> make_tiff_decoder() { return std::make_unique<TiffDecoder>(); }

}  // namespace imx
