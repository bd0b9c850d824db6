#include <gtest/gtest.h>
#include <sched.h>

#include "core/types.h"
#include "core/workspace.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "core/progress.h"
#include "test_util.h"

#include <thread>

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

// Long work says how far it is: off a terminal, a log line per interval with count, rate and ETA.
TEST(Progress, LogLinesCarryCountRateAndEta) {
    EXPECT_EQ(imx::format_duration(65), "1:05");
    EXPECT_EQ(imx::format_duration(7384), "2:03:04");
    EXPECT_EQ(imx::format_duration(-1), "--:--");
    const auto dir = imx::test::fresh_dir("progress");
    imx::log::set_file(dir / "log.txt");
    {
        imx::ProgressLine progress("verified", 10, 0.01, 0);
        progress.update(1, 0);  // within the first interval: nothing
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        progress.update(5, 5000000);
    }
    imx::log::set_file({});
    const std::string log = imx::read_file(dir / "log.txt");
    EXPECT_EQ(log.find("1/10"), std::string::npos) << log;
    EXPECT_NE(log.find("5/10 planes verified (50%)"), std::string::npos) << log;
    EXPECT_NE(log.find("ETA 0:00"), std::string::npos) << log;
}
