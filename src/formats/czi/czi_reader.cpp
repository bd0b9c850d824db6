// The CZI layout reader (a folder of .czi files as one plate) and pixel decoder, over the parsing in
// czi_file.cpp and czi_pixels.cpp.
#include <algorithm>
#include <map>
#include <set>

#include "formats/builtin.h"
#include "formats/container_util.h"
#include "formats/czi/czi.h"
#include "formats/reader.h"
#include "storage/source_folder.h"

namespace imx {

// ---- the layout reader and the decoder ------------------------------------------------------------

namespace {

bool is_czi_name(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".czi";
}

std::string folder_name(const fs::path& source) {
    fs::path p = source.lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    std::string name = p.filename().string();
    if (name.empty() || name == "." || name == "..") {
        std::error_code ec;
        name = fs::weakly_canonical(source, ec).filename().string();
    }
    return name.empty() ? "plate" : name;
}

class CziLayout final : public LayoutReader {
public:
    std::string name() const override { return "czi"; }
    std::string description() const override {
        return "Zeiss CZI (*.czi; each file a well, scenes -> sites, or the wells its metadata names); "
               "mosaics stitched by position (or --tiles as-sites)";
    }

    int detect(const source::Folder& source) const override {
        for (auto& e : source.list())
            if (is_czi_name(e.path)) return 85;
        return 0;
    }

    ImageSet configure(const source::Folder& folder, const LayoutOptions& options) const override {
        const fs::path& source = folder.path();
        const bool as_sites = options.tiles == "as-sites";
        if (!options.tiles.empty() && options.tiles != "as-sites" && options.tiles != "mosaic")
            throw Error("--tiles must be 'mosaic' (default) or 'as-sites', not '" + options.tiles + "'",
                        Error::Kind::usage);
        std::vector<std::string> names;
        for (auto& e : folder.list())
            if (is_czi_name(e.path) && !e.is_dir) names.push_back(e.name);
        std::sort(names.begin(), names.end());
        if (names.empty()) throw input_error(source.string(), "no .czi files in this folder");

        ImageSet set;
        set.format = name();
        set.maps_samples = true;  // colour samples are channels already
        set.plates.push_back(PlateInfo{folder_name(source), 0, 0});
        const std::string& plate = set.plates.front().name;
        std::map<std::pair<int, int>, int> next_site;  // well -> next free site
        std::string first_file;
        czi::PlaneGeometry first{};
        for (size_t fi = 0; fi < names.size(); ++fi) {
            const fs::path path = source / names[fi];
            const auto file = folder.open(names[fi]);
            const czi::Index idx = czi::read_index(*file);
            const czi::Metadata md = czi::read_metadata(*file, idx);
            for (auto& w : idx.warnings) set.warnings.push_back(w);
            const uint32_t page0 = as_sites ? czi::kTilePageFlag : 0;
            const czi::PlaneGeometry g = czi::plane_geometry(file->path(), idx, page0);
            if (fi == 0) {
                first = g;
                first_file = path.string();
                set.width = g.width;
                set.height = g.height;
                set.dtype = g.dtype;
                set.bits_per_sample = md.component_bits && md.component_bits <= g.bits ? md.component_bits : 0;
                set.pixel_size_x = md.pixel_size_x;
                set.pixel_size_y = md.pixel_size_y;
                set.pixel_size_z = md.pixel_size_z;
            } else if (g.width != first.width || g.height != first.height || g.dtype != first.dtype ||
                       g.samples != first.samples) {
                throw input_error(path.string(), "planes are " + std::to_string(g.width) + " x " +
                                                     std::to_string(g.height) + " " + czi::pixel_type_name(idx.pixel_type) +
                                                     " but " + first_file + " has " + std::to_string(first.width) +
                                                     " x " + std::to_string(first.height) + " " + dtype_name(first.dtype) +
                                                     " x" + std::to_string(first.samples) +
                                                     "; one plate needs one plane size and pixel type");
            }
            // Channels: one per C index (x3 for colour), named from the first file that names them.
            const uint32_t spp = g.samples;
            for (size_t c = 0; c < idx.channels.size(); ++c) {
                const int32_t raw = idx.channels[c];
                std::string base = raw >= 0 && size_t(raw) < md.channel_names.size() ? md.channel_names[size_t(raw)] : "";
                if (base.empty()) base = "C" + std::to_string(c);
                for (uint32_t s = 0; s < spp; ++s) {
                    const size_t k = c * spp + s;
                    if (k < set.channels.size()) continue;
                    set.channels.push_back(ChannelInfo{spp == 3 ? base + "_" + "RGB"[s] : base, {}, {}});
                }
            }
            // Wells: from the scenes' metadata when every scene names one, else this file's own well.
            std::map<int32_t, const czi::SceneInfo*> scene_md;
            for (auto& s : md.scenes) scene_md.emplace(s.index, &s);
            bool from_metadata = true;
            for (int32_t s : idx.scenes) {
                auto it = scene_md.find(s);
                if (it == scene_md.end() || !it->second->row) from_metadata = false;
            }
            const std::pair<int, int> file_well{int(fi / 12), int(fi % 12)};
            // Site of each (scene rank, tile): numbered per well in file order.
            std::map<std::pair<size_t, int32_t>, std::tuple<int, int, int>> where;
            const auto& planes = as_sites ? idx.tile_planes : idx.mosaic_planes;
            auto rank = [](const std::vector<int32_t>& v, int32_t x) {
                return int(std::lower_bound(v.begin(), v.end(), x) - v.begin());
            };
            for (const auto& p : planes) {
                const size_t sr = size_t(rank(idx.scenes, p.s));
                auto key = std::make_pair(sr, p.tile);
                if (where.count(key)) continue;
                std::pair<int, int> well = file_well;
                if (from_metadata) well = {*scene_md[p.s]->row, *scene_md[p.s]->col};
                where[key] = {well.first, well.second, next_site[well]++};
            }
            for (size_t k = 0; k < planes.size(); ++k) {
                const auto& p = planes[k];
                auto [row, col, site] = where[{size_t(rank(idx.scenes, p.s)), p.tile}];
                for (uint32_t s = 0; s < spp; ++s) {
                    PlaneRecord r;
                    r.plate = plate;
                    r.row = row;
                    r.col = col;
                    r.site = site;
                    r.channel = rank(idx.channels, p.c) * int(spp) + int(s);
                    r.zplane = rank(idx.zplanes, p.z);
                    r.tpoint = rank(idx.tpoints, p.t);
                    r.file = names[fi];
                    r.page = uint32_t(k) | (as_sites ? czi::kTilePageFlag : 0);
                    r.sample = spp > 1 ? s : 0;
                    set.planes.push_back(std::move(r));
                }
            }
        }
        // Channel names must be unique.
        std::vector<std::string> channel_names;
        for (auto& ch : set.channels) channel_names.push_back(ch.name);
        container::make_unique_names(channel_names);
        for (size_t c = 0; c < channel_names.size(); ++c) set.channels[c].name = channel_names[c];
        return set;
    }
};

class CziDecoder final : public PixelDecoder {
public:
    std::string name() const override { return "czi"; }
    std::string description() const override {
        return "Zeiss CZI subblocks: Gray8/16, Gray32Float, Bgr24/48 (as R,G,B samples); uncompressed, JPEG-XR, "
               "zstd0, zstd1 (hi/lo packing). Not yet: JPEG, LZW and camera-specific compression, Bgra32, "
               "Gray32/64, Bgr96Float, complex pixels, multi-part files, B/H beyond the first index";
    }
    bool accepts(const fs::path&, const unsigned char* head, size_t n) const override {
        return n >= 10 && std::memcmp(head, "ZISRAWFILE", 10) == 0;
    }
    uint32_t page_count(const source::File& file) const override {
        return uint32_t(czi::cached_index(file)->mosaic_planes.size());
    }
    PageInfo page_info(const source::File& file, uint32_t page) const override {
        auto idx = czi::cached_index(file);
        const czi::PlaneGeometry g = czi::plane_geometry(file.path(), *idx, page);
        return PageInfo{g.width, g.height, g.samples, g.dtype, g.bits};
    }
    void read(const source::File& file, const PlaneAddress& at, Plane& out) const override {
        const uint32_t page = at.page, sample = at.sample;
        auto idx = czi::cached_index(file);
        czi::decode_plane(file, *idx, page, sample, out);
    }
    std::unique_ptr<PlaneRows> open_rows(const source::File& file, const PlaneAddress& at) const override {
        return czi::open_plane_rows(file, czi::cached_index(file), at.page, at.sample);
    }
    FileContents contents(const source::File& file) const override { return czi::contents(file, czi::cached_index(file)); }
};

}  // namespace

std::unique_ptr<LayoutReader> make_czi_layout() { return std::make_unique<CziLayout>(); }
std::unique_ptr<PixelDecoder> make_czi_decoder() { return std::make_unique<CziDecoder>(); }

}  // namespace imx
