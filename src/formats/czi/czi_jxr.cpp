// JPEG-XR decoding for CZI subblocks, on Debian's jxrlib. In its own file because jxrlib's headers
// define min/max macros that break the C++ standard headers.
//
// jxrlib is not hardened against hostile data: it asserts (abort) and may read out of bounds on
// corrupt codestreams (found by tests/fuzz/fuzz_czi.cpp within seconds). So each subblock is
// decoded in a forked child that writes the pixels into shared memory; a crash or hang there
// fails that subblock with a message instead of taking the whole job down. A fork costs about a
// millisecond, small next to decoding a tile.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "formats/czi/czi.h"

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


// The decoding itself, run in the child: pixels into `out` (stride * height bytes).
std::string decode_here(const unsigned char* data, size_t size, uint32_t width, uint32_t height,
                        uint32_t bits_per_pixel, bool colour, unsigned char* out) {
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
    const size_t n_bytes = size_t(stride * height);
    PKRect rect{0, 0, w, h};
    if (j.dec->Copy(j.dec, &rect, out, U32(stride)) < 0) return "decoding failed";
    // Colour codestreams say their component order; CZI's Bgr24/Bgr48 are B, G, R. jxrlib has no
    // 48-bit BGR format, so 48-bit colour always arrives R, G, B.
    if (colour && (info.grBit & PK_pixfmtBGR) == 0) {
        if (bits_per_pixel == 24) {
            for (size_t i = 0; i + 2 < n_bytes; i += 3) std::swap(out[i], out[i + 2]);
        } else {
            auto* px = reinterpret_cast<uint16_t*>(out);
            const size_t n = n_bytes / 2;
            for (size_t i = 0; i + 2 < n; i += 3) std::swap(px[i], px[i + 2]);
        }
    }
    return {};
}

}  // namespace

std::string jxr_decode_pixels(const unsigned char* data, size_t size, uint32_t width, uint32_t height,
                              uint32_t bits_per_pixel, bool colour, std::vector<unsigned char>& out) {
    if (size == 0) return "no data";
    if (bits_per_pixel % 8 != 0 || bits_per_pixel == 0) return "unsupported bits per pixel";
    const size_t n_bytes = size_t(width) * (bits_per_pixel / 8) * height;  // the caller bounded it
    // Shared page: status byte and message, then the pixels.
    constexpr size_t kHead = 1024;
    void* shared = ::mmap(nullptr, kHead + n_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return std::string("cannot map memory for the decoder: ") + std::strerror(errno);
    auto* head = static_cast<char*>(shared);
    head[0] = 0;
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::munmap(shared, kHead + n_bytes);
        return std::string("cannot start the decoder process: ") + std::strerror(errno);
    }
    if (pid == 0) {
        // Die of the signal itself: handlers inherited from the parent (a sanitizer's, a fuzzer's)
        // would report the child's crash as the parent's and hide the signal from waitpid.
        for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM}) ::signal(sig, SIG_DFL);
        ::alarm(120);  // a decoder stuck in a loop is killed by SIGALRM
        const std::string err = decode_here(data, size, width, height, bits_per_pixel, colour,
                                            static_cast<unsigned char*>(shared) + kHead);
        if (err.empty()) head[0] = 1;
        else std::snprintf(head + 1, kHead - 1, "%s", err.c_str()), head[0] = 2;
        ::_exit(0);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string result;
    if (WIFSIGNALED(status))
        result = "the JPEG-XR decoder (jxrlib) crashed on this data (signal " + std::to_string(WTERMSIG(status)) +
                 "); corrupt codestream";
    else if (head[0] == 1)
        out.assign(static_cast<unsigned char*>(shared) + kHead, static_cast<unsigned char*>(shared) + kHead + n_bytes);
    else if (head[0] == 2)
        result = std::string(head + 1, strnlen(head + 1, kHead - 1));
    else
        result = "the JPEG-XR decoder process ended without a result";
    ::munmap(shared, kHead + n_bytes);
    return result;
}

}  // namespace imx::czi
