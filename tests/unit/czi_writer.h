// A small CZI (ZISRAW) writer for the tests and the fuzz seed corpus: file header, subblocks,
// the subblock directory and the metadata XML, laid out as the ZISRAW specification describes.
// Written from the specification, independently of src/formats/czi.cpp.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace imx::test {

struct CziDim {
    char name;
    int32_t start = 0, size = 1, stored = 1;
};

struct CziBlock {
    CziBlock(int32_t pixel_type_, int32_t compression_, std::vector<CziDim> dims_, std::string payload_,
             std::string metadata_ = {})
        : pixel_type(pixel_type_), compression(compression_), dims(std::move(dims_)), payload(std::move(payload_)),
          metadata(std::move(metadata_)) {}
    int32_t pixel_type = 1;   // Gray16
    int32_t compression = 0;  // uncompressed
    std::vector<CziDim> dims;
    std::string payload;      // the subblock's data part, as stored
    std::string metadata;     // the subblock's own XML (usually empty)
};

struct CziLayoutInfo {
    std::vector<uint64_t> block_pos;  // file offset of each ZISRAWSUBBLOCK segment
    uint64_t directory_pos = 0, metadata_pos = 0;
};

inline void put_bytes(std::string& s, const void* p, size_t n) { s.append(static_cast<const char*>(p), n); }
template <class T> void put(std::string& s, T v) { put_bytes(s, &v, sizeof v); }

inline std::string czi_segment(const char* id, const std::string& data) {
    std::string s(16, '\0');
    std::memcpy(s.data(), id, std::strlen(id));
    put<int64_t>(s, int64_t(data.size()));
    put<int64_t>(s, int64_t(data.size()));
    return s + data;
}

inline std::string czi_entry(const CziBlock& b, int64_t file_pos) {
    std::string e = "DV";
    put<int32_t>(e, b.pixel_type);
    put<int64_t>(e, file_pos);
    put<int32_t>(e, 0);  // file part
    put<int32_t>(e, b.compression);
    e.push_back('\0');   // pyramid type
    e.append(5, '\0');
    put<int32_t>(e, int32_t(b.dims.size()));
    for (const auto& d : b.dims) {
        char name[4] = {d.name, 0, 0, 0};
        put_bytes(e, name, 4);
        put<int32_t>(e, d.start);
        put<int32_t>(e, d.size);
        put<float>(e, 0.0f);
        put<int32_t>(e, d.stored);
    }
    return e;
}

// The whole file. `xml` empty: no metadata segment (position 0).
inline std::string build_czi(const std::vector<CziBlock>& blocks, const std::string& xml,
                             CziLayoutInfo* info = nullptr) {
    CziLayoutInfo li;
    std::string file = czi_segment("ZISRAWFILE", std::string(512, '\0'));
    for (const auto& b : blocks) {
        const uint64_t pos = file.size();
        li.block_pos.push_back(pos);
        std::string data;
        put<int32_t>(data, int32_t(b.metadata.size()));
        put<int32_t>(data, 0);  // attachment size
        put<int64_t>(data, int64_t(b.payload.size()));
        data += czi_entry(b, int64_t(pos));
        if (data.size() < 256) data.append(256 - data.size(), '\0');
        data += b.metadata + b.payload;
        file += czi_segment("ZISRAWSUBBLOCK", data);
    }
    li.directory_pos = file.size();
    std::string dir;
    put<int32_t>(dir, int32_t(blocks.size()));
    dir.append(124, '\0');
    for (size_t i = 0; i < blocks.size(); ++i) dir += czi_entry(blocks[i], int64_t(li.block_pos[i]));
    file += czi_segment("ZISRAWDIRECTORY", dir);
    if (!xml.empty()) {
        li.metadata_pos = file.size();
        std::string meta;
        put<int32_t>(meta, int32_t(xml.size()));
        put<int32_t>(meta, 0);
        meta.append(248, '\0');
        file += czi_segment("ZISRAWMETADATA", meta + xml);
    }
    // File header: version 1.0, directory and metadata positions.
    std::string hdr;
    put<int32_t>(hdr, 1);
    put<int32_t>(hdr, 0);
    hdr.append(8 + 32 + 4, '\0');  // reserved, primary file GUID, file GUID, file part
    put<int64_t>(hdr, int64_t(li.directory_pos));
    put<int64_t>(hdr, int64_t(li.metadata_pos));
    file.replace(32, hdr.size(), hdr);
    if (info) *info = li;
    return file;
}

// Dimension list of an ordinary subblock: w x h at (x, y), and C, Z, T, S (and M when m >= 0).
inline std::vector<CziDim> czi_dims(int32_t w, int32_t h, int32_t c, int32_t z, int32_t t, int32_t s = 0,
                                    int32_t m = -1, int32_t x = 0, int32_t y = 0) {
    std::vector<CziDim> d = {{'X', x, w, w}, {'Y', y, h, h}, {'C', c, 1, 1}, {'Z', z, 1, 1}, {'T', t, 1, 1},
                             {'S', s, 1, 1}, {'B', 0, 1, 1}};
    if (m >= 0) d.push_back({'M', m, 1, 1});
    return d;
}

inline std::string czi_xml(const std::vector<std::string>& channels, double px_m = 0, double pz_m = 0,
                           const std::string& scenes = "") {
    std::string x = "<ImageDocument><Metadata><Information><Image><ComponentBitCount>12</ComponentBitCount><Dimensions>";
    if (!channels.empty()) {
        x += "<Channels>";
        for (size_t i = 0; i < channels.size(); ++i)
            x += "<Channel Id=\"Channel:" + std::to_string(i) + "\" Name=\"" + channels[i] + "\"/>";
        x += "</Channels>";
    }
    if (!scenes.empty()) x += "<S><Scenes>" + scenes + "</Scenes></S>";
    x += "</Dimensions></Image></Information>";
    if (px_m > 0) {
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "<Scaling><Items><Distance Id=\"X\"><Value>%.17g</Value></Distance><Distance Id=\"Y\"><Value>%.17g"
                      "</Value></Distance>",
                      px_m, px_m);
        x += buf;
        if (pz_m > 0) {
            std::snprintf(buf, sizeof buf, "<Distance Id=\"Z\"><Value>%.17g</Value></Distance>", pz_m);
            x += buf;
        }
        x += "</Items></Scaling>";
    }
    return x + "</Metadata></ImageDocument>";
}

}  // namespace imx::test
