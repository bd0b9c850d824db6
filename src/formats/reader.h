// Format readers. Two small interfaces, each with a registry (modelled on OpenImageIO's ImageInput):
//
//  * LayoutReader understands how a microscope lays out an acquisition on disk (which files, which
//    metadata) and maps every plane to plate / well / site / channel / tpoint / zplane, plus where
//    its pixels live (file, series, page, sample). One per vendor layout.
//  * PixelDecoder decodes one plane of pixels from one file kind (TIFF, PNG, later CZI, ND2, ...).
//    Layouts point at files; decoders read them. An OME-TIFF layout and a CellVoyager layout both
//    use the TIFF decoder.
#pragma once

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/image_set.h"
#include "core/types.h"
#include "storage/source_folder.h"


namespace imx {

namespace fs = std::filesystem;

struct LayoutOptions {
    std::string pattern;  // plain-files mode: regex with named groups (well, site, channel, z, t)
    std::string tiles;    // containers with mosaic tiles: "mosaic" (default, stitched by position) or "as-sites"
    int plate_format = 0; // plain-files mode: 96, 384 or 1536 wells (numbered wells, plate size); 0: from the names
};

class LayoutReader {
public:
    virtual ~LayoutReader() = default;
    virtual std::string name() const = 0;          // "cellvoyager", "ome-tiff", "files"
    virtual std::string description() const = 0;   // one line for `imextract formats`
    // Readers name files relative to the folder handle (storage/source_folder.h), never by paths of
    // their own: the handle refuses names that lead out of the source folder.
    // Confidence 0..100 that `folder` itself holds an acquisition in this layout (its metadata in
    // the folder, or in the sub-folders the layout defines); 0 = not mine. Must be cheap (file
    // names and at most a few headers) and must not search further down: find_acquisition does.
    virtual int detect(const source::Folder& folder) const = 0;
    // True when sub-folder `name` of an acquisition folder is part of that acquisition (Harmony's
    // Images, ScanR's data, MetaXpress's TimePoint_N / ZStep_N): no other acquisition is looked
    // for in it.
    virtual bool owns_subfolder(const std::string& name) const {
        (void)name;
        return false;
    }
    // True when configure() of a folder above several acquisitions of this layout reads each as a
    // plate of its own (MetaXpress plate folders of one export or database folder).
    virtual bool reads_several() const { return false; }
    // Reads the metadata. Throws Error (Kind::input) with the file and the reason when it cannot.
    virtual ImageSet configure(const source::Folder& source, const LayoutOptions& options) const = 0;

    // For callers that hold a path (tests, tools): the same on the handle of that folder.
    int detect(const fs::path& folder) const { return detect(source::Folder::at(folder)); }
    ImageSet configure(const fs::path& source, const LayoutOptions& options) const {
        return configure(source::Folder::at(source), options);
    }
};

// Geometry of one page of an image file.
struct PageInfo {
    uint32_t width = 0, height = 0;
    uint32_t samples = 1;   // samples per pixel (3 for RGB)
    DType dtype = DType::u16;
    int bits_per_sample = 0;
};

// What an image file holds by its own headers, independent of any vendor metadata: runs of pages
// (the decoder's page numbers, as PlaneRecord::page) with their samples per pixel. create compares
// it with the planes the layout maps to the file (workflow/inventory.h).
struct PageRun {
    uint32_t series = 0;   // the image/series the pages belong to (for messages)
    uint32_t first = 0;    // first page of the run
    uint32_t count = 0;    // pages in the run
    uint32_t samples = 1;  // samples per pixel of each page
    bool rgb = false;      // the file says the samples are R, G, B (and A)
    // Each page's size and sample type, where the decoder reads them from its headers cheaply
    // (TIFF, PNG); width 0: not given. create checks them against the plate's plane geometry.
    uint32_t width = 0, height = 0;
    DType dtype = DType::u8;
    bool same_geometry(const PageRun& o) const { return width == o.width && height == o.height && dtype == o.dtype; }
};
struct PlaneRef {
    uint32_t page = 0, sample = 0;
    bool operator<(const PlaneRef& o) const { return page != o.page ? page < o.page : sample < o.sample; }
    bool operator==(const PlaneRef& o) const { return page == o.page && sample == o.sample; }
};
struct FileContents {
    std::vector<PageRun> runs;  // sorted by page, not overlapping
    // Stored pixels that no page reaches (CZI subblocks of further B indices, LIF images of an
    // unsupported kind): each makes the file incomplete.
    std::vector<std::string> unreachable;
    // For containers whose pages are drawn from smaller stored units (CZI mosaics of subblocks):
    // what of those units the planes reading `pages` (sorted) leave out. Unset: pages and samples
    // are the units.
    std::function<std::vector<std::string>(const std::vector<PlaneRef>& pages)> composed_left_out;
    // The run holding `page`, nullptr when the file has no such page.
    const PageRun* run_of(uint32_t page) const {
        auto it = std::upper_bound(runs.begin(), runs.end(), page,
                                   [](uint32_t p, const PageRun& r) { return p < r.first; });
        if (it == runs.begin()) return nullptr;
        --it;
        return page - it->first < it->count ? &*it : nullptr;
    }
};

// One plane read a band of rows at a time (PixelDecoder::open_rows), for planes too large to hold
// whole: only the strips or tiles a band needs are decoded.
class PlaneRows {
public:
    virtual ~PlaneRows() = default;
    virtual uint32_t width() const = 0;
    virtual uint32_t height() const = 0;
    virtual DType dtype() const = 0;
    // Decodes rows y0 .. y0 + count - 1 into `out` (count * width pixels). Throws Error (input)
    // naming the file when they cannot be decoded.
    virtual void read(uint32_t y0, uint32_t count, std::byte* out) = 0;
};
// For PlaneRows::read: throws (internal error) unless rows y0 .. y0 + count - 1 lie in the plane.
inline void check_row_range(uint32_t y0, uint32_t count, uint32_t height) {
    if (count == 0 || y0 >= height || count > height - y0)
        throw Error("internal: rows " + std::to_string(y0) + "+" + std::to_string(count) + " of a " +
                    std::to_string(height) + "-row plane");
}

// Decoders never open files: the caller opens each file once (source::open, local or remote alike)
// and passes the handle, as OpenImageIO passes an IOProxy; file.path() names it in messages.
class PixelDecoder {
public:
    virtual ~PixelDecoder() = default;
    virtual std::string name() const = 0;  // "tiff", "png"
    // What it reads and what it does not yet, for `imextract formats`; "" = nothing to add.
    virtual std::string description() const { return {}; }
    // True when the file looks like ours (its first bytes, or its name when there are too few).
    virtual bool accepts(const fs::path& name, const unsigned char* head, size_t head_len) const = 0;
    virtual uint32_t page_count(const source::File& file) const = 0;
    virtual PageInfo page_info(const source::File& file, uint32_t page) const = 0;
    // Decodes the plane at `at` (sample of page; the page in the decoder's numbering, which runs
    // across a container's series, so `at.series` only names the image) into `out` (allocated by
    // the decoder).
    virtual void read(const source::File& file, const PlaneAddress& at, Plane& out) const = 0;
    // The plane at `at` to be read band by band, or nullptr when this decoder reads it only whole.
    // `file` must outlive the result. Throws Error (input) naming the file when the plane's
    // geometry is unreadable or claims more pixels than the file can hold.
    virtual std::unique_ptr<PlaneRows> open_rows(const source::File& file, const PlaneAddress& at) const {
        (void)file;
        (void)at;
        return nullptr;
    }
    // What the file holds (FileContents), from its headers and directories only, no pixel data;
    // throws Error (input) naming the file when they cannot be read.
    virtual FileContents contents(const source::File& file) const = 0;
};

// ---- registries -------------------------------------------------------------------------------

const std::vector<std::unique_ptr<LayoutReader>>& layout_readers();
const LayoutReader* find_layout_reader(const std::string& name);
// An acquisition found in or below a source folder: the reader and the folder to configure.
struct Acquisition {
    const LayoutReader* reader = nullptr;
    fs::path folder;
};
// What to read in `source` (formats/detect.cpp). Vendor metadata is looked for in the folder and
// every sub-folder: one acquisition (here or below) is used; several, or one beside image files
// that belong to none, are refused (Error, input) with a list of each (format, folder) and how to
// convert them. `format` is "auto" ("") or a reader's name: that reader on the folder when it
// claims it, else its only acquisition below. With no vendor metadata, a folder holding images
// is read by "files".
Acquisition find_acquisition(const fs::path& source, const std::string& format = "auto");
// find_acquisition(source).reader; throws Error naming the folder when nothing fits.
const LayoutReader& detect_layout(const fs::path& source);

const std::vector<std::unique_ptr<PixelDecoder>>& pixel_decoders();
// Picks a decoder for the file by its first bytes and name; throws Error naming the file.
const PixelDecoder& decoder_for(const source::File& file);

// Convenience: decode one plane of a file with whichever decoder accepts it.
void read_plane(const source::File& file, const PlaneAddress& at, Plane& out);

// check_relative_name and resolve_inside: storage/source_folder.h.

}  // namespace imx
