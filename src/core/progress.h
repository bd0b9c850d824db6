// A progress line for long work inside one process (collect's and verify's read-back): on a
// terminal a line redrawn 4 times a second, otherwise a log line every `interval` seconds.
#pragma once

#include <cstdint>
#include <string>

namespace imx {

// "1:05", "2:03:04"; "--:--" when unknown.
std::string format_duration(double seconds);

class ProgressLine {
public:
    // `what`: "verified" in "1234/5000 planes verified"; `total` planes; `terminal` -1: whether
    // stderr is one.
    ProgressLine(std::string what, int64_t total, double interval = 10, int terminal = -1);
    ~ProgressLine();
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;
    void update(int64_t done, uint64_t bytes);  // call often; it rate-limits itself
    void finish();

private:
    std::string what_;
    int64_t total_;
    double interval_, start_, last_ = 0;
    bool tty_, finished_ = false;
};

}  // namespace imx
