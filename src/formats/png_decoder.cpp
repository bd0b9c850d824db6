// PNG pixel decoder on top of libpng 1.6: gray, gray+alpha, RGB(A) and palette images, 1..16 bits.
// Output: 8-bit (1/2/4-bit gray and palettes expanded) or 16-bit little-endian; every sample of a
// pixel is a sample of its own: gray (+ alpha), or R, G, B (+ A; palettes with transparency too).
//
// libpng reports errors by longjmp. The functions that call libpng after setjmp() hold no C++
// objects with destructors, so the jump never skips one; the C++ side allocates and throws.
#include <png.h>

#include <algorithm>
#include <cctype>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/fileutil.h"
#include "formats/builtin.h"
#include "storage/source_files.h"

namespace imx {

namespace {

// A plane is held in memory whole: the limit TIFF planes have too.
constexpr uint64_t kMaxPlaneBytes = 4ull << 30;
// Deflate cannot expand data more than 1032:1 (zlib's maximum compression factor); a larger claim
// means a hostile file.
constexpr uint64_t kMaxExpansion = 1032;

// Everything libpng touches. Only ever handled by pointer inside the setjmp functions; its
// destructor releases libpng and the file, also when PngFile's constructor throws.
struct PngState {
    PngState() = default;
    PngState(const PngState&) = delete;
    PngState& operator=(const PngState&) = delete;
    ~PngState() {
        if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    }

    // libpng reads through the source file handle (local or remote alike), never the path.
    const source::File* file = nullptr;
    uint64_t pos = 0;
    uint64_t file_size = 0;
    // libpng asks for every chunk's header, data and CRC apart (3 reads per 8 KiB IDAT chunk):
    // they come from a read-ahead buffer, filled 256 KiB at a time.
    std::string ahead;
    uint64_t ahead_start = 0;
    png_structp png = nullptr;
    png_infop info = nullptr;
    char message[512] = {};
    // Header, after our transformations.
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0;       // in the file
    int color_type = 0;      // in the file
    int interlace = 0;
    int out_depth = 0;       // 8 or 16
    int file_channels = 0;   // per pixel in the file
    int channels = 0;        // per pixel after transformations
    size_t row_bytes = 0;    // after transformations
    int significant_bits = 0;
};

void on_png_error(png_structp png, png_const_charp msg) {
    auto* st = static_cast<PngState*>(png_get_error_ptr(png));
    if (st && st->message[0] == '\0') std::snprintf(st->message, sizeof st->message, "%s", msg ? msg : "error");
    png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}  // ancillary-chunk trivia: stay quiet

void on_png_read(png_structp png, png_bytep out, size_t n) {
    auto* st = static_cast<PngState*>(png_get_io_ptr(png));
    bool ok = st->pos <= st->file_size && n <= st->file_size - st->pos;
    if (ok) {
        try {
            constexpr size_t kAhead = 256 << 10;
            const bool buffered = st->pos >= st->ahead_start && st->pos + n <= st->ahead_start + st->ahead.size();
            if (buffered) {
                std::memcpy(out, st->ahead.data() + (st->pos - st->ahead_start), n);
            } else if (n >= kAhead / 2) {
                st->file->read_at(st->pos, out, n);
            } else {
                st->ahead.resize(size_t(std::min<uint64_t>(kAhead, st->file_size - st->pos)));
                st->ahead_start = st->pos;
                st->file->read_at(st->pos, st->ahead.data(), st->ahead.size());
                std::memcpy(out, st->ahead.data(), n);
            }
            st->pos += n;
        } catch (const std::exception&) {
            st->ahead.clear();
            ok = false;
        }
    }
    if (!ok) png_error(png, "read error (file truncated?)");  // after the catch: longjmp leaves no C++ frame behind
}

// Reads the header and sets up the transformations. Returns false when libpng failed.
bool png_read_header(PngState* st) {
    if (setjmp(png_jmpbuf(st->png))) return false;
    png_set_read_fn(st->png, st, on_png_read);
    png_set_user_limits(st->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);  // the format's limit; planes are bounded below
    // Metadata chunks (iCCP, zTXt) are deflated data from the file.
    uint64_t chunk_max = 0;
    if (__builtin_mul_overflow(st->file_size, kMaxExpansion, &chunk_max) || chunk_max > SIZE_MAX) chunk_max = SIZE_MAX;
    png_set_chunk_malloc_max(st->png, png_alloc_size_t(chunk_max));
    png_read_info(st->png, st->info);
    int interlace = 0, compression = 0, filter = 0;
    png_get_IHDR(st->png, st->info, &st->width, &st->height, &st->bit_depth, &st->color_type, &interlace,
                 &compression, &filter);
    st->interlace = interlace;
    st->file_channels = png_get_channels(st->png, st->info);
    png_color_8p sbit = nullptr;
    if (png_get_sBIT(st->png, st->info, &sbit) && sbit)
        st->significant_bits = (st->color_type & PNG_COLOR_MASK_COLOR) ? sbit->red : sbit->gray;
    if (st->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(st->png);
    if (st->color_type == PNG_COLOR_TYPE_GRAY && st->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(st->png);
    if (st->bit_depth == 16) png_set_swap(st->png);  // PNG is big endian, planes little endian
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(st->png);
    png_read_update_info(st->png, st->info);
    st->out_depth = png_get_bit_depth(st->png, st->info);
    st->channels = png_get_channels(st->png, st->info);
    st->row_bytes = png_get_rowbytes(st->png, st->info);
    return true;
}

// Copies sample `sample` of `count` interleaved pixels of `bytes` bytes each.
void pick_sample(const unsigned char* src, unsigned char* dst, size_t count, int channels, unsigned sample,
                 size_t bytes) {
    src += sample * bytes;
    const size_t step = size_t(channels) * bytes;
    for (size_t i = 0; i < count; ++i, src += step, dst += bytes) std::memcpy(dst, src, bytes);
}

// Reads all rows. With one channel rows go straight into `plane`; otherwise they go through
// `scratch` (one row, or the whole image when interlaced, since Adam7 passes revisit every row)
// and sample `sample` is picked out. Returns false when libpng failed.
bool png_read_pixels(PngState* st, unsigned char* plane, unsigned char* scratch, png_bytep* rows, unsigned sample,
                     size_t bytes) {
    if (setjmp(png_jmpbuf(st->png))) return false;
    const bool direct = st->channels == 1;
    const size_t plane_row = size_t(st->width) * bytes;
    if (st->interlace != PNG_INTERLACE_NONE) {
        unsigned char* base = direct ? plane : scratch;
        for (png_uint_32 y = 0; y < st->height; ++y) rows[y] = base + size_t(y) * st->row_bytes;
        png_read_image(st->png, rows);
        if (!direct)
            for (png_uint_32 y = 0; y < st->height; ++y)
                pick_sample(rows[y], plane + size_t(y) * plane_row, st->width, st->channels, sample, bytes);
    } else {
        for (png_uint_32 y = 0; y < st->height; ++y) {
            unsigned char* dst = plane + size_t(y) * plane_row;
            png_read_row(st->png, direct ? dst : scratch, nullptr);
            if (!direct) pick_sample(scratch, dst, st->width, st->channels, sample, bytes);
        }
    }
    png_read_end(st->png, nullptr);  // checks the end of the compressed stream (truncation)
    return true;
}

// Owns a PngState: opens the file, creates the libpng structures, releases everything.
class PngFile {
public:
    explicit PngFile(const source::File& file) : path_(file.path()) {
        st_.file = &file;
        file_size_ = st_.file->size();
        unsigned char sig[8] = {};
        if (file_size_ < 8) throw input_error(path_, "not a PNG file (bad signature)");
        st_.file->read_at(0, sig, 8);
        st_.pos = 8;
        if (png_sig_cmp(sig, 0, 8) != 0) throw input_error(path_, "not a PNG file (bad signature)");
        st_.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st_, on_png_error, on_png_warning);
        if (st_.png) st_.info = png_create_info_struct(st_.png);
        if (!st_.png || !st_.info) throw Error("libpng: out of memory");
        png_set_sig_bytes(st_.png, 8);
        st_.file_size = file_size_;
        if (!png_read_header(&st_)) fail("cannot read PNG header");
        if (st_.out_depth != 8 && st_.out_depth != 16)
            fail("unsupported PNG bit depth " + std::to_string(st_.out_depth));
        if (st_.channels < 1 || st_.channels > 4) fail("unsupported PNG channel layout");
    }
    PngFile(const PngFile&) = delete;
    PngFile& operator=(const PngFile&) = delete;

    [[noreturn]] void fail(const std::string& what) const {
        std::string reason = what;
        if (st_.message[0]) reason += " (libpng: " + std::string(st_.message) + ")";
        throw input_error(path_, reason);
    }

    PageInfo info() const {
        PageInfo p;
        p.width = st_.width;
        p.height = st_.height;
        p.samples = uint32_t(st_.channels);
        p.dtype = st_.out_depth == 16 ? DType::u16 : DType::u8;
        p.bits_per_sample = st_.significant_bits > 0 ? st_.significant_bits : std::max(st_.bit_depth, 8);
        return p;
    }

    void read(uint32_t sample, Plane& out) {
        const PageInfo p = info();
        if (sample >= p.samples)
            throw input_error(path_, "sample " + std::to_string(sample) + " does not exist (the image has " +
                                         std::to_string(p.samples) + (p.samples == 1 ? " sample)" : " samples)"));
        // Bound the allocation by what the compressed data can really expand to.
        const size_t bytes = dtype_size(p.dtype);
        const uint64_t plane_bytes = uint64_t(p.width) * p.height * bytes;  // sides < 2^31, bytes <= 2: < 2^63
        uint64_t raw_bytes = 0;
        const bool huge = __builtin_mul_overflow(
            uint64_t(p.height), (uint64_t(p.width) * st_.file_channels * st_.bit_depth + 7) / 8 + 1, &raw_bytes);
        if (huge || plane_bytes > kMaxPlaneBytes || raw_bytes / kMaxExpansion > file_size_)
            throw input_error(path_, "image claims " + std::to_string(p.width) + " x " + std::to_string(p.height) +
                                         " pixels, more than a " + std::to_string(file_size_) +
                                         "-byte PNG can hold; the file is corrupt or hostile");
        out.allocate(p.dtype, p.width, p.height);
        auto* plane = reinterpret_cast<unsigned char*>(out.data.data());
        std::vector<unsigned char> scratch;
        std::vector<png_bytep> rows;
        const bool interlaced = st_.interlace != PNG_INTERLACE_NONE;
        if (st_.channels != 1) scratch.resize(st_.row_bytes * (interlaced ? p.height : 1));
        if (interlaced) rows.resize(p.height);
        if (!png_read_pixels(&st_, plane, scratch.data(), rows.data(), sample, bytes))
            fail("cannot decode PNG pixels (truncated or corrupt file)");
    }

    // Colour images (and palettes, which expand to colour) hold R, G, B (A).
    bool rgb() const { return (st_.color_type & PNG_COLOR_MASK_COLOR) != 0; }

private:
    std::string path_;
    uint64_t file_size_ = 0;
    PngState st_;
};

class PngDecoder final : public PixelDecoder {
public:
    std::string name() const override { return "png"; }

    bool accepts(const fs::path& file, const unsigned char* head, size_t head_len) const override {
        if (head && head_len >= 8) return png_sig_cmp(head, 0, 8) == 0;
        return lower_extension(file) == ".png";
    }

    uint32_t page_count(const source::File& file) const override {
        PngFile f(file);  // validates the header
        return 1;
    }

    PageInfo page_info(const source::File& file, uint32_t page) const override {
        check_page(file, page);
        PngFile f(file);
        return f.info();
    }

    FileContents contents(const source::File& file) const override {
        PngFile f(file);  // the chunks before the pixel data
        FileContents c;
        const PageInfo info = f.info();
        c.runs.push_back({0, 0, 1, info.samples, f.rgb(), info.width, info.height, info.dtype});
        return c;
    }

    void read(const source::File& file, const PlaneAddress& at, Plane& out) const override {
        const uint32_t page = at.page, sample = at.sample;
        check_page(file, page);
        PngFile f(file);
        f.read(sample, out);
    }

private:
    static void check_page(const source::File& file, uint32_t page) {
        if (page != 0)
            throw input_error(file.path(), "page " + std::to_string(page) + " does not exist (a PNG file has 1 page)");
    }
};

}  // namespace

std::unique_ptr<PixelDecoder> make_png_decoder() { return std::make_unique<PngDecoder>(); }

}  // namespace imx
