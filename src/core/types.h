// Core value types shared by every layer: pixel types, planes, and the errors we report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace imx {

enum class DType : uint8_t { u8, u16, u32, i8, i16, i32, f32 };

size_t dtype_size(DType t);
// Zarr v2 typestr, little endian: "|u1", "<u2", "<f4", ...
std::string dtype_zarr(DType t);
// Short names used in the catalog and on the CLI: "uint8", "uint16", "float32", ...
std::string dtype_name(DType t);
DType dtype_from_name(std::string_view name);  // throws Error on unknown names
DType dtype_from_zarr(std::string_view typestr);

// One 2-D plane of pixels, row-major, native (little-endian) byte order, no padding.
struct Plane {
    DType dtype = DType::u16;
    uint32_t width = 0;
    uint32_t height = 0;
    std::vector<std::byte> data;

    size_t pixel_count() const { return size_t(width) * height; }
    size_t byte_size() const { return pixel_count() * dtype_size(dtype); }
    void allocate(DType t, uint32_t w, uint32_t h);
    template <class T> T* as() { return reinterpret_cast<T*>(data.data()); }
    template <class T> const T* as() const { return reinterpret_cast<const T*>(data.data()); }
};

// The one exception type of the project. `what()` is a complete, user-facing sentence that names
// the file or resource and the reason.
class Error : public std::runtime_error {
public:
    enum class Kind { generic, usage, input, storage, verification, not_extracted };
    explicit Error(const std::string& msg, Kind kind = Kind::generic)
        : std::runtime_error(msg), kind_(kind) {}
    Kind kind() const { return kind_; }

private:
    Kind kind_;
};

// File names on Linux are bytes; JSON and Zarr metadata are UTF-8. Names that are not valid
// UTF-8 are shown with each bad byte as U+FFFD, and travel through job files losslessly (fileutil's
// name_to_json).
bool valid_utf8(std::string_view s);
std::string printable_utf8(std::string_view s);

// `s` without the white space (std::isspace) at either end.
std::string trim(std::string_view s);

// Errors in microscope files or metadata: the message should start with the file path.
inline Error input_error(const std::string& file, const std::string& reason) {
    return Error(file + ": " + reason, Error::Kind::input);
}

// Well names: row 0 -> "A", row 26 -> "AA" (1536-well plates have 32 rows: A..Z, AA..AF).
std::string row_name(int row);
// What well names can say: rows of one or two letters (A..Z, AA..ZZ) and columns of up to three
// digits (parse_well_name). Readers refuse well positions beyond them.
constexpr int kMaxWellRows = 26 + 26 * 26, kMaxWellColumns = 999;
int row_index(std::string_view name);  // "A" -> 0, "AF" -> 31; -1 when not a row name
std::string well_name(int row, int col);  // (1, 2) -> "B03"
// Parses "B03", "B3", "AF48"; returns false when the text is not a well name.
bool parse_well_name(std::string_view name, int& row, int& col);

}  // namespace imx
