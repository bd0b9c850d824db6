#include "core/types.h"

#include <cctype>

#include "core/memory.h"

namespace imx {

size_t dtype_size(DType t) {
    switch (t) {
        case DType::u8:
        case DType::i8: return 1;
        case DType::u16:
        case DType::i16: return 2;
        case DType::u32:
        case DType::i32:
        case DType::f32: return 4;
    }
    return 1;
}

std::string dtype_zarr(DType t) {
    switch (t) {
        case DType::u8: return "|u1";
        case DType::i8: return "|i1";
        case DType::u16: return "<u2";
        case DType::i16: return "<i2";
        case DType::u32: return "<u4";
        case DType::i32: return "<i4";
        case DType::f32: return "<f4";
    }
    return "|u1";
}

std::string dtype_name(DType t) {
    switch (t) {
        case DType::u8: return "uint8";
        case DType::i8: return "int8";
        case DType::u16: return "uint16";
        case DType::i16: return "int16";
        case DType::u32: return "uint32";
        case DType::i32: return "int32";
        case DType::f32: return "float32";
    }
    return "uint8";
}

DType dtype_from_name(std::string_view name) {
    for (DType t : {DType::u8, DType::i8, DType::u16, DType::i16, DType::u32, DType::i32, DType::f32})
        if (dtype_name(t) == name) return t;
    throw Error("unknown pixel type '" + std::string(name) + "'");
}

DType dtype_from_zarr(std::string_view typestr) {
    for (DType t : {DType::u8, DType::i8, DType::u16, DType::i16, DType::u32, DType::i32, DType::f32})
        if (dtype_zarr(t) == typestr) return t;
    throw Error("unsupported zarr dtype '" + std::string(typestr) + "'");
}

void Plane::allocate(DType t, uint32_t w, uint32_t h) {
    dtype = t;
    width = w;
    height = h;
    reserve_with_huge_pages(data, byte_size());
    data.resize(byte_size());
}

std::string row_name(int row) {
    std::string s;
    if (row >= 26) s += char('A' + row / 26 - 1);
    s += char('A' + row % 26);
    return s;
}

int row_index(std::string_view name) {
    if (name.empty() || name.size() > 2) return -1;
    for (char c : name)
        if (!std::isupper(static_cast<unsigned char>(c))) return -1;
    if (name.size() == 1) return name[0] - 'A';
    return (name[0] - 'A' + 1) * 26 + (name[1] - 'A');
}

std::string well_name(int row, int col) {
    std::string c = std::to_string(col + 1);
    if (c.size() < 2) c = "0" + c;
    return row_name(row) + c;
}

bool parse_well_name(std::string_view name, int& row, int& col) {
    size_t i = 0;
    while (i < name.size() && std::isalpha(static_cast<unsigned char>(name[i]))) ++i;
    if (i == 0 || i > 2 || i == name.size() || name.size() - i > 3) return false;
    std::string letters(name.substr(0, i));
    for (auto& ch : letters) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    int r = row_index(letters);
    if (r < 0) return false;
    int c = 0;
    for (size_t j = i; j < name.size(); ++j) {
        if (!std::isdigit(static_cast<unsigned char>(name[j]))) return false;
        c = c * 10 + (name[j] - '0');
    }
    if (c < 1) return false;
    row = r;
    col = c - 1;
    return true;
}

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
        for (size_t k = 1; k < n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc >> 6) != 0x2) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

std::string printable_utf8(std::string_view s) {
    if (valid_utf8(s)) return std::string(s);
    std::string out;
    for (size_t i = 0; i < s.size();) {
        // Take the longest valid sequence starting here (1 to 4 bytes), else replace one byte.
        size_t n = 0;
        for (size_t k = 1; k <= 4 && i + k <= s.size(); ++k)
            if (valid_utf8(s.substr(i, k))) n = k;
        if (n) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

std::string trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
}

}  // namespace imx
