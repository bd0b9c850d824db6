// Writes little-endian classic TIFFs with ONE IFD whose further planes follow page 0's pixels back
// to back: MetaMorph STK (UIC2 tag 33629 whose count is the plane count) and ImageJ's contiguous
// layout (images=N in the description). Written byte by byte, independently of libtiff and of the
// decoder under test. 16-bit pixel value of plane k, index i: base + k * 1000 + i.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace imx::test {

inline void put16(std::string& s, uint16_t v) { s += char(v & 0xff), s += char(v >> 8); }
inline void put32(std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xff);
}

// `planes_in_file` planes are written; `declared` goes into UIC2 / images= (a larger value
// simulates a truncated file). `truncate_bytes` cuts that many bytes off the end.
inline void write_contiguous_tiff(const std::filesystem::path& file, uint32_t width, uint32_t height,
                                  uint32_t planes_in_file, uint32_t declared, bool stk, uint16_t base,
                                  const std::string& imagej_extra = "", size_t truncate_bytes = 0,
                                  uint32_t pixels_per_unit_x1000 = 0) {
    const std::string desc =
        (stk ? std::string("stk") : "ImageJ=1.54f\nimages=" + std::to_string(declared) + imagej_extra + "\n") + '\0';
    const uint32_t plane_bytes = width * height * 2;
    const bool res = pixels_per_unit_x1000 > 0;  // XResolution = value / 1000 pixels per unit
    const uint16_t entries = uint16_t(10 + (stk ? 2 : 0) + (res ? 3 : 0));
    const uint32_t ifd = 8;
    const uint32_t desc_off = ifd + 2 + entries * 12u + 4;
    const uint32_t res_off = desc_off + uint32_t(desc.size());
    const uint32_t uic1_off = res_off + (res ? 16 : 0);
    const uint32_t uic2_off = uic1_off + (stk ? 8 : 0);
    const uint32_t uic2_size = stk ? declared * 24 : 0;
    const uint32_t pix_off = uic2_off + uic2_size;
    std::string s = "II";
    put16(s, 42);
    put32(s, ifd);
    put16(s, entries);
    auto entry = [&](uint16_t tag, uint16_t type, uint32_t count, uint32_t value) {
        put16(s, tag), put16(s, type), put32(s, count);
        if (type == 3 && count == 1) put16(s, uint16_t(value)), put16(s, 0);
        else put32(s, value);
    };
    entry(256, 4, 1, width);
    entry(257, 4, 1, height);
    entry(258, 3, 1, 16);
    entry(259, 3, 1, 1);   // no compression
    entry(262, 3, 1, 1);   // min-is-black
    entry(270, 2, uint32_t(desc.size()), desc_off);
    entry(273, 4, 1, pix_off);
    entry(277, 3, 1, 1);
    entry(278, 4, 1, height);
    entry(279, 4, 1, plane_bytes);
    if (res) {
        entry(282, 5, 1, res_off);
        entry(283, 5, 1, res_off + 8);
        entry(296, 3, 1, 1);  // ResolutionUnit none, as ImageJ writes for microns
    }
    if (stk) {
        entry(33628, 4, 2, uic1_off);          // UIC1: one (id, value) property: MinScale 0
        entry(33629, 5, declared, uic2_off);   // UIC2: per plane z distance (rational), dates, times
    }
    put32(s, 0);                                   // no next IFD
    s += desc;
    if (res)
        for (int i = 0; i < 2; ++i) put32(s, pixels_per_unit_x1000), put32(s, 1000);
    if (stk) put32(s, 1), put32(s, 0);
    for (uint32_t k = 0; stk && k < declared; ++k) put32(s, k), put32(s, 1), put32(s, 0), put32(s, 0), put32(s, 0), put32(s, 0);
    s.resize(pix_off, '\0');
    for (uint32_t k = 0; k < planes_in_file; ++k)
        for (uint32_t i = 0; i < width * height; ++i) put16(s, uint16_t(base + k * 1000 + i));
    if (truncate_bytes && truncate_bytes < s.size()) s.resize(s.size() - truncate_bytes);
    std::ofstream(file, std::ios::binary).write(s.data(), std::streamsize(s.size()));
}

}  // namespace imx::test
