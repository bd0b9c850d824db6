#include <gtest/gtest.h>
#include <sched.h>

#include "core/types.h"
#include "core/workspace.h"

using namespace imx;

TEST(Types, WellNamesRoundTrip) {
    EXPECT_EQ(well_name(1, 2), "B03");
    EXPECT_EQ(well_name(31, 47), "AF48");
    int r = -1, c = -1;
    ASSERT_TRUE(parse_well_name("AF48", r, c));
    EXPECT_EQ(r, 31);
    EXPECT_EQ(c, 47);
    ASSERT_TRUE(parse_well_name("b3", r, c));
    EXPECT_EQ(r, 1);
    EXPECT_EQ(c, 2);
    EXPECT_FALSE(parse_well_name("B", r, c));
    EXPECT_FALSE(parse_well_name("03", r, c));
    EXPECT_FALSE(parse_well_name("B00", r, c));
    EXPECT_FALSE(parse_well_name("ABC1", r, c));
}

TEST(Types, DtypeNames) {
    EXPECT_EQ(dtype_zarr(DType::u16), "<u2");
    EXPECT_EQ(dtype_from_zarr("<f4"), DType::f32);
    EXPECT_EQ(dtype_from_name("int16"), DType::i16);
    EXPECT_THROW(dtype_from_name("complex"), Error);
}

TEST(Workspace, UsableCpusFollowTheAffinityMaskNotTheNode) {
    // A SLURM allocation or taskset narrows the mask; the default worker count must follow it.
    cpu_set_t all;
    ASSERT_EQ(::sched_getaffinity(0, sizeof all, &all), 0);
    EXPECT_EQ(usable_cpus(), CPU_COUNT(&all));
    int first = 0;
    while (!CPU_ISSET(first, &all)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
    EXPECT_EQ(usable_cpus(), 1);
    ASSERT_EQ(::sched_setaffinity(0, sizeof all, &all), 0);
    EXPECT_EQ(usable_cpus(), CPU_COUNT(&all));
}
