// Leica LIF: the container and XML parser (lif_file.h).
#include "formats/lif/lif_file.h"

#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>

namespace imx::lif {

namespace {

// ---- XML -------------------------------------------------------------------------------------

std::optional<double> length_to_um(const std::string& unit) {
    if (unit == "m" || unit.empty()) return 1e6;
    if (unit == "mm") return 1e3;
    if (unit == "um" || unit == "\xC2\xB5m" || unit == "\xCE\xBCm") return 1.0;
    if (unit == "nm") return 1e-3;
    return std::nullopt;
}

class ImageParser {
public:
    ImageParser(const std::string& file) : file_(file) {}

    // Fills `im` from an Element whose pixels are a memory block of `block_bytes`; returns a reason
    // when the image cannot be read ("" when it can).
    std::string parse(const pugi::xml_node& element, const pugi::xml_node& image_desc, uint64_t block_bytes, LifImage& im) {
        note_.clear();
        std::vector<Dim> dims;
        for (auto d : image_desc.child("Dimensions").children("DimensionDescription")) {
            Dim dim;
            dim.id = int(integer(d, "DimID", 0, INT32_MAX));
            dim.count = integer(d, "NumberOfElements", 1, uint64_t(1) << 31);
            dim.bytes_inc = integer(d, "BytesInc", 0, uint64_t(1) << 62);
            const double length = real(d, "Length").value_or(0);
            const std::string unit = d.attribute("Unit").value();
            if (dim.count > 1 && length != 0) {
                if (dim.id == 4) {
                    dim.step_um = std::abs(length) / double(dim.count - 1);  // seconds
                } else if (auto f = length_to_um(unit)) {
                    dim.step_um = std::abs(length) * *f / double(dim.count - 1);
                }
            }
            dims.push_back(dim);  // each kind at most once: checked below
        }
        if (dims.empty()) return "no DimensionDescription";
        for (auto c : image_desc.child("Channels").children("ChannelDescription")) {
            LifChannel ch;
            ch.bytes_inc = integer(c, "BytesInc", 0, uint64_t(1) << 62);
            const int res = int(integer(c, "Resolution", 1, 64));
            const int data_type = int(integer(c, "DataType", 0, 10, 0));
            if (im.channels.empty()) {
                im.resolution = res;
                if (data_type == 1 && res == 32) {
                    im.dtype = DType::f32;
                    im.bytes_per_sample = 4;
                } else if (data_type == 0 && res <= 8) {
                    im.dtype = DType::u8;
                    im.bytes_per_sample = 1;
                } else if (data_type == 0 && res <= 16) {
                    im.dtype = DType::u16;
                    im.bytes_per_sample = 2;
                } else {
                    return "channel data type " + std::to_string(data_type) + " with resolution " + std::to_string(res) +
                           " bits is not supported (8, 12 or 16-bit integers and 32-bit float are read)";
                }
            } else if ((res <= 8) != (im.resolution <= 8)) {
                return "channels of different bit depths (" + std::to_string(im.resolution) + " and " +
                       std::to_string(res) + ")";
            }
            ch.name = c.attribute("LUTName").value();
            im.channels.push_back(ch);
        }
        if (im.channels.empty()) return "no ChannelDescription";
        {
            std::vector<std::string> names;
            for (auto& c : im.channels) names.push_back(c.name);
            container::make_unique_names(names);
            for (size_t i = 0; i < names.size(); ++i) im.channels[i].name = names[i];
        }

        // A plane is the first two dimensions (X and Y; X and Z for an XZ scan), the rest stack.
        std::vector<Dim> extra;
        bool have_x = false;
        for (auto& d : dims) {
            if (d.id == 1 && !have_x) {
                im.x = d;
                have_x = true;
            } else {
                extra.push_back(d);
            }
        }
        if (!have_x) return "no X dimension (DimID 1)";
        auto y_it = std::find_if(extra.begin(), extra.end(), [](const Dim& d) { return d.id == 2; });
        if (y_it == extra.end()) {
            // XZ (or XT) scan: the next spatial dimension is the plane's second axis.
            y_it = std::find_if(extra.begin(), extra.end(), [](const Dim& d) { return d.id == 3; });
            if (y_it != extra.end()) note_ = "an XZ scan: planes are X by Z";
        }
        if (y_it == extra.end()) {
            im.y = Dim{2, 1, im.x.count * im.x.bytes_inc, std::nullopt};  // a single line
        } else {
            im.y = *y_it;
            extra.erase(y_it);
        }
        for (auto& d : extra) {
            std::vector<Dim>* slot = nullptr;
            switch (d.id) {
                case 2:
                case 3: slot = &im.z; break;  // Y as the stacking axis of an XZ scan
                case 4: slot = &im.t; break;
                case 5:
                case 9: slot = &im.lambda; break;
                case 10: slot = &im.tiles; break;
                default: return "dimension DimID " + std::to_string(d.id) + " is not supported";
            }
            if (!slot->empty()) return "two dimensions of the same kind (DimID " + std::to_string(d.id) + ")";
            slot->push_back(d);
        }
        im.width = uint32_t(im.x.count);
        im.height = uint32_t(im.y.count);
        im.pixel_size_x = im.x.step_um;
        im.pixel_size_y = im.y.step_um ? im.y.step_um : im.x.step_um;
        if (!im.z.empty()) im.pixel_size_z = im.z[0].step_um;
        if (!im.t.empty()) im.time_interval_s = im.t[0].step_um;

        // Lambda sweeps multiply the channels: one channel per (wavelength, channel).
        if (!im.lambda.empty()) {
            const Dim& l = im.lambda[0];
            std::optional<double> origin_nm;
            if (auto o = real_of(l)) origin_nm = *o;
            // Every swept channel is a plane of at least a byte of the memory block.
            uint64_t n = 0;
            if (container::mul_overflows(l.count, im.channels.size(), n) || n > block_bytes)
                return std::to_string(l.count) + " wavelengths x " + std::to_string(im.channels.size()) +
                       " channels are more planes than its memory block of " + std::to_string(block_bytes) + " bytes holds";
            std::vector<LifChannel> swept;
            for (uint64_t i = 0; i < l.count; ++i)
                for (auto& c : im.channels) {
                    LifChannel s = c;
                    uint64_t off = 0;
                    if (container::mul_overflows(i, l.bytes_inc, off) || container::add_overflows(off, c.bytes_inc, s.bytes_inc))
                        return "lambda offsets overflow";
                    std::string label = std::to_string(i);
                    if (origin_nm && l.step_um)
                        label = std::to_string(long(std::lround(*origin_nm + double(i) * *l.step_um * 1e3))) + "nm";
                    s.name = c.name + (l.id == 9 ? " ex " : " em ") + label;
                    swept.push_back(s);
                }
            im.channels = std::move(swept);
        }
        (void)element;
        return "";
    }

    std::string note() const { return note_; }
    void set_origins(const pugi::xml_node& image_desc) {
        origins_.clear();
        for (auto d : image_desc.child("Dimensions").children("DimensionDescription"))
            origins_[int(integer(d, "DimID", 0, INT32_MAX))] = d.attribute("Origin").value();
    }

private:
    std::string file_;
    std::string note_;
    std::map<int, std::string> origins_;

    // Origin of a lambda dimension in nanometres.
    std::optional<double> real_of(const Dim& d) const {
        auto it = origins_.find(d.id);
        if (it == origins_.end()) return std::nullopt;
        char* end = nullptr;
        double v = std::strtod(it->second.c_str(), &end);
        if (!end || *end || !std::isfinite(v)) return std::nullopt;
        return v * 1e9;  // metres
    }
    uint64_t integer(const pugi::xml_node& n, const char* key, uint64_t lo, uint64_t hi,
                     std::optional<uint64_t> fallback = std::nullopt) const {
        const char* v = n.attribute(key).value();
        if (!*v) {
            if (fallback) return *fallback;
            throw input_error(file_, std::string(n.name()) + " attribute " + key + " is missing");
        }
        uint64_t out = 0;
        const char* end = v + std::strlen(v);
        auto [p, ec] = std::from_chars(v, end, out);
        if (ec != std::errc() || p != end || out < lo || out > hi)
            throw input_error(file_, std::string(n.name()) + " attribute " + key + "='" + std::string(v).substr(0, 32) +
                                         "' is not a whole number in " + std::to_string(lo) + ".." + std::to_string(hi));
        return out;
    }
    std::optional<double> real(const pugi::xml_node& n, const char* key) const {
        const char* v = n.attribute(key).value();
        if (!*v) return std::nullopt;
        char* end = nullptr;
        double d = std::strtod(v, &end);
        if (*end || !std::isfinite(d))
            throw input_error(file_, std::string(n.name()) + " attribute " + key + "='" + std::string(v).substr(0, 32) +
                                         "' is not a number");
        return d;
    }
};

// Largest byte offset (exclusive) a plane read touches inside the image's memory block.
bool extent_of(const LifImage& im, uint64_t& extent) {
    uint64_t e = 0, term = 0;
    auto add_dim = [&](const Dim& d) {
        return !container::mul_overflows(d.count - 1, d.bytes_inc, term) && !container::add_overflows(e, term, e);
    };
    if (!add_dim(im.x) || !add_dim(im.y)) return false;
    for (auto* v : {&im.z, &im.t, &im.tiles})
        for (auto& d : *v)
            if (!add_dim(d)) return false;
    uint64_t max_channel = 0;
    for (auto& c : im.channels) max_channel = std::max(max_channel, c.bytes_inc);
    return !container::add_overflows(e, max_channel, e) && !container::add_overflows(e, im.bytes_per_sample, extent);
}

struct Block {
    uint64_t offset = 0, size = 0;
    bool truncated = false;
};

}  // namespace

std::shared_ptr<const LifStructure> parse_lif(const RandomAccessFile& f) {
    unsigned char head[13];
    f.read_at(0, head, sizeof head, "LIF header");
    if (container::load_le<uint32_t>(head) != kLifMagic || head[8] != kLifSeparator)
        throw input_error(f.path(), "not a Leica LIF file (no 0x70 test value and XML header block at the start)");
    const uint64_t xml_chars = container::load_le<uint32_t>(head + 9);
    if (!f.contains(13, xml_chars * 2))
        f.fail(13, "XML header of " + std::to_string(xml_chars * 2) + " bytes runs past the end of the file (truncated?)");
    std::string xml;
    if (!container::utf16le_to_utf8(f.read_string(13, size_t(xml_chars * 2), "XML header"), xml))
        f.fail(13, "XML header is not UTF-16");
    pugi::xml_document doc;
    auto r = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!r)
        f.fail(13, std::string("XML header is not well-formed: ") + r.description() + " at character " + std::to_string(r.offset));
    pugi::xml_node root = doc.document_element();
    const int version = root.attribute("Version").as_int(2);

    // Memory blocks.
    auto s = std::make_shared<LifStructure>();
    std::map<std::string, Block> blocks;
    uint64_t pos = 13 + xml_chars * 2;
    const size_t size_bytes = version == 1 ? 4 : 8;
    while (pos < f.size()) {
        unsigned char bh[8 + 1 + 8 + 1 + 4];
        const size_t bh_len = 8 + 1 + size_bytes + 1 + 4;
        if (!f.contains(pos, bh_len)) {
            s->warnings.push_back(f.path() + ": offset " + std::to_string(pos) + ": memory block header cut short (truncated file?)");
            break;
        }
        f.read_at(pos, bh, bh_len, "memory block header");
        if (container::load_le<uint32_t>(bh) != kLifMagic || bh[8] != kLifSeparator || bh[9 + size_bytes] != kLifSeparator)
            f.fail(pos, "memory block header without the 0x70 test value (corrupt file)");
        const uint64_t data_size = size_bytes == 4 ? container::load_le<uint32_t>(bh + 9) : container::load_le<uint64_t>(bh + 9);
        const uint64_t id_chars = container::load_le<uint32_t>(bh + 10 + size_bytes);
        const uint64_t id_at = pos + bh_len;
        if (!f.contains(id_at, id_chars * 2)) {
            s->warnings.push_back(f.path() + ": offset " + std::to_string(pos) + ": memory block ID cut short (truncated file?)");
            break;
        }
        std::string id;
        container::utf16le_to_utf8(f.read_string(id_at, size_t(id_chars * 2), "memory block ID"), id);
        Block b{id_at + id_chars * 2, data_size, false};
        if (!f.contains(b.offset, b.size)) {
            b.truncated = true;
            blocks[id] = b;
            break;
        }
        blocks[id] = b;
        pos = b.offset + b.size;
    }

    // Images, in document order.
    // Element nodes in document order, each with the index of its nearest Element ancestor (-1 for
    // none): paths of names are built only for the images, so deep nesting costs no copies.
    std::vector<std::pair<pugi::xml_node, long>> elements;
    {
        std::vector<std::pair<pugi::xml_node, long>> todo{{root, -1}};
        while (!todo.empty()) {
            auto [n, parent] = todo.back();
            todo.pop_back();
            std::vector<std::pair<pugi::xml_node, long>> kids;
            for (auto c : n.children()) {
                if (c.type() != pugi::node_element) continue;
                long p = parent;
                if (std::strcmp(c.name(), "Element") == 0) {
                    elements.push_back({c, parent});
                    p = long(elements.size() - 1);
                }
                kids.push_back({c, p});
            }
            for (auto it = kids.rbegin(); it != kids.rend(); ++it) todo.push_back(*it);
        }
    }
    auto path_of = [&](size_t i) {
        std::vector<std::string> names;
        for (long k = long(i); k >= 0; k = elements[size_t(k)].second) names.push_back(elements[size_t(k)].first.attribute("Name").value());
        std::string path;
        for (auto it = names.rbegin(); it != names.rend(); ++it) path = path.empty() ? *it : path + "/" + *it;
        return path;
    };
    // Element paths start at the file's root element (named after the file); drop that part.
    uint64_t plane_total = 0;
    std::map<std::string, int> names;
    ImageParser parser(f.path());
    for (size_t e = 0; e < elements.size(); ++e) {
        const pugi::xml_node el = elements[e].first;
        pugi::xml_node desc = el.child("Data").child("Image").child("ImageDescription");
        if (!desc) continue;
        std::string name = path_of(e);
        if (auto slash = name.find('/'); slash != std::string::npos) name = name.substr(slash + 1);
        pugi::xml_node mem = el.child("Memory");
        const std::string block_id = mem.attribute("MemoryBlockID").value();
        const uint64_t mem_size = mem.attribute("Size").as_ullong(0);
        auto it = blocks.find(block_id);
        if (mem_size == 0 || it == blocks.end() || it->second.size == 0) {
            s->warnings.push_back(f.path() + ": image '" + name + "' has no pixel data (empty memory block " + block_id +
                                  "); skipped");
            continue;
        }
        LifImage im;
        im.name = name;
        parser.set_origins(desc);
        const std::string why = parser.parse(el, desc, it->second.size, im);
        if (!why.empty()) {
            s->warnings.push_back(f.path() + ": image '" + name + "': " + why + "; skipped");
            s->unread.push_back("image '" + name + "' (" + why + ")");
            continue;
        }
        if (!parser.note().empty()) s->warnings.push_back(f.path() + ": image '" + name + "' is " + parser.note());
        const Block& b = it->second;
        uint64_t extent = 0;
        if (!extent_of(im, extent))
            f.fail(b.offset, "image '" + name + "': dimension byte steps overflow");
        if (b.truncated)
            f.fail(b.offset, "image '" + name + "': memory block " + block_id + " of " + std::to_string(b.size) +
                                 " bytes runs past the end of the file (" + std::to_string(f.size()) + " bytes; truncated?)");
        uint64_t plane_bytes = 0;
        if (container::mul_overflows(uint64_t(im.width) * im.height, im.bytes_per_sample, plane_bytes) || plane_bytes > b.size)
            f.fail(b.offset, "image '" + name + "': a " + std::to_string(im.width) + "x" + std::to_string(im.height) +
                                 " plane needs more bytes than memory block " + block_id + " holds (" +
                                 std::to_string(b.size) + ")");
        if (extent > b.size)
            f.fail(b.offset, "image '" + name + "': its dimensions need " + std::to_string(extent) +
                                 " bytes but memory block " + block_id + " holds " + std::to_string(b.size));
        // Stacking dimensions without a byte step would list the same pixels many times over.
        for (auto* v : {&im.z, &im.t, &im.tiles})
            for (auto& dd : *v)
                if (dd.count > 1 && dd.bytes_inc == 0)
                    f.fail(b.offset, "image '" + name + "': dimension DimID " + std::to_string(dd.id) + " has " +
                                         std::to_string(dd.count) + " elements but BytesInc 0");
        // Every plane is at least a byte of its memory block, and every block is part of the file.
        uint64_t planes = 1;
        for (uint64_t factor : {im.count(im.z), im.count(im.t), uint64_t(im.channels.size()), im.tile_count()})
            if (container::mul_overflows(planes, factor, planes) || planes > b.size)
                f.fail(b.offset, "image '" + name + "' describes more planes than memory block " + block_id + " of " +
                                     std::to_string(b.size) + " bytes holds");
        im.data_offset = b.offset;
        im.data_size = b.size;
        im.first_plane = plane_total;
        plane_total += planes;
        if (plane_total > f.size())
            f.fail(13, "the images describe more planes than the file's " + std::to_string(f.size()) + " bytes hold");
        s->images.push_back(std::move(im));
    }
    s->plane_count = plane_total;
    return s;
}

namespace {
container::StructureCache<LifStructure>& cache() {
    static container::StructureCache<LifStructure> c(8);
    return c;
}
}  // namespace

std::shared_ptr<const LifStructure> structure_of(const source::File& file) { return cache().get(file, parse_lif); }

// The image holding global plane `page`.
const LifImage& image_of(const source::File& file, const LifStructure& s, uint32_t page) {
    if (page >= s.plane_count)
        throw input_error(file.path(), "plane " + std::to_string(page) + " does not exist (the file's images hold " +
                                              std::to_string(s.plane_count) + " planes)");
    auto it = std::upper_bound(s.images.begin(), s.images.end(), uint64_t(page),
                               [](uint64_t p, const LifImage& im) { return p < im.first_plane; });
    return *(it - 1);
}

bool is_lif_name(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".lif";
}

}  // namespace imx::lif
