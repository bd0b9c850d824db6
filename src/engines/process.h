// Running a program and capturing what it prints: how the SLURM engine talks to sbatch, squeue,
// scontrol and scancel (their command lines are SLURM's stable interface).
#pragma once

#include <string>
#include <vector>

namespace imx {

struct CommandResult {
    int exit_code = -1;  // 127: the program was not found
    std::string out, err;
};

CommandResult run_command(const std::vector<std::string>& args);
// Whether `program` is an executable on PATH.
bool on_path(const std::string& program);

}  // namespace imx
