// Writes chunked ND2 files for the tests in the layouts of three NIS-Elements generations, as the
// public format notes (tlambert03/nd2, Bio-Formats) and real files describe them:
//
// - nis3_xml: "Ver2.1", metadata as XML variants (ImageAttributes!, ImageMetadata!,
//   ImageMetadataSeq|0!, channel list sPlane, the pixel size in the picture metadata), chunks
//   packed back to back.
// - nis4_lv: "Ver3.0", binary LV metadata (ImageAttributesLV!, ImageMetadataLV!,
//   ImageMetadataSeqLV|0!, ImageCalibrationLV|0!), chunks packed back to back.
// - nis5_aligned, modelled on files of NIS-Elements 5.42 (2023 build) acquired in 2025: every
//   chunk starts and ends on a 4096-byte boundary, its name field padded with zeros to get there
//   (a frame's pixels start on the boundary: name field 4072), at least 20 bytes of padding, so the
//   file map's name field is 32 + 4096 = 4128 bytes; CustomData chunks around the image chunks, the
//   attributes last, map entries in descending name order, the trailer inside the map's data.
//
// Pixel (seq, component, x, y) is nd2_value(); rows carry `padding` bytes of 0xEE after the pixels.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace imx::test {

enum class Nd2Layout { nis3_xml, nis4_lv, nis5_aligned };

struct Nd2Loop {
    int type;        // eType: 1 time, 2 XY positions, 4 Z, 6 lambda (components), 8 NE time
    uint32_t count;  // for an NE time loop: the count of each of two periods
    double step = 0; // Z step (um) or period (ms)
};

struct Nd2Spec {
    Nd2Layout layout = Nd2Layout::nis4_lv;
    uint32_t width = 5, height = 3, comp = 2, bits = 16;
    uint32_t padding = 4;  // bytes after each row
    bool zlib = false;
    std::vector<Nd2Loop> loops = {{2, 2}, {4, 2, 1.5}};  // outermost first
    std::vector<std::string> names = {"DAPI", "GFP"};    // picture planes
    std::vector<uint32_t> plane_components;  // uiCompCount per picture plane; empty: not written
    std::vector<bool> xy_valid;              // pItemValid of the XY loop; empty: not written
    double calibration = 0.325;
    std::vector<uint32_t> missing;  // frames not written (acquisition stopped early)
    // Called on every chunk's data before the chunks are laid out (hostile values).
    std::function<void(const std::string& name, std::string& data)> edit;
};

// Frames the loops describe (a lambda loop's planes are components, an NE time loop has two periods).
inline uint32_t nd2_frames(const Nd2Spec& s) {
    uint32_t n = 1;
    for (auto& l : s.loops) {
        if (l.type == 2 && !s.xy_valid.empty()) n *= uint32_t(std::count(s.xy_valid.begin(), s.xy_valid.end(), true));
        else n *= l.type == 6 ? 1 : l.type == 8 ? 2 * l.count : l.count;
    }
    return n;
}

inline uint32_t nd2_value(uint32_t seq, uint32_t c, uint32_t x, uint32_t y, uint32_t bits) {
    const uint32_t v = seq * 1000 + c * 100 + y * 10 + x;
    return bits >= 32 ? v : v & ((1u << bits) - 1);
}

// Where things are in a written file.
struct Nd2Offsets {
    std::vector<uint64_t> frames;  // chunk offset per written frame, in frame order
    uint64_t map = 0;              // the file map chunk
};

namespace nd2w {

template <class T> std::string le(T v) {
    std::string s(sizeof v, '\0');
    std::memcpy(s.data(), &v, sizeof v);
    return s;
}

// A metadata item, written as LV or as XML.
struct Item {
    enum Kind { u32, f64, text, level, bytes } kind;
    std::string name, runtype;  // runtype: the XML class of a level
    double number = 0;
    std::string str;
    std::vector<Item> items;
};
inline Item u32(const std::string& n, uint32_t v) { return {Item::u32, n, "", double(v), "", {}}; }
inline Item f64(const std::string& n, double v) { return {Item::f64, n, "", v, "", {}}; }
inline Item text(const std::string& n, const std::string& v) { return {Item::text, n, "", 0, v, {}}; }
inline Item level(const std::string& n, std::vector<Item> items, const std::string& runtype = "CLxListVariant") {
    return {Item::level, n, runtype, 0, "", std::move(items)};
}
inline Item flags(const std::string& n, const std::vector<bool>& v) {
    Item i{Item::bytes, n, "", 0, "", {}};
    for (bool b : v) i.str += char(b ? 1 : 0);
    return i;
}

inline std::string utf16z(const std::string& ascii) {
    std::string s;
    for (char c : ascii) s += std::string{c, '\0'};
    return s + std::string(2, '\0');
}

inline std::string lv(const Item& i) {
    const uint8_t type = i.kind == Item::u32 ? 3 : i.kind == Item::f64 ? 6 : i.kind == Item::text ? 8 : i.kind == Item::bytes ? 9 : 11;
    std::string head = std::string(1, char(type)) + char(i.name.size() + 1) + utf16z(i.name);
    switch (i.kind) {
        case Item::u32: return head + le(uint32_t(i.number));
        case Item::f64: return head + le(i.number);
        case Item::text: return head + utf16z(i.str);
        case Item::bytes: return head + le(uint64_t(i.str.size())) + i.str;
        case Item::level: {
            std::string body;
            for (auto& c : i.items) body += lv(c);
            const uint64_t length = head.size() + 12 + body.size();  // from the item start to the offset table
            return head + le(uint32_t(i.items.size())) + le(length) + body + std::string(i.items.size() * 8, '\0');
        }
    }
    return head;
}

inline std::string xml_escape(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '&') out += "&amp;";
        else if (c == '<') out += "&lt;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

inline std::string xml(const Item& i) {
    auto attr = [&](const char* runtype, const std::string& value) {
        return "<" + i.name + " runtype=\"" + runtype + "\" value=\"" + xml_escape(value) + "\"/>";
    };
    char num[40];
    switch (i.kind) {
        case Item::u32: std::snprintf(num, sizeof num, "%u", uint32_t(i.number)); return attr("lx_uint32", num);
        case Item::f64: std::snprintf(num, sizeof num, "%.17g", i.number); return attr("double", num);
        case Item::text: return attr("CLxStringW", i.str);
        case Item::bytes: {  // XML lists flags as a list of bools
            std::string out = "<" + i.name + " runtype=\"CLxListVariant\">";
            for (char c : i.str) out += std::string("<no_name runtype=\"bool\" value=\"") + (c ? "true" : "false") + "\"/>";
            return out + "</" + i.name + ">";
        }
        case Item::level: {
            std::string out = "<" + i.name + " runtype=\"" + i.runtype + "\">";
            for (auto& c : i.items) out += xml(c);
            return out + "</" + i.name + ">";
        }
    }
    return {};
}

// The chunk's content: `top` named for LV, "no_name" in a <variant> for XML.
inline std::string encode(const Nd2Spec& s, Item top) {
    if (s.layout != Nd2Layout::nis3_xml) return lv(top);
    top.runtype = top.name;
    top.name = "no_name";
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><variant version=\"1.0\">" + xml(top) + "</variant>" + std::string(3, '\0');
}

}  // namespace nd2w

inline std::string make_nd2(const Nd2Spec& s, Nd2Offsets* where = nullptr) {
    using namespace nd2w;
    const bool xml = s.layout == Nd2Layout::nis3_xml, aligned = s.layout == Nd2Layout::nis5_aligned;
    const std::string lvs = xml ? "" : "LV";
    const uint32_t bytes = s.bits / 8, width_bytes = s.width * s.comp * bytes + s.padding, frames = nd2_frames(s);

    // Metadata.
    Item attrs = level("SLxImageAttributes",
                       {u32("uiWidth", s.width), u32("uiWidthBytes", width_bytes), u32("uiHeight", s.height),
                        u32("uiComp", s.comp), u32("uiBpcInMemory", s.bits), u32("uiBpcSignificant", s.bits == 16 ? 12 : s.bits),
                        u32("uiSequenceCount", frames - uint32_t(s.missing.size())), u32("ePixelType", 1),
                        u32("eCompression", s.zlib ? 0 : 2), u32("uiTileWidth", s.width), u32("uiTileHeight", s.height)},
                       "SLxImageAttributes");
    std::vector<Item> experiment_levels;
    for (auto& l : s.loops) {
        std::vector<Item> pars = {u32("uiCount", l.type == 8 ? 2 * l.count : l.count)};
        if (l.type == 4) pars.push_back(f64("dZStep", l.step));
        if (l.type == 1) pars.push_back(f64("dPeriod", l.step));
        if (l.type == 2) {
            std::vector<Item> points;
            for (uint32_t i = 0; i < l.count; ++i)
                points.push_back(level("no_name", {f64("dPosX", 100.0 + i), f64("dPosY", -5.0), f64("dPosZ", 7.0)}, "LxPoint"));
            pars.push_back(level("Points", points));
        }
        if (l.type == 8) {
            pars.push_back(level("pPeriod", {level("no_name", {u32("uiCount", l.count), f64("dPeriod", l.step)}, "Period"),
                                             level("no_name", {u32("uiCount", l.count), f64("dPeriod", l.step)}, "Period")}));
            pars.push_back(flags("pPeriodValid", {true, true}));
        }
        // XML files wrap the parameters in a one-item list.
        Item loop_pars = xml ? level("uLoopPars", {level("no_name", pars, "RLxExperiment.LoopPars")}) : level("uLoopPars", pars);
        std::vector<Item> items = {u32("eType", uint32_t(l.type)), loop_pars};
        if (l.type == 2 && !s.xy_valid.empty()) items.push_back(flags("pItemValid", s.xy_valid));
        experiment_levels.push_back(level("SLxExperiment", items, "RLxExperiment"));
    }
    for (size_t i = experiment_levels.size(); i-- > 1;)
        experiment_levels[i - 1].items.push_back(level("ppNextLevelEx", {[&] {
                                                           Item next = experiment_levels[i];
                                                           next.name = xml ? "no_name" : "i0000000000";
                                                           return next;
                                                       }()}));
    std::vector<Item> planes;
    for (size_t i = 0; i < s.names.size(); ++i) {
        std::vector<Item> p = {text("sDescription", s.names[i])};
        if (i < s.plane_components.size()) p.push_back(u32("uiCompCount", s.plane_components[i]));
        planes.push_back(level("a" + std::to_string(i), p, "SLxPicturePlaneDesc"));
    }
    std::vector<Item> picture = {level("sPicturePlanes", {u32("uiCount", uint32_t(s.names.size())),
                                                          level(xml ? "sPlane" : "sPlaneNew", planes)},
                                       "SLxPicturePlanes")};
    if (xml) picture.insert(picture.begin(), f64("dCalibration", s.calibration));

    std::vector<std::pair<std::string, std::string>> chunks;  // in file order
    auto custom = [&](const std::string& name, size_t n) { chunks.push_back({name, std::string(n, '\x5A')}); };
    if (!s.loops.empty()) chunks.push_back({"ImageMetadata" + lvs + "!", encode(s, experiment_levels[0])});
    if (!xml) chunks.push_back({"ImageCalibrationLV|0!", encode(s, level("SLxCalibration", {f64("dCalibration", s.calibration)}))});
    chunks.push_back({"ImageMetadataSeq" + lvs + "|0!", encode(s, level("SLxPictureMetadata", picture, "SLxPictureMetadata"))});
    if (!aligned) chunks.push_back({"ImageAttributes" + lvs + "!", encode(s, attrs)});
    for (uint32_t seq = 0; seq < frames; ++seq) {
        if (std::find(s.missing.begin(), s.missing.end(), seq) != s.missing.end()) continue;
        std::string px;
        for (uint32_t y = 0; y < s.height; ++y) {
            for (uint32_t x = 0; x < s.width; ++x)
                for (uint32_t c = 0; c < s.comp; ++c) {
                    const uint32_t v = nd2_value(seq, c, x, y, s.bits);
                    px.append(reinterpret_cast<const char*>(&v), bytes);
                }
            px += std::string(s.padding, '\xEE');  // padding that must never show up in a plane
        }
        if (s.zlib) {
            uLongf n = compressBound(uLong(px.size()));
            std::string packed(n, '\0');
            compress(reinterpret_cast<Bytef*>(packed.data()), &n, reinterpret_cast<const Bytef*>(px.data()), uLong(px.size()));
            packed.resize(n);
            px = packed;
        }
        chunks.push_back({"ImageDataSeq|" + std::to_string(seq) + "!", le(double(seq) * 100) + px});
    }
    if (aligned) {
        custom("ImageTextInfoLV!", 300);
        custom("CustomData|AcqTimesCache!", 8 * frames);
        custom("CustomDataVar|AppInfo_V1_0!", 525);
        chunks.push_back({"ImageAttributesLV!", encode(s, attrs)});
    }

    if (s.edit)
        for (auto& [name, data] : chunks) s.edit(name, data);

    // A chunk: header, name field (the name, zero padded where the layout aligns), data.
    auto name_field = [&](const std::string& name, uint64_t data_len, uint64_t at) {
        uint64_t pad = 0;
        if (aligned) {
            pad = (4096 - (at + 16 + name.size() + data_len) % 4096) % 4096;
            if (pad < 20) pad += 4096;
        }
        return name + std::string(pad, '\0');
    };
    auto chunk = [&](std::string& file, const std::string& name, const std::string& data) {
        const std::string field = name_field(name, data.size(), file.size());
        file += le(uint32_t(0x0ABECEDA)) + le(uint32_t(field.size())) + le(uint64_t(data.size())) + field + data;
    };
    std::string file;
    chunk(file, "ND2 FILE SIGNATURE CHUNK NAME01!", (xml ? std::string("Ver2.1") : std::string("Ver3.0")) + std::string(58, '\0'));
    if (aligned) file.resize(4096, '\0');  // the first chunk is 112 bytes, then zeros up to the next page
    std::vector<std::pair<std::string, uint64_t>> entries;
    for (auto& [name, data] : chunks) {
        entries.push_back({name, file.size()});
        if (where && name.rfind("ImageDataSeq|", 0) == 0) where->frames.push_back(file.size());
        chunk(file, name, data);
    }
    if (aligned) std::sort(entries.begin(), entries.end(), [](auto& a, auto& b) { return a.first > b.first; });
    const uint64_t map_offset = file.size();
    std::string map;
    for (auto& entry : entries) {  // (a structured binding cannot be captured by clang 14's lambdas)
        const auto it = std::find_if(chunks.begin(), chunks.end(), [&](auto& c) { return c.first == entry.first; });
        map += entry.first + le(entry.second) + le(uint64_t(it->second.size()));
    }
    const std::string signature = "ND2 CHUNK MAP SIGNATURE 0000001!";
    map += signature + le(map_offset) + le(uint64_t(0));
    const std::string trailer = signature + le(map_offset);
    if (aligned) {
        // The map chunk (name field 32 + 4096) ends on a page boundary with the trailer in its data.
        const uint64_t used = 16 + 4128 + map.size() + trailer.size();
        map += std::string((4096 - used % 4096) % 4096, '\0') + trailer;
        file += le(uint32_t(0x0ABECEDA)) + le(uint32_t(4128)) + le(uint64_t(map.size())) +
                std::string("ND2 FILEMAP SIGNATURE NAME 0001!") + std::string(4096, '\0') + map;
    } else {
        chunk(file, "ND2 FILEMAP SIGNATURE NAME 0001!", map);
        file += trailer;
    }
    if (where) where->map = map_offset;
    return file;
}

}  // namespace imx::test
