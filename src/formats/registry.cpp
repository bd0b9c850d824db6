#include <algorithm>
#include <fstream>

#include "formats/builtin.h"
#include "formats/reader.h"

namespace imx {

const std::vector<std::unique_ptr<LayoutReader>>& layout_readers() {
    // Explicit list rather than static self-registration: a static library would drop
    // self-registering objects that nothing references.
    static const std::vector<std::unique_ptr<LayoutReader>> readers = [] {
        std::vector<std::unique_ptr<LayoutReader>> v;
        v.push_back(make_cellvoyager_layout());
        v.push_back(make_ome_tiff_layout());
        v.push_back(make_plain_files_layout());
        return v;
    }();
    return readers;
}

const LayoutReader* find_layout_reader(const std::string& name) {
    for (auto& r : layout_readers())
        if (r->name() == name) return r.get();
    return nullptr;
}

const LayoutReader& detect_layout(const fs::path& source) {
    std::error_code ec;
    if (!fs::is_directory(source, ec))
        throw Error(source.string() + ": not a folder (the source must be the folder the microscope wrote)",
                    Error::Kind::input);
    const LayoutReader* best = nullptr;
    int best_score = 0;
    for (auto& r : layout_readers()) {
        int s = r->detect(source);
        if (s > best_score) {
            best_score = s;
            best = r.get();
        }
    }
    if (!best) {
        std::string names;
        for (auto& r : layout_readers()) names += (names.empty() ? "" : ", ") + r->name();
        throw Error(source.string() + ": no supported microscope layout found (tried " + names +
                        "); for a folder of plain image files give --format files --pattern REGEX",
                    Error::Kind::input);
    }
    return *best;
}

const std::vector<std::unique_ptr<PixelDecoder>>& pixel_decoders() {
    static const std::vector<std::unique_ptr<PixelDecoder>> decoders = [] {
        std::vector<std::unique_ptr<PixelDecoder>> v;
        v.push_back(make_tiff_decoder());
        v.push_back(make_png_decoder());
        return v;
    }();
    return decoders;
}

const PixelDecoder& decoder_for(const fs::path& file) {
    unsigned char head[64] = {};
    size_t n = 0;
    {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw input_error(file.string(), "cannot open file (missing or unreadable)");
        in.read(reinterpret_cast<char*>(head), sizeof head);
        n = size_t(in.gcount());
    }
    for (auto& d : pixel_decoders())
        if (d->accepts(file, head, n)) return *d;
    throw input_error(file.string(), "not an image file that imextract can decode (not TIFF or PNG)");
}

void read_plane(const fs::path& file, uint32_t page, uint32_t sample, Plane& out) {
    decoder_for(file).read(file, page, sample, out);
}

fs::path resolve_inside(const fs::path& source, const std::string& relative) {
    fs::path rel(relative);
    if (relative.empty() || rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
        throw input_error(relative, "file name in metadata is absolute or empty; only names inside the source folder are allowed");
    for (auto& part : rel)
        if (part == "..")
            throw input_error(relative, "file name in metadata leaves the source folder ('..'); refused");
    fs::path full = source / rel;
    std::error_code ec;
    // Symlinks that point outside the source folder are refused as well.
    fs::path canon_src = fs::weakly_canonical(source, ec);
    fs::path canon = fs::weakly_canonical(full, ec);
    if (!ec) {
        auto s = canon_src.native(), c = canon.native();
        if (c.compare(0, s.size(), s) != 0 || (c.size() > s.size() && c[s.size()] != '/'))
            throw input_error(full.string(), "resolves outside the source folder (symlink?); refused");
    }
    return full;
}

}  // namespace imx
