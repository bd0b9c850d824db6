// Helpers shared by the unit tests.
#pragma once

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <unistd.h>
#include <string>

#include "core/types.h"

namespace imx::test {

// The message of the imx::Error that `f` throws, or a text saying what happened instead.
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("unexpected exception type: ") + e.what();
    }
    return "no exception";
}

// A new empty folder for one test, TMPDIR/imx_unit_NAME_PID_N: never the same path twice in a
// process, so no test sees another's files (or a parse cached for them).
inline std::filesystem::path fresh_dir(const std::string& name) {
    static std::atomic<unsigned> counter{0};
    std::filesystem::path d = std::filesystem::temp_directory_path() /
                              ("imx_unit_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
}

inline void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
    std::ofstream out(file, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A uint16 plane of xorshift noise, the same for the same seed: values min .. min + span - 1.
inline Plane noise_plane(uint32_t w, uint32_t h, uint32_t seed, uint32_t span = 4096, uint16_t min = 0) {
    Plane p;
    p.allocate(DType::u16, w, h);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < p.pixel_count(); ++i) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p.as<uint16_t>()[i] = uint16_t(x % span + min);
    }
    return p;
}

}  // namespace imx::test
