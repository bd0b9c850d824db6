#include <gtest/gtest.h>

#include "core/types.h"

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
