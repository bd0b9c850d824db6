// The plate's OME-XML (OME 2016-06 schema), written with pugixml so that every name is escaped.
#include "zarr/ome_xml.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include <pugixml.hpp>

namespace imx {

namespace {

// OME Color: the RGBA bytes as one signed 32-bit integer.
int32_t ome_color(const std::string& rrggbb) {
    uint32_t rgb = 0xFFFFFF;
    try {
        rgb = uint32_t(std::stoul(rrggbb, nullptr, 16)) & 0xFFFFFF;
    } catch (const std::exception&) {
    }
    return int32_t((rgb << 8) | 0xFF);
}

// OME's pixel types are our names, but for "float".
std::string ome_pixel_type(DType t) { return t == DType::f32 ? "float" : dtype_name(t); }

// The shortest text that reads back as the same double ("31984.9", not pugixml's 17 digits).
std::string shortest(double v) {
    char text[32];
    auto [end, ec] = std::to_chars(text, text + sizeof text, v);
    return ec == std::errc() ? std::string(text, end) : std::to_string(v);
}

void length(pugi::xml_node node, const char* name, double micrometres) {
    node.append_attribute(name) = shortest(micrometres).c_str();
    node.append_attribute((std::string(name) + "Unit").c_str()) = "µm";
}

// Wells by row and column: the order of the OME-XML images and of the OME group's "series".
std::vector<WellLayout> wells_in_order(const PlateLayout& L) {
    std::vector<WellLayout> wells = L.wells;
    std::sort(wells.begin(), wells.end(), [](auto& a, auto& b) { return std::tie(a.row, a.col) < std::tie(b.row, b.col); });
    return wells;
}

// Seconds (DeltaT, ExposureTime) as the shortest text of the value rounded to the nanosecond, so
// that differences of decimal times read as written (0.577, not 0.57699999999999996).
std::string seconds_text(double s) { return shortest(std::round(s * 1e9) / 1e9); }

// OME's Immersion values; anything else is not written.
bool ome_immersion(const std::string& v) {
    for (const char* known : {"Oil", "Water", "WaterDipping", "Air", "Multi", "Glycerol", "Other"})
        if (v == known) return true;
    return false;
}

}  // namespace

namespace {

// The Plane elements of one image: its stored planes in the XYZCT order (z fastest, then channel,
// then time), each with what the metadata gives.
void append_planes(pugi::xml_node px, const std::vector<int>& channels, const std::vector<OmePlaneFacts>& planes,
                   const std::string& start, const std::array<double, 2>* xy) {
    struct Row {
        int t, c, z;
        const OmePlaneFacts* facts;
    };
    std::vector<Row> rows;
    for (const OmePlaneFacts& p : planes) {
        auto k = std::find(channels.begin(), channels.end(), p.channel);
        if (k == channels.end()) continue;  // not a channel of this image (cannot happen from the catalog)
        rows.push_back({p.tpoint, int(k - channels.begin()), p.zplane, &p});
    }
    std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return std::tie(a.t, a.c, a.z) < std::tie(b.t, b.c, b.z); });
    for (const Row& r : rows) {
        pugi::xml_node plane = px.append_child("Plane");
        plane.append_attribute("TheZ") = r.z;
        plane.append_attribute("TheT") = r.t;
        plane.append_attribute("TheC") = r.c;
        if (!start.empty() && !r.facts->acquired.empty())
            if (auto dt = seconds_between(start, r.facts->acquired)) {
                plane.append_attribute("DeltaT") = seconds_text(*dt).c_str();
                plane.append_attribute("DeltaTUnit") = "s";
            }
        if (r.facts->exposure_s) {
            plane.append_attribute("ExposureTime") = seconds_text(*r.facts->exposure_s).c_str();
            plane.append_attribute("ExposureTimeUnit") = "s";
        }
        if (xy) {
            length(plane, "PositionX", (*xy)[0]);
            length(plane, "PositionY", (*xy)[1]);
        }
        if (r.facts->stage_z) length(plane, "PositionZ", *r.facts->stage_z);
    }
}

}  // namespace

std::string plate_ome_xml(const PlateLayout& L, const OmeFacts& all) {
    const std::vector<OmeChannelFacts>& facts = all.channels;
    pugi::xml_document doc;
    auto decl = doc.append_child(pugi::node_declaration);
    decl.append_attribute("version") = "1.0";
    decl.append_attribute("encoding") = "UTF-8";
    pugi::xml_node ome = doc.append_child("OME");
    ome.append_attribute("xmlns") = "http://www.openmicroscopy.org/Schemas/OME/2016-06";
    ome.append_attribute("xmlns:xsi") = "http://www.w3.org/2001/XMLSchema-instance";
    ome.append_attribute("xsi:schemaLocation") =
        "http://www.openmicroscopy.org/Schemas/OME/2016-06 http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd";
    ome.append_attribute("Creator") = "imextract " IMX_VERSION;

    // The schema orders Plate before Image: the plate first, the images after it.
    pugi::xml_node plate = ome.append_child("Plate");
    plate.append_attribute("ID") = "Plate:0";
    plate.append_attribute("Name") = L.name.c_str();
    plate.append_attribute("Rows") = L.rows;
    plate.append_attribute("Columns") = L.cols;
    plate.append_attribute("RowNamingConvention") = "letter";
    plate.append_attribute("ColumnNamingConvention") = "number";

    // Then the Instrument (the schema's order: Plate, Screen, Experimenter, ExperimenterGroup,
    // Instrument, Image); appended after the plate's wells below.
    const bool objective = all.objective && !all.objective->empty();

    const std::vector<WellLayout> wells = wells_in_order(L);
    pugi::xml_document images;  // collected apart, appended after the plate
    int image_index = 0;
    for (size_t w = 0; w < wells.size(); ++w) {
        const WellLayout& well = wells[w];
        pugi::xml_node wn = plate.append_child("Well");
        wn.append_attribute("ID") = ("Well:" + std::to_string(w)).c_str();
        wn.append_attribute("Row") = well.row;
        wn.append_attribute("Column") = well.col;
        for (int s = 0; s < well.sites; ++s, ++image_index) {
            const std::string image_id = "Image:" + std::to_string(image_index);
            pugi::xml_node ws = wn.append_child("WellSample");
            ws.append_attribute("ID") = ("WellSample:" + std::to_string(w) + ":" + std::to_string(s)).c_str();
            auto pos = L.stage_positions.find({well.row, well.col, s});
            if (pos != L.stage_positions.end()) {
                length(ws, "PositionX", pos->second[0]);
                length(ws, "PositionY", pos->second[1]);
            }
            ws.append_attribute("Index") = image_index;
            ws.append_child("ImageRef").append_attribute("ID") = image_id.c_str();

            pugi::xml_node image = images.append_child("Image");
            image.append_attribute("ID") = image_id.c_str();
            image.append_attribute("Name") = (well_name(well.row, well.col) + " field " + std::to_string(s)).c_str();
            // The schema wants AcquisitionDate before every other child of Image.
            std::string start;
            if (auto it = L.acquisition_starts.find({well.row, well.col, s}); it != L.acquisition_starts.end()) {
                start = it->second;
                image.append_child("AcquisitionDate").text() = start.c_str();
            }
            // Then InstrumentRef and ObjectiveSettings (Image: AcquisitionDate, ExperimenterRef,
            // Description, ExperimentRef, ExperimenterGroupRef, InstrumentRef, ObjectiveSettings,
            // ImagingEnvironment, StageLabel, Pixels).
            if (objective) {
                image.append_child("InstrumentRef").append_attribute("ID") = "Instrument:0";
                image.append_child("ObjectiveSettings").append_attribute("ID") = "Objective:0:0";
            }
            pugi::xml_node px = image.append_child("Pixels");
            px.append_attribute("ID") = ("Pixels:" + std::to_string(image_index)).c_str();
            // The array axes are t, c, z, y, x: x varies fastest, then y, z, c, t.
            px.append_attribute("DimensionOrder") = "XYZCT";
            px.append_attribute("Type") = ome_pixel_type(L.dtype).c_str();
            px.append_attribute("SizeX") = L.width;
            px.append_attribute("SizeY") = L.height;
            px.append_attribute("SizeZ") = L.zplanes;
            const std::vector<int> channels = L.channels_of_image(L.acquisition_of_site(s));
            px.append_attribute("SizeC") = int(channels.size());
            px.append_attribute("SizeT") = L.tpoints;
            if (L.pixel_size_x) length(px, "PhysicalSizeX", *L.pixel_size_x);
            if (L.pixel_size_y) length(px, "PhysicalSizeY", *L.pixel_size_y);
            if (L.pixel_size_z) length(px, "PhysicalSizeZ", *L.pixel_size_z);
            if (L.time_interval_s) {
                px.append_attribute("TimeIncrement") = shortest(*L.time_interval_s).c_str();
                px.append_attribute("TimeIncrementUnit") = "s";
            }
            for (size_t k = 0; k < channels.size(); ++k) {
                const int c = channels[k];
                pugi::xml_node ch = px.append_child("Channel");
                ch.append_attribute("ID") = ("Channel:" + std::to_string(image_index) + ":" + std::to_string(k)).c_str();
                ch.append_attribute("Name") = L.channels[size_t(c)].label.c_str();
                ch.append_attribute("SamplesPerPixel") = 1;
                ch.append_attribute("Color") = ome_color(L.channels[size_t(c)].color);
                if (size_t(c) < facts.size()) {
                    if (facts[size_t(c)].emission_nm) {
                        ch.append_attribute("EmissionWavelength") = *facts[size_t(c)].emission_nm;
                        ch.append_attribute("EmissionWavelengthUnit") = "nm";
                    }
                    if (facts[size_t(c)].excitation_nm) {
                        ch.append_attribute("ExcitationWavelength") = *facts[size_t(c)].excitation_nm;
                        ch.append_attribute("ExcitationWavelengthUnit") = "nm";
                    }
                }
            }
            px.append_child("MetadataOnly");  // the pixels are in the Zarr arrays
            // Pixels: Channel*, then BinData/TiffData/MetadataOnly, then Plane*.
            if (auto planes = all.planes.find({well.row, well.col, s}); planes != all.planes.end())
                append_planes(px, channels, planes->second, start, pos != L.stage_positions.end() ? &pos->second : nullptr);
        }
    }
    if (objective) {
        const ObjectiveInfo& o = *all.objective;
        pugi::xml_node instrument = ome.append_child("Instrument");
        instrument.append_attribute("ID") = "Instrument:0";
        pugi::xml_node obj = instrument.append_child("Objective");
        if (!o.model.empty()) obj.append_attribute("Model") = o.model.c_str();
        obj.append_attribute("ID") = "Objective:0:0";
        if (ome_immersion(o.immersion)) obj.append_attribute("Immersion") = o.immersion.c_str();
        if (o.lens_na) obj.append_attribute("LensNA") = shortest(*o.lens_na).c_str();
        if (o.magnification) obj.append_attribute("NominalMagnification") = shortest(*o.magnification).c_str();
    }
    for (pugi::xml_node image : images.children()) ome.append_copy(image);
    std::ostringstream out;
    doc.save(out, " ", pugi::format_default, pugi::encoding_utf8);
    return out.str();
}

void write_ome_metadata(Store& store, const PlateLayout& L, const OmeFacts& facts) {
    const std::string group = L.path + "/OME";
    // "series": the field images' paths in the order of the OME-XML's Images.
    nlohmann::json series = nlohmann::json::array();
    for (const WellLayout& w : wells_in_order(L))
        for (int s = 0; s < w.sites; ++s) series.push_back(row_name(w.row) + "/" + column_name(w.col) + "/" + std::to_string(s));
    const NgffPlate plate(store, L);
    plate.put_group(group,
                    plate.v3() ? nlohmann::json{{"ome", {{"version", "0.5"}, {"series", series}}}}
                               : nlohmann::json{{"series", series}},
                    -1);
    store.put(group + "/METADATA.ome.xml", plate_ome_xml(L, facts));
}

}  // namespace imx
