// ND2 metadata chunks, read through one interface whichever variant encodes them:
//
// - LV, the binary variant of NIS-Elements 4 and later (chunks named ...LV!): items
//   `u8 type, u8 name length (UTF-16 units, with the terminating 0), UTF-16LE name, value`; a
//   type-11 item is a level `u32 item count, u64 length from the item start`, its items, then a
//   table of count u64 offsets.
// - XML, the variant of NIS-Elements 3.x (ImageAttributes!, ImageMetadata!, ...):
//   `<variant><no_name runtype="SLxImageAttributes"><uiWidth runtype="lx_uint32" value="696"/>...`,
//   where the runtype tells a number, a string (CLxStringW), a byte array (CLxByteArray, base64)
//   or a level (any other runtype).
//
// LV items are decoded when they are looked at, straight from the chunk's bytes, so no tree is
// built: memory stays the chunk's size whatever it claims, and nesting costs no stack. Every
// length is checked against the enclosing level before it is used; a bad one throws an input error
// naming the file, the offset and the chunk.
#pragma once

#include <pugixml.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace imx::nd2 {

class MetaDoc;

// One item: a number, a string, a byte array or a level of items.
class Meta {
public:
    enum class Kind { number, string, bytes, level };

    Kind kind() const { return kind_; }
    bool is_level() const { return kind_ == Kind::level; }
    const std::string& name() const { return name_; }
    // Numbers (bool, integers, double) as double; nullopt for other kinds or unreadable XML values.
    std::optional<double> number() const;
    // Strings as UTF-8, byte arrays as their bytes; empty for numbers and levels.
    std::string text() const;

    // The items of a level in file order, until `visit` returns false.
    void for_each(const std::function<bool(const Meta&)>& visit) const;
    std::optional<Meta> child(std::string_view name) const;
    std::optional<double> num(std::string_view name) const;  // a numeric child
    std::string str(std::string_view name) const;             // a string child; "" when absent
    std::optional<Meta> first_level() const;                  // the first child that is a level

private:
    friend class MetaDoc;
    const MetaDoc* doc_ = nullptr;
    Kind kind_ = Kind::level;
    std::string name_;
    uint8_t lv_type_ = 11;
    size_t begin_ = 0, end_ = 0;  // LV: the value's bytes (a level: its items)
    pugi::xml_node xml_;
};

// One metadata chunk's content; keeps the bytes the items are read from.
class MetaDoc {
public:
    // `data` is the chunk's data, found at `data_offset` in `file` in chunk `chunk` (for messages).
    // XML is recognised by its first character; anything else is read as LV.
    MetaDoc(std::string data, std::string file, uint64_t data_offset, std::string chunk);
    MetaDoc(const MetaDoc&) = delete;
    MetaDoc& operator=(const MetaDoc&) = delete;

    bool is_xml() const { return xml_; }
    // The chunk's content: the top item named `name` (LV: "SLxImageAttributes"), or the first top
    // level item (XML names it "no_name"). nullopt when there is none.
    std::optional<Meta> content(std::string_view name) const;

    [[noreturn]] void fail(size_t pos, const std::string& reason) const;

private:
    friend class Meta;
    Meta lv_item(size_t pos, size_t end, size_t& next) const;
    Meta root() const;

    std::string data_, file_, chunk_;
    uint64_t offset_ = 0;
    bool xml_ = false;
    pugi::xml_document doc_;
};

}  // namespace imx::nd2
