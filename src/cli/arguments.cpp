#include "cli/arguments.h"

#include <algorithm>
#include <cctype>

namespace imx::cli {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return row[b.size()];
}

bool is_number(const std::string& s) {
    return s.size() > 1 && std::all_of(s.begin() + 1, s.end(), [](unsigned char c) { return std::isdigit(c) || c == '.'; });
}

// Every spelling of the options `app` and its parent take: "--source", "-b", ...
std::vector<std::string> option_names(const CLI::App& app) {
    std::vector<std::string> names;
    for (const CLI::App* a = &app; a; a = a->get_parent())
        for (const CLI::Option* o : a->get_options()) {
            for (auto& l : o->get_lnames()) names.push_back("--" + l);
            for (auto& s : o->get_snames()) names.push_back("-" + s);
        }
    return names;
}

std::string phase_list(const CLI::App& app) {
    std::string out;
    for (const CLI::App* sub : app.get_subcommands({}))
        if (!sub->get_name().empty()) out += (out.empty() ? "" : ", ") + sub->get_name();
    return out;
}

// The message for `arg` when it is an option `app` does not take; nullopt when it takes it (or
// when `arg` is no option: a value, a negative number).
std::optional<std::string> unknown_option(const CLI::App& app, const std::string& arg, const std::string& command,
                                          const std::string& help) {
    if (arg.size() < 2 || arg[0] != '-' || is_number(arg)) return std::nullopt;
    std::string name = arg.substr(0, arg.find('='));
    if (name[1] != '-') name = name.substr(0, 2);  // -j3, -vv
    const std::vector<std::string> names = option_names(app);
    if (std::find(names.begin(), names.end(), name) != names.end()) return std::nullopt;
    const std::string near = closest(name, names);
    return command + ": unknown option " + name + (near.empty() ? "" : "; did you mean " + near + "?") + " (`" + help +
           " --help` lists them)";
}

}  // namespace

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
    for (const std::string& c : candidates) {
        const size_t d = edit_distance(word, c);
        if (d < best_distance) best = c, best_distance = d;
    }
    return best;
}

std::optional<std::string> unknown_argument(const CLI::App& app, int argc, char** argv) {
    // Before the phase only flags are allowed (-v, --help, --version), so the first two words that
    // are not options are EXPERIMENT and PHASE.
    int words = 0;
    const CLI::App* phase = nullptr;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") break;
        if (!phase) {
            if (arg.empty() || arg[0] != '-') {
                if (++words < 2) continue;
                std::vector<std::string> names;
                for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
                auto found = std::find(names.begin(), names.end(), arg);
                if (found == names.end()) {
                    const std::string near = closest(arg, names);
                    return "unknown phase '" + arg + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?") +
                           " (phases: " + phase_list(app) + ")";
                }
                phase = app.get_subcommand(arg);
            }
            continue;
        }
        if (auto mistake = unknown_option(*phase, arg, phase->get_name(), "imextract EXPERIMENT " + phase->get_name()))
            return mistake;
    }
    return std::nullopt;
}

std::optional<std::string> unknown_command_option(const CLI::App& app, int argc, char** argv) {
    bool after_command = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") break;
        after_command = after_command || arg == app.get_name();
        if (!after_command) continue;
        if (auto mistake = unknown_option(app, arg, app.get_name(), "imextract " + app.get_name())) return mistake;
    }
    return std::nullopt;
}

std::string UsageFormatter::make_usage(const CLI::App* app, std::string) const {
    if (app->get_name() == "convert") return "Usage: imextract convert SOURCE... OUT [options]\n";
    if (app->get_parent()) return "Usage: imextract [-v] EXPERIMENT " + app->get_name() + " [options]\n";
    return "Usage: imextract [-v] EXPERIMENT PHASE [options]   (also: imextract convert SOURCE... OUT, imextract demo DIR, imextract formats)\n";
}

}  // namespace imx::cli
