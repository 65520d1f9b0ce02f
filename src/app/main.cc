#include "app/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Hourglass: a distributed cron system", "hourglass"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  hg::app::RegisterVersionCommand(app);
  hg::app::RegisterCronCommand(app);
  hg::app::RegisterDevCommand(app);
  hg::app::RegisterMasterCommand(app);
  hg::app::RegisterWorkerCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
