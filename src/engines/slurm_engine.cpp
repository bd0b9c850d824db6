// The SLURM engine: the run jobs as one job array (`sbatch --array=1-N%K`, each task runs
// `imextract EXP run -j $SLURM_ARRAY_TASK_ID`), the collect job submitted with
// `--dependency=afterok` on the array. Monitoring reads the jobs' state files on the shared
// filesystem for progress and asks the scheduler (squeue, then `scontrol show job`, which works
// without accounting) how each task ended.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/types.h"
#include "engines/engine.h"
#include "engines/interrupt.h"
#include "engines/monitor.h"
#include "engines/process.h"

namespace imx {

using nlohmann::json;

namespace {

// "1-4,7,9-10" from sorted job ids.
std::string array_spec(const std::vector<int>& jobs) {
    std::string s;
    for (size_t i = 0; i < jobs.size();) {
        size_t j = i;
        while (j + 1 < jobs.size() && jobs[j + 1] == jobs[j] + 1) ++j;
        if (!s.empty()) s += ",";
        s += std::to_string(jobs[i]);
        if (j > i) s += "-" + std::to_string(jobs[j]);
        i = j + 1;
    }
    return s;
}

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

std::string field(const std::string& line, const std::string& key) {
    size_t p = line.find(" " + key + "=");
    if (p == std::string::npos) {
        if (line.rfind(key + "=", 0) != 0) return {};
        p = 0;
    } else {
        ++p;
    }
    p += key.size() + 1;
    size_t e = line.find(' ', p);
    return line.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

struct TaskEnd {
    std::string state, exit_code, reason;
};

// Final state of every task of an array (and of plain jobs), from slurmctld's memory.
std::map<int, TaskEnd> final_states(const std::string& job_id) {
    std::map<int, TaskEnd> out;
    auto r = run_command({"scontrol", "-o", "show", "job", job_id});
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        std::string task = field(line, "ArrayTaskId");
        int id = 0;
        if (!task.empty()) {
            if (task.find_first_not_of("0123456789") != std::string::npos) continue;  // a pending range
            id = std::stoi(task);
        }
        out[id] = {field(line, "JobState"), field(line, "ExitCode"), field(line, "Reason")};
    }
    return out;
}

std::string describe(const TaskEnd& t, const SubmitOptions& opt) {
    std::string code = t.exit_code, sig;
    if (auto colon = code.find(':'); colon != std::string::npos) {
        sig = code.substr(colon + 1);
        code = code.substr(0, colon);
    }
    if (t.state == "TIMEOUT") return "SLURM: TIMEOUT: the task ran longer than --duration " + opt.duration;
    if (t.state == "OUT_OF_MEMORY")
        return "SLURM: OUT_OF_MEMORY: the task used more than --memory " + std::to_string(opt.memory_mb) + " MB";
    if (t.state == "CANCELLED") return "SLURM: CANCELLED (scancel or the scheduler)";
    if (t.state == "NODE_FAIL") return "SLURM: NODE_FAIL: the node running the task failed";
    if (!sig.empty() && sig != "0") return "SLURM: " + t.state + ": killed by signal " + sig;
    return "SLURM: " + t.state + " with exit code " + code;
}

class SlurmEngine final : public Engine {
public:
    std::string name() const override { return "slurm"; }
    bool runs_collect() const override { return true; }
    bool detached() const override { return detached_; }

    bool run(const Workspace& ws, const std::vector<int>& jobs, const SubmitOptions& opt, Monitor& monitor) override {
        if (!on_path("sbatch"))
            throw Error("sbatch not found on PATH: the slurm engine needs SLURM's client tools on this machine "
                        "(Debian: slurm-client) and a configured cluster; or use --engine local",
                        Error::Kind::usage);
        const int cores = opt.cores > 0 ? opt.cores : 1;
        const std::string exe = self_executable();
        const std::string exp = ws.root().string();
        for (int j : jobs) ws.write_state(Phase::run, j, JobState{});
        fs::create_directories(ws.job_dir(Phase::collect));
        ws.write_state(Phase::collect, 0, JobState{});

        std::vector<std::string> common = {"--cpus-per-task=" + std::to_string(cores), "--time=" + opt.duration,
                                           "--mem=" + std::to_string(opt.memory_mb) + "M", "--chdir=" + exp};
        if (!opt.partition.empty()) common.push_back("--partition=" + opt.partition);
        if (!opt.account.empty()) common.push_back("--account=" + opt.account);

        std::string spec = array_spec(jobs) + (opt.max_parallel > 0 ? "%" + std::to_string(opt.max_parallel) : "");
        std::vector<std::string> run_args = {"sbatch", "--parsable", "--array=" + spec, "--job-name=imextract-run",
                                             "--output=" + (ws.jobs_dir() / "run" / "slurm-%A_%a.out").string()};
        run_args.insert(run_args.end(), common.begin(), common.end());
        run_args.push_back("--wrap=exec " + shell_quote(exe) + " " + shell_quote(exp) +
                           " run -j \"$SLURM_ARRAY_TASK_ID\" --threads " + std::to_string(cores + 1));  // as run's default
        auto r = run_command(run_args);
        if (r.exit_code != 0) throw refusal(r, opt, cores);
        array_ = trim(r.out.substr(0, r.out.find(';')));

        // The collect job runs only when every task succeeded; otherwise SLURM removes it.
        std::vector<std::string> collect_args = {"sbatch", "--parsable", "--dependency=afterok:" + array_,
                                                 "--kill-on-invalid-dep=yes", "--job-name=imextract-collect",
                                                 "--output=" + (ws.job_dir(Phase::collect) / "slurm-%j.out").string()};
        collect_args.insert(collect_args.end(), common.begin(), common.end());
        collect_args.push_back("--wrap=exec " + shell_quote(exe) + " " + shell_quote(exp) + " collect --lock-held");
        auto c = run_command(collect_args);
        if (c.exit_code != 0) {
            run_command({"scancel", array_});
            throw refusal(c, opt, cores);
        }
        collect_ = trim(c.out.substr(0, c.out.find(';')));
        write_file_atomic(ws.jobs_dir() / "run" / "slurm.json",
                          json{{"array", array_}, {"collect", collect_}, {"tasks", jobs}, {"submitted", now_seconds()},
                               {"cores", cores}, {"memory_mb", opt.memory_mb}, {"duration", opt.duration}}.dump(1));
        log::info("slurm: submitted run array {} (tasks {}), collect job {} after it; {} core(s), {} MB, {} each",
                  array_, spec, collect_, cores, opt.memory_mb, opt.duration);
        if (opt.detach) {
            detached_ = true;
            return true;
        }

        InterruptGuard interrupt;
        bool cancelled = false;
        double last_report = 0;
        std::set<int> reported;  // jobs already shown as finished
        while (true) {
            for (int j : jobs)
                if (!reported.count(j)) {
                    auto s = ws.read_state(Phase::run, j);
                    if (s && s->state == "done") {
                        reported.insert(j);
                        monitor.job_finished(j, *s);
                    }
                }
            auto q = run_command({"squeue", "-h", "-r", "-j", array_, "-o", "%K %T"});
            if (q.exit_code == 0 && trim(q.out).empty()) break;
            if (interrupt.interrupted() && !cancelled) {
                interrupt.clear();
                if (ask_cancel(jobs.size())) {
                    run_command({"scancel", array_, collect_});
                    log::warn("cancelled SLURM jobs {} and {}", array_, collect_);
                    cancelled = true;
                } else {
                    log::info("the jobs keep running; `imextract {} status` shows them", exp);
                    detached_ = true;
                    return true;
                }
            }
            monitor.update();
            if (opt.depth >= 2 && now_seconds() - last_report >= opt.interval) {
                last_report = now_seconds();
                int pending = 0, running = 0;
                std::istringstream in(q.out);
                std::string id, state;
                while (in >> id >> state) (state == "PENDING" ? pending : running)++;
                log::info("slurm array {}: {} pending, {} running", array_, pending, running);
            }
            ::usleep(useconds_t(std::clamp(opt.interval, 0.2, 1.0) * 1e6));
        }
        // How each task ended: the task's own state file, unless the scheduler ended it first.
        auto ends = final_states(array_);
        int failed = 0;
        for (int j : jobs) {
            JobState s = ws.read_state(Phase::run, j).value_or(JobState{});
            auto it = ends.find(j);
            bool completed = it != ends.end() && it->second.state == "COMPLETED";
            if (completed && s.state == "done" && reported.count(j)) continue;
            if (!(completed && s.state == "done")) {
                ++failed;
                std::string why = it == ends.end() ? "SLURM: never ran (cancelled before it started)"
                                                   : describe(it->second, opt);
                s.error = s.state == "failed" && !s.error.empty() ? s.error + " [" + why + "]" : why;
                s.state = "failed";
                if (s.finished == 0) s.finished = now_seconds();
                ws.write_state(Phase::run, j, s);
            }
            monitor.job_finished(j, s);
        }
        if (failed || cancelled) {
            run_command({"scancel", collect_});  // usually gone already (kill-on-invalid-dep)
            JobState cs;
            cs.state = "cancelled";
            cs.error = "run tasks failed or were cancelled; resubmit";
            ws.write_state(Phase::collect, 0, cs);
            return !cancelled;
        }
        log::info("slurm: run array {} done; waiting for collect job {}", array_, collect_);
        while (true) {
            auto q = run_command({"squeue", "-h", "-j", collect_, "-o", "%T"});
            if (q.exit_code == 0 && trim(q.out).empty()) break;
            if (interrupt.interrupted()) {
                interrupt.clear();
                log::info("collect job {} keeps running; `imextract {} status` shows it", collect_, exp);
                detached_ = true;
                    return true;
            }
            ::usleep(300000);
        }
        auto cend = final_states(collect_);
        JobState cs = ws.read_state(Phase::collect, 0).value_or(JobState{});
        if (cs.state != "done" && cs.state != "failed") {
            cs.state = "failed";
            cs.error = cend.empty() ? "SLURM: collect job vanished" : describe(cend.begin()->second, opt);
            ws.write_state(Phase::collect, 0, cs);
        }
        return true;
    }

    std::string reconcile(const Workspace& ws) const override {
        json j = submission(ws);
        if (j.is_null() || !on_path("squeue")) return {};
        std::string array = j.value("array", ""), collect = j.value("collect", "");
        auto q = run_command({"squeue", "-h", "-r", "-j", array, "-o", "%i"});
        if (q.exit_code == 0 && !trim(q.out).empty()) return kBusy;  // run tasks still queued or running
        SubmitOptions opt;
        opt.duration = j.value("duration", opt.duration);
        opt.memory_mb = j.value("memory_mb", opt.memory_mb);
        auto ends = final_states(array);
        for (int task : j.value("tasks", std::vector<int>{})) {
            JobState s = ws.read_state(Phase::run, task).value_or(JobState{});
            if (s.state == "done" || s.error.find("SLURM:") != std::string::npos) continue;
            auto it = ends.find(task);
            std::string why = it != ends.end()     ? describe(it->second, opt)
                              : s.state == "running" ? "SLURM: no record of the task, which stopped while running "
                                                       "(node failure, or it ended longer ago than MinJobAge)"
                                                     : "SLURM: never ran (cancelled before it started)";
            s.error = s.state == "failed" && !s.error.empty() ? s.error + " [" + why + "]" : why;
            s.state = "failed";
            ws.write_state(Phase::run, task, s);
        }
        bool all_done = true;
        for (int task : j.value("tasks", std::vector<int>{})) {
            auto s = ws.read_state(Phase::run, task);
            all_done = all_done && s && s->state == "done";
        }
        auto c = run_command({"squeue", "-h", "-j", collect, "-o", "%i"});
        bool collect_queued = c.exit_code == 0 && !trim(c.out).empty();
        if (collect_queued && !all_done) {
            run_command({"scancel", collect});  // its dependency can never be satisfied
            JobState cs;
            cs.state = "cancelled";
            cs.error = "run tasks failed; fix them and resubmit";
            ws.write_state(Phase::collect, 0, cs);
            return {};
        }
        return collect_queued ? kBusy : std::string();
    }

    void print_status(const Workspace& ws) const override {
        json j = submission(ws);
        if (j.is_null()) return;
        std::string array = j.value("array", ""), collect = j.value("collect", "");
        if (!on_path("squeue")) {
            std::printf("slurm         array %s, collect job %s (squeue not available here)\n", array.c_str(), collect.c_str());
            return;
        }
        auto q = run_command({"squeue", "-h", "-r", "-j", array + "," + collect, "-o", "%i %T"});
        int pending = 0, running = 0;
        std::string collect_state = "finished";
        std::istringstream in(q.out);
        std::string id, state;
        while (in >> id >> state) {
            if (id == collect) collect_state = state;
            else (state == "PENDING" ? pending : running)++;
        }
        std::printf("slurm         array %s: %d pending, %d running in the queue; collect job %s: %s\n", array.c_str(),
                    pending, running, collect.c_str(), collect_state.c_str());
    }

    std::vector<fs::path> log_files(const Workspace& ws, Phase phase, int job) const override {
        // SLURM's own output files (slurm-ARRAY_TASK.out for run tasks, slurm-JOB.out for collect).
        std::error_code ec;
        fs::path dir = phase == Phase::run ? ws.jobs_dir() / "run" : ws.job_dir(phase);
        std::vector<fs::path> files;
        for (auto& e : fs::directory_iterator(dir, ec)) {
            std::string n = e.path().filename().string();
            if (n.rfind("slurm-", 0) == 0 && n.ends_with(".out") &&
                (phase != Phase::run || n.ends_with("_" + std::to_string(job) + ".out")))
                files.push_back(e.path());
        }
        std::sort(files.begin(), files.end());
        return files;
    }

private:
    // The detached submission's record (jobs/run/slurm.json: array and collect job ids, tasks), null
    // when there is none.
    static json submission(const Workspace& ws) {
        fs::path f = ws.jobs_dir() / "run" / "slurm.json";
        std::error_code ec;
        if (!fs::is_regular_file(f, ec)) return nullptr;
        json j = json::parse(read_file(f, 1 << 20), nullptr, false);
        return j.is_discarded() ? json(nullptr) : j;
    }
    static constexpr const char* kBusy =
        "a SLURM submission of this experiment is still queued or running (wait for it or scancel it)";

    bool ask_cancel(size_t n) const {
        if (!::isatty(0)) return true;  // nobody to ask: an interrupted batch submission cancels
        std::fprintf(stderr, "\nCancel the %zu submitted run task(s) and the collect job (scancel)? [y/N] ", n);
        std::string answer;
        std::getline(std::cin, answer);
        return !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
    }

    // sbatch said no: name the request and what the partition allows.
    static Error refusal(const CommandResult& r, const SubmitOptions& opt, int cores) {
        std::string msg = "the cluster refused the submission: " + trim(r.err.empty() ? r.out : r.err);
        std::vector<std::string> args = {"sinfo", "-h", "-o", "%P %c %m %l"};
        if (!opt.partition.empty()) args.insert(args.begin() + 2, {"-p", opt.partition});
        auto s = run_command(args);
        if (s.exit_code == 0 && !trim(s.out).empty()) {
            std::istringstream in(s.out);
            std::string part, cpus, mem, limit;
            in >> part >> cpus >> mem >> limit;
            msg += "; asked for --cores " + std::to_string(cores) + ", --memory " + std::to_string(opt.memory_mb) +
                   " MB, --duration " + opt.duration + "; partition " + part + " allows at most " + cpus +
                   " CPUs and " + mem + " MB per node, time limit " + limit;
        }
        return Error(msg, Error::Kind::usage);
    }

    std::string array_, collect_;
    bool detached_ = false;
};

}  // namespace

std::unique_ptr<Engine> make_slurm_engine() { return std::make_unique<SlurmEngine>(); }

}  // namespace imx
