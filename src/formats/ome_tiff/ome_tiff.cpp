// OME-TIFF layout reader: the OME-XML in the ImageDescription of the first page of each *.ome.tif
// file (or in a *.companion.ome file) says which TIFF page of which file holds every plane of every
// Image. Each Image becomes one site; HCS files place Images into plates and wells with
// Plate/Well/WellSample.
//
// Elements are matched by local name, so every OME schema (2008..2016, default namespace or a
// prefix) reads the same. File names from the metadata are untrusted and must stay inside the
// source folder.
#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "core/fileutil.h"
#include "formats/builtin.h"
#include "formats/ome_tiff/ome_tiff_files.h"
#include "formats/ome_tiff/ome_tiff_model.h"
#include "formats/tiff/tiff_decoder.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

using namespace ome_tiff;  // OME-XML values and the model

// One configure() run.
class Reader {
public:
    explicit Reader(const source::Folder& folder) : folder_(folder), source_(folder.path()) {}

    ImageSet run() {
        list_files();
        // The companion file is the master when there is one; TIFFs it covers are not re-read.
        for (auto& doc : docs_) {
            if (covered_.count(doc)) continue;
            read_document(doc);
        }
        for (auto& f : no_xml_)
            if (!covered_.count(f))
                warnings_.push_back(f + ": no OME-XML in the first page's ImageDescription; file skipped");
        if (images_.empty())
            throw input_error(source_.string(), "no OME-XML Image found in the OME-TIFF files of this folder");
        return build();
    }

private:
    const source::Folder& folder_;
    fs::path source_;
    std::vector<std::string> docs_;       // relative names: companions first, then TIFFs
    std::set<std::string> tiff_names_;    // OME-TIFF files in the folder
    // The size of the files taken (documents, and the files their TiffData name), which hold every
    // plane: a bound on the planes metadata may declare, from a stat of those files only.
    uint64_t file_bytes_ = 0;
    std::set<std::string> covered_;       // files referenced by a document already read
    std::vector<std::string> no_xml_;
    std::vector<std::string> files_;      // files planes point at (relative, '/' separated)
    std::map<std::string, int> file_index_;
    std::map<std::string, uint32_t> page_counts_;
    std::map<std::string, std::string> uuid_files_;  // document UUID -> file
    bool uuids_scanned_ = false;
    std::vector<Image> images_;
    std::set<std::string> image_keys_;
    std::vector<Plate> plates_;
    std::vector<std::string> warnings_;

    void list_files() {
        std::vector<std::string> companions, tiffs;
        for (auto& e : folder_.list()) {
            if (e.is_dir) continue;
            if (is_companion_name(e.name)) companions.push_back(e.name);
            else if (is_ome_tiff_name(e.name)) tiffs.push_back(e.name);
        }
        std::sort(companions.begin(), companions.end());
        std::sort(tiffs.begin(), tiffs.end());
        if (companions.empty() && tiffs.empty())
            for (auto& e : folder_.list()) {
                if (e.is_dir || !is_plain_tiff_name(e.name)) continue;
                if (carries_ome_xml(folder_, e.name)) tiffs.push_back(e.name);
                else warnings_.push_back(path_of(e.name) + ": no OME-XML in the first page's ImageDescription; "
                                                            "not part of the OME-TIFF set, skipped");
            }
        if (companions.empty() && tiffs.empty())
            throw input_error(source_.string(),
                              "no OME-TIFF files (*.ome.tif, *.ome.tiff, *.companion.ome) in this folder");
        docs_ = companions;
        docs_.insert(docs_.end(), tiffs.begin(), tiffs.end());
        tiff_names_.insert(tiffs.begin(), tiffs.end());
        // Local listings carry no sizes (no stat per entry): the files taken are stat'ed here.
        for (auto& doc : docs_) file_bytes_ += folder_.size(doc).value_or(0);
    }

    std::string path_of(const std::string& rel) const { return (source_ / rel).string(); }

    // The OME-XML text of a document ("" when a TIFF has none).
    std::string xml_of(const std::string& doc) {
        std::string text;
        if (is_companion_name(doc)) {
            text = folder_.read_all(doc);
        } else {
            text = tiff_image_description(*folder_.open(doc), 0);
        }
        return text;
    }

    static pugi::xml_node ome_root(const pugi::xml_document& xml) {
        auto root = xml.document_element();
        return named(root, "OME") ? root : pugi::xml_node();
    }

    bool parse(const std::string& doc, const std::string& text, pugi::xml_document& xml) {
        if (text.find("OME") == std::string::npos) return false;
        // parse_default: no DOCTYPE processing, no entity expansion beyond the five built-ins.
        auto result = xml.load_buffer(text.data(), text.size(), pugi::parse_default);
        if (!result)
            throw input_error(path_of(doc), std::string("OME-XML is not well-formed: ") + result.description() +
                                                " at byte " + std::to_string(result.offset));
        return bool(ome_root(xml));
    }

    // A file name from metadata, checked to stay inside the source folder; returns its index.
    int file_ref(const std::string& doc, const std::string& raw) {
        const std::string name = fs::path(trim(raw)).lexically_normal().generic_string();
        if (auto it = file_index_.find(name); it != file_index_.end()) return it->second;
        std::optional<uint64_t> size;
        try {
            size = folder_.size(trim(raw));
        } catch (const Error& e) {
            throw input_error(path_of(doc), "OME-XML refers to '" + trim(raw) + "', which is refused: " + e.what());
        }
        if (!size)
            throw input_error(path_of(doc), "OME-XML refers to file '" + name +
                                                "', which is missing from the folder (incomplete multi-file set?)");
        if (std::find(docs_.begin(), docs_.end(), name) == docs_.end()) file_bytes_ += *size;
        files_.push_back(name);
        file_index_[name] = int(files_.size() - 1);
        return int(files_.size() - 1);
    }

    uint32_t pages_of(int file) {
        const std::string& name = files_[size_t(file)];
        auto it = page_counts_.find(name);
        if (it != page_counts_.end()) return it->second;
        const uint32_t n = tiff_page_count(*folder_.open(name));
        page_counts_[name] = n;
        return n;
    }

    // The file whose OME root carries `uuid` (TiffData with a UUID but no FileName).
    std::string file_by_uuid(const std::string& uuid) {
        if (auto it = uuid_files_.find(uuid); it != uuid_files_.end()) return it->second;
        if (!uuids_scanned_) {
            uuids_scanned_ = true;
            for (auto& name : tiff_names_) {
                pugi::xml_document xml;
                if (!parse(name, xml_of(name), xml)) continue;
                const std::string u = attr_str(ome_root(xml), "UUID");
                if (!u.empty()) uuid_files_.emplace(u, name);
            }
        }
        auto it = uuid_files_.find(uuid);
        return it == uuid_files_.end() ? std::string() : it->second;
    }

    void read_document(const std::string& doc) {
        pugi::xml_document xml;
        if (!parse(doc, xml_of(doc), xml)) {
            if (is_companion_name(doc)) throw input_error(path_of(doc), "not an OME-XML document");
            no_xml_.push_back(doc);
            return;
        }
        const pugi::xml_node root = ome_root(xml);
        const Numbers num(path_of(doc));
        const std::string uuid = attr_str(root, "UUID");
        if (!uuid.empty()) uuid_files_.emplace(uuid, doc);
        if (auto bin = child(root, "BinaryOnly")) {
            // Pixels only: the metadata lives in another file of the folder (read as a document of
            // its own), whose TiffData refer to this one.
            const std::string master = attr_str(bin, "MetadataFile");
            if (master.empty()) num.fail("OME-XML BinaryOnly without MetadataFile");
            try {
                folder_.path_of(master);
            } catch (const Error& e) {
                num.fail("BinaryOnly MetadataFile '" + master + "' is refused: " + e.what());
            }
            const std::string name = fs::path(master).lexically_normal().generic_string();
            if (std::find(docs_.begin(), docs_.end(), name) == docs_.end())
                num.fail("the OME-XML of this file lives in '" + master + "', which is not in the source folder");
            return;
        }
        covered_.insert(doc);

        std::map<std::string, size_t> by_id;  // Image ID -> index in images_, this document only
        uint32_t series = 0;
        uint64_t default_ifd = 0;  // running IFD for Images without TiffData
        for (auto node : children(root, "Image")) {
            Image img = read_image(doc, num, node, series++, default_ifd);
            // The same Image seen through another file of a multi-file set: same ID, same first plane.
            std::string key = img.id + "|";
            auto first = std::find_if(img.planes.begin(), img.planes.end(), [](const Loc& l) { return l.file >= 0; });
            key += first == img.planes.end() ? doc : files_[size_t(first->file)] + ":" + std::to_string(first->ifd);
            for (auto& l : img.planes)
                if (l.file >= 0) covered_.insert(files_[size_t(l.file)]);
            if (!image_keys_.insert(key).second) continue;
            by_id[img.id] = images_.size();
            images_.push_back(std::move(img));
        }
        for (auto node : children(root, "Plate")) read_plate(doc, num, node, by_id);
    }

    Image read_image(const std::string& doc, const Numbers& num, const pugi::xml_node& node, uint32_t series,
                     uint64_t& default_ifd) {
        Image img;
        img.doc = path_of(doc);
        img.series = series;
        img.id = attr_str(node, "ID");
        if (img.id.empty()) img.id = "Image:" + std::to_string(series);
        const pugi::xml_node px = child(node, "Pixels");
        if (!px) num.fail("OME-XML Image " + img.id + " has no Pixels element");
        auto size = [&](const char* name, bool required) -> uint32_t {
            auto v = num.uint(px, name);
            if (!v) {
                if (required) num.fail("OME-XML Pixels of " + img.id + " has no " + name);
                return 1;
            }
            if (*v == 0 || *v > (1u << 31)) num.bad(px, name, std::to_string(*v), "a size between 1 and 2^31");
            return uint32_t(*v);
        };
        img.sx = size("SizeX", true);
        img.sy = size("SizeY", true);
        img.sz = size("SizeZ", false);
        img.sc = size("SizeC", false);
        img.st = size("SizeT", false);
        std::string type = attr_str(px, "Type");
        if (type.empty()) type = attr_str(px, "PixelType");  // 2008 schemas
        if (type.empty()) num.fail("OME-XML Pixels of " + img.id + " has no Type");
        img.dtype = ome_pixel_type(num, type);
        img.significant_bits = int(std::min<uint64_t>(num.uint_or(px, "SignificantBits", 0), 64));
        img.order = attr_str(px, "DimensionOrder");
        if (img.order.empty()) img.order = "XYZCT";
        {
            std::string o = img.order;
            std::sort(o.begin() + 2, o.end());
            if (img.order.size() != 5 || img.order.compare(0, 2, "XY") != 0 || o != "XYCTZ")
                num.fail("OME-XML DimensionOrder '" + img.order.substr(0, 16) +
                         "' is not one of XYZCT, XYZTC, XYCZT, XYCTZ, XYTZC, XYTCZ");
        }
        read_physical(num, px, img, warnings_);
        read_channels(num, node, px, img);
        // Every plane is at least a byte of one of the files taken, these TiffData's too.
        for (const auto& td : children(px, "TiffData"))
            if (auto u = child(td, "UUID"); u && !attr_str(u, "FileName").empty()) file_ref(doc, attr_str(u, "FileName"));
        if (img.plane_count() > file_bytes_)
            num.fail("OME-XML Image " + img.id + " declares " + std::to_string(img.sz) + " x " + std::to_string(img.ec) +
                     " x " + std::to_string(img.st) + " planes, more than the " + std::to_string(file_bytes_) +
                     " bytes of the folder's files hold");
        img.planes.assign(size_t(img.plane_count()), Loc{});
        map_tiff_data(doc, num, px, img, default_ifd);
        read_plane_positions(num, px, img);
        return img;
    }

    void read_channels(const Numbers& num, const pugi::xml_node& image, const pugi::xml_node& px, Image& img) {
        auto nodes = children(px, "Channel");
        if (nodes.empty()) nodes = children(image, "LogicalChannel");  // 2008 schemas
        if (!nodes.empty()) {
            const uint64_t spp = num.uint_or(nodes.front(), "SamplesPerPixel", 1);
            if (spp >= 1 && spp <= img.sc && img.sc % spp == 0) img.spp = uint32_t(spp);
        }
        img.ec = img.sc / img.spp;
        img.channels.assign(img.sc, ChannelInfo{});
        static const char* rgb[] = {"R", "G", "B"};
        for (size_t i = 0; i < nodes.size() && i < img.ec; ++i) {
            const auto& n = nodes[i];
            std::string name = attr_str(n, "Name");
            std::optional<double> ex = num.real(n, "ExcitationWavelength");
            if (!ex) ex = num.real(n, "ExWave");
            std::optional<double> em = num.real(n, "EmissionWavelength");
            if (!em) em = num.real(n, "EmWave");
            auto scale = [&](std::optional<double>& v, const char* unit_attr) {
                if (!v) return;
                auto f = wavelength_factor_nm(attr_str(n, unit_attr));
                v = f ? std::optional<double>(*v * *f) : std::nullopt;
            };
            scale(ex, "ExcitationWavelengthUnit");
            scale(em, "EmissionWavelengthUnit");
            for (uint32_t s = 0; s < img.spp; ++s) {
                ChannelInfo& ch = img.channels[i * img.spp + s];
                ch.excitation_nm = ex;
                ch.emission_nm = em;
                if (img.spp == 1) ch.name = name;
                else if (img.spp == 3) ch.name = name.empty() ? rgb[s] : name + "_" + rgb[s];
                else if (!name.empty()) ch.name = name + "_" + std::to_string(s);
            }
        }
    }

    void map_tiff_data(const std::string& doc, const Numbers& num, const pugi::xml_node& px, Image& img,
                       uint64_t& default_ifd) {
        const uint64_t total = img.plane_count();
        auto tds = children(px, "TiffData");
        if (tds.empty()) {
            // No TiffData: planes follow each other in the document's own file, in dimension order.
            if (is_companion_name(doc))
                num.fail("OME-XML Image " + img.id + " has no TiffData, so its planes cannot be found");
            const int file = file_ref(doc, doc);
            const uint32_t pages = pages_of(file);
            if (default_ifd + total > pages)
                num.fail("OME-XML Image " + img.id + " needs pages " + std::to_string(default_ifd) + ".." +
                         std::to_string(default_ifd + total - 1) + " but the file has " + std::to_string(pages));
            for (uint64_t p = 0; p < total; ++p) img.planes[p] = Loc{file, uint32_t(default_ifd + p)};
            default_ifd += total;
            return;
        }
        for (const auto& td : tds) {
            // Which file: the UUID child's FileName, else the file carrying that UUID, else this one.
            int file = -1;
            if (auto u = child(td, "UUID")) {
                std::string name = attr_str(u, "FileName");
                if (name.empty()) {
                    const std::string id = trim(u.child_value());
                    name = id.empty() ? std::string() : file_by_uuid(id);
                    if (name.empty())
                        num.fail("OME-XML TiffData refers to UUID " + id.substr(0, 64) +
                                 " without a FileName, and no file in the folder has that UUID");
                }
                file = file_ref(doc, name);
            } else {
                if (is_companion_name(doc)) num.fail("OME-XML TiffData in a companion file has no UUID/FileName");
                file = file_ref(doc, doc);
            }
            const auto ifd_attr = num.uint(td, "IFD");
            const uint64_t ifd = ifd_attr.value_or(0);
            const uint64_t fz = num.uint_or(td, "FirstZ", 0), fc = num.uint_or(td, "FirstC", 0),
                           ft = num.uint_or(td, "FirstT", 0);
            if (fz >= img.sz || fc >= img.ec || ft >= img.st)
                num.fail("OME-XML TiffData of " + img.id + " starts at Z=" + std::to_string(fz) + " C=" +
                         std::to_string(fc) + " T=" + std::to_string(ft) + ", outside the image (SizeZ=" +
                         std::to_string(img.sz) + ", channels=" + std::to_string(img.ec) +
                         ", SizeT=" + std::to_string(img.st) + ")");
            const uint64_t start = img.index(uint32_t(fz), uint32_t(fc), uint32_t(ft));
            const uint32_t pages = pages_of(file);
            // Spec default: all IFDs of the file when IFD is not given, else one.
            uint64_t count = num.uint(td, "PlaneCount").value_or(ifd_attr ? 1 : (pages > ifd ? pages - ifd : 0));
            count = std::min(count, total - start);
            if (ifd + count > pages)
                num.fail("OME-XML TiffData of " + img.id + " refers to page " + std::to_string(ifd + count - 1) +
                         " of " + files_[size_t(file)] + ", which has only " + std::to_string(pages) + " pages");
            for (uint64_t k = 0; k < count; ++k) img.planes[start + k] = Loc{file, uint32_t(ifd + k)};
        }
    }

    void read_plate(const std::string& doc, const Numbers& num, const pugi::xml_node& node,
                    const std::map<std::string, size_t>& by_id) {
        Plate plate;
        plate.doc = path_of(doc);
        plate.id = attr_str(node, "ID");
        plate.info.name = attr_str(node, "Name");
        if (plate.info.name.empty()) plate.info.name = plate.id;
        plate.info.rows = int(std::min<uint64_t>(num.uint_or(node, "Rows", 0), kMaxWellRows));
        plate.info.cols = int(std::min<uint64_t>(num.uint_or(node, "Columns", 0), kMaxWellColumns));
        const int index = int(plates_.size());
        bool used = false;
        for (auto well : children(node, "Well")) {
            const uint64_t row = num.uint_or(well, "Row", 0), col = num.uint_or(well, "Column", 0);
            static const std::string within = "a well position within " + std::to_string(kMaxWellRows) + " rows and " +
                                              std::to_string(kMaxWellColumns) + " columns";
            if (row >= uint64_t(kMaxWellRows) || col >= uint64_t(kMaxWellColumns))
                num.bad(well, "Row", std::to_string(row) + "," + std::to_string(col), within.c_str());
            // Sites are numbered by WellSample Index within the well (document order on ties).
            std::vector<std::pair<uint64_t, pugi::xml_node>> samples;
            for (auto ws : children(well, "WellSample"))
                samples.emplace_back(num.uint_or(ws, "Index", samples.size()), ws);
            std::stable_sort(samples.begin(), samples.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
            int site = 0;
            for (auto& entry : samples) {
                const auto& ws = entry.second;  // a named reference: lambdas cannot capture bindings in clang 14
                std::string ref = attr_str(child(ws, "ImageRef"), "ID");
                auto it = by_id.find(ref);
                if (ref.empty() || it == by_id.end()) continue;  // image not read here (duplicate)
                Image& img = images_[it->second];
                img.where.plate = index;
                img.where.row = int(row);
                img.where.col = int(col);
                img.where.site = site++;
                auto pos = [&](const char* name) -> std::optional<double> {
                    auto v = num.real(ws, name);
                    auto f = length_factor_um(attr_str(ws, std::string(name) + "Unit"));
                    return v && f ? std::optional<double>(*v * *f) : std::nullopt;
                };
                img.where.x = pos("PositionX");
                img.where.y = pos("PositionY");
                used = true;
            }
        }
        if (used) plates_.push_back(std::move(plate));
    }

    std::string folder_name() const {
        fs::path p = source_.lexically_normal();
        if (p.filename().empty()) p = p.parent_path();
        std::string name = p.filename().string();
        if (name.empty() || name == "." || name == "..") {
            std::error_code ec;
            name = fs::weakly_canonical(source_, ec).filename().string();
        }
        if (name.empty() && !docs_.empty()) name = strip_ome_suffix(docs_.front());
        return name;
    }

    ImageSet build() {
        ImageSet set;
        set.maps_samples = true;  // SamplesPerPixel > 1: one channel per sample already
        set.format = "ome-tiff";
        // Placement: the plates from the metadata, or one plate with one well and a site per Image.
        std::vector<size_t> placed;
        if (plates_.empty()) {
            set.plates.push_back(PlateInfo{folder_name(), 0, 0});
            for (size_t i = 0; i < images_.size(); ++i) {
                images_[i].where = Placement{0, 0, 0, int(i), std::nullopt, std::nullopt};
                placed.push_back(i);
            }
        } else {
            std::set<std::string> names;
            for (auto& p : plates_) {
                std::string name = p.info.name.empty() ? folder_name() : p.info.name;
                for (int k = 2; names.count(name); ++k)
                    name = (p.info.name.empty() ? folder_name() : p.info.name) + "_" + std::to_string(k);
                names.insert(name);
                PlateInfo info = p.info;
                info.name = name;
                set.plates.push_back(info);
            }
            for (size_t i = 0; i < images_.size(); ++i) {
                if (images_[i].where.plate >= 0) placed.push_back(i);
                else
                    warnings_.push_back(images_[i].doc + ": Image " + images_[i].id +
                                        " is in no plate well (no WellSample refers to it); skipped");
            }
            if (placed.empty())
                throw input_error(source_.string(), "the OME-XML plates refer to none of the Images");
        }

        const Image& first = images_[placed.front()];
        container::assign_geometry(set, first.geometry());
        set.time_interval_s = first.dt;
        const Kinds kinds = split_by_kind(set, images_, placed, warnings_);

        // Channels: each kind's from its first Image, shared between kinds by name.
        std::vector<std::vector<int>> kind_channels(kinds.first_image.size());
        for (size_t k = 0; k < kinds.first_image.size(); ++k) {
            const Image& img = images_[kinds.first_image[k]];
            std::set<std::string> seen;
            for (size_t c = 0; c < img.channels.size(); ++c) {
                std::string name = img.channels[c].name.empty() ? "C" + std::to_string(c) : img.channels[c].name;
                const std::string base = name;
                for (int n = 2; seen.count(name); ++n) name = base + "_" + std::to_string(n);
                seen.insert(name);
                auto it = std::find_if(set.channels.begin(), set.channels.end(), [&](auto& ch) { return ch.name == name; });
                if (it == set.channels.end()) {
                    set.channels.push_back(img.channels[c]);
                    set.channels.back().name = name;
                    it = set.channels.end() - 1;
                }
                kind_channels[k].push_back(int(it - set.channels.begin()));
            }
        }

        // Planes.
        for (size_t n = 0; n < placed.size(); ++n) {
            const Image& img = images_[placed[n]];
            const Placement& where = kinds.where[n];
            const std::vector<int>& channel_of = kind_channels[kinds.kind[n]];
            const std::string& plate = set.plates[size_t(where.plate)].name;
            uint64_t missing = 0;
            for (uint64_t p = 0; p < img.planes.size(); ++p) {
                const Loc& loc = img.planes[p];
                if (loc.file < 0) {
                    ++missing;
                    continue;
                }
                uint32_t z = 0, c = 0, t = 0;
                img.coords(p, z, c, t);
                for (uint32_t s = 0; s < img.spp; ++s) {
                    if (set.planes.size() >= file_bytes_)
                        throw input_error(source_.string(), "the OME-XML describes more planes than the " +
                                                                std::to_string(file_bytes_) + " bytes of the folder's files hold");
                    PlaneRecord r;
                    r.plate = plate;
                    r.row = where.row;
                    r.col = where.col;
                    r.site = where.site;
                    r.channel = channel_of[c * img.spp + s];
                    r.tpoint = int(t);
                    r.zplane = int(z);
                    r.file = files_[size_t(loc.file)];
                    r.series = img.series;
                    r.page = loc.ifd;
                    r.sample = img.spp > 1 ? s : 0;
                    if (!img.positions.empty()) {
                        r.stage_x = img.positions[p][0];
                        r.stage_y = img.positions[p][1];
                        r.stage_z = img.positions[p][2];
                    }
                    if (where.x) r.stage_x = where.x;
                    if (where.y) r.stage_y = where.y;
                    set.planes.push_back(std::move(r));
                }
            }
            if (missing)
                warnings_.push_back(img.doc + ": " + std::to_string(missing) + " of " +
                                    std::to_string(img.planes.size()) + " planes of Image " + img.id +
                                    " are in no TiffData (not stored in any file); left out");
        }
        if (set.planes.empty()) throw input_error(source_.string(), "the OME-XML maps no plane to a TIFF page");
        for (size_t image : kinds.first_image) check_first_page(images_[image]);
        set.warnings = std::move(warnings_);
        return set;
    }

    // The metadata must agree with the TIFF it describes; a mismatch would only surface later
    // as garbled pixels or a failed write.
    void check_first_page(const Image& img) {
        auto loc = std::find_if(img.planes.begin(), img.planes.end(), [](const Loc& l) { return l.file >= 0; });
        if (loc == img.planes.end()) return;
        const fs::path file = source_ / files_[size_t(loc->file)];
        const std::string page = "page " + std::to_string(loc->ifd);
        const PageInfo info = make_tiff_decoder()->page_info(*folder_.open(files_[size_t(loc->file)]), loc->ifd);
        if (info.width != img.sx || info.height != img.sy)
            throw input_error(file.string(), page + " is " + std::to_string(info.width) + " x " +
                                                 std::to_string(info.height) + " pixels but the OME-XML in " + img.doc +
                                                 " says " + std::to_string(img.sx) + " x " + std::to_string(img.sy));
        if (info.samples < img.spp)
            throw input_error(file.string(), page + " has " + std::to_string(info.samples) +
                                                 " samples per pixel but the OME-XML says " + std::to_string(img.spp));
        if (info.dtype != img.dtype)
            throw input_error(file.string(), page + " holds " + dtype_name(info.dtype) + " pixels but the OME-XML says " +
                                                 dtype_name(img.dtype));
    }
};

class OmeTiffLayout final : public LayoutReader {
public:
    std::string name() const override { return "ome-tiff"; }
    std::string description() const override {
        return "OME-TIFF (*.ome.tif, *.ome.tiff, *.companion.ome, or .tif files with OME-XML; Bio-Formats and others), "
               "incl. HCS plates; Images of another shape become plates of their own";
    }

    int detect(const source::Folder& source) const override {
        std::string first_tiff;
        for (auto& e : source.list()) {
            if (is_ome_tiff_name(e.name) || is_companion_name(e.name)) return 80;
            if (first_tiff.empty() && !e.is_dir && is_plain_tiff_name(e.name)) first_tiff = e.name;
        }
        // OME-TIFFs named .tif: the folder's first TIFF says (one header read).
        return !first_tiff.empty() && carries_ome_xml(source, first_tiff) ? 80 : 0;
    }

    ImageSet configure(const source::Folder& source, const LayoutOptions&) const override {
        return Reader(source).run();
    }
};

}  // namespace

std::unique_ptr<LayoutReader> make_ome_tiff_layout() { return std::make_unique<OmeTiffLayout>(); }

}  // namespace imx
