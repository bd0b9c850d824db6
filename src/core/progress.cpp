#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "core/log.h"
#include "core/workspace.h"

namespace imx {

std::string format_duration(double s) {
    if (s < 0 || s > 1e7) return "--:--";
    int t = int(s + 0.5);
    return t >= 3600 ? fmt::format("{}:{:02d}:{:02d}", t / 3600, t / 60 % 60, t % 60)
                     : fmt::format("{}:{:02d}", t / 60, t % 60);
}

ProgressLine::ProgressLine(std::string what, int64_t total, double interval, int terminal)
    : what_(std::move(what)),
      total_(total),
      interval_(interval),
      start_(now_seconds()),
      tty_(terminal < 0 ? ::isatty(2) != 0 : terminal != 0) {
    last_ = start_;  // nothing for work shorter than a redraw (or, in a log, than an interval)
    if (tty_) log::set_status_line_active(true);
}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::update(int64_t done, uint64_t bytes) {
    const double now = now_seconds();
    if (now - last_ < (tty_ ? 0.25 : interval_)) return;
    last_ = now;
    const double el = std::max(1e-3, now - start_);
    const double frac = total_ > 0 ? std::min(1.0, double(done) / double(total_)) : 1.0;
    const double eta = frac > 0.001 ? el * (1 - frac) / frac : -1;
    const std::string text = fmt::format("{}/{} planes {} ({:.0f}%), {:.0f} planes/s, {:.1f} MB/s, ETA {}", done, total_,
                                         what_, frac * 100, double(done) / el, double(bytes) / 1e6 / el,
                                         format_duration(eta));
    if (tty_) {
        fmt::print(stderr, "\r\033[K{}", text);
        std::fflush(stderr);
    } else {
        log::info("{}", text);
    }
}

void ProgressLine::finish() {
    if (finished_) return;
    finished_ = true;
    if (tty_) {
        fmt::print(stderr, "\r\033[K");
        std::fflush(stderr);
        log::set_status_line_active(false);
    }
}

}  // namespace imx
