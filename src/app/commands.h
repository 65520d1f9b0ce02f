// Each `hourglass` subcommand lives in its own <name>_command.cc and registers itself here.
// main.cc only wires them; commands parse flags/config and hand over to library code.
#pragma once

#include "CLI/CLI.hpp"

namespace hg::app {

// A failing callback throws CLI::RuntimeError(exit code); main() turns it into the exit status.
void RegisterVersionCommand(CLI::App& app);
void RegisterWorkerCommand(CLI::App& app);
void RegisterMasterCommand(CLI::App& app);
void RegisterDevCommand(CLI::App& app);
void RegisterCronCommand(CLI::App& app);

}  // namespace hg::app
