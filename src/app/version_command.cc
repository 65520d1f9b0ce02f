#include <iostream>

#include "app/commands.h"
#include "app/version.h"

namespace hg::app {

void RegisterVersionCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the Hourglass version");
  cmd->callback([] { std::cout << "hourglass " << kVersion << "\n"; });
}

}  // namespace hg::app
