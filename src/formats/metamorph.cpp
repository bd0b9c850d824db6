#include "formats/metamorph.h"

#include <pugixml.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>

#include "formats/tiff/tiff_decoder.h"
#include "storage/source_folder.h"

namespace imx {

namespace {

std::optional<double> number(const char* v) {
    if (!v || !*v) return std::nullopt;
    char* end = nullptr;
    double d = std::strtod(v, &end);
    if (end == v || *end != '\0' || !std::isfinite(d)) return std::nullopt;
    return d;
}

bool starts_with_metadata(const std::string& d) {
    size_t i = 0;
    while (i < d.size() && std::isspace(static_cast<unsigned char>(d[i]))) ++i;
    return d.compare(i, 10, "<MetaData>") == 0;
}

// Plain-text descriptions of older MetaMorph / MetaXpress versions start with one of these keys.
bool plain_text_metamorph(const std::string& d) {
    return d.rfind("Experiment base name:", 0) == 0 ||
           (d.find("\nExposure: ") != std::string::npos && d.find("\nBinning: ") != std::string::npos &&
            d.find("\nDigitizer: ") != std::string::npos);
}

// "100 ms" (a number, a space, a unit) as seconds; unset when malformed (exposure_seconds).
std::optional<double> exposure_text(const std::string& text) {
    const std::string t = trim(text);
    const size_t space = t.find(' ');
    if (space == std::string::npos) return std::nullopt;
    auto v = number(t.substr(0, space).c_str());
    return v ? exposure_seconds(*v, trim(t.substr(space + 1))) : std::nullopt;
}

// The "Exposure: 100 ms" line of a description text, as seconds.
std::optional<double> exposure_line(const std::string& text) {
    size_t at = text.rfind("Exposure: ", 0) == 0 ? 0 : text.find("\nExposure: ");
    if (at == std::string::npos) return std::nullopt;
    at = text.find(':', at) + 1;
    const size_t end = text.find_first_of("\r\n", at);
    return exposure_text(text.substr(at, end == std::string::npos ? std::string::npos : end - at));
}

}  // namespace

bool is_metamorph_description(const std::string& d) { return starts_with_metadata(d) || plain_text_metamorph(d); }

std::optional<MetaMorphPlane> parse_metamorph_description(const std::string& d) {
    if (plain_text_metamorph(d)) {  // no calibration in the old text form; the exposure is there
        MetaMorphPlane m;
        m.exposure_s = exposure_line(d);
        return m;
    }
    if (!starts_with_metadata(d)) return std::nullopt;
    pugi::xml_document doc;
    if (!doc.load_buffer(d.data(), d.size(), pugi::parse_default)) return std::nullopt;
    MetaMorphPlane m;
    std::string units;
    std::optional<double> cal_x, cal_y;
    // <prop> elements both directly under <MetaData> and under <PlaneInfo>/<SetInfo>.
    for (auto prop : doc.select_nodes("//prop")) {
        auto n = prop.node();
        const char* id = n.attribute("id").value();
        const char* value = n.attribute("value").value();
        if (!std::strcmp(id, "spatial-calibration-x")) cal_x = number(value);
        else if (!std::strcmp(id, "spatial-calibration-y")) cal_y = number(value);
        else if (!std::strcmp(id, "spatial-calibration-units")) units = value;
        else if (!std::strcmp(id, "z-position")) m.z_position = number(value);
        else if (!std::strcmp(id, "wavelength")) m.wavelength_nm = number(value);
        else if (!std::strcmp(id, "stage-position-x")) m.stage_x = number(value);
        else if (!std::strcmp(id, "stage-position-y")) m.stage_y = number(value);
        else if (!std::strcmp(id, "_IllumSetting_")) m.illumination = value;
        else if (!std::strcmp(id, "acquisition-time-local")) m.acquisition_time = value;
        else if (!std::strcmp(id, "stage-label")) m.stage_label = value;
        else if (!std::strcmp(id, "_MagSetting_")) m.objective = trim(value);
        else if (!std::strcmp(id, "_MagNA_")) m.objective_na = number(value);
        else if (!std::strcmp(id, "Description") && !m.exposure_s) m.exposure_s = exposure_line(value);
    }
    // MetaXpress also writes the exposure as a <custom-prop> ("100 ms"); it wins over the text.
    if (auto e = doc.select_node("//custom-prop[@id='Exposure Time']"))
        if (auto s = exposure_text(e.node().attribute("value").value())) m.exposure_s = s;
    if (m.objective_na && !(*m.objective_na > 0 && *m.objective_na <= 2)) m.objective_na.reset();
    // MetaXpress writes the projection method as a <custom-prop>.
    if (auto p = doc.select_node("//*[(self::prop or self::custom-prop) and @id='Z Projection Method']"))
        m.projection_method = p.node().attribute("value").value();
    // Calibration counts only when it is in micrometres and positive ("pixel" units mean none).
    const bool microns = units == "um" || units == "\xC2\xB5m" || units == "micron" || units == "microns";
    if (microns && cal_x && *cal_x > 0) m.pixel_size_x = cal_x;
    if (microns && cal_y && *cal_y > 0) m.pixel_size_y = cal_y;
    if (m.wavelength_nm && *m.wavelength_nm <= 0) m.wavelength_nm.reset();
    return m;
}

void stage_positions_from_descriptions(const source::Folder& folder, std::vector<PlaneRecord>::iterator first,
                                       std::vector<PlaneRecord>::iterator last) {
    std::map<std::tuple<int, int, int>, std::optional<std::pair<double, double>>> position_of_site;
    for (auto p = first; p != last; ++p) {
        auto [it, fresh] = position_of_site.try_emplace({p->row, p->col, p->site});
        if (fresh) {
            try {
                auto m = parse_metamorph_description(tiff_image_description(*folder.open(p->file), 0));
                if (m && m->stage_x && m->stage_y) it->second = std::pair{*m->stage_x, *m->stage_y};
            } catch (const Error&) {
            }
        }
        if (it->second) {
            p->stage_x = it->second->first;
            p->stage_y = it->second->second;
        }
    }
}

}  // namespace imx
