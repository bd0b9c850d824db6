// Nikon NIS-Elements ND2: the pixel decoder and the layout reader (a folder of .nd2 files, each a
// well). What a file holds is parsed once per file by nd2_file.cpp, which describes the format.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

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

// A zlib frame inflated front to back: bytes [pos, pos + n) of the frame on request, reading the
// packed stream from the file a piece at a time, so that only a band of the frame is ever held.
// Bands come in order; a request behind the current position starts the stream again.
class FrameInflater {
public:
    FrameInflater(const RandomAccessFile& f, const ChunkData& d, std::string name, uint64_t needed)
        : f_(f), d_(d), name_(std::move(name)), needed_(needed) {}
    ~FrameInflater() { end(); }
    FrameInflater(const FrameInflater&) = delete;
    FrameInflater& operator=(const FrameInflater&) = delete;

    // Copies bytes [pos, pos + n) of the inflated frame to `dst` (nullptr: skips them).
    void read(uint64_t pos, uint64_t n, unsigned char* dst) {
        if (pos < out_pos_ || !live_) restart();
        while (out_pos_ < pos) {  // the rows before (or the padding between) the wanted ones
            if (discard_.empty()) discard_.resize(1u << 16);
            produce(std::min<uint64_t>(pos - out_pos_, discard_.size()), discard_.data());
        }
        for (uint64_t done = 0; done < n;) {
            const uint64_t piece = std::min<uint64_t>(n - done, 1u << 30);
            produce(piece, dst + done);
            done += piece;
        }
    }

private:
    static constexpr size_t kPiece = size_t(1) << 20;  // packed bytes read from the file at a time

    void end() {
        if (live_) inflateEnd(&z_);
        live_ = false;
    }
    void restart() {
        end();
        z_ = z_stream{};
        if (inflateInit(&z_) != Z_OK) throw Error("zlib: cannot initialise");
        live_ = true;
        in_pos_ = 0;
        out_pos_ = 0;
        finished_ = false;
    }
    // The next `n` (< 2^32) bytes of the frame into `dst`.
    void produce(uint64_t n, unsigned char* dst) {
        const uint64_t packed_bytes = d_.length - 8;
        z_.next_out = dst;
        z_.avail_out = uInt(n);
        while (z_.avail_out > 0) {
            if (finished_) break;
            if (z_.avail_in == 0 && in_pos_ < packed_bytes) {
                const size_t len = size_t(std::min<uint64_t>(kPiece, packed_bytes - in_pos_));
                in_.resize(len);
                f_.read_at(d_.offset + 8 + in_pos_, in_.data(), len, "compressed frame");
                in_pos_ += len;
                z_.next_in = in_.data();
                z_.avail_in = uInt(len);
            }
            const int rc = inflate(&z_, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                finished_ = true;
            } else if (rc == Z_BUF_ERROR && z_.avail_in == 0 && in_pos_ >= packed_bytes) {
                break;  // the packed data ended early
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                const std::string msg = z_.msg ? z_.msg : "error " + std::to_string(rc);
                end();
                f_.fail(d_.offset + 8, name_ + ": zlib data is corrupt (" + msg + ")");
            }
        }
        const uint64_t got = n - z_.avail_out;
        out_pos_ += got;
        if (got < n) {
            end();
            f_.fail(d_.offset + 8, name_ + ": zlib stream ends after " + std::to_string(out_pos_) + " of the " +
                                       std::to_string(needed_) + " bytes of a frame (truncated?)");
        }
    }

    RandomAccessFile f_;
    ChunkData d_;
    std::string name_;
    uint64_t needed_;
    z_stream z_{};
    bool live_ = false, finished_ = false;
    uint64_t in_pos_ = 0, out_pos_ = 0;
    std::vector<unsigned char> in_, discard_;
};

// A chunked (version 3) frame's component read band by band (PixelDecoder::open_rows). A raw frame:
// only the bytes of the band's rows are read from the file (at most kBandRead bytes at a time, the
// rows' padding and the other components skipped when picking ours out). A zlib frame: inflated
// front to back with the bands (FrameInflater), never whole. No bound on the frame's size beyond
// the file's: a raw frame must lie inside its chunk, a zlib frame come from it at zlib's ratio.
class Nd2Rows final : public PlaneRows {
public:
    static constexpr uint64_t kBandRead = uint64_t(8) << 20;

    Nd2Rows(const source::File& file, std::shared_ptr<const nd2::Structure> s, uint32_t page, uint32_t sample)
        : f_(file), s_(std::move(s)), sample_(sample) {
        const nd2::Structure& st = *s_;
        const std::string chunk_name = "ImageDataSeq|" + std::to_string(page) + "!";
        d_ = nd2::chunk_at(f_, st.frames[page], chunk_name);
        if (d_.length < 8) f_.fail(st.frames[page], chunk_name + " is too short to hold a frame");
        row_bytes_ = uint64_t(st.width) * st.components * st.bytes_per_sample;
        needed_ = uint64_t(st.width_bytes) * (st.height - 1) + row_bytes_;
        if (st.zlib) {
            const uint64_t packed_bytes = d_.length - 8;
            if (packed_bytes < needed_ / nd2::kZlibMaxRatio + (needed_ % nd2::kZlibMaxRatio != 0))
                f_.fail(d_.offset + 8, chunk_name + ": a frame of " + std::to_string(needed_) + " bytes cannot come from " +
                                           std::to_string(packed_bytes) + " bytes of zlib data (zlib packs at most 1032:1)");
            inflater_ = std::make_unique<FrameInflater>(f_, d_, chunk_name, needed_);
        } else if (d_.length - 8 < needed_) {
            f_.fail(st.frames[page], chunk_name + " holds " + std::to_string(d_.length - 8) +
                                         " pixel bytes, fewer than the " + std::to_string(needed_) + " a " +
                                         std::to_string(st.width) + "x" + std::to_string(st.height) + " frame needs");
        }
    }
    uint32_t width() const override { return s_->width; }
    uint32_t height() const override { return s_->height; }
    DType dtype() const override { return s_->dtype; }

    void read(uint32_t y0, uint32_t count, std::byte* out) override {
        const nd2::Structure& s = *s_;
        check_row_range(y0, count, s.height);
        const size_t bps = s.bytes_per_sample, step = size_t(s.components) * bps;
        const size_t out_row = size_t(s.width) * bps;
        auto* dst = reinterpret_cast<unsigned char*>(out);
        // Rows a read takes: as many as fit in kBandRead, at least one.
        const uint32_t group = uint32_t(std::clamp<uint64_t>(kBandRead / s.width_bytes, 1, count));
        for (uint32_t y = y0; y < y0 + count;) {
            const uint32_t n = std::min(group, y0 + count - y);
            const uint64_t at = uint64_t(y) * s.width_bytes, len = uint64_t(n - 1) * s.width_bytes + row_bytes_;
            unsigned char* rows = dst + size_t(y - y0) * out_row;
            // One component without padding: the rows straight into the band.
            const bool direct = s.components == 1 && s.width_bytes == row_bytes_;
            unsigned char* into = rows;
            if (!direct) {
                scratch_.resize(size_t(len));
                into = scratch_.data();
            }
            if (inflater_)
                inflater_->read(at, len, into);
            else
                f_.read_at(d_.offset + 8 + at, into, size_t(len), "frame rows");
            if (!direct)
                for (uint32_t r = 0; r < n; ++r) {
                    const unsigned char* src = scratch_.data() + size_t(r) * s.width_bytes + sample_ * bps;
                    unsigned char* row = rows + size_t(r) * out_row;
                    if (s.components == 1)
                        std::memcpy(row, src, out_row);
                    else
                        for (uint32_t x = 0; x < s.width; ++x) std::memcpy(row + x * bps, src + x * step, bps);
                }
            y += n;
        }
    }

private:
    RandomAccessFile f_;
    std::shared_ptr<const nd2::Structure> s_;
    uint32_t sample_;
    ChunkData d_;
    uint64_t row_bytes_ = 0, needed_ = 0;
    std::unique_ptr<FrameInflater> inflater_;
    std::vector<unsigned char> scratch_;
};

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

    // Chunked frames band by band (Nd2Rows). Version 2 frames are JPEG 2000 codestreams that
    // OpenJPEG decodes whole (into 32-bit samples per component), so they are read whole.
    std::unique_ptr<PlaneRows> open_rows(const source::File& file, const PlaneAddress& at) const override {
        auto s = structure_of(file);
        check_page(file, *s, at.page);
        if (at.sample >= s->components)
            throw input_error(file.path(), "component " + std::to_string(at.sample) + " does not exist (frames have " +
                                                  std::to_string(s->components) + ")");
        if (!s->frames[at.page])
            throw input_error(file.path(), "frame " + std::to_string(at.page) + " is not in the chunk map");
        if (s->legacy) return nullptr;
        return std::make_unique<Nd2Rows>(file, s, at.page, at.sample);
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
