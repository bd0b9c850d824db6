// TIFF pixel decoder on top of libtiff: strips and tiles, BigTIFF, multi-page, 8/16/32-bit
// integer and 32-bit float samples, contiguous and separate planar configurations, and whatever
// compression the system libtiff decodes. Files are untrusted: every size is checked before we
// allocate, and libtiff's messages are captured per file instead of going to stderr.
#include "formats/tiff_decoder.h"

#include <tiffio.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/fileutil.h"
#include "formats/builtin.h"
#include "storage/source_files.h"

namespace imx {

namespace {

static_assert(std::endian::native == std::endian::little,
              "planes are little endian; a big-endian host needs byte swapping here");

// No plane, strip or tile buffer may exceed this, whatever the file claims: a plane is held in
// memory whole.
constexpr uint64_t kMaxBuffer = 4ull << 30;

// The most a codec can expand its data, so that no buffer may exceed this many times the file:
// PackBits 64:1 (a 2-byte run of 128); Deflate 1032:1 (zlib's maximum compression factor); TIFF's
// LZW 3412:1 (a code of at least 9 bits stands for at most 3838 bytes: 4094 table entries, each one
// byte longer than an earlier one); any other codec 32768:1 (zstd's run-length blocks, 4 bytes for
// 128 KiB, the largest of the codecs libtiff decodes).
uint64_t max_expansion(uint16_t compression) {
    switch (compression) {
        case COMPRESSION_NONE: return 1;
        case COMPRESSION_PACKBITS: return 64;
        case COMPRESSION_ADOBE_DEFLATE:
        case COMPRESSION_DEFLATE: return 1032;
        case COMPRESSION_LZW: return 3412;
        default: return 32768;
    }
}

// Messages libtiff reported while working on one file. Each open file has its own instance, so
// threads decoding different files never share state.
struct Messages {
    std::string text;
    int count = 0;
    void clear() {
        text.clear();
        count = 0;
    }
};

int on_tiff_error(TIFF*, void* user, const char*, const char* fmt, va_list ap) {
    auto* m = static_cast<Messages*>(user);
    if (m && m->count < 3) {  // the first messages carry the cause; later ones are follow-ups
        char buf[512];
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        if (!m->text.empty()) m->text += "; ";
        m->text += buf;
    }
    if (m) ++m->count;
    return 1;  // handled: libtiff must not call its global handler (which prints to stderr)
}

int on_tiff_warning(TIFF*, void*, const char*, const char*, va_list) {
    return 1;  // unknown tags and similar trivia: stay quiet
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t& out) { return __builtin_mul_overflow(a, b, &out); }

const char* compression_name(uint16_t c) {
    switch (c) {
        case COMPRESSION_NONE: return "none";
        case COMPRESSION_LZW: return "LZW";
        case COMPRESSION_ADOBE_DEFLATE:
        case COMPRESSION_DEFLATE: return "Deflate";
        case COMPRESSION_PACKBITS: return "PackBits";
        case COMPRESSION_JPEG: return "JPEG";
        case COMPRESSION_ZSTD: return "zstd";
        case COMPRESSION_LZMA: return "LZMA";
        case COMPRESSION_WEBP: return "WebP";
        default: return "other";
    }
}

// Geometry and encoding of the current directory.
struct Layout {
    uint32_t width = 0, height = 0;
    uint16_t spp = 1, bps = 0, format = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG;
    uint16_t compression = COMPRESSION_NONE, photometric = PHOTOMETRIC_MINISBLACK;
    bool tiled = false;
    uint32_t tile_w = 0, tile_h = 0, rows_per_strip = 0;
    DType dtype = DType::u8;
    bool separate() const { return planar == PLANARCONFIG_SEPARATE && spp > 1; }
};

class TiffFile {
public:
    // `max_alloc` bounds every single allocation libtiff makes for this file (tags, strip tables,
    // decode buffers); kFileSize: what metadata can need, a tag no larger than the file, plus
    // libtiff's own structures (the TIFF handle takes about 1.4 KB).
    static constexpr uint64_t kFileSize = 0;
    explicit TiffFile(const fs::path& file, uint64_t max_alloc = kMaxBuffer) : path_(file.string()) {
        if (source::is_remote(file)) {
            remote_ = std::make_unique<RemoteIo>(source::open(file));
            file_size_ = remote_->file->size();
        } else {
            std::error_code ec;
            file_size_ = fs::file_size(file, ec);
            if (ec) throw input_error(path_, "cannot open file (missing or unreadable)");
        }
        TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
        if (!opts) throw Error("libtiff: out of memory");
        TIFFOpenOptionsSetErrorHandlerExtR(opts, on_tiff_error, &messages_);
        TIFFOpenOptionsSetWarningHandlerExtR(opts, on_tiff_warning, nullptr);
        TIFFOpenOptionsSetMaxSingleMemAlloc(opts, tmsize_t(max_alloc == kFileSize ? file_size_ + (64 << 10) : max_alloc));
        // "m": plain reads, no memory mapping. A file truncated or changed while mapped raises
        // SIGBUS, which would kill the whole conversion instead of failing one file.
        if (remote_)
            tif_ = TIFFClientOpenExt(path_.c_str(), "rm", remote_.get(), RemoteIo::read, RemoteIo::write, RemoteIo::seek,
                                     RemoteIo::close, RemoteIo::size, RemoteIo::map, RemoteIo::unmap, opts);
        else
            tif_ = TIFFOpenExt(path_.c_str(), "rm", opts);
        TIFFOpenOptionsFree(opts);
        if (!tif_) fail("not a readable TIFF file");
    }
    ~TiffFile() {
        if (tif_) TIFFClose(tif_);
    }
    TiffFile(const TiffFile&) = delete;
    TiffFile& operator=(const TiffFile&) = delete;

    TIFF* get() const { return tif_; }
    const std::string& path() const { return path_; }
    uint64_t file_size() const { return file_size_; }

    // Throws an input error with libtiff's own words when it said something.
    [[noreturn]] void fail(const std::string& what) const {
        std::string reason = what;
        if (!messages_.text.empty()) reason += " (libtiff: " + messages_.text + ")";
        throw input_error(path_, reason);
    }
    void clear_messages() { messages_.clear(); }

    uint32_t page_count() {
        clear_messages();
        tdir_t n = TIFFNumberOfDirectories(tif_);
        if (n == 0) fail("TIFF file has no pages");
        return uint32_t(n);
    }

    void select(uint32_t page) {
        if (TIFFCurrentDirectory(tif_) == page) return;
        clear_messages();
        if (!TIFFSetDirectory(tif_, tdir_t(page))) {
            std::string cause = messages_.text;
            uint32_t n = page_count();
            if (page >= n)
                throw input_error(path_, "page " + std::to_string(page) + " does not exist (the file has " +
                                             std::to_string(n) + (n == 1 ? " page)" : " pages)"));
            messages_.text = cause;
            fail("cannot read the directory of page " + std::to_string(page));
        }
    }

    Layout layout(uint32_t page) {
        Layout l;
        TIFF* t = tif_;
        auto where = [&] { return " in page " + std::to_string(page); };
        if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &l.width) || !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &l.height))
            fail("image width or height missing" + where());
        if (l.width == 0 || l.height == 0) fail("empty image (0 pixels wide or high)" + where());
        TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &l.spp);
        TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &l.bps);
        TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &l.format);
        TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &l.planar);
        TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &l.compression);
        if (!TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &l.photometric)) l.photometric = PHOTOMETRIC_MINISBLACK;
        if (l.spp == 0) fail("0 samples per pixel" + where());
        uint32_t depth = 1;
        if (TIFFGetField(t, TIFFTAG_IMAGEDEPTH, &depth) && depth > 1)
            fail("volumetric TIFF pages (ImageDepth " + std::to_string(depth) + ") are not supported");
        if (l.photometric == PHOTOMETRIC_YCBCR) {
            // JPEG-compressed YCbCr: let libjpeg convert to RGB. Raw subsampled YCbCr has a
            // different memory layout that microscopes do not write.
            if (l.compression == COMPRESSION_JPEG) {
                TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
            } else {
                uint16_t sub_h = 1, sub_v = 1;
                TIFFGetFieldDefaulted(t, TIFFTAG_YCBCRSUBSAMPLING, &sub_h, &sub_v);
                if (sub_h != 1 || sub_v != 1) fail("subsampled YCbCr pixels are not supported" + where());
            }
        }
        if (l.bps != 8 && l.bps != 16 && l.bps != 32)
            fail("unsupported bit depth: " + std::to_string(l.bps) +
                 " bits per sample" + where() + " (imextract reads 8, 16 and 32-bit samples)");
        switch (l.format) {
            case SAMPLEFORMAT_UINT:
            case SAMPLEFORMAT_VOID:
                l.dtype = l.bps == 8 ? DType::u8 : l.bps == 16 ? DType::u16 : DType::u32;
                break;
            case SAMPLEFORMAT_INT:
                l.dtype = l.bps == 8 ? DType::i8 : l.bps == 16 ? DType::i16 : DType::i32;
                break;
            case SAMPLEFORMAT_IEEEFP:
                if (l.bps != 32)
                    fail("unsupported bit depth: " + std::to_string(l.bps) + "-bit floating point" + where() +
                         " (only 32-bit float is supported)");
                l.dtype = DType::f32;
                break;
            default:
                fail("unsupported sample format " + std::to_string(l.format) + where() + " (complex numbers?)");
        }
        l.tiled = TIFFIsTiled(t) != 0;
        if (l.tiled) {
            if (!TIFFGetField(t, TIFFTAG_TILEWIDTH, &l.tile_w) || !TIFFGetField(t, TIFFTAG_TILELENGTH, &l.tile_h) ||
                l.tile_w == 0 || l.tile_h == 0)
                fail("tiled page without a valid tile size" + where());
        } else {
            TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &l.rows_per_strip);
            if (l.rows_per_strip == 0 || l.rows_per_strip > l.height) l.rows_per_strip = l.height;
        }
        return l;
    }

    // The largest buffer this file can honestly need: the file's size times its codec's maximum
    // expansion, and never more than a plane may be.
    uint64_t buffer_limit(const Layout& l) const {
        uint64_t limit = 0;
        if (mul_overflows(file_size_, max_expansion(l.compression), limit)) limit = kMaxBuffer;
        return std::min(limit, kMaxBuffer);
    }

private:
    std::string path_;
    uint64_t file_size_ = 0;
    // libtiff's client I/O over an object in S3 (storage/source_files.h: ranged, cached reads).
    struct RemoteIo {
        explicit RemoteIo(std::unique_ptr<source::File> f) : file(std::move(f)) {}
        std::unique_ptr<source::File> file;
        uint64_t pos = 0;
        static tmsize_t read(thandle_t h, void* buf, tmsize_t n) {
            auto* io = static_cast<RemoteIo*>(h);
            const uint64_t size = io->file->size();
            if (n <= 0 || io->pos >= size) return 0;
            const size_t take = size_t(std::min<uint64_t>(uint64_t(n), size - io->pos));
            try {
                io->file->read_at(io->pos, buf, take);
            } catch (const std::exception&) {
                return -1;  // libtiff reports a read error; the caller names the file
            }
            io->pos += take;
            return tmsize_t(take);
        }
        static tmsize_t write(thandle_t, void*, tmsize_t) { return -1; }
        static toff_t seek(thandle_t h, toff_t off, int whence) {
            auto* io = static_cast<RemoteIo*>(h);
            uint64_t base = whence == SEEK_CUR ? io->pos : whence == SEEK_END ? io->file->size() : 0;
            io->pos = base + off;
            return io->pos;
        }
        static int close(thandle_t) { return 0; }
        static toff_t size(thandle_t h) { return static_cast<RemoteIo*>(h)->file->size(); }
        static int map(thandle_t, void**, toff_t*) { return 0; }
        static void unmap(thandle_t, void*, toff_t) {}
    };

    std::unique_ptr<RemoteIo> remote_;  // outlives tif_ (declared first, destroyed last)
    Messages messages_;  // declared before tif_ is used; outlives TIFFClose in the destructor
    TIFF* tif_ = nullptr;
};

// Copies sample `sample` of `count` interleaved pixels.
template <class T>
void pick_sample_t(const unsigned char* src, unsigned char* dst, size_t count, unsigned spp, unsigned sample) {
    const T* s = reinterpret_cast<const T*>(src) + sample;
    T* d = reinterpret_cast<T*>(dst);
    for (size_t i = 0; i < count; ++i, s += spp) d[i] = *s;
}

void pick_sample(const unsigned char* src, unsigned char* dst, size_t count, unsigned spp, unsigned sample,
                 size_t bytes) {
    switch (bytes) {
        case 1: pick_sample_t<uint8_t>(src, dst, count, spp, sample); break;
        case 2: pick_sample_t<uint16_t>(src, dst, count, spp, sample); break;
        default: pick_sample_t<uint32_t>(src, dst, count, spp, sample); break;
    }
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


// ---- planes beyond the IFDs ------------------------------------------------------------------
// MetaMorph STK files and ImageJ files larger than 4 GB hold one IFD (or a few) and store all
// further planes uncompressed, back to back after page 0's pixel data. The file declares how many:
// the count of the STK UIC2 tag (33629), or images= in the ImageJ description.

constexpr uint16_t kUic2Tag = 33629;

// Count of the UIC2 tag in the first IFD (classic TIFF only, as STK is); 0 when absent. Reads the
// header and the IFD entries directly: libtiff does not know the tag.
uint32_t stk_plane_count(const std::string& path, uint64_t file_size) {
    std::unique_ptr<source::File> fp;
    try {
        fp = source::open(path);
    } catch (const Error&) {
        return 0;
    }
    auto read = [&](uint64_t off, unsigned char* out, size_t n) {
        if (off > file_size || n > file_size - off) return false;
        try {
            fp->read_at(off, out, n);
        } catch (const Error&) {
            return false;
        }
        return true;
    };
    unsigned char head[8];
    uint32_t result = 0;
    if (read(0, head, 8) && head[2] + head[3] == 42) {
        const bool big = head[0] == 'M';
        auto u16 = [&](const unsigned char* b) { return big ? uint16_t(b[0] << 8 | b[1]) : uint16_t(b[1] << 8 | b[0]); };
        auto u32 = [&](const unsigned char* b) {
            return big ? uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3]
                       : uint32_t(b[3]) << 24 | uint32_t(b[2]) << 16 | uint32_t(b[1]) << 8 | b[0];
        };
        const uint64_t ifd = u32(head + 4);
        unsigned char cnt[2];
        if (read(ifd, cnt, 2)) {
            const uint16_t entries = u16(cnt);
            unsigned char e[12];
            for (uint16_t i = 0; i < entries && read(ifd + 2 + uint64_t(i) * 12, e, 12); ++i)
                if (u16(e) == kUic2Tag) {
                    result = u32(e + 4);
                    break;
                }
        }
    }
    return result;
}

// images=N of an ImageJ description; 0 when absent or not ImageJ's.
uint32_t imagej_images(const char* desc) {
    if (!desc || std::strncmp(desc, "ImageJ=", 7) != 0) return 0;
    const char* p = std::strstr(desc, "\nimages=");
    if (!p) return 0;
    long v = std::strtol(p + 8, nullptr, 10);
    return v > 0 && v < (1L << 31) ? uint32_t(v) : 0;
}

// Planes the file declares (>= its IFD count), page 0 selected on return.
uint32_t declared_planes(TiffFile& f) {
    const uint32_t ifds = f.page_count();
    f.select(0);
    const char* desc = nullptr;
    uint32_t declared = 0;
    if (TIFFGetField(f.get(), TIFFTAG_IMAGEDESCRIPTION, &desc)) declared = imagej_images(desc);
    if (!declared) declared = stk_plane_count(f.path(), f.file_size());
    return std::max(ifds, declared);
}

// Planes that page 0's pixel data plus the rest of the file can really hold, so that a
// description promising billions of planes cannot make a layout reader list them.
uint32_t planes_that_fit(TiffFile& f, uint32_t declared) {
    const uint32_t ifds = f.page_count();
    if (declared <= ifds) return ifds;
    f.select(0);
    const Layout l = f.layout(0);
    TIFF* t = f.get();
    uint64_t* offsets = nullptr;
    if (l.tiled || l.compression != COMPRESSION_NONE || l.separate() || TIFFNumberOfStrips(t) == 0 ||
        !TIFFGetField(t, TIFFTAG_STRIPOFFSETS, &offsets) || !offsets || offsets[0] >= f.file_size())
        return ifds;
    const uint64_t plane_bytes = uint64_t(l.width) * l.height * dtype_size(l.dtype) * l.spp;
    const uint64_t fit = plane_bytes ? (f.file_size() - offsets[0]) / plane_bytes : 0;
    return uint32_t(std::max<uint64_t>(ifds, std::min<uint64_t>(declared, fit)));
}

// Reads plane `page` (>= the IFD count) at offset(first strip of page 0) + page * plane bytes.
void read_contiguous(TiffFile& f, uint32_t page, uint32_t sample, Plane& out) {
    const uint32_t declared = declared_planes(f), ifds = f.page_count();
    if (page >= declared)
        throw input_error(f.path(), "page " + std::to_string(page) + " does not exist (the file has " +
                                        std::to_string(ifds) + (ifds == 1 ? " page" : " pages") +
                                        (declared > ifds ? " and declares " + std::to_string(declared) + " planes)"
                                                         : ")"));
    const Layout l = f.layout(0);
    if (l.tiled || l.compression != COMPRESSION_NONE || l.separate())
        f.fail("page " + std::to_string(page) + " lies beyond the IFDs, which only works for uncompressed, "
               "striped, interleaved page 0 (MetaMorph STK / ImageJ contiguous layout)");
    if (sample >= l.spp)
        throw input_error(f.path(), "sample " + std::to_string(sample) + " does not exist (" + std::to_string(l.spp) +
                                        " samples per pixel)");
    TIFF* t = f.get();
    const uint32_t strips = TIFFNumberOfStrips(t);
    uint64_t* offsets = nullptr;
    uint64_t* counts = nullptr;
    if (strips == 0 || !TIFFGetField(t, TIFFTAG_STRIPOFFSETS, &offsets) ||
        !TIFFGetField(t, TIFFTAG_STRIPBYTECOUNTS, &counts) || !offsets || !counts)
        f.fail("page 0 has no strip offsets");
    for (uint32_t s = 0; s + 1 < strips; ++s)
        if (offsets[s] + counts[s] != offsets[s + 1])
            f.fail("page 0's strips are not contiguous, so the planes after it cannot be located");
    const size_t bpp = dtype_size(l.dtype);
    uint64_t pixels = 0, plane_bytes = 0, skip = 0, offset = 0;
    if (mul_overflows(l.width, l.height, pixels) || mul_overflows(pixels, uint64_t(bpp) * l.spp, plane_bytes) ||
        mul_overflows(plane_bytes, page, skip) || __builtin_add_overflow(offsets[0], skip, &offset) ||
        offset + plane_bytes < offset || offset + plane_bytes > f.file_size())
        throw input_error(f.path(), "plane " + std::to_string(page) + " would end beyond the end of the " +
                                        std::to_string(f.file_size()) + "-byte file (truncated?)");
    std::vector<unsigned char> raw(plane_bytes);
    try {
        source::open(f.path())->read_at(offset, raw.data(), raw.size());
    } catch (const Error& e) {
        throw input_error(f.path(), "cannot read plane " + std::to_string(page) + " at offset " + std::to_string(offset) +
                                        " (" + e.what() + ")");
    }
    if (TIFFIsByteSwapped(t) && bpp > 1) {
        for (size_t i = 0; i + bpp <= raw.size(); i += bpp) std::reverse(raw.begin() + long(i), raw.begin() + long(i + bpp));
    }
    out.allocate(l.dtype, l.width, l.height);
    pick_sample(raw.data(), reinterpret_cast<unsigned char*>(out.data.data()), size_t(pixels), l.spp, sample, bpp);
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

    uint32_t page_count(const fs::path& file) const override { return tiff_page_count(file); }

    PageInfo page_info(const fs::path& file, uint32_t page) const override {
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

    void read(const fs::path& file, uint32_t page, uint32_t sample, Plane& out) const override {
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

std::string tiff_image_description(const fs::path& file, uint32_t page) {
    // Metadata only: a tag cannot be larger than the file.
    TiffFile f(file, TiffFile::kFileSize);
    f.select(page);
    const char* text = nullptr;
    if (!TIFFGetField(f.get(), TIFFTAG_IMAGEDESCRIPTION, &text) || !text) return {};
    return text;
}

uint32_t tiff_page_count(const fs::path& file) {
    TiffFile f(file);
    return f.page_count();
}

std::optional<std::pair<double, double>> tiff_resolution(const fs::path& file) {
    TiffFile f(file, TiffFile::kFileSize);
    f.select(0);
    float x = 0, y = 0;
    if (!TIFFGetField(f.get(), TIFFTAG_XRESOLUTION, &x) || !TIFFGetField(f.get(), TIFFTAG_YRESOLUTION, &y)) return {};
    if (!(x > 0) || !(y > 0) || !std::isfinite(x) || !std::isfinite(y)) return {};
    return std::make_pair(double(x), double(y));
}

uint32_t tiff_declared_planes(const fs::path& file) {
    TiffFile f(file);
    return planes_that_fit(f, declared_planes(f));
}

std::unique_ptr<PixelDecoder> make_tiff_decoder() { return std::make_unique<TiffDecoder>(); }

}  // namespace imx
