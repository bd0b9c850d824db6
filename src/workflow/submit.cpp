// submit / resubmit: the run jobs with an engine, then collect.
#include <signal.h>

#include <fstream>
#include <iterator>
#include <unistd.h>

#include <algorithm>

#include "core/log.h"
#include "engines/engine.h"
#include "engines/interrupt.h"
#include "engines/monitor.h"
#include "workflow/convert.h"
#include "workflow/workflow.h"

namespace imx {

namespace {

constexpr double kWaitLineSeconds = 5;

// True when process `pid` on this machine is `imextract ... ROOT run -j JOB`: a worker of a
// submit that was killed (workers run in their own process group and outlive it). The command
// line is checked because a PID can be reused by an unrelated process.
bool worker_alive(int64_t pid, const Workspace& ws, int job) {
    if (pid <= 0 || ::kill(pid_t(pid), 0) != 0) return false;
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> args;
    for (size_t start = 0; start < cmd.size();) {
        size_t end = cmd.find('\0', start);
        if (end == std::string::npos) end = cmd.size();
        args.push_back(cmd.substr(start, end - start));
        start = end + 1;
    }
    bool root = false, run = false, id = false;
    for (size_t i = 0; i < args.size(); ++i) {
        root = root || args[i] == ws.root().string();
        run = run || args[i] == "run";
        id = id || ((args[i] == "-j" || args[i] == "--job") && i + 1 < args.size() && args[i + 1] == std::to_string(job));
    }
    return root && run && id;
}

// Workers of an earlier submit that was killed (they outlive it) still write their jobs: waits
// until they end, naming each job and pid, with a line every few seconds. False when Ctrl-C or
// SIGTERM stopped the wait (nothing has been changed then).
bool wait_for_earlier_workers(const Workspace& ws, int run_jobs) {
    InterruptGuard interrupt;
    double last_line = 0;
    for (;;) {
        std::string alive;
        for (int j = 1; j <= run_jobs; ++j) {
            auto s = ws.read_state(Phase::run, j);
            if (s && s->state == "running" && s->host == hostname() && worker_alive(s->pid, ws, j))
                alive += (alive.empty() ? "" : ", ") + fmt::format("job {} (pid {})", j, s->pid);
        }
        if (alive.empty()) return true;
        if (now_seconds() - last_line >= kWaitLineSeconds) {
            log::info("waiting for run {} still running from an earlier submit that was interrupted; its planes are "
                      "kept (Ctrl-C stops waiting and changes nothing)", alive);
            last_line = now_seconds();
        }
        for (int i = 0; i < 10 && !interrupt.interrupted(); ++i) ::usleep(20000);
        if (interrupt.interrupted()) return false;
    }
}

}  // namespace

bool fully_collected(const Workspace& ws) {
    const int run_jobs = ws.run_job_count();
    if (run_jobs == 0) return false;
    auto c = ws.read_state(Phase::collect, 0);
    if (!c || c->state != "done" || c->exit_code != exit_ok) return false;
    for (int j = 1; j <= run_jobs; ++j) {
        auto s = ws.read_state(Phase::run, j);
        // A run job that ran again after collect (`run -j N` by hand) is not verified.
        if (!s || s->state != "done" || s->finished > c->started) return false;
    }
    return true;
}

SubmitResult submit(const Workspace& ws, const SubmitOptions& opt, bool only_unfinished) {
    ws.require();
    ExperimentLock lock(ws, only_unfinished ? "resubmit" : "submit");
    int n = ws.run_job_count();
    if (n == 0) throw Error(ws.root().string() + ": no run jobs; run init first", Error::Kind::usage);
    if (std::string busy = reconcile_engines(ws); !busy.empty())
        throw Error(ws.root().string() + ": " + busy + "; `status` shows it", Error::Kind::usage);
    if (!only_unfinished && fully_collected(ws)) {
        // Converting again would rewrite every plane to the same bytes: say so instead. `init`
        // starts over (it removes the jobs and their states).
        log::info("{}: every plane is already stored and verified (collect finished); nothing to do. "
                  "`imextract {} init` then `submit` converts again", ws.root().string(), ws.root().string());
        SubmitResult done;
        done.collected = true;
        done.exit_code = exit_ok;
        return done;
    }
    if (!wait_for_earlier_workers(ws, n)) {
        log::error("interrupted while waiting; nothing was changed. `imextract {} {}` waits again",
                   ws.root().string(), only_unfinished ? "resubmit" : "submit");
        SubmitResult stopped;
        stopped.interrupted = true;
        stopped.exit_code = 130;
        return stopped;
    }
    std::vector<int> jobs;
    for (int j = 1; j <= n; ++j) {
        if (only_unfinished) {
            auto s = ws.read_state(Phase::run, j);
            if (s && s->state == "done") continue;
        }
        jobs.push_back(j);
    }
    SubmitResult r;
    r.jobs = int(jobs.size());
    auto engine = make_engine(opt.engine);
    double t0 = now_seconds();
    if (!jobs.empty()) {
        Monitor monitor(ws, jobs, opt);
        r.interrupted = !engine->run(ws, jobs, opt, monitor);
        monitor.finish();
    } else {
        log::info("every run job is already done");
    }
    int64_t planes = 0, bytes = 0;
    for (int j : jobs) {
        auto s = ws.read_state(Phase::run, j);
        if (!s || s->state != "done") ++r.failed;
        if (s) {
            planes += s->planes_done - s->planes_failed;
            bytes += s->bytes_in;
        }
    }
    double el = std::max(1e-3, now_seconds() - t0);
    if (!jobs.empty())
        log::info("run phase: {} job(s), {} failed; {} plane(s), {:.1f} MB in {:.1f} s ({:.0f} planes/s, {:.1f} MB/s)",
                  jobs.size(), r.failed, planes, bytes / 1e6, el, planes / el, bytes / 1e6 / el);
    if (engine->detached()) {
        log::info("submitted; `imextract {} status` shows progress, `resubmit` runs what failed", ws.root().string());
        r.exit_code = exit_ok;
        return r;
    }
    if (r.interrupted) {
        log::error("interrupted; `imextract {} resubmit` finishes the remaining jobs", ws.root().string());
        r.exit_code = 130;
        return r;
    }
    if (r.failed) {
        log::error("{} run job(s) failed; see `imextract {} status` and `log -p run -j N`; fix the input and "
                   "`resubmit`", r.failed, ws.root().string());
        r.exit_code = exit_jobs_failed;
        return r;
    }
    if (engine->runs_collect()) {
        auto c = ws.read_state(Phase::collect, 0);
        r.collected = c && c->state == "done";
        if (!r.collected)
            log::error("collect job failed: {}; see `imextract {} log -p collect`", c ? c->error : "no record",
                       ws.root().string());
        else
            log::info("collect: {} of {} plane(s) verified", c->planes_done, c->planes_total);
        r.exit_code = r.collected ? exit_ok : (c && c->exit_code > 0 ? c->exit_code : exit_verification);
        return r;
    }
    CollectOptions copt;
    copt.already_locked = true;
    CollectResult c = collect(ws, copt);
    r.collected = true;
    r.exit_code = c.verified == c.outputs ? exit_ok : exit_verification;
    return r;
}

}  // namespace imx

namespace imx {
int exit_code_for(const Error& e) {
    switch (e.kind()) {
        case Error::Kind::usage: return exit_usage;
        case Error::Kind::input: return exit_input;
        case Error::Kind::storage: return exit_storage;
        case Error::Kind::verification: return exit_verification;
        case Error::Kind::not_extracted: return exit_not_extracted;
        default: return exit_failure;
    }
}
}  // namespace imx
