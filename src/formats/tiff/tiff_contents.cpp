// What a TIFF file holds (tiffio::contents), and the planes MetaMorph STK files and ImageJ files
// larger than 4 GB store back to back after page 0's pixel data.
#include <algorithm>
#include <string>
#include <vector>

#include "formats/tiff/tiff_file.h"

namespace imx::tiffio {

namespace {

// ---- planes beyond the IFDs ------------------------------------------------------------------
// MetaMorph STK files and ImageJ files larger than 4 GB hold one IFD (or a few) and store all
// further planes uncompressed, back to back after page 0's pixel data. The file declares how many:
// the count of the STK UIC2 tag (33629), or images= in the ImageJ description.

constexpr uint16_t kUic2Tag = 33629;

// Count of the UIC2 tag in the first IFD (classic TIFF only, as STK is); 0 when absent. Reads the
// IFD's entries directly, with page 0 selected (libtiff knows where it is, but not the tag).
uint32_t stk_plane_count(const TiffFile& f) {
    if (TIFFIsBigTIFF(f.get())) return 0;
    const uint64_t ifd = TIFFCurrentDirOffset(f.get());
    // The entry count and, in the same read, the first 64 entries (most IFDs have fewer).
    std::vector<unsigned char> table(2 + 64 * 12);
    table.resize(size_t(std::min<uint64_t>(table.size(), f.file_size() > ifd ? f.file_size() - ifd : 0)));
    if (table.size() < 2 || !f.read_at(ifd, table.data(), table.size())) return 0;
    const bool swab = TIFFIsByteSwapped(f.get());
    auto u16 = [&](const unsigned char* b) { return swab ? uint16_t(b[0] << 8 | b[1]) : uint16_t(b[1] << 8 | b[0]); };
    auto u32 = [&](const unsigned char* b) {
        return swab ? uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3]
                    : uint32_t(b[3]) << 24 | uint32_t(b[2]) << 16 | uint32_t(b[1]) << 8 | b[0];
    };
    const size_t entries = u16(table.data());
    if (table.size() < 2 + entries * 12) {  // more than 64 entries: read the rest (inside the file)
        const size_t have = table.size();
        table.resize(2 + entries * 12);
        if (!f.read_at(ifd + have, table.data() + have, table.size() - have)) return 0;
    }
    for (size_t at = 2; at + 12 <= table.size(); at += 12)
        if (u16(&table[at]) == kUic2Tag) return u32(&table[at + 4]);
    return 0;
}

// images=N of an ImageJ description; 0 when absent or not ImageJ's.
uint32_t imagej_images(const char* desc) {
    if (!desc || std::strncmp(desc, "ImageJ=", 7) != 0) return 0;
    const char* p = std::strstr(desc, "\nimages=");
    if (!p) return 0;
    long v = std::strtol(p + 8, nullptr, 10);
    return v > 0 && v < (1L << 31) ? uint32_t(v) : 0;
}

// Planes that page 0's pixel data plus the rest of the file can really hold, so that a
// description promising billions of planes cannot make a layout reader list them.

// Planes page 0 declares (ImageJ images=, STK UIC2 count), 0 when it declares none; page 0 selected.
uint32_t declared_by_page0(TiffFile& f) {
    const char* desc = nullptr;
    uint32_t declared = 0;
    if (TIFFGetField(f.get(), TIFFTAG_IMAGEDESCRIPTION, &desc)) declared = imagej_images(desc);
    return declared ? declared : stk_plane_count(f);
}

}  // namespace

// Planes the file declares (>= its IFD count), page 0 selected on return.
uint32_t declared_planes(TiffFile& f) {
    const uint32_t ifds = f.page_count();
    f.select(0);
    return std::max(ifds, declared_by_page0(f));
}

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
        f.file().read_at(offset, raw.data(), raw.size());
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

FileContents contents(const source::File& file) {
    // Headers only: a tag cannot be larger than the file.
    TiffFile f(file, TiffFile::kFileSize);
    FileContents c;
    const uint32_t declared = declared_by_page0(f);  // while page 0, read when opening, is current
    // Every IFD of the main chain, read once in order: their count without a second walk.
    uint32_t ifds = 0;
    for (uint32_t page = 0;; ++page) {
        if (page > 0) {
            f.clear_messages();
            if (!TIFFReadDirectory(f.get())) f.fail("cannot read the directory of page " + std::to_string(page));
        }
        ifds = page + 1;
        uint16_t spp = 1, photometric = PHOTOMETRIC_MINISBLACK;
        TIFFGetFieldDefaulted(f.get(), TIFFTAG_SAMPLESPERPIXEL, &spp);
        if (!TIFFGetField(f.get(), TIFFTAG_PHOTOMETRIC, &photometric)) photometric = PHOTOMETRIC_MINISBLACK;
        if (spp == 0) f.fail("0 samples per pixel in page " + std::to_string(page));
        const bool rgb = photometric == PHOTOMETRIC_RGB || photometric == PHOTOMETRIC_YCBCR;
        PageRun run{0, page, 1, spp, rgb};
        uint16_t bps = 0, format = SAMPLEFORMAT_UINT;
        TIFFGetFieldDefaulted(f.get(), TIFFTAG_BITSPERSAMPLE, &bps);
        TIFFGetFieldDefaulted(f.get(), TIFFTAG_SAMPLEFORMAT, &format);
        // A page we cannot decode keeps width 0: its planes fail in the run job with the reason.
        if (auto dt = sample_dtype(bps, format); dt && TIFFGetField(f.get(), TIFFTAG_IMAGEWIDTH, &run.width) &&
                                                  TIFFGetField(f.get(), TIFFTAG_IMAGELENGTH, &run.height)) {
            run.dtype = *dt;
        } else {
            run.width = run.height = 0;
        }
        if (!c.runs.empty() && c.runs.back().samples == spp && c.runs.back().rgb == rgb && c.runs.back().same_geometry(run))
            ++c.runs.back().count;
        else
            c.runs.push_back(run);
        if (TIFFLastDirectory(f.get())) break;
    }
    f.set_page_count(ifds);
    // Planes stored back to back after page 0 (MetaMorph STK, ImageJ > 4 GB), with its samples.
    uint32_t planes = ifds;
    if (declared > ifds) {
        f.select(0);
        planes = planes_that_fit(f, declared);
    }
    if (planes > ifds) {
        const PageRun& first = c.runs.front();
        if (c.runs.size() == 1 && first.count == ifds) c.runs.front().count = planes;
        else c.runs.push_back({0, ifds, planes - ifds, first.samples, first.rgb, first.width, first.height, first.dtype});
    }
    return c;
}

}  // namespace imx::tiffio
