// MetaMorph / MetaXpress metadata in TIFF ImageDescriptions, shared by the MetaXpress and the
// MetaMorph .nd readers. Two generations:
//  * XML: <MetaData><prop id="..." type="..." value="..."/>...<PlaneInfo>...</PlaneInfo></MetaData>
//  * older plain text: "Key: value" lines ("Exposure: 10 ms", "Binning: 2 x 2", ...).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/image_set.h"

namespace imx {

struct MetaMorphPlane {
    std::optional<double> pixel_size_x, pixel_size_y;  // micrometres (spatial-calibration-x/y in um)
    std::optional<double> z_position;                  // "z-position", micrometres
    std::optional<double> wavelength_nm;               // "wavelength"
    std::optional<double> stage_x, stage_y;            // "stage-position-x/y"
    std::string illumination;                          // "_IllumSetting_": the wave name
    std::string acquisition_time;                      // "acquisition-time-local", as written
    std::string stage_label;                           // "stage-label" ("E07 : Site 1")
    std::string projection_method;                     // "Z Projection Method" ("Maximum"): a projection
    std::optional<double> exposure_s;                  // "Exposure Time" ("100 ms"), or "Exposure: 100 ms" in the text
    std::string objective;                             // "_MagSetting_" ("40X Plan Apo Lambda")
    std::optional<double> objective_na;                // "_MagNA_"
};

// True for either generation (XML <MetaData> or a plain-text MetaMorph description).
bool is_metamorph_description(const std::string& description);
// The properties above; nullopt when the description is not MetaMorph's. Never throws: a
// malformed value leaves its field unset.
std::optional<MetaMorphPlane> parse_metamorph_description(const std::string& description);

namespace source {
class Folder;
}
// Sets the stage position of every site among the planes [first, last) from the MetaMorph
// description of the site's first file ("stage-position-x/y", micrometres): one header read per
// site, not per plane, as the stage does not move between a site's channels and z-steps. A site
// whose file records no position, or cannot be read here (submit names the file then), keeps none;
// nothing is invented.
void stage_positions_from_descriptions(const source::Folder& folder, std::vector<PlaneRecord>::iterator first,
                                       std::vector<PlaneRecord>::iterator last);

}  // namespace imx
