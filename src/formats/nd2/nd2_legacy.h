// Nikon ND2 version 2 ("legacy", NIS-Elements before 4.0): a JPEG 2000 box file. Every frame of
// every channel is a JPEG 2000 codestream in its own box, the metadata is XML in further boxes
// (VIMD per frame, TINF text info, ...), and a box map at the end of the file lists where each box
// is: the last 40 bytes are "LABORATORY IMAGING ND BOX MAP 00" and the map's distance from the end.
// Used by the ND2 reader (nd2.cpp); decoding is Debian's OpenJPEG.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "formats/container_util.h"

namespace imx::nd2legacy {

// True when the bytes start with the JPEG 2000 signature box.
bool is_jp2(const unsigned char* head, size_t len);

enum class Axis { time, xy, z };

struct Info {
    uint32_t width = 0, height = 0;
    uint32_t components = 1;       // per codestream (3 for RGB)
    uint32_t bits = 16;            // bits per component (from the ihdr box)
    DType dtype = DType::u16;
    uint32_t channels = 1;         // codestreams per frame (PicturePlanes Count)
    uint64_t sequences = 0;        // frames
    std::vector<uint64_t> images;  // box offset of each codestream, frame-major: seq * channels + channel
    std::vector<std::string> channel_names;  // one per channel
    std::vector<std::pair<Axis, uint32_t>> loops;  // outermost first, from the text info's "Dimensions:"
    std::optional<double> pixel_size, z_step;
    std::vector<std::string> warnings;
};

// Reads the box map, the image header and the metadata. Throws an input error naming the file,
// the offset and the reason.
Info parse(const container::RandomAccessFile& f);

// Decodes codestream `index` (Info::images) and returns component `component` as a plane.
void decode(const container::RandomAccessFile& f, const Info& info, uint64_t index, uint32_t component, Plane& out);

}  // namespace imx::nd2legacy
