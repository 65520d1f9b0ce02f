// Each `hourglass` subcommand lives in its own <name>_command.cc and registers itself here.
// main.cc only wires them; commands parse flags/config and hand over to library code.
#pragma once

#include "CLI/CLI.hpp"

namespace hg::app {

void RegisterVersionCommand(CLI::App& app);
void RegisterCronCommand(CLI::App& app);

}  // namespace hg::app
