// Retrieval of single planes from an extracted experiment (the seed's ChannelImageFile.get).
#include <algorithm>
#include <cctype>

#include "storage/store.h"
#include "workflow/workflow.h"

namespace imx {

struct ExperimentReader::Impl {
    Workspace ws;
    Catalog cat;
    std::unique_ptr<Store> store;
    std::vector<CatalogPlate> plates;
    explicit Impl(const fs::path& p) : ws(p), cat((ws.require(), ws.catalog_file()), true) {}
};

ExperimentReader::ExperimentReader(const fs::path& experiment) : impl_(std::make_unique<Impl>(experiment)) {
    impl_->store = open_store(impl_->cat.config().store);
    impl_->plates = impl_->cat.plates();
    for (auto& c : impl_->cat.channels()) channels_.push_back(c.name);
}

ExperimentReader::~ExperimentReader() = default;
ExperimentReader::ExperimentReader(ExperimentReader&&) noexcept = default;
ExperimentReader& ExperimentReader::operator=(ExperimentReader&&) noexcept = default;

Plane ExperimentReader::get(const PlaneQuery& q) {
    const CatalogPlate* plate = nullptr;
    if (q.plate.empty()) {
        if (impl_->plates.size() != 1)
            throw Error("the experiment holds " + std::to_string(impl_->plates.size()) + " plates; name one with --plate",
                        Error::Kind::usage);
        plate = &impl_->plates[0];
    } else {
        for (auto& p : impl_->plates)
            if (p.name == q.plate) plate = &p;
        if (!plate) throw Error("no plate named '" + q.plate + "' in this experiment", Error::Kind::usage);
    }
    int row = 0, col = 0;
    if (!parse_well_name(q.well, row, col))
        throw Error("'" + q.well + "' is not a well name (like B03)", Error::Kind::usage);
    int channel = -1;
    bool numeric = !q.channel.empty() &&
                   std::all_of(q.channel.begin(), q.channel.end(), [](unsigned char c) { return std::isdigit(c); });
    if (numeric) {
        channel = std::stoi(q.channel);
        if (size_t(channel) >= channels_.size())
            throw Error("channel index " + q.channel + " is out of range (the experiment has " +
                            std::to_string(channels_.size()) + " channels)", Error::Kind::usage);
    } else {
        for (size_t i = 0; i < channels_.size(); ++i)
            if (channels_[i] == q.channel) channel = int(i);
        if (channel < 0) {
            std::string names;
            for (auto& n : channels_) names += (names.empty() ? "" : ", ") + n;
            throw Error("no channel named '" + q.channel + "' (channels: " + names + ")", Error::Kind::usage);
        }
    }
    if (!impl_->cat.has_plane_at(plate->id, {row, col, q.site, channel, q.tpoint, q.zplane}))
        throw Error("no plane at " + plate->name + " " + well_name(row, col) + " site " + std::to_string(q.site) +
                        " channel " + std::to_string(channel) + " tpoint " + std::to_string(q.tpoint) + " zplane " +
                        std::to_string(q.zplane) + " in the catalog",
                    Error::Kind::usage);
    NgffPlate ngff(*impl_->store, NgffPlate::read_layout(*impl_->store, plate->store_path));
    Plane p;
    if (q.region)
        ngff.read_region_into(p, row, col, q.site, q.tpoint, channel, q.zplane, q.level, *q.region);
    else
        ngff.read_plane_into(p, row, col, q.site, q.tpoint, channel, q.zplane, q.level);
    bytes_fetched_ = ngff.bytes_read();
    return p;
}

PlaneRegion parse_region(const std::string& text) {
    uint64_t v[4];
    size_t pos = 0;
    for (int i = 0; i < 4; ++i) {
        const size_t end = i < 3 ? text.find(',', pos) : text.size();
        const std::string part = end == std::string::npos ? std::string() : text.substr(pos, end - pos);
        if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos)
            throw Error("--region must be Y,X,H,W (top row, left column, height and width in pixels), not '" + text + "'",
                        Error::Kind::usage);
        v[i] = std::stoull(part);
        pos = end + 1;
    }
    return {uint32_t(v[0]), uint32_t(v[1]), uint32_t(v[2]), uint32_t(v[3])};
}

}  // namespace imx
