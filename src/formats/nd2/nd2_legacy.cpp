#include "formats/nd2/nd2_legacy.h"

#include <openjpeg.h>
#include <pugixml.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

namespace imx::nd2legacy {

namespace {

constexpr char kMapSignature[] = "LABORATORY IMAGING ND BOX MAP 00";  // 32 bytes, no terminator in the file
// A decoded frame is held in memory whole: the limit TIFF and PNG planes have too. (A JPEG 2000
// codestream can shrink an empty frame far beyond any ratio, so the file size cannot bound it.)
constexpr uint64_t kMaxPlaneBytes = 4ull << 30;

uint32_t be32(const unsigned char* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint16_t be16(const unsigned char* p) { return uint16_t(p[0] << 8 | p[1]); }

struct Box {
    uint64_t data = 0, length = 0;  // content, after the 8-byte header
};

// The box at `offset`: its header checked against the file.
Box box_at(const container::RandomAccessFile& f, uint64_t offset, const char* what) {
    unsigned char h[8];
    f.read_at(offset, h, 8, what);
    const uint64_t len = be32(h);
    if (len < 8 || !f.contains(offset, len))
        f.fail(offset, std::string(what) + " box declares " + std::to_string(len) + " bytes, which do not fit the file");
    return {offset + 8, len - 8};
}

// Element names in the legacy XML carry a type prefix in lower case ("uiCount", "dCalibration",
// "sPicturePlanes"); the name proper is what follows.
std::string_view proper_name(const char* tag) {
    std::string_view s(tag);
    size_t i = 0;
    while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) ++i;
    return i < s.size() ? s.substr(i) : s;
}

// The first child named `name`, else the first such descendant (pugixml's walk, no recursion:
// metadata may nest as deep as its size allows).
pugi::xml_node find(const pugi::xml_node& under, std::string_view name) {
    for (auto n : under.children())
        if (proper_name(n.name()) == name) return n;
    return under.find_node([&](const pugi::xml_node& n) { return proper_name(n.name()) == name; });
}

std::optional<double> number(const pugi::xml_node& under, std::string_view name) {
    auto n = find(under, name);
    if (!n || !n.attribute("value")) return std::nullopt;
    char* end = nullptr;
    const char* v = n.attribute("value").value();
    double d = std::strtod(v, &end);
    if (end == v) return std::nullopt;
    return d;
}

void parse_xml(const container::RandomAccessFile& f, const Box& b, const char* what, pugi::xml_document& doc) {
    const std::string text = f.read_string(b.data, size_t(b.length), what);
    auto r = doc.load_buffer(text.data(), text.size(), pugi::parse_default, pugi::encoding_auto);
    if (!r) f.fail(b.data, std::string(what) + " metadata is not well-formed XML (" + r.description() + ")");
}

// "Dimensions: T(3) x XY(2) x λ(2) x Z(5)" -> loops (channels are not a loop here: each frame
// holds one codestream per channel).
std::vector<std::pair<Axis, uint32_t>> loops_from(const std::string& description) {
    std::vector<std::pair<Axis, uint32_t>> loops;
    size_t at = description.find("Dimensions:");
    if (at == std::string::npos) return loops;
    size_t end = description.find_first_of("\r\n", at);
    std::string line = description.substr(at + 11, end == std::string::npos ? std::string::npos : end - at - 11);
    size_t pos = 0;
    while ((pos = line.find('(', pos)) != std::string::npos) {
        size_t close = line.find(')', pos);
        if (close == std::string::npos) break;
        size_t start = line.rfind(' ', pos);
        std::string name = line.substr(start == std::string::npos ? 0 : start + 1, pos - (start == std::string::npos ? 0 : start + 1));
        if (!name.empty() && name.back() == '\'') name.pop_back();
        const std::string digits = line.substr(pos + 1, close - pos - 1);
        const unsigned long n = digits.empty() || digits.size() > 9 ? 0 : std::strtoul(digits.c_str(), nullptr, 10);
        if (n > 0) {
            if (name == "T") loops.push_back({Axis::time, uint32_t(n)});
            else if (name == "XY") loops.push_back({Axis::xy, uint32_t(n)});
            else if (name == "Z") loops.push_back({Axis::z, uint32_t(n)});
        }
        pos = close + 1;
    }
    return loops;
}

// OpenJPEG reads the codestream from memory.
struct Memory {
    const unsigned char* data;
    size_t size, pos;
};
OPJ_SIZE_T mem_read(void* buf, OPJ_SIZE_T n, void* user) {
    auto* m = static_cast<Memory*>(user);
    if (m->pos >= m->size) return OPJ_SIZE_T(-1);
    const size_t k = std::min<size_t>(n, m->size - m->pos);
    std::memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return k;
}
OPJ_OFF_T mem_skip(OPJ_OFF_T n, void* user) {
    auto* m = static_cast<Memory*>(user);
    if (n < 0) {
        if (uint64_t(-n) > m->pos) return -1;
        m->pos -= size_t(-n);
    } else {
        m->pos = size_t(std::min<uint64_t>(m->size, m->pos + uint64_t(n)));
    }
    return n;
}
OPJ_BOOL mem_seek(OPJ_OFF_T n, void* user) {
    auto* m = static_cast<Memory*>(user);
    if (n < 0 || uint64_t(n) > m->size) return OPJ_FALSE;
    m->pos = size_t(n);
    return OPJ_TRUE;
}
void on_opj_error(const char* msg, void* user) {
    auto* s = static_cast<std::string*>(user);
    if (s->empty()) {
        *s = msg;
        while (!s->empty() && (s->back() == '\n' || s->back() == ' ')) s->pop_back();
    }
}
void on_opj_quiet(const char*, void*) {}

}  // namespace

bool is_jp2(const unsigned char* head, size_t len) {
    static const unsigned char sig[12] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
    return len >= 12 && std::equal(sig, sig + 12, head);
}

Info parse(const container::RandomAccessFile& f) {
    Info info;
    const uint64_t size = f.size();
    if (size < 12 + 40 + 4) f.fail(0, "too short for an ND2 version 2 file");
    unsigned char tail[40];
    f.read_at(size - 40, tail, 40, "box map signature");
    if (std::memcmp(tail, kMapSignature, 32) != 0)
        f.fail(size - 40, "no \"LABORATORY IMAGING ND BOX MAP 00\" signature at the end: not an ND2 version 2 file, or "
                          "truncated");
    const uint64_t map_distance = container::load_le<uint64_t>(tail + 32);
    if (map_distance < 44 || map_distance > size)
        f.fail(size - 8, "box map position " + std::to_string(map_distance) + " bytes before the end lies outside the file");
    const uint64_t map_at = size - map_distance;
    unsigned char cnt[4];
    f.read_at(map_at, cnt, 4, "box map count");
    const uint64_t count = be32(cnt);
    if (count * 16 > map_distance - 4)
        f.fail(map_at, "box map declares " + std::to_string(count) + " boxes, more than its " +
                           std::to_string(map_distance - 4) + " bytes hold");
    const std::string map = f.read_string(map_at + 4, size_t(count * 16), "box map");
    std::map<std::string, std::vector<uint64_t>> boxes;
    for (uint64_t i = 0; i < count; ++i) {
        const auto* e = reinterpret_cast<const unsigned char*>(map.data()) + i * 16;
        std::string box_type(reinterpret_cast<const char*>(e), 4), lim_type(reinterpret_cast<const char*>(e) + 4, 4);
        const uint64_t offset = container::load_le<uint32_t>(e + 8);
        if (offset + 8 > size) f.fail(map_at + 4 + i * 16, "box map entry points past the end of the file");
        const bool jp2_box = box_type == "jP  " || box_type == "ftyp" || box_type == "jp2h";
        boxes[jp2_box ? box_type : lim_type].push_back(offset);
    }

    // Image header: jp2h holds ihdr = height, width, components, bits - 1.
    if (!boxes.count("jp2h")) f.fail(map_at, "the box map lists no jp2h (image header) box");
    const Box jp2h = box_at(f, boxes["jp2h"][0], "jp2h");
    if (jp2h.length < 8 + 14) f.fail(jp2h.data, "jp2h box is too short for an ihdr box");
    unsigned char ihdr[22];
    f.read_at(jp2h.data, ihdr, sizeof ihdr, "ihdr box");
    if (std::memcmp(ihdr + 4, "ihdr", 4) != 0) f.fail(jp2h.data, "jp2h box does not start with an ihdr box");
    info.height = be32(ihdr + 8);
    info.width = be32(ihdr + 12);
    info.components = be16(ihdr + 16);
    info.bits = (ihdr[18] & 0x7F) + 1u;
    if (info.width == 0 || info.height == 0 ||
        uint64_t(info.width) * info.height * ((info.bits + 7) / 8) * info.components > kMaxPlaneBytes)
        f.fail(jp2h.data, "frame size " + std::to_string(info.width) + " x " + std::to_string(info.height) + " x " +
                              std::to_string(info.components) + " components is empty or above the 4 GiB a frame may take");
    if (info.components == 0 || info.components > 4)
        f.fail(jp2h.data, std::to_string(info.components) + " components per frame (1 to 4 supported)");
    if (ihdr[18] & 0x80) f.fail(jp2h.data, "signed samples are not supported");
    if (info.bits > 16) f.fail(jp2h.data, std::to_string(info.bits) + "-bit samples are not supported (up to 16)");
    info.dtype = info.bits <= 8 ? DType::u8 : DType::u16;

    // Frame 0's metadata: channels, their names, pixel size.
    if (boxes.count("VIMD")) {
        pugi::xml_document doc;
        parse_xml(f, box_at(f, boxes["VIMD"][0], "VIMD"), "VIMD (frame metadata)", doc);
        info.pixel_size = number(doc, "Calibration");
        if (info.pixel_size && !(*info.pixel_size > 0 && std::isfinite(*info.pixel_size))) info.pixel_size.reset();
        if (auto planes = find(doc, "PicturePlanes")) {
            // A frame holds one codestream box per channel: the image boxes bound the count (below).
            if (auto n = number(planes, "Count"); n && *n >= 1 && *n <= UINT32_MAX) info.channels = uint32_t(*n);
            if (auto list = find(planes, "Plane"))
                for (auto p : list.children()) {
                    auto name = find(p, "OpticalConfigName");
                    if (info.channel_names.size() < info.channels)
                        info.channel_names.push_back(name ? name.attribute("value").value() : "");
                }
        }
    } else {
        info.warnings.push_back(f.path() + ": no VIMD metadata box; one channel, no pixel size");
    }
    if (info.components > 1 && info.channels > 1)
        f.fail(map_at, "frames with " + std::to_string(info.channels) + " channels of " +
                           std::to_string(info.components) + " components are not supported");

    // Dimensions and the z step from the text info.
    if (boxes.count("TINF")) {
        pugi::xml_document doc;
        parse_xml(f, box_at(f, boxes["TINF"][0], "TINF"), "TINF (text info)", doc);
        std::string description;
        struct Walk : pugi::xml_tree_walker {
            std::string& out;
            explicit Walk(std::string& o) : out(o) {}
            bool for_each(pugi::xml_node& n) override {
                std::string v = n.attribute("value").value();
                if (proper_name(n.name()) == "Text" && v.find("Dimensions:") != std::string::npos) {
                    out = v;
                    return false;
                }
                return true;
            }
        } walk(description);
        doc.traverse(walk);
        info.loops = loops_from(description);
        size_t z = description.find("Z Stack Loop:");
        if (z != std::string::npos) {
            size_t step = description.find("Step", z);
            if (step != std::string::npos && step < z + 80) {
                double d = std::strtod(description.c_str() + step + 4, nullptr);
                if (d > 0) info.z_step = d;
            }
        }
    }

    // Codestreams: LUNK boxes in map order, one per channel per frame.
    info.images = boxes.count("LUNK") ? boxes["LUNK"] : std::vector<uint64_t>{};
    if (info.images.empty()) f.fail(map_at, "the box map lists no image (LUNK) boxes");
    if (info.images.size() % info.channels)
        info.warnings.push_back(f.path() + ": " + std::to_string(info.images.size()) + " image boxes for " +
                                std::to_string(info.channels) + " channels; the last frame is incomplete and skipped");
    info.sequences = info.images.size() / info.channels;
    if (info.sequences == 0)
        f.fail(map_at, std::to_string(info.images.size()) + " image box(es) for " + std::to_string(info.channels) +
                           " channels: not one whole frame");
    uint64_t described = 1;
    for (auto& [axis, n] : info.loops)
        if (__builtin_mul_overflow(described, uint64_t(n), &described)) described = UINT64_MAX;
    if (info.loops.empty() || described != info.sequences) {
        if (!info.loops.empty())
            info.warnings.push_back(f.path() + ": the text info describes " + std::to_string(described) +
                                    " frames but the file holds " + std::to_string(info.sequences) +
                                    "; frames are taken as time-points");
        info.loops = {{Axis::time, uint32_t(std::min<uint64_t>(info.sequences, UINT32_MAX))}};
    }
    // Unique channel names, one per channel.
    info.channel_names.resize(info.channels);
    for (uint32_t c = 0; c < info.channels; ++c)
        if (info.channel_names[c].empty()) info.channel_names[c] = "C" + std::to_string(c + 1);
    container::make_unique_names(info.channel_names);
    return info;
}

void decode(const container::RandomAccessFile& f, const Info& info, uint64_t index, uint32_t component, Plane& out) {
    if (index >= info.images.size()) throw input_error(f.path(), "image box " + std::to_string(index) + " does not exist");
    if (component >= info.components)
        throw input_error(f.path(), "component " + std::to_string(component) + " does not exist");
    const Box b = box_at(f, info.images[index], "LUNK (image)");
    const std::string where = "image box at offset " + std::to_string(info.images[index]);
    const std::string code = f.read_string(b.data, size_t(b.length), "JPEG 2000 codestream");
    const auto* bytes = reinterpret_cast<const unsigned char*>(code.data());
    OPJ_CODEC_FORMAT format;
    if (code.size() >= 4 && bytes[0] == 0xFF && bytes[1] == 0x4F && bytes[2] == 0xFF && bytes[3] == 0x51)
        format = OPJ_CODEC_J2K;
    else if (is_jp2(bytes, code.size()))
        format = OPJ_CODEC_JP2;
    else
        throw input_error(f.path(), where + ": holds no JPEG 2000 codestream");

    Memory mem{bytes, code.size(), 0};
    std::string error;
    opj_stream_t* stream = opj_stream_create(1u << 16, OPJ_TRUE);
    opj_codec_t* codec = opj_create_decompress(format);
    opj_image_t* image = nullptr;
    auto cleanup = [&] {
        if (image) opj_image_destroy(image);
        if (codec) opj_destroy_codec(codec);
        if (stream) opj_stream_destroy(stream);
    };
    if (!stream || !codec) {
        cleanup();
        throw Error("OpenJPEG: cannot create a decoder");
    }
    opj_stream_set_user_data(stream, &mem, nullptr);
    opj_stream_set_user_data_length(stream, mem.size);
    opj_stream_set_read_function(stream, mem_read);
    opj_stream_set_skip_function(stream, mem_skip);
    opj_stream_set_seek_function(stream, mem_seek);
    opj_set_error_handler(codec, on_opj_error, &error);
    opj_set_warning_handler(codec, on_opj_quiet, nullptr);
    opj_set_info_handler(codec, on_opj_quiet, nullptr);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    bool ok = opj_setup_decoder(codec, &params) && opj_read_header(stream, codec, &image) && image;
    // The header's size decides the decoder's allocations: it must be the file's frame size before
    // anything is decoded.
    if (ok && (image->x1 - image->x0 != info.width || image->y1 - image->y0 != info.height ||
               image->numcomps != info.components)) {
        const std::string got = std::to_string(image->x1 - image->x0) + " x " + std::to_string(image->y1 - image->y0) +
                                " with " + std::to_string(image->numcomps) + " component(s)";
        cleanup();
        throw input_error(f.path(), where + ": codestream is " + got + ", the file's frames are " +
                                        std::to_string(info.width) + " x " + std::to_string(info.height) + " with " +
                                        std::to_string(info.components));
    }
    ok = ok && opj_decode(codec, stream, image) && opj_end_decompress(codec, stream);
    if (!ok || !image->comps[component].data || image->comps[component].w != info.width ||
        image->comps[component].h != info.height) {
        cleanup();
        throw input_error(f.path(), where + ": corrupt JPEG 2000 codestream" + (error.empty() ? "" : " (OpenJPEG: " + error + ")"));
    }
    const opj_image_comp_t& c = image->comps[component];
    out.allocate(info.dtype, info.width, info.height);
    const size_t n = size_t(info.width) * info.height;
    const int32_t top = info.dtype == DType::u8 ? 255 : 65535;
    if (info.dtype == DType::u8) {
        auto* dst = reinterpret_cast<uint8_t*>(out.data.data());
        for (size_t i = 0; i < n; ++i) dst[i] = uint8_t(std::clamp<int32_t>(c.data[i], 0, top));
    } else {
        auto* dst = reinterpret_cast<uint16_t*>(out.data.data());
        for (size_t i = 0; i < n; ++i) dst[i] = uint16_t(std::clamp<int32_t>(c.data[i], 0, top));
    }
    cleanup();
}

}  // namespace imx::nd2legacy
