// create's pixel inventory: for every image file a layout names, what the file itself holds (its
// pages and samples, read from its headers by the pixel decoder) against the planes the layout
// maps to it. A file is "complete" when every page and sample it holds feeds a plane; only complete
// files may be deleted after verification (collect). Planes whose pixels do not exist (file
// missing, page beyond the file) are marked (PlaneRecord::missing) and reported, never stored as
// silent zeros.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "formats/reader.h"

namespace imx {

struct FileInventory {
    std::string content = "complete";  // complete | incomplete | unreadable | missing
    std::string detail;                // incomplete: what it holds and what is left out; else why
};

struct SourceInventory {
    std::map<std::string, FileInventory> files;  // by path relative to the source folder
    // Image files in the source folder that no plane reads (thumbnails, shading images, skipped
    // projections, files a pattern did not match): relative path and size.
    std::vector<std::pair<std::string, int64_t>> unused;
    // What files whose decoder gives each page's size and type (TIFF, PNG) hold, by path.
    std::map<std::string, FileContents> geometry;
};

// Refuses (Error, input, naming the files) planes whose page has another size or pixel type than
// their plate's planes: a plate stores one plane geometry, and its run jobs would fail them.
void refuse_mixed_geometry(const ImageSet& set, const SourceInventory& inventory, const std::filesystem::path& source);

// Reads the contents of every file the planes name (in parallel, headers only), makes each sample
// of multi-sample pages a channel of its own unless the reader did (ImageSet::maps_samples), marks
// planes whose pixels the files do not hold, and compares what each file holds with the planes
// that read it. Throws Error (input) when one channel would mix files of different sample counts.
SourceInventory take_inventory(ImageSet& set, const std::filesystem::path& source);

// Projections (PlaneRecord::projection): left out with `skip`, else moved to channels of their own
// named "<channel> (<method> projection)", at z 0. Throws Error (input) naming the folder when
// `skip` would leave no plane.
void place_projections(ImageSet& set, const std::filesystem::path& source, bool skip);

// "3-9, 12, 15-20" for sorted values, at most `max_ranges` ranges then "and N more".
std::string describe_ranges(const std::vector<std::pair<uint64_t, uint64_t>>& ranges, size_t max_ranges = 6);

}  // namespace imx
