#include "app/commands.h"

namespace hg::app {

// Placeholder until src/cron lands: `hourglass cron next|explain`.
void RegisterCronCommand(CLI::App& app) { app.add_subcommand("cron", "Cron expression tools"); }

}  // namespace hg::app
