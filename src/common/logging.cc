#include "common/logging.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace hg::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<bool> g_json{true};
absl::Mutex g_write_mu;  // NOLINT(cert-err58-cpp): absl::Mutex() does not throw
Sink* g_sink ABSL_GUARDED_BY(g_write_mu) = nullptr;

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      return "off";
  }
  return "info";
}

// spdlog writes the finished line: its stderr sink is thread-safe and flushes per line.
spdlog::logger& Output() {
  static spdlog::logger* logger = [] {
    auto* l = new spdlog::logger("hourglass", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

}  // namespace

void Configure(Level level, Format format) {
  g_level.store(level);
  bool json = format == Format::kJson || (format == Format::kAuto && !isatty(STDERR_FILENO));
  g_json.store(json);
}

absl::Status ConfigureFromStrings(std::string_view level, std::string_view format) {
  const std::string l = absl::AsciiStrToLower(Av(level));
  Level parsed;
  if (l == "debug")
    parsed = Level::kDebug;
  else if (l == "info")
    parsed = Level::kInfo;
  else if (l == "warn" || l == "warning")
    parsed = Level::kWarn;
  else if (l == "error")
    parsed = Level::kError;
  else if (l == "off")
    parsed = Level::kOff;
  else
    return absl::InvalidArgumentError(
        absl::StrCat("log level \"", Av(level), "\" is not one of debug, info, warn, error, off"));
  const std::string f = absl::AsciiStrToLower(Av(format));
  Format fmt;
  if (f == "json")
    fmt = Format::kJson;
  else if (f == "text")
    fmt = Format::kText;
  else if (f == "auto" || f.empty())
    fmt = Format::kAuto;
  else
    return absl::InvalidArgumentError(
        absl::StrCat("log format \"", Av(format), "\" is not one of json, text, auto"));
  Configure(parsed, fmt);
  return absl::OkStatus();
}

Level CurrentLevel() { return g_level.load(); }

void SetSinkForTesting(Sink* sink) {
  absl::MutexLock lock(&g_write_mu);
  g_sink = sink;
}

void Logger::Log(Level level, std::string_view msg, Fields fields, const Context* context) const {
  if (level < g_level.load() || level == Level::kOff) return;
  const absl::Time now = absl::Now();
  const bool filtered = context != nullptr && context->filter;
  // The per-line value, filtered when it is a string and a filter is bound.
  auto value_of = [&](const nlohmann::json& v) -> nlohmann::json {
    if (filtered && v.is_string()) return context->filter(v.get_ref<const std::string&>());
    return v;
  };
  const std::string message = filtered ? context->filter(msg) : std::string(msg);
  std::vector<std::pair<std::string_view, nlohmann::json>> all;
  if (context != nullptr) {
    for (const auto& entry : context->fields) {
      // Not a structured binding: clang 14 (clang-tidy) cannot capture one in a lambda.
      const bool replaced = std::any_of(fields.begin(), fields.end(),
                                        [&](const Field& f) { return f.first == entry.first; });
      if (!replaced) all.emplace_back(entry.first, entry.second);
    }
  }
  for (const auto& [key, value] : fields) all.emplace_back(key, value_of(value));
  std::string line;
  if (g_json.load()) {
    nlohmann::json j;
    j["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone());
    j["level"] = LevelName(level);
    j["msg"] = message;
    j["component"] = component_;
    for (const auto& [key, value] : all) j[std::string(key)] = value;
    // Replace invalid UTF-8 (command output, user input) instead of throwing.
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line =
        absl::StrCat(absl::FormatTime("%H:%M:%E3S", now, absl::LocalTimeZone()), " ",
                     absl::AsciiStrToUpper(Av(LevelName(level))), " [", component_, "] ", message);
    for (const auto& [key, value] : all) {
      absl::StrAppend(&line, " ", Av(key), "=",
                      value.is_string()
                          ? value.get<std::string>()
                          : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  absl::MutexLock lock(&g_write_mu);
  if (g_sink != nullptr) {
    g_sink->Write(line);
  } else {
    Output().info(line);
  }
}

}  // namespace hg::log
