#include "engines/monitor.h"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "core/log.h"
#include "core/progress.h"

namespace imx {


Monitor::Monitor(const Workspace& ws, std::vector<int> jobs, const SubmitOptions& opt)
    : ws_(ws), jobs_(std::move(jobs)), opt_(opt), tty_(::isatty(2)), start_(now_seconds()) {
    // init recorded how many planes each job stores, so the bar is right from the start.
    auto counts = ws.job_plane_counts();
    for (int j : jobs_)
        if (j >= 1 && size_t(j) <= counts.size()) total_planes_ += counts[size_t(j - 1)];
    if (tty_) log::set_status_line_active(true);
}

Monitor::~Monitor() {
    if (tty_) log::set_status_line_active(false);
}

void Monitor::job_finished(int job, const JobState& s) {
    ++finished_;
    if (s.state != "done") ++failed_;
    if (s.state != "done")
        log::error("run job {} failed: {}", job, s.error);
    else if (opt_.depth >= 1)
        log::info("run job {} done: {} plane(s) in {:.1f} s", job, s.planes_done, s.finished - s.started);
    update(true);
}

void Monitor::update(bool force_line) {
    double now = now_seconds();
    if (!force_line && now - last_draw_ < (tty_ ? 0.25 : opt_.interval)) return;
    last_draw_ = now;
    int64_t done = 0, bytes = 0;
    int running = 0;
    for (int j : jobs_) {
        auto s = ws_.read_state(Phase::run, j);
        if (!s) continue;
        done += s->planes_done;
        bytes += s->bytes_in;
        if (s->state == "running") {
            ++running;
            if (opt_.depth >= 2 && !tty_)
                log::info("  run job {}: {}/{} planes", j, s->planes_done, s->planes_total);
        }
    }
    double el = std::max(1e-3, now - start_);
    double rate = double(done) / el, mbs = double(bytes) / 1e6 / el;
    size_t njobs = jobs_.size();
    double frac = total_planes_ ? std::min(1.0, double(done) / double(total_planes_))
                                : (njobs ? double(finished_) / double(njobs) : 1.0);
    double eta = frac > 0.001 ? el * (1 - frac) / frac : -1;
    if (tty_) {
        int width = 30, fill = int(frac * width + 0.5);
        std::string bar(size_t(fill), '#');
        bar.resize(size_t(width), '.');
        fmt::print(stderr, "\r\033[K[{}] {:3.0f}%  {} planes  jobs {}/{} done, {} running{}  {:.0f} planes/s  {:.1f} MB/s  ETA {}",
                   bar, frac * 100, done, finished_, njobs, running,
                   failed_ ? fmt::format(", {} failed", failed_) : "", rate, mbs, format_duration(eta));
        std::fflush(stderr);
    } else if (force_line ? opt_.depth >= 2 : now - last_line_ >= opt_.interval) {
        last_line_ = now;
        log::info("progress: jobs {}/{} done ({} failed, {} running), {} planes stored, {:.0f} planes/s, {:.1f} MB/s",
                  finished_, njobs, failed_, running, done, rate, mbs);
    }
}

void Monitor::finish() {
    if (tty_) {
        fmt::print(stderr, "\r\033[K");
        std::fflush(stderr);
    }
}

}  // namespace imx
