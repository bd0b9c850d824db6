// Synthetic Leica LIF files for the tests: the UTF-16 XML header block, memory blocks, and the
// XML elements of images (dimensions, channels) in the order LAS X writes them.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace imx::test::lif {

template <class T> inline std::string le(T v) {
    std::string s(sizeof v, '\0');
    std::memcpy(s.data(), &v, sizeof v);
    return s;
}

inline std::string utf16(const std::string& ascii) {
    std::string s;
    for (char c : ascii) s += std::string{c, '\0'};
    return s;
}

struct Block {
    std::string id, data;
};

// The header of memory block `id` of `size` bytes (its data follows); version 1 writes 32-bit sizes.
inline std::string block_header(const std::string& id, uint64_t size, int version = 2) {
    return le(uint32_t(0x70)) + le(uint32_t(0)) + '\x2A' + (version == 1 ? le(uint32_t(size)) : le(uint64_t(size))) +
           '\x2A' + le(uint32_t(id.size())) + utf16(id);
}

// Header block, then the memory blocks; version 1 writes 32-bit block sizes.
inline std::string make_lif(const std::string& xml, const std::vector<Block>& blocks, int version = 2) {
    const std::string x = utf16(xml);
    std::string f = le(uint32_t(0x70)) + le(uint32_t(x.size() + 5)) + '\x2A' + le(uint32_t(xml.size())) + x;
    for (auto& b : blocks) f += block_header(b.id, b.data.size(), version) + b.data;
    return f;
}

inline std::string dim(int id, uint64_t n, uint64_t inc, const std::string& length = "1.0e-005",
                       const std::string& unit = "m", const std::string& origin = "0") {
    return "<DimensionDescription DimID=\"" + std::to_string(id) + "\" NumberOfElements=\"" + std::to_string(n) +
           "\" Origin=\"" + origin + "\" Length=\"" + length + "\" Unit=\"" + unit + "\" BitInc=\"0\" BytesInc=\"" +
           std::to_string(inc) + "\"/>";
}
inline std::string channel(uint64_t inc, int resolution, const std::string& lut) {
    return "<ChannelDescription DataType=\"0\" ChannelTag=\"0\" Resolution=\"" + std::to_string(resolution) +
           "\" LUTName=\"" + lut + "\" BytesInc=\"" + std::to_string(inc) + "\"/>";
}
inline std::string image(const std::string& name, const std::string& channels, const std::string& dims,
                         const std::string& block, uint64_t size) {
    return "<Element Name=\"" + name + "\"><Data><Image><ImageDescription><Channels>" + channels +
           "</Channels><Dimensions>" + dims + "</Dimensions></ImageDescription></Image></Data><Memory Size=\"" +
           std::to_string(size) + "\" MemoryBlockID=\"" + block + "\"/><Children/></Element>";
}
inline std::string document(const std::string& children, int version = 2) {
    return "<LMSDataContainerHeader Version=\"" + std::to_string(version) + "\"><Element Name=\"exp\"><Data><Experiment/></Data>"
           "<Memory Size=\"0\" MemoryBlockID=\"MemBlock_0\"/><Children>" + children + "</Children></Element></LMSDataContainerHeader>";
}

}  // namespace imx::test::lif
