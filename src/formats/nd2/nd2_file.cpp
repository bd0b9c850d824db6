#include "formats/nd2/nd2_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "formats/nd2/nd2_meta.h"

namespace imx::nd2 {

namespace {

constexpr std::string_view kMapSignature = "ND2 CHUNK MAP SIGNATURE 0000001!";  // 32 bytes
constexpr std::string_view kFileMapName = "ND2 FILEMAP SIGNATURE NAME 0001!";
constexpr std::string_view kFramePrefix = "ImageDataSeq|";
constexpr uint64_t kHeader = 16;  // magic, name field length, data length
// The smallest frame chunk: its header, the name "ImageDataSeq|N!" and the 8-byte time stamp.
constexpr uint64_t kMinFrameChunk = kHeader + 15 + 8;

// ---- chunks ----------------------------------------------------------------------------------------

// The chunk name in the name field at `offset` (field length `len`): the bytes up to the first 0,
// read piecewise so a field that claims much but holds a short name costs one small read.
std::string name_field(const RandomAccessFile& f, uint64_t offset, uint64_t len) {
    std::string name;
    for (uint64_t done = 0; done < len;) {
        const size_t n = size_t(std::min<uint64_t>(len - done, 256));
        const std::string piece = f.read_string(offset + done, n, "chunk name");
        const size_t zero = piece.find('\0');
        name.append(piece, 0, zero);
        if (zero != std::string::npos) break;
        done += n;
    }
    return name;
}

std::map<std::string, uint64_t> read_map(const RandomAccessFile& f) {
    if (f.size() < kHeader + 40) f.fail(0, "too small to be an ND2 file (" + std::to_string(f.size()) + " bytes)");
    const std::string tail = f.read_string(f.size() - 40, 40, "chunk map signature");
    if (std::string_view(tail).substr(0, 32) != kMapSignature)
        f.fail(f.size() - 40, "no ND2 chunk map signature at the end of the file (truncated, or still being written?)");
    const uint64_t map_offset = container::load_le<uint64_t>(reinterpret_cast<const unsigned char*>(tail.data()) + 32);
    if (map_offset >= f.size()) f.fail(f.size() - 8, "chunk map offset " + std::to_string(map_offset) + " is past the end of the file");
    const ChunkData d = chunk_at(f, map_offset, kFileMapName);
    const std::string map = f.read_string(d.offset, size_t(d.length), "chunk map");
    std::map<std::string, uint64_t> chunks;
    size_t pos = 0;
    while (pos < map.size()) {
        const size_t bang = map.find('!', pos);
        if (bang == std::string::npos) f.fail(d.offset + pos, "chunk map entry without a name ending in '!'");
        std::string name = map.substr(pos, bang + 1 - pos);
        pos = bang + 1;
        if (name == kMapSignature) break;
        if (map.size() - pos < 16) f.fail(d.offset + pos, "chunk map entry '" + name + "' is cut short");
        const uint64_t off = container::load_le<uint64_t>(reinterpret_cast<const unsigned char*>(map.data()) + pos);
        pos += 16;
        if (off >= f.size())
            f.fail(d.offset + pos - 16, "chunk map entry '" + name + "' points to offset " + std::to_string(off) +
                                            ", past the end of the file");
        chunks.emplace(std::move(name), off);
    }
    return chunks;
}

// Chunks found by their headers. The data of every chunk found is skipped, so pixel values that
// happen to look like a chunk header are never taken for one; a later copy of a name wins.
std::map<std::string, uint64_t> scan_chunks(const RandomAccessFile& f) {
    static constexpr std::string_view magic("\xDA\xCE\xBE\x0A", 4);  // kChunkMagic, little-endian
    std::map<std::string, uint64_t> chunks;
    const uint64_t size = f.size();
    uint64_t pos = 0;
    while (pos + kHeader <= size) {
        // Chunks are usually packed or 4096-byte aligned: start with a small window.
        uint64_t found = UINT64_MAX;
        size_t want = 4096 + kHeader;
        for (uint64_t at = pos; at + 4 <= size;) {
            const size_t n = size_t(std::min<uint64_t>(want, size - at));
            const std::string window = f.read_string(at, n, "chunk scan");
            if (const size_t hit = window.find(magic); hit != std::string::npos) {
                found = at + hit;
                break;
            }
            at += n - 3;  // a magic may straddle two windows
            want = std::min<size_t>(want * 2, size_t(1) << 20);
        }
        if (found == UINT64_MAX || found + kHeader > size) break;
        unsigned char head[kHeader];
        f.read_at(found, head, kHeader, "chunk header");
        const uint64_t name_len = container::load_le<uint32_t>(head + 4), data_len = container::load_le<uint64_t>(head + 8);
        uint64_t end = 0;
        const bool fits = name_len > 0 && !container::add_overflows(found + kHeader + name_len, data_len, end) && end <= size;
        const std::string name = fits ? name_field(f, found + kHeader, name_len) : std::string();
        if (name.size() > 1 && name.back() == '!' && name.find('!') == name.size() - 1) {
            chunks[name] = found;
            pos = end;
        } else {
            pos = found + 1;
        }
    }
    return chunks;
}

struct ChunkIndex {
    std::map<std::string, uint64_t> offsets;
    std::string damage;  // why the chunk map was not used; empty when it was
};

std::optional<uint64_t> frame_number(const std::string& name) {
    if (name.rfind(kFramePrefix, 0) != 0 || name.size() < kFramePrefix.size() + 2) return std::nullopt;
    const std::string num = name.substr(kFramePrefix.size(), name.size() - kFramePrefix.size() - 1);
    if (num.find_first_not_of("0123456789") != std::string::npos || num.size() > 19) return std::nullopt;
    return std::stoull(num);
}

// The chunk map, checked where it is cheap to check: every metadata chunk and the first and last
// frame must be where it says. Otherwise the chunks are found by a scan.
ChunkIndex index_chunks(const RandomAccessFile& f) {
    ChunkIndex ix;
    try {
        ix.offsets = read_map(f);
        std::optional<std::pair<uint64_t, std::string>> first, last;
        for (auto& [name, off] : ix.offsets) {
            if (auto n = frame_number(name)) {
                if (!first || *n < first->first) first = {*n, name};
                if (!last || *n > last->first) last = {*n, name};
            } else if (name.rfind("Image", 0) == 0) {
                chunk_at(f, off, name);
            }
        }
        if (first) chunk_at(f, ix.offsets[first->second], first->second);
        if (last) chunk_at(f, ix.offsets[last->second], last->second);
        return ix;
    } catch (const Error& e) {
        if (e.kind() != Error::Kind::input) throw;
        ix.damage = e.what();
        if (ix.damage.rfind(f.path() + ": ", 0) == 0) ix.damage.erase(0, f.path().size() + 2);
    }
    ix.offsets = scan_chunks(f);
    return ix;
}

// A metadata chunk in either variant: the LV name first, then the XML one.
std::unique_ptr<MetaDoc> read_meta(const RandomAccessFile& f, const ChunkIndex& ix, const std::string& lv_name,
                                   const std::string& xml_name) {
    for (const std::string& name : {lv_name, xml_name}) {
        auto it = ix.offsets.find(name);
        if (it == ix.offsets.end()) continue;
        const ChunkData d = chunk_at(f, it->second, name);
        return std::make_unique<MetaDoc>(f.read_string(d.offset, size_t(d.length), "metadata chunk"), f.path(), d.offset, name);
    }
    return nullptr;
}

// ---- metadata -----------------------------------------------------------------------------------

// Metadata numbers are doubles from an untrusted file: converting an out-of-range double to an
// integer is undefined behaviour, so range-check first.
int as_int(std::optional<double> v, int fallback) {
    if (!v || !(*v >= -1e9 && *v <= 1e9)) return fallback;
    return int(*v);
}

// Loop counts are u32 fields (uiCount).
uint64_t as_count(const RandomAccessFile& f, std::optional<double> v) {
    if (!v || !(*v >= 0)) return 0;
    if (*v > double(UINT32_MAX)) throw input_error(f.path(), "experiment loop count " + std::to_string(*v) + " is not a 32-bit count");
    return uint64_t(*v);
}

// Flags of a list (pItemValid, pPeriodValid): a byte array (LV) or a level of numbers (XML).
std::vector<bool> flags_of(const std::optional<Meta>& list) {
    std::vector<bool> out;
    if (!list) return out;
    if (list->kind() == Meta::Kind::bytes) {
        for (char c : list->text()) out.push_back(c != 0);
    } else {
        list->for_each([&](const Meta& m) {
            out.push_back(m.number().value_or(0) != 0);
            return true;
        });
    }
    return out;
}

// Reads the experiment loops, outermost first: the experiment level, then ppNextLevelEx's first
// level, and so on. Every next level lies inside the previous one, so the walk ends.
void read_loops(const RandomAccessFile& f, std::optional<Meta> experiment, Structure& s) {
    while (experiment) {
        std::optional<Meta> pars = experiment->child("uLoopPars");
        // XML files wrap the parameters in a one-item list.
        if (pars && !pars->child("uiCount"))
            if (auto inner = pars->first_level(); inner && inner->child("uiCount")) pars = inner;
        const int type = as_int(experiment->num("eType"), 0);
        uint64_t count = pars ? as_count(f, pars->num("uiCount")) : 0;
        if (type == 8 && pars) {  // NETimeLoop: periods, each with its own count, some disabled
            std::vector<uint64_t> periods;
            if (auto p = pars->child("pPeriod"))
                p->for_each([&](const Meta& m) {
                    periods.push_back(m.is_level() ? as_count(f, m.num("uiCount")) : 0);
                    return true;
                });
            std::vector<bool> valid = flags_of(pars->child("pPeriodValid"));
            if (valid.size() != periods.size()) valid.assign(periods.size(), true);
            uint64_t total = 0;
            for (size_t i = 0; i < periods.size(); ++i) total += valid[i] ? periods[i] : 0;
            if (total) count = total;
        }
        std::vector<std::array<std::optional<double>, 3>> points;
        if (type == 2 && pars) {  // XY positions, some possibly unselected (pItemValid)
            if (auto pts = pars->child("Points"))
                pts->for_each([&](const Meta& p) {
                    if (p.is_level()) points.push_back({p.num("dPosX"), p.num("dPosY"), p.num("dPosZ")});
                    return true;
                });
            if (!count) count = points.size();
            const std::vector<bool> keep = flags_of(experiment->child("pItemValid"));
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
        // A spectral (lambda) loop's planes are the components of each frame, not frames.
        if (count > 1 && type != 6) {
            if (count > UINT32_MAX) throw input_error(f.path(), "experiment loop of " + std::to_string(count) + " steps");
            Axis axis = Axis::time;
            if (type == 2 || type == 3) axis = Axis::xy;
            else if (type == 4) axis = Axis::z;
            else if (type != 1 && type != 8)
                s.warnings.push_back(f.path() + ": experiment loop type " + std::to_string(type) + " (" +
                                     std::to_string(count) + " steps) is read as time points");
            s.loops.push_back({axis, uint32_t(count)});
            if (axis == Axis::xy && s.positions.empty() && points.size() == count) s.positions = points;
            if (axis == Axis::z && pars && !s.z_step) {
                const double step = std::abs(pars->num("dZStep").value_or(0));
                if (step > 0 && std::isfinite(step)) s.z_step = step;
            }
            if (axis == Axis::time && pars && !s.time_interval_s) {
                const double ms = pars->num("dPeriod").value_or(0);
                if (ms > 0 && std::isfinite(ms)) s.time_interval_s = ms / 1000;
            }
        }
        auto next = experiment->child("ppNextLevelEx");
        experiment = next ? next->first_level() : std::nullopt;
    }
}

// Name of component `c` of a picture plane of `k` components: the plane's name, or for colour
// planes the name and _R, _G, _B (_A), as for CZI colour subblocks.
std::string component_name(const std::string& plane, uint64_t c, uint64_t k) {
    static const char* const kRgba[] = {"R", "G", "B", "A"};
    if (k == 1) return plane;
    const std::string suffix = k <= 4 ? kRgba[c] : std::to_string(c + 1);
    return plane.empty() ? suffix : plane + "_" + suffix;
}

// Channel names per component: the picture planes' descriptions (sPlaneNew, or sPlane in older
// files), ordered by their index a0, a1, ...; a plane of several components (RGB) names each one.
// Empty names when the planes do not account for the frame's components.
std::vector<std::string> channel_names(const std::optional<Meta>& picture, uint32_t components) {
    std::map<uint64_t, std::pair<std::string, uint64_t>> by_index;  // index -> name, components
    if (picture)
        if (auto planes = picture->child("sPicturePlanes")) {
            auto list = planes->child("sPlaneNew");
            if (!list) list = planes->child("sPlane");
            uint64_t fallback = 0;
            if (list)
                list->for_each([&](const Meta& p) {
                    uint64_t idx = fallback++;
                    const std::string& n = p.name();
                    if (n.size() > 1 && n.size() < 12 && n[0] == 'a' && n.find_first_not_of("0123456789", 1) == std::string::npos)
                        idx = std::stoull(n.substr(1));
                    const double comp = p.is_level() ? p.num("uiCompCount").value_or(0) : 0;
                    by_index[idx] = {p.is_level() ? p.str("sDescription") : "",
                                     comp >= 1 && comp <= components ? uint64_t(comp) : 0};
                    return true;
                });
        }
    uint64_t listed = 0;
    bool counts_known = true;
    for (auto& [_, v] : by_index) {
        listed += v.second;
        counts_known = counts_known && v.second > 0;
    }
    const uint64_t planes = by_index.size();
    // Components per plane: as the planes list them, else the same for every plane.
    const bool per_plane = counts_known && listed == components;
    if (!per_plane && (!planes || components % planes)) return std::vector<std::string>(components);
    std::vector<std::string> names;
    for (auto& [_, v] : by_index) {
        const uint64_t k = per_plane ? v.second : components / planes;
        for (uint64_t c = 0; c < k; ++c) names.push_back(component_name(v.first, c, k));
    }
    return names;
}

std::optional<double> positive(std::optional<double> v) {
    if (v && *v > 0 && std::isfinite(*v)) return v;
    return std::nullopt;
}

// Version 2: the JPEG 2000 box file (nd2_legacy.h), in the same structure as version 3 files.
std::shared_ptr<const Structure> parse_legacy(const RandomAccessFile& f) {
    auto info = std::make_shared<const nd2legacy::Info>(nd2legacy::parse(f));
    auto s = std::make_shared<Structure>();
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
    for (auto& name : info->channel_names)
        for (uint32_t k = 0; k < info->components; ++k) s->channel_names.push_back(component_name(name, k, info->components));
    s->pixel_size = info->pixel_size;
    s->z_step = info->z_step;
    s->warnings = info->warnings;
    return s;
}

}  // namespace

ChunkData chunk_at(const RandomAccessFile& f, uint64_t offset, std::string_view name) {
    unsigned char head[kHeader];
    f.read_at(offset, head, sizeof head, "chunk header");
    const std::string what = "chunk " + std::string(name);
    if (container::load_le<uint32_t>(head) != kChunkMagic)
        f.fail(offset, what + " does not start with the ND2 chunk magic (damaged chunk map?)");
    const uint64_t name_len = container::load_le<uint32_t>(head + 4), data_len = container::load_le<uint64_t>(head + 8);
    // The name field is the name and zero padding, as long as the file allows.
    if (name_len < name.size())
        f.fail(offset, what + ": the name field of " + std::to_string(name_len) + " bytes is shorter than the name");
    if (f.read_string(offset + kHeader, name.size(), "chunk name") != name)
        f.fail(offset, "the chunk here is not " + std::string(name) + " (damaged chunk map?)");
    const ChunkData d{offset + kHeader + name_len, data_len};
    if (!f.contains(d.offset, d.length))
        f.fail(offset, what + " claims " + std::to_string(data_len) + " bytes of data after a name field of " +
                           std::to_string(name_len) + " bytes, past the end of the file (" + std::to_string(f.size()) +
                           " bytes; truncated?)");
    return d;
}

void Structure::coords(uint64_t seq, uint32_t& site, uint32_t& t, uint32_t& z) const {
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

std::shared_ptr<const Structure> parse(const RandomAccessFile& f) {
    unsigned char head[12] = {};
    f.read_at(0, head, 4, "file header");
    if (container::load_le<uint32_t>(head) != kChunkMagic) {
        if (f.size() >= 12) f.read_at(0, head, 12, "file header");
        if (nd2legacy::is_jp2(head, 12)) return parse_legacy(f);
        throw input_error(f.path(), "not an ND2 file (no chunk magic 0x0ABECEDA at the start)");
    }
    auto s = std::make_shared<Structure>();
    const ChunkIndex ix = index_chunks(f);
    const std::string damaged = ix.damage.empty() ? "" : " (the chunk map is damaged: " + ix.damage + ")";
    if (!ix.damage.empty())
        s->warnings.push_back(f.path() + ": the chunk map is damaged (" + ix.damage +
                              "); the chunks were found by scanning the file");

    // Geometry. Every field is a u32 of the format; what bounds them is that a frame must fit in
    // the file (raw) or come from it at zlib's maximum ratio.
    auto attrs_doc = read_meta(f, ix, "ImageAttributesLV!", "ImageAttributes!");
    if (!attrs_doc) throw input_error(f.path(), "no ImageAttributesLV! or ImageAttributes! chunk: frame geometry unknown" + damaged);
    const std::optional<Meta> a = attrs_doc->content("SLxImageAttributes");
    if (!a) throw input_error(f.path(), "the image attributes chunk holds no attributes");
    auto need_uint = [&](const char* key, double lo, double hi) {
        auto v = a->num(key);
        if (!v) throw input_error(f.path(), std::string("image attribute ") + key + " is missing");
        if (!(*v >= lo && *v <= hi) || *v != std::floor(*v))
            throw input_error(f.path(), std::string("image attribute ") + key + " = " + std::to_string(*v) +
                                            " is outside " + std::to_string(uint64_t(lo)) + ".." + std::to_string(uint64_t(hi)));
        return uint32_t(*v);
    };
    s->width = need_uint("uiWidth", 1, UINT32_MAX);
    s->height = need_uint("uiHeight", 1, UINT32_MAX);
    s->components = a->num("uiComp") ? need_uint("uiComp", 1, UINT32_MAX) : 1;
    const uint32_t bits = need_uint("uiBpcInMemory", 8, 32);
    s->bits_significant = a->num("uiBpcSignificant") ? int(need_uint("uiBpcSignificant", 0, 32)) : 0;
    const int pixel_type = as_int(a->num("ePixelType"), 1);
    if (bits == 8) s->dtype = DType::u8;
    else if (bits == 16) s->dtype = DType::u16;
    else if (bits == 32) s->dtype = pixel_type == 3 ? DType::f32 : DType::u32;
    else throw input_error(f.path(), "unsupported bits per component in memory: " + std::to_string(bits) + " (8, 16 and 32 are read)");
    s->bytes_per_sample = bits / 8;
    uint64_t row_bytes = 0;
    if (container::mul_overflows(uint64_t(s->width) * s->components, s->bytes_per_sample, row_bytes))
        throw input_error(f.path(), "a row of " + std::to_string(s->width) + " pixels x " + std::to_string(s->components) +
                                        " components overflows 64 bits");
    s->width_bytes = a->num("uiWidthBytes") ? need_uint("uiWidthBytes", 1, UINT32_MAX)
                                            : uint32_t(std::min<uint64_t>(row_bytes, UINT32_MAX));
    if (s->width_bytes < row_bytes)
        throw input_error(f.path(), "uiWidthBytes " + std::to_string(s->width_bytes) + " is smaller than a row of " +
                                        std::to_string(s->width) + " pixels x " + std::to_string(s->components) +
                                        " components (" + std::to_string(row_bytes) + " bytes)");
    const int compression = as_int(a->num("eCompression"), 2);
    if (compression == 0) s->zlib = true;
    else if (compression == 1)
        throw input_error(f.path(), "lossy-compressed ND2 frames (eCompression 1) are not supported");
    else if (compression != 2)
        throw input_error(f.path(), "unknown frame compression eCompression=" + std::to_string(compression));
    const uint64_t frame_bytes = uint64_t(s->width_bytes) * (s->height - 1) + row_bytes;  // < 2^64: both < 2^32
    const uint64_t room = f.size() < kMinFrameChunk ? 0 : f.size() - kMinFrameChunk;
    if (!s->zlib && frame_bytes > room)
        throw input_error(f.path(), "frames of " + std::to_string(frame_bytes) + " bytes (" + std::to_string(s->width) + "x" +
                                        std::to_string(s->height) + ", rows of " + std::to_string(s->width_bytes) +
                                        " bytes) cannot fit in the file's " + std::to_string(f.size()) + " bytes");
    if (s->zlib && frame_bytes / kZlibMaxRatio + (frame_bytes % kZlibMaxRatio != 0) > room)
        throw input_error(f.path(), "zlib frames of " + std::to_string(frame_bytes) + " bytes cannot come from the file's " +
                                        std::to_string(f.size()) + " bytes (zlib packs at most 1032:1)");
    if (a->num("uiTileWidth").value_or(s->width) != s->width || a->num("uiTileHeight").value_or(s->height) != s->height)
        s->warnings.push_back(f.path() + ": tiled frame attributes are ignored (frames read as whole images)");

    // Frames present, by sequence number. Each is a chunk of at least kMinFrameChunk bytes, which
    // bounds the sequence numbers, and with them the per-frame table, by the file size.
    const uint64_t max_frames = f.size() / kMinFrameChunk;
    const uint64_t recorded = a->num("uiSequenceCount") ? need_uint("uiSequenceCount", 0, UINT32_MAX) : 0;
    std::map<uint64_t, uint64_t> frames;
    for (auto& [name, off] : ix.offsets)
        if (auto n = frame_number(name); n && *n < max_frames) frames[*n] = off;
    if (frames.empty()) throw input_error(f.path(), "no image frames (ImageDataSeq chunks) in the file" + damaged);
    // Frames recorded: the attribute, or the highest present; those the file cannot hold are missing.
    const uint64_t seq_count = std::max<uint64_t>(recorded, frames.rbegin()->first + 1);
    s->frames.assign(size_t(std::min(seq_count, max_frames)), 0);
    for (auto& [i, off] : frames) s->frames[size_t(i)] = off;
    // Every plane costs a record in the catalog: a file may not describe more planes than bytes.
    uint64_t planes = 0;
    if (container::mul_overflows(frames.size(), s->components, planes) || planes > f.size())
        throw input_error(f.path(), std::to_string(frames.size()) + " frames of " + std::to_string(s->components) +
                                        " components are more planes than the file has bytes");
    if (s->frames.size() > UINT32_MAX)  // the catalog numbers a file's frames with 32 bits
        throw input_error(f.path(), "frame numbers above 2^32 (ImageDataSeq|" + std::to_string(s->frames.size() - 1) + "!)");

    // Loops and names.
    if (auto meta = read_meta(f, ix, "ImageMetadataLV!", "ImageMetadata!")) read_loops(f, meta->content("SLxExperiment"), *s);
    uint64_t described = 1;
    for (auto& l : s->loops)
        if (container::mul_overflows(described, l.count, described))
            throw input_error(f.path(), "the experiment loops describe more than 2^64 frames");
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

    auto seq_meta = read_meta(f, ix, "ImageMetadataSeqLV|0!", "ImageMetadataSeq|0!");
    const std::optional<Meta> picture = seq_meta ? seq_meta->content("SLxPictureMetadata") : std::nullopt;
    s->channel_names = channel_names(picture, s->components);
    container::make_unique_names(s->channel_names);

    if (auto cal = read_meta(f, ix, "ImageCalibrationLV|0!", "ImageCalibration|0!"))
        if (auto c = cal->content("SLxCalibration")) s->pixel_size = positive(c->num("dCalibration"));
    if (!s->pixel_size && picture) s->pixel_size = positive(picture->num("dCalibration"));
    return s;
}

}  // namespace imx::nd2
