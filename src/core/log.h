// Logging: lines to stderr (filtered by -v) and, for jobs, to the job's own log file (everything
// at info and above, plus debug when verbose). Thread-safe.
#pragma once

#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace imx::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_verbosity(int v);  // 0: info and up on stderr; 1+: debug too
int verbosity();
// Also appends every line to `file` (truncated first unless `append`). Empty path stops it.
void set_file(const std::filesystem::path& file, bool append = false);
void write(Level level, const std::string& message);

template <class... A> void debug(fmt::format_string<A...> f, A&&... a) { write(Level::debug, fmt::format(f, std::forward<A>(a)...)); }
template <class... A> void info(fmt::format_string<A...> f, A&&... a) { write(Level::info, fmt::format(f, std::forward<A>(a)...)); }
template <class... A> void warn(fmt::format_string<A...> f, A&&... a) { write(Level::warn, fmt::format(f, std::forward<A>(a)...)); }
template <class... A> void error(fmt::format_string<A...> f, A&&... a) { write(Level::error, fmt::format(f, std::forward<A>(a)...)); }

// When a progress bar owns the terminal's last line, log lines clear it first.
void set_status_line_active(bool active);

}  // namespace imx::log
