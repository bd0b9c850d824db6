// The local engine: each run job is a worker process (`imextract EXP run -j N`), a few at a time.
// Processes rather than threads: a job that crashes on a hostile file takes only itself down.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <cstring>
#include <map>

#include "core/log.h"
#include "core/types.h"
#include "engines/engine.h"
#include "engines/interrupt.h"
#include "engines/monitor.h"
#include "engines/process.h"

namespace imx {

namespace {

class LocalEngine final : public Engine {
public:
    std::string name() const override { return "local"; }

    bool run(const Workspace& ws, const std::vector<int>& jobs, const SubmitOptions& opt, Monitor& monitor) override {
        const int cores = usable_cpus();
        const int parallel = std::max(1, std::min<int>(opt.max_parallel > 0 ? opt.max_parallel : cores, int(jobs.size())));
        const int job_cores = opt.cores > 0 ? opt.cores : std::max(1, cores / parallel);
        // A worker more than cores, as `run` does by default (a worker waiting for I/O leaves no core idle).
        const int threads = job_cores + 1;
        const std::string exe = self_executable();
        log::info("local engine: {} job(s), {} at a time, {} core(s) ({} worker threads) each", jobs.size(), parallel,
                  job_cores, threads);

        InterruptGuard interrupt;

        std::map<pid_t, int> running;
        size_t next = 0;
        while ((next < jobs.size() || !running.empty())) {
            while (!interrupt.interrupted() && next < jobs.size() && int(running.size()) < parallel) {
                int job = jobs[next++];
                JobState pending;
                ws.write_state(Phase::run, job, pending);
                pid_t pid = spawn(exe, ws, job, threads, opt.verbose);
                running[pid] = job;
            }
            int status = 0;
            pid_t pid = ::waitpid(-1, &status, WNOHANG);
            if (pid > 0 && running.count(pid)) {
                int job = running[pid];
                running.erase(pid);
                monitor.job_finished(job, settle(ws, job, status));
                continue;
            }
            if (interrupt.interrupted()) {
                for (auto& [p, _] : running) ::kill(p, SIGTERM);
                next = jobs.size();
            }
            monitor.update();
            ::usleep(100000);
        }
        return !interrupt.interrupted();
    }

private:
    static pid_t spawn(const std::string& exe, const Workspace& ws, int job, int threads, bool verbose) {
        fs::path out = ws.engine_output_file(Phase::run, job);
        fs::create_directories(out.parent_path());
        std::vector<std::string> args = {exe};
        if (verbose) args.push_back("-v");
        args.insert(args.end(), {ws.root().string(), "run", "-j", std::to_string(job), "--threads",
                                 std::to_string(threads)});
        pid_t pid = ::fork();
        if (pid < 0) throw Error(std::string("cannot start a worker process: ") + std::strerror(errno));
        if (pid == 0) {
            // The child gets its own process group: Ctrl-C reaches the coordinator, which then
            // stops the workers in order and records what happened.
            ::setpgid(0, 0);
            int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
            }
            int devnull = ::open("/dev/null", O_RDONLY);
            if (devnull >= 0) ::dup2(devnull, 0);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::execv(exe.c_str(), argv.data());
            ::_exit(127);
        }
        return pid;
    }

    // The job's own state file says how it ended, unless it died before it could write it.
    static JobState settle(const Workspace& ws, int job, int status) {
        JobState s = ws.read_state(Phase::run, job).value_or(JobState{});
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        if (code == 0 && s.state == "done") return s;
        if (s.state != "failed") {
            s.state = "failed";
            if (WIFSIGNALED(status))
                s.error = std::string("worker killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                          strsignal(WTERMSIG(status)) + ")";
            else
                s.error = "worker exited with code " + std::to_string(code) + " before finishing; see `log -p run -j " +
                          std::to_string(job) + "`";
            s.finished = now_seconds();
        }
        s.exit_code = code ? code : exit_failure;
        ws.write_state(Phase::run, job, s);
        return s;
    }
};

}  // namespace

std::unique_ptr<Engine> make_local_engine() { return std::make_unique<LocalEngine>(); }

}  // namespace imx
