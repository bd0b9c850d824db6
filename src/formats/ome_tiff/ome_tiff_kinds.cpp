// OME-TIFF: placed Images split into plates by kind (formats/ome_tiff_model.h).
#include <map>
#include <set>
#include <tuple>

#include "formats/ome_tiff/ome_tiff_model.h"

namespace imx::ome_tiff {

namespace {

std::string dims_of(const Image& i) {
    return "t" + std::to_string(i.st) + "c" + std::to_string(i.sc) + "z" + std::to_string(i.sz);
}
std::string kind_text(const Image& i) {
    return std::to_string(i.sx) + "x" + std::to_string(i.sy) + " " + dtype_name(i.dtype) + " " + dims_of(i);
}

}  // namespace

Kinds split_by_kind(ImageSet& set, const std::vector<Image>& images, const std::vector<size_t>& placed,
                    std::vector<std::string>& warnings) {
    using Key = std::tuple<int, uint32_t, uint32_t, DType, uint32_t, uint32_t, uint32_t>;
    std::map<Key, size_t> kind_of;
    std::map<int, size_t> first_kind_of_plate;  // metadata plate -> its first kind
    std::vector<int> plate_of_kind;
    Kinds out;
    for (size_t i : placed) {
        const Image& img = images[i];
        const Key key{img.where.plate, img.sx, img.sy, img.dtype, img.st, img.sc, img.sz};
        auto [it, fresh] = kind_of.emplace(key, out.first_image.size());
        if (fresh) {
            out.first_image.push_back(i);
            auto [first, first_of_plate] = first_kind_of_plate.emplace(img.where.plate, it->second);
            if (first_of_plate) {
                plate_of_kind.push_back(img.where.plate);
            } else {
                const Image& f = images[out.first_image[first->second]];
                PlateInfo extra = set.plates[size_t(img.where.plate)];
                std::string name = extra.name;
                if (img.sx != f.sx || img.sy != f.sy) name += "_" + std::to_string(img.sx) + "x" + std::to_string(img.sy);
                if (img.dtype != f.dtype) name += "_" + dtype_name(img.dtype);
                if (dims_of(img) != dims_of(f)) name += "_" + dims_of(img);
                extra.name = name;
                for (int k = 2; std::any_of(set.plates.begin(), set.plates.end(), [&](auto& p) { return p.name == extra.name; }); ++k)
                    extra.name = name + "_" + std::to_string(k);
                if (img.sx != set.width || img.sy != set.height || img.dtype != *set.dtype)
                    container::assign_geometry(extra, img.geometry());
                warnings.push_back(img.doc + ": Image " + img.id + " is " + kind_text(img) + ", unlike Image " + f.id +
                                    " in " + f.doc + " (" + kind_text(f) + "): stored as plate " + extra.name);
                set.plates.push_back(std::move(extra));
                plate_of_kind.push_back(int(set.plates.size() - 1));
            }
        }
        out.kind.push_back(it->second);
        out.where.push_back(img.where);
        out.where.back().plate = plate_of_kind[it->second];
    }
    // Sites numbered densely per well again: a well whose Images went to two plates keeps no gap.
    std::map<std::tuple<int, int, int>, std::set<int>> sites;
    for (auto& w : out.where) sites[{w.plate, w.row, w.col}].insert(w.site);
    for (auto& w : out.where) {
        const auto& s = sites[{w.plate, w.row, w.col}];
        w.site = int(std::distance(s.begin(), s.find(w.site)));
    }
    return out;
}

}  // namespace imx::ome_tiff
