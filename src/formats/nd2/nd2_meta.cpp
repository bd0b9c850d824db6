#include "formats/nd2/nd2_meta.h"

#include <cstdlib>
#include <cstring>

#include "core/types.h"
#include "formats/container_util.h"

namespace imx::nd2 {

namespace {

// A level item's header after its name: u32 item count, u64 length from the item start.
constexpr size_t kLevelHeader = 12;

std::string base64_decode(std::string_view in) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    uint32_t bits = 0;
    int have = 0;
    for (char c : in) {
        const int v = value(c);
        if (v < 0) continue;  // '=' padding and whitespace
        bits = bits << 6 | uint32_t(v);
        have += 6;
        if (have >= 8) {
            have -= 8;
            out += char((bits >> have) & 0xFF);
        }
    }
    return out;
}

// XML runtypes of scalar values; every other runtype is a level (a list or a structure).
Meta::Kind xml_kind(std::string_view runtype) {
    if (runtype == "bool" || runtype == "double" || runtype == "float" || runtype.rfind("lx_", 0) == 0)
        return Meta::Kind::number;
    if (runtype == "CLxStringW" || runtype == "unknown") return Meta::Kind::string;
    if (runtype == "CLxByteArray") return Meta::Kind::bytes;
    return Meta::Kind::level;
}

}  // namespace

MetaDoc::MetaDoc(std::string data, std::string file, uint64_t data_offset, std::string chunk)
    : data_(std::move(data)), file_(std::move(file)), chunk_(std::move(chunk)), offset_(data_offset) {
    size_t first = data_.find_first_not_of(std::string_view(" \t\r\n\0", 5));
    xml_ = first != std::string::npos && data_[first] == '<';
    if (!xml_) return;
    // Writers pad the chunk with zeros after the document.
    size_t last = data_.find_last_not_of('\0');
    auto r = doc_.load_buffer(data_.data(), last + 1, pugi::parse_default, pugi::encoding_auto);
    if (!r) fail(size_t(r.offset), std::string("XML metadata is not well-formed (") + r.description() + ")");
    if (!doc_.document_element()) fail(0, "XML metadata has no root element");
}

void MetaDoc::fail(size_t pos, const std::string& reason) const {
    throw input_error(file_, "offset " + std::to_string(offset_ + pos) + ": metadata chunk " + chunk_ + ": " + reason);
}

Meta MetaDoc::root() const {
    Meta m;
    m.doc_ = this;
    m.kind_ = Meta::Kind::level;
    if (xml_) m.xml_ = doc_.document_element();  // <variant>
    else m.end_ = data_.size();
    return m;
}

std::optional<Meta> MetaDoc::content(std::string_view name) const {
    const Meta r = root();
    if (!xml_)
        if (auto named = r.child(name)) return named;
    return r.first_level();
}

Meta MetaDoc::lv_item(size_t pos, size_t end, size_t& next) const {
    const auto* d = reinterpret_cast<const unsigned char*>(data_.data());
    auto need = [&](size_t at, size_t len, const char* what) {
        if (at > end || len > end - at) fail(at, std::string(what) + " runs past the end of its level");
    };
    const size_t start = pos;
    need(pos, 2, "item header");
    Meta m;
    m.doc_ = this;
    m.lv_type_ = d[pos];
    const size_t name_units = d[pos + 1];
    pos += 2;
    need(pos, name_units * 2, "item name");
    if (!container::utf16le_to_utf8({data_.data() + pos, name_units * 2}, m.name_)) fail(pos, "bad item name");
    while (!m.name_.empty() && m.name_.back() == '\0') m.name_.pop_back();
    pos += name_units * 2;
    m.begin_ = pos;
    auto fixed = [&](size_t len) {
        need(pos, len, "value");
        m.kind_ = Meta::Kind::number;
        m.end_ = pos + len;
        next = m.end_;
    };
    switch (m.lv_type_) {
        case 1: fixed(1); break;              // bool
        case 2: case 3: fixed(4); break;      // int32, uint32
        case 4: case 5: case 6: case 7: fixed(8); break;  // int64, uint64, double, pointer-sized
        case 8: {                             // UTF-16LE string, 0-terminated
            size_t e = pos;
            while (true) {
                need(e, 2, "string");
                if (d[e] == 0 && d[e + 1] == 0) break;
                e += 2;
            }
            m.kind_ = Meta::Kind::string;
            m.end_ = e;
            next = e + 2;
            break;
        }
        case 9: {  // byte array: u64 size, bytes
            need(pos, 8, "byte array size");
            const uint64_t n = container::load_le<uint64_t>(d + pos);
            if (n > end - pos - 8)
                fail(pos, "byte array of " + std::to_string(n) + " bytes runs past the end of its level");
            m.kind_ = Meta::Kind::bytes;
            m.begin_ = pos + 8;
            m.end_ = m.begin_ + size_t(n);
            next = m.end_;
            break;
        }
        case 11: {  // level
            need(pos, kLevelHeader, "level header");
            const uint32_t count = container::load_le<uint32_t>(d + pos);
            const uint64_t length = container::load_le<uint64_t>(d + pos + 4);
            if (length < pos + kLevelHeader - start || length > end - start)
                fail(start, "level '" + m.name_ + "' claims " + std::to_string(length) + " bytes, outside its parent block");
            m.kind_ = Meta::Kind::level;
            m.begin_ = pos + kLevelHeader;
            m.end_ = start + size_t(length);
            // The table of `count` u64 offsets after the items; some writers omit part of it.
            next = m.end_ + size_t(std::min<uint64_t>(uint64_t(count) * 8, end - m.end_));
            break;
        }
        default:
            fail(start, "unknown item type " + std::to_string(m.lv_type_) + " ('" + m.name_ + "')");
    }
    return m;
}

std::optional<double> Meta::number() const {
    if (kind_ != Kind::number) return std::nullopt;
    if (xml_) {
        const char* v = xml_.attribute("value").value();
        if (std::strcmp(v, "true") == 0) return 1.0;
        if (std::strcmp(v, "false") == 0) return 0.0;
        char* e = nullptr;
        const double x = std::strtod(v, &e);
        if (e == v) return std::nullopt;
        return x;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(doc_->data_.data()) + begin_;
    switch (lv_type_) {
        case 1: return double(p[0]);
        case 2: return double(container::load_le<int32_t>(p));
        case 3: return double(container::load_le<uint32_t>(p));
        case 4: return double(container::load_le<int64_t>(p));
        case 6: return container::load_le<double>(p);
        default: return double(container::load_le<uint64_t>(p));  // 5, 7
    }
}

std::string Meta::text() const {
    if (xml_) {
        if (kind_ == Kind::string) return xml_.attribute("value").value();
        if (kind_ == Kind::bytes) return base64_decode(xml_.attribute("value").value());
        return {};
    }
    const std::string_view raw(doc_->data_.data() + begin_, end_ - begin_);
    if (kind_ == Kind::bytes) return std::string(raw);
    std::string out;
    if (kind_ == Kind::string) container::utf16le_to_utf8(raw, out);
    return out;
}

void Meta::for_each(const std::function<bool(const Meta&)>& visit) const {
    if (kind_ != Kind::level) return;
    if (xml_) {
        for (auto n : xml_.children()) {
            if (n.type() != pugi::node_element) continue;
            Meta m;
            m.doc_ = doc_;
            m.xml_ = n;
            m.name_ = n.name();
            m.kind_ = xml_kind(n.attribute("runtype").value());
            if (!visit(m)) return;
        }
        return;
    }
    size_t pos = begin_;
    while (pos < end_) {
        size_t next = pos;
        const Meta m = doc_->lv_item(pos, end_, next);
        if (!visit(m)) return;
        pos = next;
    }
}

std::optional<Meta> Meta::child(std::string_view name) const {
    std::optional<Meta> found;
    for_each([&](const Meta& m) {
        if (m.name_ != name) return true;
        found = m;
        return false;
    });
    return found;
}

std::optional<double> Meta::num(std::string_view name) const {
    auto c = child(name);
    return c ? c->number() : std::nullopt;
}

std::string Meta::str(std::string_view name) const {
    auto c = child(name);
    return c && c->kind_ == Kind::string ? c->text() : std::string();
}

std::optional<Meta> Meta::first_level() const {
    std::optional<Meta> found;
    for_each([&](const Meta& m) {
        if (!m.is_level()) return true;
        found = m;
        return false;
    });
    return found;
}

}  // namespace imx::nd2
