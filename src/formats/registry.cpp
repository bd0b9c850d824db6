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

}  // namespace imx
