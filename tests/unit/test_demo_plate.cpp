#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "demo/demo_plate.h"
#include "formats/reader.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

TEST(DemoPlate, IsACellVoyagerPlateWithCellLikeContent) {
    fs::path d = fs::temp_directory_path() / ("imx_demo_" + std::to_string(::getpid()));
    fs::remove_all(d);
    DemoPlateSpec spec;
    spec.rows = 1;
    spec.cols = 2;
    spec.sites = 3;
    spec.zplanes = 2;
    spec.tpoints = 2;
    spec.width = 200;
    spec.height = 150;
    auto r = write_demo_plate(d, spec);
    EXPECT_EQ(r.planes, size_t(1 * 2 * 3 * 2 * 2 * 2));
    const LayoutReader& layout = detect_layout(d);
    EXPECT_EQ(layout.name(), "cellvoyager");
    ImageSet s = layout.configure(d, {});
    EXPECT_EQ(s.planes.size(), r.planes);
    EXPECT_EQ(s.channels.size(), 2u);
    EXPECT_EQ(s.width, 200u);
    EXPECT_DOUBLE_EQ(s.pixel_size_x.value(), 0.325);
    EXPECT_DOUBLE_EQ(s.pixel_size_z.value(), 2.0);
    int max_t = 0;
    for (auto& p : s.planes) max_t = std::max(max_t, p.tpoint);
    EXPECT_EQ(max_t, 1);
    EXPECT_EQ(well_name(s.planes[0].row, s.planes[0].col), "B02");

    Plane p;
    read_plane(*source::open(resolve_inside(d, s.planes[0].file)), {0, 0, 0}, p);
    ASSERT_EQ(p.dtype, DType::u16);
    ASSERT_EQ(p.width, 200u);
    std::vector<uint16_t> v(p.as<uint16_t>(), p.as<uint16_t>() + p.pixel_count());
    std::sort(v.begin(), v.end());
    uint16_t median = v[v.size() / 2], top = v.back();
    EXPECT_GT(median, 50);    // a background, not black
    EXPECT_LT(median, 1000);  // mostly dark
    EXPECT_GT(top, 10 * median);  // bright cells

    // Deterministic: the same seed writes the same pixels.
    fs::path d2 = d.string() + "_again";
    write_demo_plate(d2, spec);
    Plane q;
    read_plane(*source::open(resolve_inside(d2, s.planes[0].file)), {0, 0, 0}, q);
    EXPECT_EQ(p.data, q.data);
    fs::remove_all(d);
    fs::remove_all(d2);
}
