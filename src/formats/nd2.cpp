// Nikon NIS-Elements ND2 (chunked "version 3" files, NIS-Elements 4 and later).
//
// File layout: a sequence of chunks, each `u32 magic 0x0ABECEDA, u32 name length, u64 data length,
// name, data`. The last 40 bytes of the file are "ND2 CHUNK MAP SIGNATURE 0000001!" and the u64
// offset of the chunk-map chunk, whose data lists every chunk as `name ending in '!', u64 offset,
// u64 size`. Frames are `ImageDataSeq|N!` chunks: an 8-byte time stamp, then the pixels (or a zlib
// stream of them), rows `uiWidthBytes` apart, the components (channels) of a pixel interleaved.
//
// Metadata chunks use Nikon's binary "LV" variant encoding: items `u8 type, u8 name length (UTF-16
// units, with the terminating 0), UTF-16LE name, value`, where a type-11 item is a nested level
// `u32 item count, u64 length from the item start` followed by its items and a table of
// count u64 offsets. ImageAttributesLV! gives the frame geometry, ImageMetadataLV! the
// experiment loops (time, XY positions, Z), ImageMetadataSeqLV|0! the channel names and
// ImageCalibrationLV|0! the pixel size.
//
// Every offset and length read from the file is checked against the file size before it is used.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "formats/builtin.h"
#include "formats/container_util.h"
#include "formats/nd2_legacy.h"
#include "storage/source_files.h"

namespace imx {

namespace {

using container::RandomAccessFile;

constexpr uint32_t kChunkMagic = 0x0ABECEDA;
constexpr std::string_view kMapSignature = "ND2 CHUNK MAP SIGNATURE 0000001!";  // 32 bytes
constexpr uint64_t kMaxMetadataChunk = 64ull << 20;  // LV metadata is kilobytes in practice
constexpr uint64_t kMaxChunkName = 4096;
constexpr size_t kMaxFrames = size_t(1) << 24;
constexpr uint64_t kMaxFrameBytes = 4ull << 30;
constexpr int kMaxLvDepth = 48;
constexpr size_t kMaxLvItems = size_t(1) << 22;

// ---- LV variant tree ------------------------------------------------------------------------------

struct LvItem {
    std::string name;
    uint8_t type = 0;
    double number = 0;  // numeric types, as double (counts and sizes fit exactly)
    std::string text;   // strings (UTF-8), byte arrays (raw)
    std::vector<LvItem> children;

    bool numeric() const { return type >= 1 && type <= 7; }
    const LvItem* child(std::string_view n) const {
        for (auto& c : children)
            if (c.name == n) return &c;
        return nullptr;
    }
    std::optional<double> num(std::string_view n) const {
        const LvItem* c = child(n);
        if (c && c->numeric()) return c->number;
        return std::nullopt;
    }
    std::string str(std::string_view n) const {
        const LvItem* c = child(n);
        return c && c->type == 8 ? c->text : std::string();
    }
};

class LvParser {
public:
    LvParser(const std::string& file, uint64_t chunk_offset, std::string_view chunk_name, const std::string& data)
        : file_(file), base_(chunk_offset), chunk_(chunk_name), data_(reinterpret_cast<const unsigned char*>(data.data())),
          size_(data.size()) {}

    LvItem parse() {
        LvItem root;
        root.type = 11;
        parse_items(0, size_, root, 0);
        return root;
    }

private:
    const std::string& file_;
    uint64_t base_;
    std::string_view chunk_;
    const unsigned char* data_;
    size_t size_;
    size_t items_ = 0;

    [[noreturn]] void fail(size_t pos, const std::string& reason) const {
        throw input_error(file_, "offset " + std::to_string(base_ + pos) + ": metadata chunk " + std::string(chunk_) +
                                     ": " + reason);
    }
    void need(size_t pos, size_t len, size_t end, const char* what) const {
        if (pos > end || len > end - pos) fail(pos, std::string(what) + " runs past the end of its block");
    }

    void parse_items(size_t pos, size_t end, LvItem& parent, int depth) {
        if (depth > kMaxLvDepth) fail(pos, "levels nested deeper than " + std::to_string(kMaxLvDepth));
        while (pos < end) {
            const size_t start = pos;
            if (++items_ > kMaxLvItems) fail(pos, "more than " + std::to_string(kMaxLvItems) + " metadata items");
            need(pos, 2, end, "item header");
            LvItem item;
            item.type = data_[pos];
            const size_t name_units = data_[pos + 1];
            pos += 2;
            need(pos, name_units * 2, end, "item name");
            if (!container::utf16le_to_utf8({reinterpret_cast<const char*>(data_ + pos), name_units * 2}, item.name))
                fail(pos, "bad item name");
            while (!item.name.empty() && item.name.back() == '\0') item.name.pop_back();
            pos += name_units * 2;
            switch (item.type) {
                case 1:  // bool
                    need(pos, 1, end, "value");
                    item.number = data_[pos];
                    pos += 1;
                    break;
                case 2:  // int32
                    need(pos, 4, end, "value");
                    item.number = container::load_le<int32_t>(data_ + pos);
                    pos += 4;
                    break;
                case 3:  // uint32
                    need(pos, 4, end, "value");
                    item.number = container::load_le<uint32_t>(data_ + pos);
                    pos += 4;
                    break;
                case 4:  // int64
                    need(pos, 8, end, "value");
                    item.number = double(container::load_le<int64_t>(data_ + pos));
                    pos += 8;
                    break;
                case 5:  // uint64
                case 7:  // pointer-sized value
                    need(pos, 8, end, "value");
                    item.number = double(container::load_le<uint64_t>(data_ + pos));
                    pos += 8;
                    break;
                case 6:  // double
                    need(pos, 8, end, "value");
                    item.number = container::load_le<double>(data_ + pos);
                    pos += 8;
                    break;
                case 8: {  // UTF-16LE string, 0-terminated
                    size_t e = pos;
                    while (true) {
                        need(e, 2, end, "string");
                        if (data_[e] == 0 && data_[e + 1] == 0) break;
                        e += 2;
                    }
                    container::utf16le_to_utf8({reinterpret_cast<const char*>(data_ + pos), e - pos}, item.text);
                    pos = e + 2;
                    break;
                }
                case 9: {  // byte array: u64 size, bytes
                    need(pos, 8, end, "byte array size");
                    const uint64_t n = container::load_le<uint64_t>(data_ + pos);
                    pos += 8;
                    if (n > end - pos) fail(pos, "byte array of " + std::to_string(n) + " bytes runs past the end of its block");
                    item.text.assign(reinterpret_cast<const char*>(data_ + pos), size_t(n));
                    pos += size_t(n);
                    break;
                }
                case 11: {  // nested level
                    need(pos, 12, end, "level header");
                    const uint32_t count = container::load_le<uint32_t>(data_ + pos);
                    const uint64_t length = container::load_le<uint64_t>(data_ + pos + 4);
                    pos += 12;
                    if (length < pos - start || length > end - start)
                        fail(start, "level '" + item.name + "' claims " + std::to_string(length) +
                                        " bytes, outside its parent block");
                    const size_t level_end = start + size_t(length);
                    parse_items(pos, level_end, item, depth + 1);
                    // A table of `count` u64 offsets follows the items; some writers omit part of it.
                    pos = level_end + std::min<uint64_t>(uint64_t(count) * 8, end - level_end);
                    break;
                }
                default:
                    fail(start, "unknown item type " + std::to_string(item.type) + " ('" + item.name + "')");
            }
            parent.children.push_back(std::move(item));
        }
    }
};

// ---- file structure -------------------------------------------------------------------------------

enum class Axis { time, xy, z };

struct Loop {
    Axis axis;
    uint32_t count;
};

struct Nd2Structure {
    uint32_t width = 0, height = 0, components = 1, width_bytes = 0;
    uint32_t bytes_per_sample = 2;
    int bits_significant = 0;
    DType dtype = DType::u16;
    bool zlib = false;
    std::vector<uint64_t> frames;  // chunk offset per sequence index; 0 = not in the chunk map
    std::vector<Loop> loops;       // outermost first
    uint64_t frame_count = 0;      // frames the loops describe that are present
    std::vector<std::string> channel_names;  // one per component, unique
    std::optional<double> pixel_size, z_step, time_interval_s;
    std::vector<std::array<std::optional<double>, 3>> positions;  // per XY site
    std::vector<std::string> warnings;
    // Version 2 (JPEG 2000) files: where the codestreams are; components = channels x components
    // per codestream, frames[seq] = the first channel's box.
    std::shared_ptr<const nd2legacy::Info> legacy;

    uint32_t count_of(Axis a) const {
        uint32_t n = 1;
        for (auto& l : loops)
            if (l.axis == a) n *= l.count;
        return n;
    }
    // Site, time point and z plane of frame `seq`.
    void coords(uint64_t seq, uint32_t& site, uint32_t& t, uint32_t& z) const {
        uint32_t idx[3] = {0, 0, 0};
        uint64_t rest = seq;
        std::vector<uint32_t> digits(loops.size());
        for (size_t i = loops.size(); i-- > 0;) {
            digits[i] = uint32_t(rest % loops[i].count);
            rest /= loops[i].count;
        }
        for (size_t i = 0; i < loops.size(); ++i) {
            uint32_t& v = idx[int(loops[i].axis)];
            v = v * loops[i].count + digits[i];
        }
        t = idx[0];
        site = idx[1];
        z = idx[2];
    }
};

// Offset of a chunk's data and its length, after checking its header.
struct ChunkData {
    uint64_t offset = 0, length = 0;
};

ChunkData chunk_at(const RandomAccessFile& f, uint64_t offset, std::string_view expected_name) {
    unsigned char head[16];
    f.read_at(offset, head, sizeof head, "chunk header");
    const uint32_t magic = container::load_le<uint32_t>(head);
    const uint32_t name_len = container::load_le<uint32_t>(head + 4);
    const uint64_t data_len = container::load_le<uint64_t>(head + 8);
    if (magic != kChunkMagic)
        f.fail(offset, "chunk " + std::string(expected_name) + " does not start with the ND2 chunk magic (corrupt chunk map?)");
    if (name_len > kMaxChunkName) f.fail(offset, "chunk name length " + std::to_string(name_len) + " is implausible");
    ChunkData d{offset + 16 + name_len, data_len};
    if (!f.contains(d.offset, d.length))
        f.fail(offset, "chunk " + std::string(expected_name) + " claims " + std::to_string(data_len) +
                           " bytes of data, past the end of the file (" + std::to_string(f.size()) + " bytes; truncated?)");
    return d;
}

std::map<std::string, uint64_t> read_chunk_map(const RandomAccessFile& f) {
    if (f.size() < 16 + 40) throw input_error(f.path(), "too small to be an ND2 file (" + std::to_string(f.size()) + " bytes)");
    const std::string tail = f.read_string(f.size() - 40, 40, "chunk map signature");
    if (std::string_view(tail).substr(0, 32) != kMapSignature)
        f.fail(f.size() - 40, "no ND2 chunk map signature at the end of the file (truncated, or still being written?)");
    const uint64_t map_offset = container::load_le<uint64_t>(reinterpret_cast<const unsigned char*>(tail.data()) + 32);
    if (map_offset >= f.size()) f.fail(f.size() - 8, "chunk map offset " + std::to_string(map_offset) + " is past the end of the file");
    const ChunkData d = chunk_at(f, map_offset, "chunk map");
    if (d.length > kMaxMetadataChunk) f.fail(map_offset, "chunk map of " + std::to_string(d.length) + " bytes is implausibly large");
    const std::string map = f.read_string(d.offset, size_t(d.length), "chunk map");
    std::map<std::string, uint64_t> chunks;
    size_t pos = 0;
    while (pos < map.size()) {
        const size_t bang = map.find('!', pos);
        if (bang == std::string::npos || bang - pos > kMaxChunkName) f.fail(d.offset + pos, "chunk map entry without a name ending in '!'");
        std::string name = map.substr(pos, bang + 1 - pos);
        pos = bang + 1;
        if (name == kMapSignature) break;
        if (map.size() - pos < 16) f.fail(d.offset + pos, "chunk map entry '" + name + "' is cut short");
        const uint64_t off = container::load_le<uint64_t>(reinterpret_cast<const unsigned char*>(map.data()) + pos);
        pos += 16;
        if (off >= f.size())
            f.fail(d.offset + pos - 16, "chunk map entry '" + name + "' points to offset " + std::to_string(off) +
                                            ", past the end of the file");
        if (chunks.size() >= kMaxFrames + 4096) f.fail(d.offset + pos, "chunk map lists too many chunks");
        chunks.emplace(std::move(name), off);
    }
    return chunks;
}

std::optional<LvItem> read_lv(const RandomAccessFile& f, const std::map<std::string, uint64_t>& chunks,
                              const std::string& name) {
    auto it = chunks.find(name);
    if (it == chunks.end()) return std::nullopt;
    const ChunkData d = chunk_at(f, it->second, name);
    if (d.length > kMaxMetadataChunk)
        f.fail(it->second, "metadata chunk " + name + " of " + std::to_string(d.length) + " bytes is implausibly large");
    const std::string data = f.read_string(d.offset, size_t(d.length), "metadata chunk");
    return LvParser(f.path(), d.offset, name, data).parse();
}

const LvItem* first_child(const LvItem* level) {
    return level && !level->children.empty() ? &level->children.front() : nullptr;
}

// Metadata numbers are doubles from an untrusted file: converting an out-of-range double to an
// integer is undefined behaviour, so clamp first.
int as_int(std::optional<double> v, int fallback) {
    if (!v || !(*v >= -1e9 && *v <= 1e9)) return fallback;
    return int(*v);
}
uint64_t as_count(std::optional<double> v) {
    if (!v || !(*v >= 0)) return 0;
    return *v > 1e12 ? uint64_t(1e12) : uint64_t(*v);
}

// Reads the experiment loops, outermost first (SLxExperiment, then ppNextLevelEx's first child).
void read_loops(const LvItem* experiment, Nd2Structure& s) {
    for (int depth = 0; experiment && depth < 16; ++depth) {
        const LvItem* pars = experiment->child("uLoopPars");
        const int type = as_int(experiment->num("eType"), 0);
        uint64_t count = pars ? as_count(pars->num("uiCount")) : 0;
        if (type == 8 && pars) {  // NETimeLoop: several periods, each with its own count
            uint64_t total = 0;
            if (const LvItem* periods = pars->child("pPeriod"))
                for (auto& p : periods->children) total += as_count(p.num("uiCount"));
            if (total) count = total;
        }
        std::vector<std::array<std::optional<double>, 3>> points;
        if (type == 2 && pars) {  // XY positions, some possibly unselected (pItemValid)
            if (const LvItem* pts = pars->child("Points"))
                for (auto& p : pts->children) points.push_back({p.num("dPosX"), p.num("dPosY"), p.num("dPosZ")});
            if (!count) count = points.size();
            if (const LvItem* valid = experiment->child("pItemValid")) {
                std::vector<bool> keep;
                if (valid->type == 9)
                    for (char c : valid->text) keep.push_back(c != 0);
                else
                    for (auto& v : valid->children) keep.push_back(v.number != 0);
                if (keep.size() == count) {
                    std::vector<std::array<std::optional<double>, 3>> kept;
                    uint64_t n = 0;
                    for (size_t i = 0; i < keep.size(); ++i)
                        if (keep[i]) {
                            ++n;
                            if (i < points.size()) kept.push_back(points[i]);
                        }
                    count = n;
                    points = kept;
                }
            }
        }
        if (count > kMaxFrames) count = kMaxFrames;  // the frame count check below reports it
        if (count > 1) {
            Axis axis = Axis::time;
            if (type == 2 || type == 3) axis = Axis::xy;
            else if (type == 4) axis = Axis::z;
            else if (type != 1 && type != 8)
                s.warnings.push_back("experiment loop type " + std::to_string(type) + " (" + std::to_string(count) +
                                     " steps) is read as time points");
            s.loops.push_back({axis, uint32_t(count)});
            if (axis == Axis::xy && s.positions.empty() && points.size() == count) s.positions = points;
            if (axis == Axis::z && pars && !s.z_step) {
                double step = std::abs(pars->num("dZStep").value_or(0));
                if (step > 0 && std::isfinite(step)) s.z_step = step;
            }
            if (axis == Axis::time && pars && !s.time_interval_s) {
                double ms = pars->num("dPeriod").value_or(0);
                if (ms > 0 && std::isfinite(ms)) s.time_interval_s = ms / 1000;
            }
        }
        experiment = first_child(experiment->child("ppNextLevelEx"));
    }
}

std::vector<std::string> channel_names_from(const LvItem* picture) {
    std::vector<std::string> names;
    if (!picture) return names;
    const LvItem* planes = picture->child("sPicturePlanes");
    if (!planes) return names;
    const LvItem* list = planes->child("sPlaneNew");
    if (!list) list = planes->child("sPlane");
    if (!list) return names;
    // Children are named a0, a1, ...: order by the number, not by file order.
    std::map<long, std::string> by_index;
    long fallback = 0;
    for (auto& p : list->children) {
        long idx = fallback++;
        if (p.name.size() > 1 && p.name[0] == 'a') {
            char* e = nullptr;
            long v = std::strtol(p.name.c_str() + 1, &e, 10);
            if (e && *e == '\0' && v >= 0) idx = v;
        }
        by_index[idx] = p.str("sDescription");
    }
    for (auto& [_, n] : by_index) names.push_back(n);
    return names;
}

// Version 2: the JPEG 2000 box file (nd2_legacy.h), in the same structure as version 3 files.
std::shared_ptr<const Nd2Structure> parse_legacy(const RandomAccessFile& f) {
    auto info = std::make_shared<const nd2legacy::Info>(nd2legacy::parse(f));
    auto s = std::make_shared<Nd2Structure>();
    s->legacy = info;
    s->width = info->width;
    s->height = info->height;
    s->components = info->channels * info->components;
    s->dtype = info->dtype;
    s->bytes_per_sample = uint32_t(dtype_size(info->dtype));
    s->bits_significant = int(info->bits);
    for (uint64_t seq = 0; seq < info->sequences; ++seq) s->frames.push_back(info->images[seq * info->channels]);
    s->frame_count = info->sequences;
    for (auto& [axis, n] : info->loops)
        s->loops.push_back({axis == nd2legacy::Axis::time ? Axis::time : axis == nd2legacy::Axis::xy ? Axis::xy : Axis::z, n});
    static const char* const kRgb[] = {"R", "G", "B", "A"};
    for (auto& name : info->channel_names)
        for (uint32_t k = 0; k < info->components; ++k)
            s->channel_names.push_back(info->components == 1 ? name : name + "_" + kRgb[k]);
    s->pixel_size = info->pixel_size;
    s->z_step = info->z_step;
    s->warnings = info->warnings;
    return s;
}

std::shared_ptr<const Nd2Structure> parse_nd2(const RandomAccessFile& f) {
    unsigned char head[4];
    f.read_at(0, head, 4, "file header");
    if (container::load_le<uint32_t>(head) != kChunkMagic) {
        unsigned char sig[12] = {};
        if (f.size() >= 12) f.read_at(0, sig, 12, "file header");
        if (nd2legacy::is_jp2(sig, 12)) return parse_legacy(f);
        throw input_error(f.path(), "not an ND2 file (no chunk magic 0x0ABECEDA at the start)");
    }
    auto s = std::make_shared<Nd2Structure>();
    const auto chunks = read_chunk_map(f);

    // Geometry.
    auto attrs_root = read_lv(f, chunks, "ImageAttributesLV!");
    if (!attrs_root) {
        if (chunks.count("ImageAttributes!"))
            throw input_error(f.path(), "ND2 with XML metadata chunks (ImageAttributes!, NIS-Elements 3.x) is not supported yet");
        throw input_error(f.path(), "no ImageAttributesLV! chunk: frame geometry unknown");
    }
    const LvItem* a = attrs_root->child("SLxImageAttributes");
    if (!a) throw input_error(f.path(), "ImageAttributesLV! has no SLxImageAttributes");
    auto need_uint = [&](const char* key, double lo, double hi) {
        auto v = a->num(key);
        if (!v) throw input_error(f.path(), std::string("image attribute ") + key + " is missing");
        if (!(*v >= lo && *v <= hi) || *v != std::floor(*v))
            throw input_error(f.path(), std::string("image attribute ") + key + " = " + std::to_string(*v) +
                                            " is outside " + std::to_string(long(lo)) + ".." + std::to_string(long(hi)));
        return uint32_t(*v);
    };
    s->width = need_uint("uiWidth", 1, 1 << 20);
    s->height = need_uint("uiHeight", 1, 1 << 20);
    s->components = a->num("uiComp") ? need_uint("uiComp", 1, 64) : 1;
    const uint32_t bits = need_uint("uiBpcInMemory", 8, 32);
    s->bits_significant = a->num("uiBpcSignificant") ? int(need_uint("uiBpcSignificant", 0, 32)) : 0;
    const int pixel_type = as_int(a->num("ePixelType"), 1);
    if (bits == 8) s->dtype = DType::u8;
    else if (bits == 16) s->dtype = DType::u16;
    else if (bits == 32) s->dtype = pixel_type == 3 ? DType::f32 : DType::u32;
    else throw input_error(f.path(), "unsupported bits per component in memory: " + std::to_string(bits) + " (8, 16 and 32 are read)");
    s->bytes_per_sample = bits / 8;
    uint64_t row_bytes = 0;
    container::mul_overflows(uint64_t(s->width) * s->components, s->bytes_per_sample, row_bytes);
    s->width_bytes = a->num("uiWidthBytes") ? need_uint("uiWidthBytes", 1, 1u << 31) : uint32_t(row_bytes);
    if (s->width_bytes < row_bytes)
        throw input_error(f.path(), "uiWidthBytes " + std::to_string(s->width_bytes) + " is smaller than a row of " +
                                        std::to_string(s->width) + " pixels x " + std::to_string(s->components) +
                                        " components (" + std::to_string(row_bytes) + " bytes)");
    if (uint64_t(s->width_bytes) * s->height > kMaxFrameBytes)
        throw input_error(f.path(), "frames of " + std::to_string(uint64_t(s->width_bytes) * s->height) +
                                        " bytes exceed the 4 GiB limit");
    const int compression = as_int(a->num("eCompression"), 2);
    if (compression == 0) s->zlib = true;
    else if (compression == 1)
        throw input_error(f.path(), "lossy-compressed ND2 frames (eCompression 1) are not supported");
    else if (compression != 2)
        throw input_error(f.path(), "unknown frame compression eCompression=" + std::to_string(compression));
    if (a->num("uiTileWidth").value_or(s->width) != s->width || a->num("uiTileHeight").value_or(s->height) != s->height)
        s->warnings.push_back(f.path() + ": tiled frame attributes are ignored (frames read as whole images)");

    // Frames present, by sequence number.
    // A frame chunk takes at least 24 bytes (header, name, time stamp): bounds every frame count
    // before the per-frame table is allocated.
    const uint64_t max_frames = std::min<uint64_t>(kMaxFrames, f.size() / 24);
    uint64_t seq_count = a->num("uiSequenceCount") ? need_uint("uiSequenceCount", 0, double(max_frames)) : 0;
    std::map<uint64_t, uint64_t> frames;
    for (auto& [name, off] : chunks) {
        if (name.rfind("ImageDataSeq|", 0) != 0) continue;
        const std::string num = name.substr(13, name.size() - 14);
        char* e = nullptr;
        unsigned long long v = std::strtoull(num.c_str(), &e, 10);
        if (num.empty() || *e != '\0' || v >= max_frames) continue;
        frames[v] = off;
    }
    if (!seq_count && !frames.empty()) seq_count = frames.rbegin()->first + 1;
    if (frames.empty()) throw input_error(f.path(), "no image frames (ImageDataSeq chunks) in the chunk map");
    s->frames.assign(size_t(std::max<uint64_t>(seq_count, frames.rbegin()->first + 1)), 0);
    for (auto& [i, off] : frames) s->frames[size_t(i)] = off;

    // Loops and names.
    if (auto meta = read_lv(f, chunks, "ImageMetadataLV!")) read_loops(meta->child("SLxExperiment"), *s);
    uint64_t described = 1;
    for (auto& l : s->loops)
        if (container::mul_overflows(described, l.count, described) || described > kMaxFrames)
            throw input_error(f.path(), "experiment loops describe more than " + std::to_string(kMaxFrames) + " frames");
    if (s->loops.empty()) {
        described = seq_count;
        if (seq_count > 1) s->loops.push_back({Axis::time, uint32_t(seq_count)});
    } else if (described != seq_count) {
        s->warnings.push_back(f.path() + ": the experiment describes " + std::to_string(described) + " frames but " +
                              std::to_string(seq_count) + " were recorded" +
                              (described > seq_count ? " (acquisition stopped early?); missing planes are skipped"
                                                     : "; the extra frames are ignored"));
    }
    s->frame_count = std::min<uint64_t>(described, s->frames.size());

    std::optional<LvItem> seq_meta = read_lv(f, chunks, "ImageMetadataSeqLV|0!");
    const LvItem* picture = seq_meta ? seq_meta->child("SLxPictureMetadata") : nullptr;
    s->channel_names = channel_names_from(picture);
    if (s->channel_names.size() != s->components) {
        if (s->components == 3 && s->channel_names.size() == 1) {
            const std::string base = s->channel_names[0].empty() ? "" : s->channel_names[0] + " ";
            s->channel_names = {base + "R", base + "G", base + "B"};
        } else {
            s->channel_names.assign(s->components, "");
        }
    }
    container::make_unique_names(s->channel_names);

    if (auto cal = read_lv(f, chunks, "ImageCalibrationLV|0!"))
        if (const LvItem* c = cal->child("SLxCalibration"))
            if (double v = c->num("dCalibration").value_or(0); v > 0 && std::isfinite(v)) s->pixel_size = v;
    if (!s->pixel_size && picture)
        if (double v = picture->num("dCalibration").value_or(0); v > 0 && std::isfinite(v)) s->pixel_size = v;
    return s;
}

container::StructureCache<Nd2Structure>& cache() {
    static container::StructureCache<Nd2Structure> c(8);
    return c;
}

std::shared_ptr<const Nd2Structure> structure_of(const fs::path& file) { return cache().get(file, parse_nd2); }

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
        if (len >= 4 && container::load_le<uint32_t>(head) == kChunkMagic) return true;
        // Version 2 files are JPEG-2000 box files; claim them by name so the error says ND2.
        static const unsigned char jp2[8] = {0x00, 0x00, 0x00, 0x0C, 'j', 'P', ' ', ' '};
        return len >= 8 && std::equal(jp2, jp2 + 8, head) && is_nd2_name(file);
    }
    uint32_t page_count(const fs::path& file) const override { return uint32_t(structure_of(file)->frames.size()); }
    // Frames present in the chunk map, each with every component.
    FileContents contents(const fs::path& file) const override {
        auto s = structure_of(file);
        FileContents c;
        for (uint32_t seq = 0; seq < s->frames.size(); ++seq)
            if (s->frames[seq] && !c.runs.empty() && c.runs.back().first + c.runs.back().count == seq) ++c.runs.back().count;
            else if (s->frames[seq]) c.runs.push_back({0, seq, 1, s->components, false});
        return c;
    }
    PageInfo page_info(const fs::path& file, uint32_t page) const override {
        auto s = structure_of(file);
        check_page(file, *s, page);
        return {s->width, s->height, s->components, s->dtype, s->bits_significant};
    }

    void read(const fs::path& file, uint32_t page, uint32_t sample, Plane& out) const override {
        auto s = structure_of(file);
        check_page(file, *s, page);
        if (sample >= s->components)
            throw input_error(file.string(), "component " + std::to_string(sample) + " does not exist (frames have " +
                                                  std::to_string(s->components) + ")");
        const uint64_t chunk = s->frames[page];
        if (!chunk) throw input_error(file.string(), "frame " + std::to_string(page) + " is not in the chunk map");
        RandomAccessFile f(file);
        if (s->legacy) {
            const uint32_t per = s->legacy->components;
            nd2legacy::decode(f, *s->legacy, uint64_t(page) * s->legacy->channels + sample / per, sample % per, out);
            return;
        }
        const std::string chunk_name = "ImageDataSeq|" + std::to_string(page) + "!";
        const ChunkData d = chunk_at(f, chunk, chunk_name);
        if (d.length < 8) f.fail(chunk, chunk_name + " is too short to hold a frame");
        const uint64_t row_bytes = uint64_t(s->width) * s->components * s->bytes_per_sample;
        const uint64_t needed = uint64_t(s->width_bytes) * (s->height - 1) + row_bytes;
        std::string raw;
        if (s->zlib) {
            raw = inflate_frame(f, d, chunk_name, uint64_t(s->width_bytes) * s->height, needed);
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
    static void check_page(const fs::path& file, const Nd2Structure& s, uint32_t page) {
        if (page >= s.frames.size())
            throw input_error(file.string(), "frame " + std::to_string(page) + " does not exist (the file has " +
                                                  std::to_string(s.frames.size()) + " frames)");
    }

    static std::string inflate_frame(const RandomAccessFile& f, const ChunkData& d, const std::string& name,
                                     uint64_t full, uint64_t needed) {
        // zlib cannot expand more than about 1032:1; a larger claim is a corrupt or hostile file,
        // refused before the frame buffer is allocated.
        if (full > (d.length - 8) * 1100 + 4096)
            f.fail(d.offset + 8, name + ": a frame of " + std::to_string(full) + " bytes cannot come from " +
                                     std::to_string(d.length - 8) + " bytes of zlib data");
        const std::string packed = f.read_string(d.offset + 8, size_t(d.length - 8), "compressed frame");
        std::string out(size_t(full), '\0');
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

std::vector<std::string> nd2_files(const fs::path& source) {
    std::vector<std::string> names;
    for (auto& e : source::list(source))
        if (!e.is_dir && is_nd2_name(e.path)) names.push_back(e.name);
    std::sort(names.begin(), names.end());
    return names;
}

class Nd2Layout final : public LayoutReader {
public:
    std::string name() const override { return "nd2"; }
    std::string description() const override {
        return "Nikon NIS-Elements ND2: v3 (chunked: raw and zlib frames, LV metadata) and v2 (JPEG 2000 boxes, "
               "XML metadata); each file a well, XY positions sites; files of another frame size go to a plate of "
               "their own. Not yet: v3 files with XML metadata chunks (NIS 3.x), lossy v3 frames";
    }
    int detect(const fs::path& source) const override { return nd2_files(source).empty() ? 0 : 80; }

    ImageSet configure(const fs::path& source, const LayoutOptions&) const override {
        const auto files = nd2_files(source);
        if (files.empty()) throw input_error(source.string(), "no .nd2 files in this folder");
        ImageSet set;
        set.format = name();
        set.maps_samples = true;  // components are channels already
        PlateInfo plate{source.filename().string(), 0, 0};
        if (plate.name.empty()) plate.name = "plate";
        plate_format(files.size(), plate.rows, plate.cols);
        if (plate.rows == 0) throw input_error(source.string(), std::to_string(files.size()) + " ND2 files: more than the 1536 wells of a plate");
        set.plates.push_back(plate);
        std::map<std::string, int> channel_index;
        // Files of another frame size or pixel type go to a plate of their own; their wells keep the
        // file's position.
        container::PlatesBySize plates(set);
        for (size_t i = 0; i < files.size(); ++i) {
            auto s = structure_of(source / files[i]);
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
                                       " frames are missing from the chunk map; their planes are skipped");
        }
        if (set.planes.empty()) throw input_error(source.string(), "the ND2 files hold no readable frames");
        return set;
    }

private:
    // One well per file in file-name order, filling rows of the smallest standard plate.
    static void plate_format(size_t n, int& rows, int& cols) {
        const int formats[][2] = {{8, 12}, {16, 24}, {32, 48}};
        for (auto& f : formats)
            if (n <= size_t(f[0] * f[1])) {
                rows = f[0];
                cols = f[1];
                return;
            }
        rows = cols = 0;
    }
};

}  // namespace

std::unique_ptr<LayoutReader> make_nd2_layout() { return std::make_unique<Nd2Layout>(); }
std::unique_ptr<PixelDecoder> make_nd2_decoder() { return std::make_unique<Nd2Decoder>(); }

}  // namespace imx
