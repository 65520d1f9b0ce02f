// `hourglass cron next|explain`: flag parsing only; the logic is hg::cron::RunNext/RunExplain.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.h"
#include "common/clock.h"
#include "cron/cli.h"

namespace hg::app {
namespace {

// The expression may be one quoted argument or several words ("0 30 9 * * *" or 0 30 9 ...).
std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

void RegisterCronCommand(CLI::App& app) {
  CLI::App* cron =
      app.add_subcommand("cron", "Cron expression tools (syntax: docs/design/cron.md)");
  cron->require_subcommand(1);

  struct NextFlags {
    std::vector<std::string> words;
    cron::NextOptions options;
    std::string from;
  };
  auto next_flags = std::make_shared<NextFlags>();
  CLI::App* next = cron->add_subcommand("next", "Print the next fire times of EXPR (RFC 3339)");
  next->add_option("EXPR", next_flags->words, "Cron expression, e.g. '0 30 9 * * MON-FRI'")
      ->required();
  next->add_option("-n", next_flags->options.count, "How many fire times to print")
      ->capture_default_str();
  next->add_option("--from", next_flags->from, "Start after this RFC 3339 instant (default: now)");
  next->add_option("--tz", next_flags->options.tz, "IANA time zone (a CRON_TZ= prefix wins)")
      ->capture_default_str();
  next->callback([next_flags] {
    cron::NextOptions options = next_flags->options;
    options.expr = Join(next_flags->words);
    if (!next_flags->from.empty()) options.from = next_flags->from;
    const int rc = cron::RunNext(options, RealClock::Get().Now(), std::cout, std::cerr);
    if (rc != cron::kExitOk) throw CLI::RuntimeError(rc);
  });

  struct ExplainFlags {
    std::vector<std::string> words;
    std::string tz = "UTC";
  };
  auto explain_flags = std::make_shared<ExplainFlags>();
  CLI::App* explain = cron->add_subcommand("explain", "Print what each field of EXPR means");
  explain->add_option("EXPR", explain_flags->words, "Cron expression")->required();
  explain->add_option("--tz", explain_flags->tz, "IANA time zone (a CRON_TZ= prefix wins)")
      ->capture_default_str();
  explain->callback([explain_flags] {
    const int rc =
        cron::RunExplain(Join(explain_flags->words), explain_flags->tz, std::cout, std::cerr);
    if (rc != cron::kExitOk) throw CLI::RuntimeError(rc);
  });
}

}  // namespace hg::app
