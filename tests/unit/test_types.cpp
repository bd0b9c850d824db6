#include <gtest/gtest.h>
#include <sched.h>

#include "core/image_set.h"
#include "core/types.h"
#include "core/workspace.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/memory.h"
#include "test_util.h"

#include <cmath>
#include <cstdio>
#include <fstream>
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

// A plane buffer asks for huge pages before it is touched: the mapping that holds it carries the
// kernel's "hg" flag (VM_HUGEPAGE) in /proc/self/smaps. Skipped where the kernel has them off.
TEST(Memory, PlaneBuffersAskForHugePages) {
    // proc and sys files report size 0: read them as streams
    std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
    const std::string mode((std::istreambuf_iterator<char>(enabled)), std::istreambuf_iterator<char>());
    if (mode.find("[never]") != std::string::npos || mode.empty()) GTEST_SKIP() << "transparent huge pages are off";
    imx::Plane plane;
    plane.allocate(imx::DType::u16, 4096, 2048);  // 16 MB
    const auto address = reinterpret_cast<uintptr_t>(plane.data.data()) + plane.byte_size() / 2;
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false, found = false;
    while (std::getline(smaps, line)) {
        uintptr_t lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2) {  // a mapping's first line; keys are words
            inside = lo <= address && address < hi;
            continue;
        }
        if (inside && line.rfind("VmFlags:", 0) == 0) {
            found = true;
            EXPECT_NE(line.find(" hg"), std::string::npos) << line;
        }
    }
    EXPECT_TRUE(found) << "no mapping holds the plane buffer";
}

// Vendor acquisition times reach the OME-XML only as valid xsd:dateTime text.
TEST(Types, AcquisitionTimesBecomeIsoDateTimes) {
    EXPECT_EQ(imx::iso_date_time("2020-08-12T17:36:36.234+02:00"), "2020-08-12T17:36:36.234+02:00");  // CellVoyager
    EXPECT_EQ(imx::iso_date_time("2022-12-19T10:19:26.58+01:00"), "2022-12-19T10:19:26.58+01:00");    // Harmony
    EXPECT_EQ(imx::iso_date_time("2022-12-19 10:19:26Z"), "2022-12-19T10:19:26Z");
    EXPECT_EQ(imx::iso_date_time("20200812 17:36:36.234"), "2020-08-12T17:36:36.234");  // MetaMorph
    for (const char* bad : {"", "yesterday", "2020-08-12", "2020-08-12T17:36", "2020-08-12T17:36:36.", "2020-8-12T17:36:36",
                            "2020-08-12T17:36:36+2", "2020-08-12T17:36:36 junk", "20200812T1736"})
        EXPECT_EQ(imx::iso_date_time(bad), "") << bad;
}

// DeltaT: seconds between two such times, zones applied, exact to the nanosecond; unset when either
// is malformed or only one names its zone (their difference would be a guess).
TEST(Types, SecondsBetweenAcquisitionTimes) {
    auto between = [](const char* a, const char* b) { return imx::seconds_between(a, b); };
    EXPECT_DOUBLE_EQ(between("2022-12-19T10:19:26.58+01:00", "2022-12-19T10:19:27.157+01:00").value(), 0.577);
    EXPECT_DOUBLE_EQ(between("2022-12-19T10:19:26+01:00", "2022-12-19T09:19:27Z").value(), 1.0);
    EXPECT_DOUBLE_EQ(between("2020-12-31T23:59:59.5", "2021-01-01T00:00:00.25").value(), 0.75);  // across a year
    EXPECT_DOUBLE_EQ(between("2020-02-28T12:00:00Z", "2020-03-01T12:00:00Z").value(), 2 * 86400.0);  // leap day
    EXPECT_DOUBLE_EQ(between("2022-12-19T10:19:27.1234567+01:00", "2022-12-19T10:19:26.58+01:00").value(),
                     -0.5434567);  // earlier: negative; seven fraction digits (Harmony's MeasurementStartTime)
    EXPECT_FALSE(between("2022-12-19T10:19:26", "2022-12-19T10:19:27Z"));  // one zone unknown
    EXPECT_FALSE(between("2022-12-19T10:19:26Z", "soon"));
    EXPECT_FALSE(between("2022-13-19T10:19:26Z", "2022-12-19T10:19:26Z"));  // month 13
    EXPECT_FALSE(between("2022-12-19 10:19:26Z", "2022-12-19T10:19:26Z"));  // not what iso_date_time writes
}

// Exposure times: units converted, malformed values (unknown unit, not positive, absurd) dropped.
TEST(Types, ExposureSeconds) {
    EXPECT_DOUBLE_EQ(imx::exposure_seconds(0.006, "s").value(), 0.006);
    EXPECT_DOUBLE_EQ(imx::exposure_seconds(250, "ms").value(), 0.25);
    EXPECT_DOUBLE_EQ(imx::exposure_seconds(500, "µs").value(), 0.0005);
    EXPECT_FALSE(imx::exposure_seconds(100, ""));
    EXPECT_FALSE(imx::exposure_seconds(100, "furlongs"));
    EXPECT_FALSE(imx::exposure_seconds(0, "ms"));
    EXPECT_FALSE(imx::exposure_seconds(-5, "ms"));
    EXPECT_FALSE(imx::exposure_seconds(1e12, "s"));
    EXPECT_FALSE(imx::exposure_seconds(std::nan(""), "s"));
}
