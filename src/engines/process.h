// Running a program and capturing what it prints: how the SLURM engine talks to sbatch, squeue,
// scontrol and scancel (their command lines are SLURM's stable interface); and the executable the
// engines start as workers.
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
// The imextract executable of this process: what engines start as workers.
std::string self_executable();

}  // namespace imx
