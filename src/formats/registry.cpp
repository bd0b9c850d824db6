#include <algorithm>
#include <fstream>

#include "formats/builtin.h"
#include "formats/reader.h"
#include "storage/source_files.h"

namespace imx {

const std::vector<std::unique_ptr<LayoutReader>>& layout_readers() {
    // Explicit list rather than static self-registration: a static library would drop
    // self-registering objects that nothing references.
    static const std::vector<std::unique_ptr<LayoutReader>> readers = [] {
        std::vector<std::unique_ptr<LayoutReader>> v;
        v.push_back(make_cellvoyager_layout());
        v.push_back(make_ome_tiff_layout());
        v.push_back(make_harmony_layout());
        v.push_back(make_incell_layout());
        v.push_back(make_scanr_layout());
        v.push_back(make_metaxpress_layout());
        v.push_back(make_metamorph_nd_layout());
        v.push_back(make_plain_files_layout());
        v.push_back(make_czi_layout());
        v.push_back(make_nd2_layout());
        v.push_back(make_lif_layout());
        return v;
    }();
    return readers;
}

const LayoutReader* find_layout_reader(const std::string& name) {
    for (auto& r : layout_readers())
        if (r->name() == name) return r.get();
    return nullptr;
}

const std::vector<std::unique_ptr<PixelDecoder>>& pixel_decoders() {
    static const std::vector<std::unique_ptr<PixelDecoder>> decoders = [] {
        std::vector<std::unique_ptr<PixelDecoder>> v;
        v.push_back(make_tiff_decoder());
        v.push_back(make_png_decoder());
        v.push_back(make_czi_decoder());
        v.push_back(make_nd2_decoder());
        v.push_back(make_lif_decoder());
        return v;
    }();
    return decoders;
}

const PixelDecoder& decoder_for(const source::File& file) {
    unsigned char head[64] = {};
    const size_t n = size_t(std::min<uint64_t>(file.size(), sizeof head));
    file.read_at(0, head, n);
    for (auto& d : pixel_decoders())
        if (d->accepts(fs::path(file.path()), head, n)) return *d;
    throw input_error(file.path(), "not an image file that imextract can decode (not TIFF, PNG, CZI, ND2 or LIF)");
}

void read_plane(const source::File& file, const PlaneAddress& at, Plane& out) {
    decoder_for(file).read(file, at, out);
}

void check_relative_name(const std::string& relative) {
    if (relative.empty() || relative.front() == '/')
        throw input_error(relative, "file name in metadata is absolute or empty; only names inside the source folder are allowed");
    size_t start = 0;
    while (start <= relative.size()) {
        size_t end = relative.find_first_of("/\\", start);
        if (end == std::string::npos) end = relative.size();
        if (relative.compare(start, end - start, "..") == 0 && end - start == 2)
            throw input_error(relative, "file name in metadata leaves the source folder ('..'); refused");
        start = end + 1;
    }
}

fs::path resolve_inside(const fs::path& source, const std::string& relative) {
    check_relative_name(relative);
    fs::path full = source / fs::path(relative);
    if (source::is_remote(source)) return full;  // object keys have no symlinks; the lexical check is all
    std::error_code ec;
    // Symlinks that point outside the source folder are refused as well.
    // The source folder's and the file's folder's resolutions are the same for every file a thread
    // reads from them (a run job reads thousands): resolved once, then one lstat per file.
    thread_local fs::path last_source, last_canon_src, last_parent, last_canon_parent;
    if (source != last_source || last_source.empty()) {
        last_canon_src = fs::weakly_canonical(source, ec);
        last_source = ec ? fs::path() : source;
        last_parent.clear();
    }
    const fs::path& canon_src = last_canon_src;
    const fs::path parent = full.parent_path();
    if (parent != last_parent || last_parent.empty()) {
        last_canon_parent = fs::weakly_canonical(parent, ec);
        last_parent = ec ? fs::path() : parent;
    }
    fs::path canon = fs::is_symlink(fs::symlink_status(full, ec)) || ec || last_parent.empty()
                         ? fs::weakly_canonical(full, ec)
                         : last_canon_parent / full.filename();
    if (!ec) {
        auto s = canon_src.native(), c = canon.native();
        if (c.compare(0, s.size(), s) != 0 || (c.size() > s.size() && c[s.size()] != '/'))
            throw input_error(full.string(), "resolves outside the source folder (symlink?); refused");
    }
    return full;
}

}  // namespace imx
