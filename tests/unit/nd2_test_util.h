// Helpers shared by the ND2 reader tests (test_nd2.cpp, test_nd2_bounds.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include "formats/reader.h"
#include "nd2_writer.h"
#include "test_util.h"
#include "storage/source_files.h"

namespace imx::test {

inline uint16_t pixel(int seq, uint32_t c, uint32_t x, uint32_t y) { return uint16_t(nd2_value(uint32_t(seq), c, x, y, 16)); }

inline const LayoutReader& nd2() { return *find_layout_reader("nd2"); }

// Reads plane (page, sample) of `file` and checks every pixel against the writer's formula.
inline void expect_frame(const fs::path& file, int seq, uint32_t c, const Nd2Spec& s) {
    Plane p;
    read_plane(*source::open(file), {0, uint32_t(seq), c}, p);
    ASSERT_EQ(p.dtype, DType::u16);
    ASSERT_EQ(p.width, s.width);
    ASSERT_EQ(p.height, s.height);
    for (uint32_t y = 0; y < s.height; ++y)
        for (uint32_t x = 0; x < s.width; ++x)
            ASSERT_EQ(p.as<uint16_t>()[y * s.width + x], pixel(seq, c, x, y)) << file << " frame " << seq << " c " << c;
}

inline bool has_warning(const ImageSet& set, const std::string& text) {
    for (auto& w : set.warnings)
        if (w.find(text) != std::string::npos) return true;
    return false;
}

// The planes of `set` from file `name`, as (page, sample) pairs.
inline std::set<std::pair<uint32_t, uint32_t>> pages_of(const ImageSet& set, const std::string& name) {
    std::set<std::pair<uint32_t, uint32_t>> out;
    for (auto& p : set.planes)
        if (p.file == name) out.insert({p.page, p.sample});
    return out;
}

}  // namespace imx::test
