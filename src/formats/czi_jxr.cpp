// JPEG-XR decoding for CZI subblocks, on Debian's jxrlib. In its own file because jxrlib's headers
// define min/max macros that break the C++ standard headers.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "formats/czi.h"

#include <JXRGlue.h>
#undef min
#undef max

namespace imx::czi {

namespace {

struct JxrHandles {
    PKImageDecode* dec = nullptr;
    WMPStream* stream = nullptr;
    JxrHandles() = default;
    JxrHandles(const JxrHandles&) = delete;
    JxrHandles& operator=(const JxrHandles&) = delete;
    ~JxrHandles() {
        // The decoder does not own the stream (fStreamOwner stays 0): we close it ourselves.
        if (dec) dec->Release(&dec);
        if (stream) CloseWS_Memory(&stream);
    }
};

}  // namespace

std::string jxr_decode_pixels(const unsigned char* data, size_t size, uint32_t width, uint32_t height,
                              uint32_t bits_per_pixel, bool colour, std::vector<unsigned char>& out) {
    if (size == 0) return "no data";
    JxrHandles j;
    // jxrlib only reads through this pointer; its API is not const-correct.
    if (CreateWS_Memory(&j.stream, const_cast<unsigned char*>(data), size) < 0 || !j.stream) return "cannot open stream";
    if (PKImageDecode_Create_WMP(&j.dec) < 0 || !j.dec) return "cannot create decoder";
    j.dec->fStreamOwner = 0;
    if (j.dec->Initialize(j.dec, j.stream) < 0) return "not a valid JPEG-XR codestream";
    I32 w = 0, h = 0;
    j.dec->GetSize(j.dec, &w, &h);
    if (w != I32(width) || h != I32(height))
        return "image is " + std::to_string(w) + " x " + std::to_string(h) + " but the directory says " +
               std::to_string(width) + " x " + std::to_string(height);
    PKPixelFormatGUID guid;
    if (j.dec->GetPixelFormat(j.dec, &guid) < 0) return "no pixel format";
    PKPixelInfo info{};
    info.pGUIDPixFmt = &guid;
    if (PixelFormatLookup(&info, LOOKUP_FORWARD) < 0) return "unknown pixel format";
    if (uint32_t(info.cbitUnit) != bits_per_pixel)
        return "pixel format has " + std::to_string(info.cbitUnit) + " bits per pixel, the subblock's pixel type " +
               std::to_string(bits_per_pixel);
    const uint64_t stride = uint64_t(width) * (bits_per_pixel / 8);
    out.assign(size_t(stride * height), 0);
    PKRect rect{0, 0, w, h};
    if (j.dec->Copy(j.dec, &rect, out.data(), U32(stride)) < 0) return "decoding failed";
    // Colour codestreams say their component order; CZI's Bgr24/Bgr48 are B, G, R. jxrlib has no
    // 48-bit BGR format, so 48-bit colour always arrives R, G, B.
    if (colour && (info.grBit & PK_pixfmtBGR) == 0) {
        if (bits_per_pixel == 24) {
            for (size_t i = 0; i + 2 < out.size(); i += 3) std::swap(out[i], out[i + 2]);
        } else {
            auto* px = reinterpret_cast<uint16_t*>(out.data());
            const size_t n = out.size() / 2;
            for (size_t i = 0; i + 2 < n; i += 3) std::swap(px[i], px[i + 2]);
        }
    }
    return {};
}

}  // namespace imx::czi
