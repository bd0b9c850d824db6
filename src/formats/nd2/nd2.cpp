// Nikon NIS-Elements ND2: the pixel decoder and the layout reader (a folder of .nd2 files, each a
// well). What a file holds is parsed once per file by nd2_file.cpp, which describes the format.
#include <zlib.h>

#include <algorithm>
#include <map>

#include "formats/builtin.h"
#include "formats/container_util.h"
#include "formats/nd2/nd2_file.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

using container::RandomAccessFile;
using nd2::ChunkData;

container::StructureCache<nd2::Structure>& cache() {
    static container::StructureCache<nd2::Structure> c(8);
    return c;
}

std::shared_ptr<const nd2::Structure> structure_of(const source::File& file) { return cache().get(file, nd2::parse); }

bool is_nd2_name(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".nd2";
}

// ---- pixel decoder ------------------------------------------------------------------------------

class Nd2Decoder final : public PixelDecoder {
public:
    std::string name() const override { return "nd2"; }
    bool accepts(const fs::path& file, const unsigned char* head, size_t len) const override {
        if (len >= 4 && container::load_le<uint32_t>(head) == nd2::kChunkMagic) return true;
        // Version 2 files are JPEG-2000 box files; claim them by name so the error says ND2.
        static const unsigned char jp2[8] = {0x00, 0x00, 0x00, 0x0C, 'j', 'P', ' ', ' '};
        return len >= 8 && std::equal(jp2, jp2 + 8, head) && is_nd2_name(file);
    }
    uint32_t page_count(const source::File& file) const override { return uint32_t(structure_of(file)->frames.size()); }
    // Frames present in the chunk map, each with every component.
    FileContents contents(const source::File& file) const override {
        auto s = structure_of(file);
        FileContents c;
        for (uint32_t seq = 0; seq < s->frames.size(); ++seq)
            if (s->frames[seq] && !c.runs.empty() && c.runs.back().first + c.runs.back().count == seq) ++c.runs.back().count;
            else if (s->frames[seq]) c.runs.push_back({0, seq, 1, s->components, false});
        return c;
    }
    PageInfo page_info(const source::File& file, uint32_t page) const override {
        auto s = structure_of(file);
        check_page(file, *s, page);
        return {s->width, s->height, s->components, s->dtype, s->bits_significant};
    }

    void read(const source::File& file, const PlaneAddress& at, Plane& out) const override {
        const uint32_t page = at.page, sample = at.sample;
        auto s = structure_of(file);
        check_page(file, *s, page);
        if (sample >= s->components)
            throw input_error(file.path(), "component " + std::to_string(sample) + " does not exist (frames have " +
                                                  std::to_string(s->components) + ")");
        const uint64_t chunk = s->frames[page];
        if (!chunk) throw input_error(file.path(), "frame " + std::to_string(page) + " is not in the chunk map");
        RandomAccessFile f(file);
        if (s->legacy) {
            const uint32_t per = s->legacy->components;
            nd2legacy::decode(f, *s->legacy, uint64_t(page) * s->legacy->channels + sample / per, sample % per, out);
            return;
        }
        const std::string chunk_name = "ImageDataSeq|" + std::to_string(page) + "!";
        const ChunkData d = nd2::chunk_at(f, chunk, chunk_name);
        if (d.length < 8) f.fail(chunk, chunk_name + " is too short to hold a frame");
        const uint64_t row_bytes = uint64_t(s->width) * s->components * s->bytes_per_sample;
        const uint64_t needed = uint64_t(s->width_bytes) * (s->height - 1) + row_bytes;
        std::string raw;
        if (s->zlib) {
            raw = inflate_frame(f, d, chunk_name, needed);
        } else {
            if (d.length - 8 < needed)
                f.fail(chunk, chunk_name + " holds " + std::to_string(d.length - 8) + " pixel bytes, fewer than the " +
                                  std::to_string(needed) + " a " + std::to_string(s->width) + "x" +
                                  std::to_string(s->height) + " frame needs");
            raw = f.read_string(d.offset + 8, size_t(needed), "frame");
        }
        out.allocate(s->dtype, s->width, s->height);
        const size_t bps = s->bytes_per_sample, step = size_t(s->components) * bps;
        auto* dst = reinterpret_cast<unsigned char*>(out.data.data());
        for (uint32_t y = 0; y < s->height; ++y) {
            const unsigned char* src = reinterpret_cast<const unsigned char*>(raw.data()) + size_t(y) * s->width_bytes + sample * bps;
            unsigned char* row = dst + size_t(y) * s->width * bps;
            if (s->components == 1) {
                std::memcpy(row, src, size_t(s->width) * bps);
            } else {
                for (uint32_t x = 0; x < s->width; ++x) std::memcpy(row + x * bps, src + x * step, bps);
            }
        }
    }

private:
    static void check_page(const source::File& file, const nd2::Structure& s, uint32_t page) {
        if (page >= s.frames.size())
            throw input_error(file.path(), "frame " + std::to_string(page) + " does not exist (the file has " +
                                                  std::to_string(s.frames.size()) + " frames)");
    }

    // The first `needed` bytes of a zlib frame (the rows up to the last pixel; the last row's
    // padding is not needed).
    static std::string inflate_frame(const RandomAccessFile& f, const ChunkData& d, const std::string& name, uint64_t needed) {
        // A larger claim than zlib's maximum ratio allows is refused before the buffer is allocated.
        const uint64_t packed_bytes = d.length - 8;
        if (packed_bytes < needed / nd2::kZlibMaxRatio + (needed % nd2::kZlibMaxRatio != 0))
            f.fail(d.offset + 8, name + ": a frame of " + std::to_string(needed) + " bytes cannot come from " +
                                     std::to_string(packed_bytes) + " bytes of zlib data (zlib packs at most 1032:1)");
        const std::string packed = f.read_string(d.offset + 8, size_t(packed_bytes), "compressed frame");
        std::string out(size_t(needed), '\0');
        z_stream z{};
        if (inflateInit(&z) != Z_OK) throw Error("zlib: cannot initialise");
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
        z.next_out = reinterpret_cast<Bytef*>(out.data());
        // Feed in pieces: avail_in/avail_out are 32-bit.
        uint64_t in_left = packed.size(), out_left = out.size();
        int rc = Z_OK;
        while (rc == Z_OK) {
            if (z.avail_in == 0 && in_left) {
                z.avail_in = uInt(std::min<uint64_t>(in_left, 1u << 30));
                in_left -= z.avail_in;
            }
            if (z.avail_out == 0 && out_left) {
                z.avail_out = uInt(std::min<uint64_t>(out_left, 1u << 30));
                out_left -= z.avail_out;
            }
            if (z.avail_out == 0) break;  // frame complete; trailing data ignored
            rc = inflate(&z, Z_NO_FLUSH);
            if (rc == Z_BUF_ERROR && z.avail_in == 0 && !in_left) break;
        }
        const uint64_t produced = z.total_out;
        const std::string msg = z.msg ? z.msg : "";
        inflateEnd(&z);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            f.fail(d.offset + 8, name + ": zlib data is corrupt (" + (msg.empty() ? "error " + std::to_string(rc) : msg) + ")");
        if (produced < needed)
            f.fail(d.offset + 8, name + ": zlib stream ends after " + std::to_string(produced) + " of the " +
                                     std::to_string(needed) + " bytes of a frame (truncated?)");
        return out;
    }
};

// ---- layout reader -------------------------------------------------------------------------------

std::vector<std::string> nd2_files(const source::Folder& source) {
    return container::files_of_kind(source, [](const fs::path& p) { return is_nd2_name(p); });
}

class Nd2Layout final : public LayoutReader {
public:
    std::string name() const override { return "nd2"; }
    std::string description() const override {
        return "Nikon NIS-Elements ND2: chunked files of NIS-Elements 3.x to current (raw and zlib frames, LV or XML "
               "metadata) and v2 (JPEG 2000 boxes, XML metadata); each file a well, XY positions sites; files of "
               "another frame size go to a plate of their own. Not yet: lossy (eCompression 1) frames";
    }
    int detect(const source::Folder& source) const override { return nd2_files(source).empty() ? 0 : 80; }

    ImageSet configure(const source::Folder& folder, const LayoutOptions&) const override {
        const fs::path& source = folder.path();
        const auto files = nd2_files(folder);
        if (files.empty()) throw input_error(source.string(), "no .nd2 files in this folder");
        ImageSet set;
        set.format = name();
        set.maps_samples = true;  // components are channels already
        PlateInfo plate = container::plate_of_files(source, files.size(), "ND2");  // one well per file
        set.plates.push_back(plate);
        std::map<std::string, int> channel_index;
        // Files of another frame size, pixel type or scale go to a plate of their own; their wells keep the
        // file's position.
        container::PlatesBySize plates(set, true);
        for (size_t i = 0; i < files.size(); ++i) {
            auto s = structure_of(*folder.open(files[i]));
            for (auto& w : s->warnings) set.warnings.push_back(w);
            const size_t pi = plates.plate_for({s->width, s->height, s->dtype, s->bits_significant, s->pixel_size,
                                                s->pixel_size, s->z_step, s->time_interval_s},
                                               files[i] + ": frames are", "file");
            const std::string plate_name = set.plates[pi].name;
            std::vector<int> channels;
            for (auto& n : s->channel_names) {
                auto [it, added] = channel_index.emplace(n, int(set.channels.size()));
                if (added) set.channels.push_back({n, std::nullopt, std::nullopt});
                channels.push_back(it->second);
            }
            const int row = int(i) / plate.cols, col = int(i) % plate.cols;
            uint64_t missing = 0;
            for (uint64_t seq = 0; seq < s->frame_count; ++seq) {
                if (!s->frames[seq]) {
                    ++missing;
                    continue;
                }
                uint32_t site = 0, t = 0, z = 0;
                s->coords(seq, site, t, z);
                for (uint32_t c = 0; c < s->components; ++c) {
                    PlaneRecord p;
                    p.plate = plate_name;
                    p.row = row;
                    p.col = col;
                    p.site = int(site);
                    p.channel = channels[c];
                    p.tpoint = int(t);
                    p.zplane = int(z);
                    p.file = files[i];
                    p.page = uint32_t(seq);
                    p.sample = c;
                    if (site < s->positions.size()) {
                        p.stage_x = s->positions[site][0];
                        p.stage_y = s->positions[site][1];
                        p.stage_z = s->positions[site][2];
                    }
                    set.planes.push_back(std::move(p));
                }
            }
            if (missing)
                set.warnings.push_back(files[i] + ": " + std::to_string(missing) +
                                       " frames are missing from the file; their planes are skipped");
        }
        if (set.planes.empty()) throw input_error(source.string(), "the ND2 files hold no readable frames");
        return set;
    }
};

}  // namespace

std::unique_ptr<LayoutReader> make_nd2_layout() { return std::make_unique<Nd2Layout>(); }
std::unique_ptr<PixelDecoder> make_nd2_decoder() { return std::make_unique<Nd2Decoder>(); }

}  // namespace imx
