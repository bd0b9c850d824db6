#include "core/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace imx::log {

namespace {
std::mutex g_mutex;
int g_verbosity = 0;
FILE* g_file = nullptr;
bool g_status_line = false;

const char* level_name(Level l) {
    switch (l) {
        case Level::debug: return "DEBUG";
        case Level::info: return "INFO";
        case Level::warn: return "WARNING";
        case Level::error: return "ERROR";
    }
    return "";
}

std::string timestamp() {
    auto now = std::chrono::system_clock::now();
    std::time_t t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return fmt::format("{}.{:03d}", buf, int(ms));
}
}  // namespace

void set_verbosity(int v) { g_verbosity = v; }
int verbosity() { return g_verbosity; }

void set_file(const std::filesystem::path& file, bool append) {
    std::lock_guard lock(g_mutex);
    if (g_file) std::fclose(g_file);
    g_file = nullptr;
    if (!file.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(file.parent_path(), ec);
        g_file = std::fopen(file.c_str(), append ? "a" : "w");
    }
}

void set_status_line_active(bool active) {
    std::lock_guard lock(g_mutex);
    g_status_line = active;
}

void write(Level level, const std::string& message) {
    std::lock_guard lock(g_mutex);
    std::string line = fmt::format("{} {:7} {}\n", timestamp(), level_name(level), message);
    if (g_file && (level >= Level::info || g_verbosity > 0)) {
        std::fputs(line.c_str(), g_file);
        std::fflush(g_file);
    }
    if (level >= Level::info || g_verbosity > 0) {
        if (g_status_line) std::fputs("\r\033[K", stderr);
        std::fputs(line.c_str(), stderr);
    }
}

}  // namespace imx::log
