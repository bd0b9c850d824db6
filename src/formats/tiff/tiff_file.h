// libtiff access shared by the TIFF decoder's parts (tiff_decoder.cpp: strips and tiles;
// tiff_contents.cpp: what a file holds, and planes stored back to back after the IFDs). Internal to
// src/formats: layout readers use tiff_decoder.h.
#pragma once

#include <tiffio.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/reader.h"
#include "storage/source_files.h"

namespace imx::tiffio {

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
inline uint64_t max_expansion(uint16_t compression) {
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

inline int on_tiff_error(TIFF*, void* user, const char*, const char* fmt, va_list ap) {
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

inline int on_tiff_warning(TIFF*, void*, const char*, const char*, va_list) {
    return 1;  // unknown tags and similar trivia: stay quiet
}

inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t& out) { return __builtin_mul_overflow(a, b, &out); }

inline const char* compression_name(uint16_t c) {
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

// The pixel type of samples of `bps` bits in SampleFormat `format`; nullopt when we do not read it.
inline std::optional<DType> sample_dtype(uint16_t bps, uint16_t format) {
    if (bps != 8 && bps != 16 && bps != 32) return std::nullopt;
    switch (format) {
        case SAMPLEFORMAT_UINT:
        case SAMPLEFORMAT_VOID: return bps == 8 ? DType::u8 : bps == 16 ? DType::u16 : DType::u32;
        case SAMPLEFORMAT_INT: return bps == 8 ? DType::i8 : bps == 16 ? DType::i16 : DType::i32;
        case SAMPLEFORMAT_IEEEFP: return bps == 32 ? std::optional(DType::f32) : std::nullopt;
        default: return std::nullopt;
    }
}

class TiffFile {
public:
    // `max_alloc` bounds every single allocation libtiff makes for this file (tags, strip tables,
    // decode buffers); kFileSize: what metadata can need, a tag no larger than the file, plus
    // libtiff's own structures (the TIFF handle takes about 1.4 KB).
    static constexpr uint64_t kFileSize = 0;
    // The caller opened the file (decoders, and layout readers through their folder handle).
    explicit TiffFile(const source::File& file, uint64_t max_alloc = kMaxBuffer) { open(file, max_alloc); }
    ~TiffFile() {
        if (tif_) TIFFClose(tif_);
    }
    TiffFile(const TiffFile&) = delete;
    TiffFile& operator=(const TiffFile&) = delete;

    TIFF* get() const { return tif_; }
    const source::File& file() const { return *io_->file; }
    const std::string& path() const { return path_; }
    uint64_t file_size() const { return file_size_; }

private:
    void open(const source::File& file, uint64_t max_alloc) {
        // libtiff reads through the source file handle (local or remote alike), never the path.
        path_ = file.path();
        io_ = std::make_unique<SourceIo>(file);
        file_size_ = file.size();
        TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
        if (!opts) throw Error("libtiff: out of memory");
        TIFFOpenOptionsSetErrorHandlerExtR(opts, on_tiff_error, &messages_);
        TIFFOpenOptionsSetWarningHandlerExtR(opts, on_tiff_warning, nullptr);
        TIFFOpenOptionsSetMaxSingleMemAlloc(opts, tmsize_t(max_alloc == kFileSize ? file_size_ + (64 << 10) : max_alloc));
        // "m": plain reads, no memory mapping. A file truncated or changed while mapped raises
        // SIGBUS, which would kill the whole conversion instead of failing one file.
        tif_ = TIFFClientOpenExt(path_.c_str(), "rm", io_.get(), SourceIo::read, SourceIo::write, SourceIo::seek,
                                 SourceIo::close, SourceIo::size, SourceIo::map, SourceIo::unmap, opts);
        TIFFOpenOptionsFree(opts);
        if (!tif_) fail("not a readable TIFF file");
    }

public:
    // Throws an input error with libtiff's own words when it said something.
    [[noreturn]] void fail(const std::string& what) const {
        std::string reason = what;
        if (!messages_.text.empty()) reason += " (libtiff: " + messages_.text + ")";
        throw input_error(path_, reason);
    }
    void clear_messages() { messages_.clear(); }

    // IFDs in the main chain; walked once per open file.
    uint32_t page_count() {
        if (pages_) return pages_;
        clear_messages();
        tdir_t n = TIFFNumberOfDirectories(tif_);
        if (n == 0) fail("TIFF file has no pages");
        return pages_ = uint32_t(n);
    }

    // The count, when the caller walked the chain itself.
    void set_page_count(uint32_t n) { pages_ = n; }

    // Reads `n` bytes at `offset` through this open file (pread: libtiff's own position stays);
    // false when the range is outside the file or the read fails.
    bool read_at(uint64_t offset, void* out, size_t n) const {
        if (offset > file_size_ || n > file_size_ - offset) return false;
        try {
            io_->file->read_at(offset, out, n);
        } catch (const Error&) {
            return false;
        }
        return true;
    }

    // Reads segments (strips or tiles) [first, first + count) of the current page with one read
    // when they lie close together (gaps under an eighth of their bytes) and fit in `limit`:
    // libtiff then decodes them from memory instead of reading each (a Deflate plane of 16-row
    // strips took 2 reads per strip). Otherwise libtiff reads them as usual.
    void prefetch_segments(uint32_t first, uint32_t count, uint64_t limit) {
        // The window's buffer is kept from call to call: a plane read band by band reuses it
        // instead of faulting in fresh pages for every band.
        SourceIo::Block& w = io_->window;
        w.start = UINT64_MAX;
        uint64_t lo = UINT64_MAX, hi = 0, sum = 0;
        for (uint32_t s = first; s < first + count; ++s) {
            const uint64_t off = TIFFGetStrileOffset(tif_, s), len = TIFFGetStrileByteCount(tif_, s);
            if (off == 0 || len == 0 || off > file_size_ || len > file_size_ - off) return;  // libtiff reports it
            lo = std::min(lo, off);
            hi = std::max(hi, off + len);
            sum += len;
        }
        if (count < 2 || hi <= lo || hi - lo > sum + sum / 8 || hi - lo > limit) return;
        w.bytes.resize(size_t(hi - lo));
        if (!read_at(lo, w.bytes.data(), w.bytes.size())) return;
        w.start = lo;
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
        if (auto dt = sample_dtype(l.bps, l.format)) l.dtype = *dt;
        else if (l.format == SAMPLEFORMAT_IEEEFP)
            fail("unsupported bit depth: " + std::to_string(l.bps) + "-bit floating point" + where() +
                 " (only 32-bit float is supported)");
        else
            fail("unsupported sample format " + std::to_string(l.format) + where() + " (complex numbers?)");
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
    // libtiff's client I/O over a source file handle (storage/source_files.h: pread for local
    // files, ranged and cached reads for remote objects).
    struct SourceIo {
        explicit SourceIo(const source::File& f) : file(&f) {}
        const source::File* file;
        uint64_t pos = 0;
        // libtiff reads a directory in several small pieces (entry count, entries, next offset,
        // out-of-line tag values): those come from two 16 KiB blocks read once (the header's and
        // the directory's), so that a plane costs about 3 reads, not 8.
        static constexpr size_t kBlock = 16 << 10;
        struct Block {
            uint64_t start = UINT64_MAX;
            std::string bytes;
        };
        Block blocks[2];
        int next_block = 0;
        Block window;  // the encoded strips or tiles of the plane being read (prefetch_segments)
        static tmsize_t read(thandle_t h, void* buf, tmsize_t n) {
            auto* io = static_cast<SourceIo*>(h);
            const uint64_t size = io->file->size();
            if (n <= 0 || io->pos >= size) return 0;
            const size_t take = size_t(std::min<uint64_t>(uint64_t(n), size - io->pos));
            try {
                const Block& w = io->window;
                if (w.start != UINT64_MAX && io->pos >= w.start && io->pos + take <= w.start + w.bytes.size()) {
                    std::memcpy(buf, w.bytes.data() + (io->pos - w.start), take);
                } else if (take < kBlock / 4) {
                    io->read_small(buf, take);
                } else {
                    io->file->read_at(io->pos, buf, take);
                }
            } catch (const std::exception&) {
                return -1;  // libtiff reports a read error; the caller names the file
            }
            io->pos += take;
            return tmsize_t(take);
        }
        void read_small(void* buf, size_t take) {
            for (Block& b : blocks)
                if (b.start != UINT64_MAX && pos >= b.start && pos + take <= b.start + b.bytes.size()) {
                    std::memcpy(buf, b.bytes.data() + (pos - b.start), take);
                    return;
                }
            Block& b = blocks[next_block];
            next_block ^= 1;
            const size_t len = size_t(std::min<uint64_t>(kBlock, file->size() - pos));
            b.start = UINT64_MAX;
            b.bytes.resize(len);
            file->read_at(pos, b.bytes.data(), len);
            b.start = pos;
            std::memcpy(buf, b.bytes.data(), take);
        }
        static tmsize_t write(thandle_t, void*, tmsize_t) { return -1; }
        static toff_t seek(thandle_t h, toff_t off, int whence) {
            auto* io = static_cast<SourceIo*>(h);
            uint64_t base = whence == SEEK_CUR ? io->pos : whence == SEEK_END ? io->file->size() : 0;
            io->pos = base + off;
            return io->pos;
        }
        static int close(thandle_t) { return 0; }
        static toff_t size(thandle_t h) { return static_cast<SourceIo*>(h)->file->size(); }
        static int map(thandle_t, void**, toff_t*) { return 0; }
        static void unmap(thandle_t, void*, toff_t) {}
    };

    std::unique_ptr<SourceIo> io_;  // outlives tif_ (declared first, destroyed last)
    Messages messages_;  // declared before tif_ is used; outlives TIFFClose in the destructor
    TIFF* tif_ = nullptr;
    uint32_t pages_ = 0;  // page_count(), once known
};

// Copies sample `sample` of `count` interleaved pixels.
template <class T>
void pick_sample_t(const unsigned char* src, unsigned char* dst, size_t count, unsigned spp, unsigned sample) {
    const T* s = reinterpret_cast<const T*>(src) + sample;
    T* d = reinterpret_cast<T*>(dst);
    for (size_t i = 0; i < count; ++i, s += spp) d[i] = *s;
}

inline void pick_sample(const unsigned char* src, unsigned char* dst, size_t count, unsigned spp, unsigned sample,
                 size_t bytes) {
    switch (bytes) {
        case 1: pick_sample_t<uint8_t>(src, dst, count, spp, sample); break;
        case 2: pick_sample_t<uint16_t>(src, dst, count, spp, sample); break;
        default: pick_sample_t<uint32_t>(src, dst, count, spp, sample); break;
    }
}

// ---- planes beyond the IFDs (tiff_contents.cpp) ----------------------------------------------
// Planes the file declares (>= its IFD count), page 0 selected on return.
uint32_t declared_planes(TiffFile& f);
// Of those, the planes page 0's pixel data plus the rest of the file can really hold.
uint32_t planes_that_fit(TiffFile& f, uint32_t declared);
// Reads plane `page` (>= the IFD count) at offset(first strip of page 0) + page * plane bytes.
void read_contiguous(TiffFile& f, uint32_t page, uint32_t sample, Plane& out);
// The decoder's contents(): pages and samples from every IFD, plus the contiguous planes.
FileContents contents(const source::File& file);

}  // namespace imx::tiffio
