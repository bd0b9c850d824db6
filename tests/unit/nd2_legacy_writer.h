// Writes ND2 version 2 files for the tests: a JPEG 2000 signature box, a jp2h/ihdr box, XML
// metadata boxes (VIMD, TINF), one JPEG 2000 codestream box (LUNK) per frame and channel, and the
// box map with its "LABORATORY IMAGING ND BOX MAP 00" trailer, laid out as tlambert03/nd2's
// documentation of the legacy format describes. Codestreams are encoded losslessly with OpenJPEG.
#pragma once

#include <openjpeg.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace imx::test {

struct Nd2LegacySpec {
    uint32_t width = 16, height = 12, components = 1, bits = 12;
    std::vector<std::string> channels = {"DAPI", "FITC"};
    std::string dimensions = "T(2) x XY(3) x \xCE\xBB(2)";  // the text info's "Dimensions:" line
    uint32_t frames = 6;
    double calibration = 0.5;
    std::string vimd;  // the VIMD box's XML instead of the one written from the fields above
    // Pixel value of (frame, channel, component, x, y).
    std::function<uint32_t(uint32_t, uint32_t, uint32_t, uint32_t, uint32_t)> value =
        [](uint32_t f, uint32_t c, uint32_t k, uint32_t x, uint32_t y) { return (f * 500 + c * 100 + k * 37 + y * 17 + x) % 4096; };
};

inline void put_be32(std::string& s, uint32_t v) {
    for (int i = 3; i >= 0; --i) s.push_back(char((v >> (8 * i)) & 0xFF));
}

inline std::string jp2_box(const char* type, const std::string& content) {
    std::string b;
    put_be32(b, uint32_t(content.size() + 8));
    b.append(type, 4);
    return b + content;
}

// One lossless J2K codestream of `comps` components of w x h at `bits` precision.
inline std::string encode_j2k(uint32_t w, uint32_t h, uint32_t comps, uint32_t bits,
                              const std::function<uint32_t(uint32_t, uint32_t, uint32_t)>& value) {
    std::vector<opj_image_cmptparm_t> params(comps);
    for (auto& p : params) {
        std::memset(&p, 0, sizeof p);
        p.dx = p.dy = 1;
        p.w = w;
        p.h = h;
        p.prec = bits;
        p.sgnd = 0;
    }
    opj_image_t* img = opj_image_create(comps, params.data(), comps == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
    if (!img) throw std::runtime_error("opj_image_create");
    img->x0 = img->y0 = 0;
    img->x1 = w;
    img->y1 = h;
    for (uint32_t k = 0; k < comps; ++k)
        for (uint32_t y = 0; y < h; ++y)
            for (uint32_t x = 0; x < w; ++x) img->comps[k].data[y * w + x] = OPJ_INT32(value(k, x, y));
    opj_cparameters_t cp;
    opj_set_default_encoder_parameters(&cp);
    cp.tcp_numlayers = 1;
    cp.tcp_rates[0] = 0;  // lossless
    cp.cp_disto_alloc = 1;
    cp.irreversible = 0;
    cp.numresolution = 2;
    cp.tcp_mct = comps == 3 ? 1 : 0;
    struct Out {
        std::string data;
        size_t pos = 0;
    } out;
    opj_codec_t* codec = opj_create_compress(OPJ_CODEC_J2K);
    opj_stream_t* stream = opj_stream_create(1u << 16, OPJ_FALSE);
    opj_stream_set_user_data(stream, &out, nullptr);
    opj_stream_set_write_function(stream, [](void* buf, OPJ_SIZE_T n, void* u) -> OPJ_SIZE_T {
        auto* o = static_cast<Out*>(u);
        if (o->data.size() < o->pos + n) o->data.resize(o->pos + n);
        std::memcpy(o->data.data() + o->pos, buf, n);
        o->pos += n;
        return n;
    });
    opj_stream_set_skip_function(stream, [](OPJ_OFF_T n, void* u) -> OPJ_OFF_T {
        auto* o = static_cast<Out*>(u);
        o->pos = size_t(OPJ_OFF_T(o->pos) + n);
        if (o->data.size() < o->pos) o->data.resize(o->pos);
        return n;
    });
    opj_stream_set_seek_function(stream, [](OPJ_OFF_T n, void* u) -> OPJ_BOOL {
        auto* o = static_cast<Out*>(u);
        o->pos = size_t(n);
        if (o->data.size() < o->pos) o->data.resize(o->pos);
        return OPJ_TRUE;
    });
    const bool ok = opj_setup_encoder(codec, &cp, img) && opj_start_compress(codec, img, stream) &&
                    opj_encode(codec, stream) && opj_end_compress(codec, stream);
    opj_stream_destroy(stream);
    opj_destroy_codec(codec);
    opj_image_destroy(img);
    if (!ok) throw std::runtime_error("OpenJPEG could not encode the fixture");
    return out.data;
}

struct Nd2LegacyFile {
    std::string bytes;
    std::vector<uint64_t> image_offsets;  // LUNK boxes, frame-major
    uint64_t map_offset = 0;
};

inline Nd2LegacyFile make_nd2_legacy(const Nd2LegacySpec& s) {
    Nd2LegacyFile f;
    std::string& b = f.bytes;
    struct Entry {
        std::string box_type, lim_type;
        uint64_t offset;
    };
    std::vector<Entry> map;
    auto add = [&](const char* box_type, const char* lim_type, const std::string& box) {
        map.push_back({box_type, lim_type, b.size()});
        b += box;
    };
    add("jP  ", "    ", std::string("\x00\x00\x00\x0CjP  \x0D\x0A\x87\x0A", 12));
    add("ftyp", "    ", jp2_box("ftyp", std::string("jp2 \x00\x00\x00\x00jp2 ", 12)));
    std::string ihdr;
    put_be32(ihdr, s.height);
    put_be32(ihdr, s.width);
    ihdr.push_back(char(s.components >> 8));
    ihdr.push_back(char(s.components & 0xFF));
    ihdr.push_back(char(s.bits - 1));
    ihdr += std::string("\x07\x00\x00", 3);
    add("jp2h", "    ", jp2_box("jp2h", jp2_box("ihdr", ihdr)));
    std::string planes;
    for (size_t c = 0; c < s.channels.size(); ++c)
        planes += "<a" + std::to_string(c) + " runtype=\"CLxListVariant\"><sOpticalConfigName runtype=\"CLxStringW\" value=\"" +
                  s.channels[c] + "\"/></a" + std::to_string(c) + ">";
    const std::string vimd =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><variant version=\"1.0\"><no_name runtype=\"CLxListVariant\">"
        "<dCalibration runtype=\"double\" value=\"" + std::to_string(s.calibration) + "\"/>"
        "<sPicturePlanes runtype=\"CLxListVariant\"><uiCount runtype=\"lx_uint32\" value=\"" +
        std::to_string(s.channels.size()) + "\"/><uiCompCount runtype=\"lx_uint32\" value=\"" +
        std::to_string(s.channels.size() * s.components) + "\"/><sPlane runtype=\"CLxListVariant\">" + planes +
        "</sPlane></sPicturePlanes></no_name></variant>";
    add("uuid", "VIMD", jp2_box("uuid", s.vimd.empty() ? vimd : s.vimd));
    const std::string tinf =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><variant version=\"1.0\"><no_name runtype=\"CLxListVariant\">"
        "<TextInfoItem_9 runtype=\"CLxListVariant\"><sText runtype=\"CLxStringW\" value=\"Metadata:&#13;&#10;"
        "Dimensions: " + s.dimensions + "&#13;&#10;Z Stack Loop: 4&#13;&#10;- Step 0.75 &#181;m&#13;&#10;\"/>"
        "</TextInfoItem_9></no_name></variant>";
    add("uuid", "TINF", jp2_box("uuid", tinf));
    for (uint32_t fr = 0; fr < s.frames; ++fr) {
        add("uuid", "VCAL", jp2_box("uuid", "<?xml version=\"1.0\"?><variant/>"));
        for (uint32_t c = 0; c < s.channels.size(); ++c) {
            f.image_offsets.push_back(b.size());
            add("jp2c", "LUNK",
                jp2_box("jp2c", encode_j2k(s.width, s.height, s.components, s.bits,
                                           [&](uint32_t k, uint32_t x, uint32_t y) { return s.value(fr, c, k, x, y); })));
        }
    }
    f.map_offset = b.size();
    put_be32(b, uint32_t(map.size()));
    for (auto& e : map) {
        b += e.box_type;
        b += e.lim_type;
        const uint32_t off = uint32_t(e.offset);
        b.append(reinterpret_cast<const char*>(&off), 4);
        b.append(4, '\0');  // the map's fourth field (unused)
    }
    b += "LABORATORY IMAGING ND BOX MAP 00";
    const uint64_t distance = b.size() + 8 - f.map_offset;
    b.append(reinterpret_cast<const char*>(&distance), 8);
    return f;
}

}  // namespace imx::test
