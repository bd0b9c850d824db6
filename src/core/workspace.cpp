#include "core/workspace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/fileutil.h"
#include "core/types.h"

namespace imx {

using nlohmann::json;

std::string phase_name(Phase p) {
    switch (p) {
        case Phase::init: return "init";
        case Phase::run: return "run";
        case Phase::collect: return "collect";
    }
    return "run";
}

Phase parse_phase(const std::string& s) {
    if (s == "init") return Phase::init;
    if (s == "run") return Phase::run;
    if (s == "collect") return Phase::collect;
    throw Error("unknown phase '" + s + "' (choose init, run or collect)", Error::Kind::usage);
}

json JobState::to_json() const {
    return {{"state", state},         {"pid", pid},
            {"host", host},           {"started", started},
            {"finished", finished},   {"planes_done", planes_done},
            {"planes_total", planes_total}, {"planes_failed", planes_failed},
            {"bytes_in", bytes_in},   {"bytes_out", bytes_out},
            {"exit_code", exit_code}, {"error", error}};
}

JobState JobState::from_json(const json& j) {
    JobState s;
    s.state = j.value("state", "pending");
    s.pid = j.value("pid", int64_t(0));
    s.host = j.value("host", "");
    s.started = j.value("started", 0.0);
    s.finished = j.value("finished", 0.0);
    s.planes_done = j.value("planes_done", int64_t(0));
    s.planes_total = j.value("planes_total", int64_t(0));
    s.planes_failed = j.value("planes_failed", int64_t(0));
    s.bytes_in = j.value("bytes_in", int64_t(0));
    s.bytes_out = j.value("bytes_out", int64_t(0));
    s.exit_code = j.value("exit_code", -1);
    s.error = j.value("error", "");
    return s;
}

Workspace::Workspace(fs::path root) : root_(fs::absolute(std::move(root)).lexically_normal()) {
    if (root_.has_filename() == false) root_ = root_.parent_path();
}

fs::path Workspace::job_dir(Phase phase, int id) const {
    if (phase != Phase::run) return jobs_dir() / phase_name(phase);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06d", id);
    return jobs_dir() / "run" / buf;
}

bool Workspace::exists() const {
    std::error_code ec;
    return fs::is_regular_file(catalog_file(), ec);
}

void Workspace::require() const {
    if (!exists())
        throw Error(root_.string() + ": not an imextract experiment (no catalog.sqlite); run `imextract " +
                        root_.string() + " create --source DIR` first",
                    Error::Kind::usage);
}

int Workspace::run_job_count() const {
    std::error_code ec;
    if (!fs::is_regular_file(batches_file(), ec)) return 0;
    json j = json::parse(read_file(batches_file(), 64 << 20), nullptr, false);
    if (j.is_discarded()) throw Error(batches_file().string() + ": corrupt job list; run init again");
    return j.value("run_jobs", 0);
}

std::vector<int64_t> Workspace::job_plane_counts() const {
    std::error_code ec;
    if (!fs::is_regular_file(batches_file(), ec)) return {};
    json j = json::parse(read_file(batches_file(), 64 << 20), nullptr, false);
    if (j.is_discarded() || !j.contains("job_planes")) return {};
    return j["job_planes"].get<std::vector<int64_t>>();
}

std::optional<JobState> Workspace::read_state(Phase phase, int id) const {
    std::error_code ec;
    fs::path f = state_file(phase, id);
    if (!fs::is_regular_file(f, ec)) return std::nullopt;
    json j = json::parse(read_file(f, 1 << 20), nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return JobState::from_json(j);
}

void Workspace::write_state(Phase phase, int id, const JobState& s) const {
    write_file_atomic(state_file(phase, id), s.to_json().dump(1, ' ', false, nlohmann::json::error_handler_t::replace));
}

ExperimentLock::ExperimentLock(const Workspace& ws, const std::string& what) {
    fs::path f = ws.root() / ".lock";
    fd_ = ::open(f.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(f.string() + ": cannot open the experiment lock", Error::Kind::storage);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        std::string holder;
        char buf[256] = {};
        if (::pread(fd_, buf, sizeof buf - 1, 0) > 0) holder = buf;
        ::close(fd_);
        fd_ = -1;
        throw Error(ws.root().string() + ": another imextract command is working on this experiment" +
                        (holder.empty() ? "" : " (" + holder + ")") + "; wait for it to finish before " + what,
                    Error::Kind::usage);
    }
    std::string me = "pid " + std::to_string(::getpid()) + " on " + hostname() + ": " + what;
    if (::ftruncate(fd_, 0) == 0) {
        [[maybe_unused]] auto n = ::pwrite(fd_, me.data(), me.size(), 0);
    }
}

ExperimentLock::~ExperimentLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string hostname() {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
}

int usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace imx
