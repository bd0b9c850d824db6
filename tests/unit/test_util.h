// Helpers shared by the unit tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
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

inline void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
    std::ofstream out(file, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

}  // namespace imx::test
