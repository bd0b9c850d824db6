// Command-line help that names the mistake: a mistyped phase or option with the closest valid
// one, and usage lines that show EXPERIMENT where it goes.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace imx::cli {

// The candidate closest to `word` by edit distance, when close enough to be a typo; "" otherwise.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

// Checks EXPERIMENT PHASE [options] before CLI11 parses them (it would answer `creat` with "A
// subcommand is required" and `--sourse DIR` with "--source is required"): the message for an
// unknown phase or option, naming the closest valid one; nullopt when every word is known.
std::optional<std::string> unknown_argument(const CLI::App& app, int argc, char** argv);

// The same for a top-level command (`imextract convert ... [options]`): its unknown options.
std::optional<std::string> unknown_command_option(const CLI::App& app, int argc, char** argv);

// "Usage: imextract [-v] EXPERIMENT get [options]" for a phase, the synopsis for the program.
class UsageFormatter : public CLI::Formatter {
public:
    std::string make_usage(const CLI::App* app, std::string name) const override;
};

}  // namespace imx::cli
