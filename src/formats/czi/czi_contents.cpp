// What a CZI file holds, for create's pixel inventory: the mosaic and tile pages our decoder
// numbers (czi.h), and the subblocks behind them. A plane is a page, but what the file stores are
// subblocks: a stitched mosaic plane keeps all of a subblock only when no later tile is drawn over
// part of it, so overlapping tiles make the file incomplete (--tiles as-sites keeps every tile).
#include <algorithm>
#include <numeric>

#include "formats/czi/czi.h"

namespace imx::czi {

namespace {

// Subblocks of a mosaic plane that a later one (in drawing order) partly covers.
void mark_hidden(const Index& idx, const PlaneEntry& plane, std::vector<bool>& hidden) {
    const auto& blocks = plane.blocks;
    std::vector<size_t> by_x(blocks.size());
    std::iota(by_x.begin(), by_x.end(), size_t(0));
    std::sort(by_x.begin(), by_x.end(), [&](size_t a, size_t b) { return idx.subblocks[blocks[a]].x < idx.subblocks[blocks[b]].x; });
    for (size_t i = 0; i < by_x.size(); ++i) {
        const Subblock& a = idx.subblocks[blocks[by_x[i]]];
        const int64_t a_right = int64_t(a.x) + a.width, a_bottom = int64_t(a.y) + a.height;
        for (size_t j = i + 1; j < by_x.size() && idx.subblocks[blocks[by_x[j]]].x < a_right; ++j) {
            const Subblock& b = idx.subblocks[blocks[by_x[j]]];
            if (b.width == 0 || a.width == 0 || b.y >= a_bottom || int64_t(b.y) + b.height <= a.y) continue;
            // The one drawn first (lower position in plane.blocks) is the one partly hidden.
            hidden[blocks[std::min(by_x[i], by_x[j])]] = true;
        }
    }
}

}  // namespace

FileContents contents(const source::File& file, std::shared_ptr<const Index> index) {
    const Index& idx = *index;
    // Refuses pixel types we cannot decode, and files whose planes fit neither mode.
    const PlaneGeometry g = plane_geometry(file.path(), idx, idx.mosaic_error.empty() ? 0 : kTilePageFlag);
    const bool rgb = g.samples == 3;
    FileContents c;
    if (idx.mosaic_error.empty() && !idx.mosaic_planes.empty())
        c.runs.push_back({0, 0, uint32_t(idx.mosaic_planes.size()), g.samples, rgb});
    if (idx.tile_error.empty() && !idx.tile_planes.empty())
        c.runs.push_back({0, kTilePageFlag, uint32_t(idx.tile_planes.size()), g.samples, rgb});
    if (idx.other_index_blocks)
        c.unreachable.push_back(std::to_string(idx.other_index_blocks) +
                                " subblock(s) of further B (block), H (phase), R, I or V indices");
    if (idx.other_part_blocks)
        c.unreachable.push_back(std::to_string(idx.other_part_blocks) + " subblock(s) in other parts of a multi-file CZI");
    const uint32_t samples = g.samples;
    c.composed_left_out = [index, samples](const std::vector<PlaneRef>& refs) {
        const Index& idx = *index;
        const unsigned all = (1u << samples) - 1;
        std::vector<unsigned> covered(idx.subblocks.size(), 0);
        std::vector<bool> used(idx.subblocks.size(), false), hidden(idx.subblocks.size(), false);
        for (auto& p : idx.mosaic_planes)
            for (uint32_t b : p.blocks) used[b] = true;
        for (size_t i = 0; i < refs.size();) {
            const uint32_t page = refs[i].page;
            unsigned mask = 0;
            for (; i < refs.size() && refs[i].page == page; ++i)
                if (refs[i].sample < samples) mask |= 1u << refs[i].sample;
            const bool tile = page & kTilePageFlag;
            const auto& planes = tile ? idx.tile_planes : idx.mosaic_planes;
            const uint32_t k = page & ~kTilePageFlag;
            if (k >= planes.size()) continue;  // a page the file does not have: reported as missing
            for (uint32_t b : planes[k].blocks) covered[b] |= mask;
            if (!tile) mark_hidden(idx, planes[k], hidden);
        }
        size_t total = 0, unread = 0, partly_hidden = 0;
        for (size_t b = 0; b < used.size(); ++b) {
            if (!used[b]) continue;
            ++total;
            if (covered[b] != all) ++unread;
            else if (hidden[b]) ++partly_hidden;
        }
        std::vector<std::string> out;
        if (unread)
            out.push_back(std::to_string(unread) + " of " + std::to_string(total) +
                          " full-resolution subblock(s) not in any plane" + (samples > 1 ? " (or not every sample)" : ""));
        if (partly_hidden)
            out.push_back(std::to_string(partly_hidden) + " subblock(s) partly hidden under overlapping mosaic tiles "
                          "(create --tiles as-sites keeps every tile)");
        return out;
    };
    return c;
}

}  // namespace imx::czi
