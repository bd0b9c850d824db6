// Several `--source` folders in one experiment: each folder is configured by its own reader into
// an ImageSet, and the sets are merged into one, with every file path made relative to one root
// folder (the deepest folder holding all sources).
//
// Modes, when the same plate name occurs in several sources:
//  * plates (default): refused; different plate names simply give several plates.
//  * time: the acquisitions are time-points of one plate, concatenated along t in source order.
//  * multiplexing: every source is a staining cycle of the same wells. Cycle k's channels are
//    renamed "cycle<k+1>_<name>" and take the experiment channel indices k*C..k*C+C-1 (C channels
//    per cycle, the same for all cycles); its fields are stored as separate field images with
//    index k*S+site (S = fields per well), each holding only its cycle's channels, and pointing at
//    NGFF acquisition k.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "formats/reader.h"

namespace imx {

enum class MergeMode { plates, time, multiplexing };
MergeMode parse_merge_mode(const std::string& text);  // throws Error (usage)
std::string merge_mode_name(MergeMode m);

// One configured source folder. `set` must already carry width/height/dtype.
struct SourceSet {
    std::string prefix;  // the folder relative to the common root, '/' separated; "" = the root itself
    std::string label;   // for messages and acquisition names (the folder path as given)
    ImageSet set;
};

// What the NGFF writer needs to know about multiplexing cycles (zero/empty otherwise).
struct CycleLayout {
    int channels_per_cycle = 0;  // C
    int sites_per_cycle = 0;     // S: field image k*S+s holds cycle k's site s
    std::vector<std::string> names;  // one per cycle (NGFF acquisition names)
};

// The deepest folder that contains every path (all absolute and normalised).
std::filesystem::path common_root(const std::vector<std::filesystem::path>& folders);

// Merges the sets. Throws Error (input) naming the source on plane-size / pixel-type mismatches,
// on channel lists that cannot be merged and on plate-name clashes in plates mode; appends
// warnings (naming the source) for wells or plates missing in some acquisitions.
ImageSet merge_image_sets(std::vector<SourceSet> sources, MergeMode mode, CycleLayout* cycles);

}  // namespace imx
