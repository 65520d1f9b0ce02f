// Structured logging for every module: one JSON object per line on stderr
// ({"time","level","msg","component", ...fields}), or a readable text line on a terminal.
//
//   Logger log("scheduler");
//   log.Info("fired", {{"job", name}, {"execution_id", id}});
//
// Fields are values, never spliced into `msg` (STYLE.md "Observability"). Thread-safe.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace hg::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };
enum class Format { kJson, kText, kAuto /* text when stderr is a terminal */ };

using Field = std::pair<std::string_view, nlohmann::json>;
using Fields = std::initializer_list<Field>;

// Process-wide settings; call once at start-up (later calls replace the earlier ones).
void Configure(Level level, Format format);
absl::Status ConfigureFromStrings(std::string_view level, std::string_view format);
Level CurrentLevel();

// Routes lines to `sink` instead of stderr (tests). nullptr restores stderr.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Write(std::string_view line) = 0;
};
void SetSinkForTesting(Sink* sink);

class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  void Debug(std::string_view msg, Fields fields = {}) const { Log(Level::kDebug, msg, fields); }
  void Info(std::string_view msg, Fields fields = {}) const { Log(Level::kInfo, msg, fields); }
  void Warn(std::string_view msg, Fields fields = {}) const { Log(Level::kWarn, msg, fields); }
  void Error(std::string_view msg, Fields fields = {}) const { Log(Level::kError, msg, fields); }
  void Log(Level level, std::string_view msg, Fields fields) const;

  const std::string& component() const { return component_; }

 private:
  std::string component_;
};

}  // namespace hg::log
