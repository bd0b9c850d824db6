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

void read_strips(TiffFile& f, const Layout& l, uint32_t page, uint32_t sample, uint64_t limit, Plane& out) {
    TIFF* t = f.get();
    const size_t bpp = dtype_size(l.dtype);
    const size_t row_bytes = size_t(l.width) * bpp;
    const uint32_t rps = l.rows_per_strip;
    const uint32_t strips_per_plane = uint32_t((uint64_t(l.height) + rps - 1) / rps);
    const uint64_t needed = l.separate() ? uint64_t(strips_per_plane) * l.spp : strips_per_plane;
    if (TIFFNumberOfStrips(t) < needed)
        f.fail("page " + std::to_string(page) + " has " + std::to_string(TIFFNumberOfStrips(t)) +
               " strips, " + std::to_string(needed) + " expected");
    auto* dst = reinterpret_cast<unsigned char*>(out.data.data());
    auto strip_error = [&](uint32_t strip) {
        f.fail("cannot decode strip " + std::to_string(strip) + " of page " + std::to_string(page) +
               " (file truncated or corrupt; compression " + compression_name(l.compression) + ")");
    };
    f.clear_messages();
    if (read_adjacent_strips(f, l, sample, strips_per_plane, limit, dst)) return;
    f.prefetch_segments(l.separate() ? sample * strips_per_plane : 0, strips_per_plane, limit);
    if (l.spp == 1 || l.separate()) {
        // One sample per strip: libtiff decodes straight into the plane, no extra copy.
        const uint32_t first = l.separate() ? sample * strips_per_plane : 0;
        for (uint32_t s = 0; s < strips_per_plane; ++s) {
            const uint32_t row = s * rps;
            const uint32_t rows = std::min(rps, l.height - row);
            const tmsize_t want = tmsize_t(rows * row_bytes);
            if (TIFFReadEncodedStrip(t, first + s, dst + row * row_bytes, want) != want) strip_error(first + s);
        }
        return;
    }
    // Interleaved samples: decode each strip into a reused scratch buffer, then pick ours.
    const size_t strip_row_bytes = row_bytes * l.spp;
    uint64_t scratch_bytes = 0;
    if (mul_overflows(strip_row_bytes, rps, scratch_bytes) || scratch_bytes > limit)
        f.fail("strip of page " + std::to_string(page) + " would need " + std::to_string(scratch_bytes) +
               " bytes, more than this file can hold; corrupt or hostile file");
    std::vector<unsigned char> scratch(scratch_bytes);
    for (uint32_t s = 0; s < strips_per_plane; ++s) {
        const uint32_t row = s * rps;
        const uint32_t rows = std::min(rps, l.height - row);
        const tmsize_t want = tmsize_t(rows * strip_row_bytes);
        if (TIFFReadEncodedStrip(t, s, scratch.data(), want) != want) strip_error(s);
        pick_sample(scratch.data(), dst + row * row_bytes, size_t(rows) * l.width, l.spp, sample, bpp);
    }
}

void read_tiles(TiffFile& f, const Layout& l, uint32_t page, uint32_t sample, uint64_t limit, Plane& out) {
    TIFF* t = f.get();
    const size_t bpp = dtype_size(l.dtype);
    const size_t row_bytes = size_t(l.width) * bpp;
    const unsigned tile_spp = l.separate() ? 1 : l.spp;
    const size_t tile_row_bytes = size_t(l.tile_w) * bpp * tile_spp;
    uint64_t tile_bytes = 0;
    if (mul_overflows(tile_row_bytes, l.tile_h, tile_bytes) || tile_bytes > limit)
        f.fail("tile of page " + std::to_string(page) + " (" + std::to_string(l.tile_w) + " x " +
               std::to_string(l.tile_h) + ") is larger than this file can hold; corrupt or hostile file");
    std::vector<unsigned char> scratch(tile_bytes);
    auto* dst = reinterpret_cast<unsigned char*>(out.data.data());
    const uint32_t tiles = TIFFNumberOfTiles(t);
    f.clear_messages();
    // The plane's tiles (of our sample when planes are separate) with one read when they lie together.
    const uint32_t per_plane = l.separate() ? tiles / l.spp : tiles;
    f.prefetch_segments(l.separate() ? sample * per_plane : 0, per_plane, limit);
    for (uint32_t y = 0; y < l.height; y += l.tile_h) {
        for (uint32_t x = 0; x < l.width; x += l.tile_w) {
            const uint32_t tile = TIFFComputeTile(t, x, y, 0, uint16_t(l.separate() ? sample : 0));
            if (tile >= tiles)
                f.fail("tile " + std::to_string(tile) + " of page " + std::to_string(page) + " is missing");
            if (TIFFReadEncodedTile(t, tile, scratch.data(), tmsize_t(tile_bytes)) != tmsize_t(tile_bytes))
                f.fail("cannot decode tile " + std::to_string(tile) + " of page " + std::to_string(page) +
                       " (file truncated or corrupt; compression " + compression_name(l.compression) + ")");
            // Edge tiles are padded; copy only the part inside the image.
            const uint32_t rows = std::min(l.tile_h, l.height - y);
            const uint32_t cols = std::min(l.tile_w, l.width - x);
            for (uint32_t r = 0; r < rows; ++r) {
                const unsigned char* src = scratch.data() + r * tile_row_bytes;
                unsigned char* d = dst + (size_t(y) + r) * row_bytes + size_t(x) * bpp;
                if (tile_spp == 1)
                    std::memcpy(d, src, cols * bpp);
                else
                    pick_sample(src, d, cols, tile_spp, sample, bpp);
            }
        }
    }
}



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
        if (sample >= l.spp)
            throw input_error(f.path(), "sample " + std::to_string(sample) + " does not exist in page " +
                                            std::to_string(page) + " (it has " + std::to_string(l.spp) +
                                            " samples per pixel)");
        const uint64_t limit = f.buffer_limit(l);
        uint64_t pixels = 0, bytes = 0;
        if (mul_overflows(l.width, l.height, pixels) || mul_overflows(pixels, dtype_size(l.dtype), bytes) ||
            bytes > limit)
            throw input_error(f.path(), "page " + std::to_string(page) + " claims " + std::to_string(l.width) +
                                            " x " + std::to_string(l.height) + " pixels of " +
                                            dtype_name(l.dtype) + ", more than a " +
                                            std::to_string(f.file_size()) + "-byte file with compression " +
                                            compression_name(l.compression) +
                                            " can hold; the file is corrupt or truncated");
        out.allocate(l.dtype, l.width, l.height);
        if (l.tiled)
            read_tiles(f, l, page, sample, limit, out);
        else
            read_strips(f, l, page, sample, limit, out);
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
