// Leica LIF: the pixel decoder and the layout reader (the file's structure: lif/lif_file.h).
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "formats/builtin.h"
#include "formats/container_util.h"
#include "formats/lif/lif_file.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

using namespace lif;

// ---- pixel decoder -----------------------------------------------------------------------------

// Offset of plane `page`'s first pixel in its image's memory block. Offsets were checked against
// the block size when the structure was parsed.
uint64_t plane_base(const LifImage& im, uint32_t page) {
    const PlaneCoords c = coords_of(im, page - im.first_plane);
    uint64_t base = im.channels[c.channel].bytes_inc;
    if (!im.z.empty()) base += c.z * im.z[0].bytes_inc;
    if (!im.t.empty()) base += c.t * im.t[0].bytes_inc;
    if (!im.tiles.empty()) base += c.tile * im.tiles[0].bytes_inc;
    return base;
}

// A plane read band by band straight from its memory block (PixelDecoder::open_rows). Pixel (x, y)
// is at base + x * x.bytes_inc + y * y.bytes_inc, whatever order the dimensions have. A band is read
// as rectangles of the plane, each with one read of the bytes it spans (at most kBandRead, or one
// row or column when that alone spans more): whole rows, a few at a time, when x steps less than y
// (the usual order, also with channels or other dimensions interleaved), else all the band's rows
// of a few columns at a time (y innermost). No bound on the plane's size: the parser checked that
// every plane lies inside its block and the block inside the file.
class LifRows final : public PlaneRows {
public:
    static constexpr uint64_t kBandRead = uint64_t(8) << 20;

    LifRows(const source::File& file, const LifImage& im, uint32_t page, std::shared_ptr<const LifStructure> s)
        : f_(file), s_(std::move(s)), im_(im), base_(im.data_offset + plane_base(im, page)) {
        if (f_.size() < im.data_offset + im.data_size)
            f_.fail(im.data_offset, "image '" + im.name + "': the file shrank since it was read (" +
                                        std::to_string(f_.size()) + " bytes)");
    }
    uint32_t width() const override { return im_.width; }
    uint32_t height() const override { return im_.height; }
    DType dtype() const override { return im_.dtype; }

    void read(uint32_t y0, uint32_t count, std::byte* out) override {
        check_row_range(y0, count, im_.height);
        const uint64_t bps = im_.bytes_per_sample, xi = im_.x.bytes_inc, yi = im_.y.bytes_inc;
        const uint32_t w = im_.width;
        auto* dst = reinterpret_cast<unsigned char*>(out);
        if (xi == bps && yi == bps * w) {  // rows back to back: the band with one read
            f_.read_at(base_ + y0 * yi, dst, size_t(count) * w * bps, "plane rows");
            return;
        }
        if (xi <= yi) {
            const uint32_t group = uint32_t(std::clamp<uint64_t>(kBandRead / std::max<uint64_t>(yi, 1), 1, count));
            for (uint32_t y = y0; y < y0 + count; y += group)
                rect(y, std::min(group, y0 + count - y), 0, w, dst + size_t(y - y0) * w * bps);
        } else {
            const uint32_t group = uint32_t(std::clamp<uint64_t>(kBandRead / xi, 1, w));
            for (uint32_t x = 0; x < w; x += group) rect(y0, count, x, std::min(group, w - x), dst + x * bps);
        }
    }

private:
    // Rows y .. y + rows - 1, columns x .. x + cols - 1 of the plane into `dst` (rows of the
    // plane's width) with one read of the bytes they span.
    void rect(uint32_t y, uint32_t rows, uint32_t x, uint32_t cols, unsigned char* dst) {
        const uint64_t bps = im_.bytes_per_sample, xi = im_.x.bytes_inc, yi = im_.y.bytes_inc;
        const uint64_t span = (rows - 1) * yi + (cols - 1) * xi + bps;
        scratch_.resize(size_t(span));
        f_.read_at(base_ + y * yi + x * xi, scratch_.data(), size_t(span), "plane");
        const size_t out_row = size_t(im_.width) * bps;
        for (uint32_t r = 0; r < rows; ++r) {
            const unsigned char* src = scratch_.data() + r * yi;
            unsigned char* d = dst + r * out_row;
            if (xi == bps)
                std::memcpy(d, src, cols * bps);
            else
                for (uint32_t c = 0; c < cols; ++c) std::memcpy(d + c * bps, src + c * xi, bps);
        }
    }

    RandomAccessFile f_;
    std::shared_ptr<const LifStructure> s_;  // keeps im_ alive
    const LifImage& im_;
    uint64_t base_;
    std::vector<unsigned char> scratch_;
};

class LifDecoder final : public PixelDecoder {
public:
    std::string name() const override { return "lif"; }
    bool accepts(const fs::path&, const unsigned char* head, size_t len) const override {
        return len >= 9 && container::load_le<uint32_t>(head) == kLifMagic && head[8] == kLifSeparator;
    }
    uint32_t page_count(const source::File& file) const override { return uint32_t(structure_of(file)->plane_count); }
    FileContents contents(const source::File& file) const override {
        auto s = structure_of(file);
        FileContents c{{}, s->unread, {}};  // each image a series of planes with one sample
        for (auto& im : s->images)
            c.runs.push_back({uint32_t(&im - s->images.data()), uint32_t(im.first_plane), uint32_t(im.plane_count()), 1, false});
        return c;
    }
    PageInfo page_info(const source::File& file, uint32_t page) const override {
        auto s = structure_of(file);
        const LifImage& im = image_of(file, *s, page);
        return {im.width, im.height, 1, im.dtype, im.resolution};
    }
    void read(const source::File& file, const PlaneAddress& at, Plane& out) const override {
        const uint32_t page = at.page, sample = at.sample;
        auto s = structure_of(file);
        const LifImage& im = image_of(file, *s, page);
        if (sample != 0) throw input_error(file.path(), "LIF planes have one sample; sample " + std::to_string(sample) + " asked");
        const uint64_t base = plane_base(im, page);
        const uint64_t bps = im.bytes_per_sample;
        const uint64_t span = (im.width - 1) * im.x.bytes_inc + (im.height - 1) * im.y.bytes_inc + bps;
        // Only here, where the plane is held whole: open_rows reads planes of any size.
        if (span > kMaxPlaneBytes) throw input_error(file.path(), "image '" + im.name + "': a plane spans more than 4 GiB");
        RandomAccessFile f(file);
        if (f.size() < im.data_offset + im.data_size)
            f.fail(im.data_offset, "image '" + im.name + "': the file shrank since it was read (" + std::to_string(f.size()) + " bytes)");
        const std::string raw = f.read_string(im.data_offset + base, size_t(span), "plane");
        out.allocate(im.dtype, im.width, im.height);
        auto* dst = reinterpret_cast<unsigned char*>(out.data.data());
        const auto* src = reinterpret_cast<const unsigned char*>(raw.data());
        if (im.x.bytes_inc == bps && im.y.bytes_inc == bps * im.width) {
            std::memcpy(dst, src, out.byte_size());
        } else {
            for (uint32_t y = 0; y < im.height; ++y)
                for (uint32_t x = 0; x < im.width; ++x)
                    std::memcpy(dst + (size_t(y) * im.width + x) * bps, src + y * im.y.bytes_inc + x * im.x.bytes_inc, bps);
        }
    }
    // Every plane band by band (LifRows), mosaic tiles too: each tile is a plane of its own.
    std::unique_ptr<PlaneRows> open_rows(const source::File& file, const PlaneAddress& at) const override {
        auto s = structure_of(file);
        const LifImage& im = image_of(file, *s, at.page);
        if (at.sample != 0)
            throw input_error(file.path(), "LIF planes have one sample; sample " + std::to_string(at.sample) + " asked");
        return std::make_unique<LifRows>(file, im, at.page, s);
    }
};

// ---- layout reader ------------------------------------------------------------------------------

std::vector<std::string> lif_files(const source::Folder& source) {
    return container::files_of_kind(source, [](const fs::path& p) { return is_lif_name(p); });
}

class LifLayout final : public LayoutReader {
public:
    std::string name() const override { return "lif"; }
    std::string description() const override {
        return "Leica LAS X / LAS AF LIF (v1 and v2 memory blocks; each file a well, each image and mosaic tile a "
               "site; lambda sweeps as channels; images of another plane size go to a plate of their own). Not yet: "
               "compressed or RGB LIF images";
    }
    int detect(const source::Folder& source) const override { return lif_files(source).empty() ? 0 : 80; }

    ImageSet configure(const source::Folder& folder, const LayoutOptions&) const override {
        const fs::path& source = folder.path();
        const auto files = lif_files(folder);
        if (files.empty()) throw input_error(source.string(), "no .lif files in this folder");
        ImageSet set;
        set.format = name();
        set.maps_samples = true;  // planes have one sample
        PlateInfo plate = container::plate_of_files(source, files.size(), "LIF");  // one well per file
        set.plates.push_back(plate);
        std::map<std::string, int> channel_index;
        // Images of another plane size or pixel type (an XZ scan beside an XY image) go to a plate
        // of their own.
        container::PlatesBySize plates(set);
        for (size_t i = 0; i < files.size(); ++i) {
            auto s = structure_of(*folder.open(files[i]));
            for (auto& w : s->warnings) set.warnings.push_back(w);
            if (s->images.empty()) {
                set.warnings.push_back(files[i] + ": no image with pixel data; file skipped");
                continue;
            }
            const int row = int(i) / plate.cols, col = int(i) % plate.cols;
            std::map<size_t, int> next_site;  // plate index -> next free site of this file's well
            for (auto& im : s->images) {
                const size_t pi = plates.plate_for({im.width, im.height, im.dtype, im.resolution, im.pixel_size_x,
                                                    im.pixel_size_y, im.pixel_size_z, im.time_interval_s},
                                                   files[i] + ": image '" + im.name + "' is", "image");
                if (pi == 0 && !set.pixel_size_z && im.pixel_size_z) set.pixel_size_z = im.pixel_size_z;
                if (pi > 0 && !set.plates[pi].pixel_size_z && im.pixel_size_z) set.plates[pi].pixel_size_z = im.pixel_size_z;
                std::vector<int> channels;
                for (auto& c : im.channels) {
                    auto [it, added] = channel_index.emplace(c.name, int(set.channels.size()));
                    if (added) set.channels.push_back({it->first, std::nullopt, std::nullopt});
                    channels.push_back(it->second);
                }
                int& site = next_site[pi];
                const uint64_t n = im.plane_count();
                for (uint64_t p = 0; p < n; ++p) {
                    const PlaneCoords c = coords_of(im, p);
                    PlaneRecord r;
                    r.plate = set.plates[pi].name;
                    r.row = row;
                    r.col = col;
                    r.site = site + int(c.tile);
                    r.channel = channels[c.channel];
                    r.tpoint = int(c.t);
                    r.zplane = int(c.z);
                    r.file = files[i];
                    r.series = uint32_t(&im - s->images.data());
                    r.page = uint32_t(im.first_plane + p);
                    set.planes.push_back(std::move(r));
                }
                site += int(im.tile_count());
            }
        }
        if (set.planes.empty()) throw input_error(source.string(), "the LIF files hold no image with pixel data");
        return set;
    }
};

}  // namespace

std::unique_ptr<LayoutReader> make_lif_layout() { return std::make_unique<LifLayout>(); }
std::unique_ptr<PixelDecoder> make_lif_decoder() { return std::make_unique<LifDecoder>(); }

}  // namespace imx
