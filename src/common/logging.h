// Structured logging for every module: one JSON object per line on stderr
// ({"time","level","msg","component", ...fields}), or a readable text line on a terminal.
//
//   Logger log("scheduler");
//   log.Info("fired", {{"job", name}, {"execution_id", id}});
//
// Fields are values, never spliced into `msg` (STYLE.md "Observability"). Thread-safe.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// Fields bound to every line written through a ContextLogger (e.g. the identity of one run,
// model/run_log.h), plus an optional filter applied to the string values of the per-line fields
// and to the message (secret redaction, model/secrets.h). Context fields come first on the line
// and are not filtered (they are ids). A per-line field with the same key replaces the context's.
struct Context {
  std::vector<std::pair<std::string, nlohmann::json>> fields;
  std::function<std::string(std::string_view)> filter;  // may be empty
};

class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  void Debug(std::string_view msg, Fields fields = {}) const { Log(Level::kDebug, msg, fields); }
  void Info(std::string_view msg, Fields fields = {}) const { Log(Level::kInfo, msg, fields); }
  void Warn(std::string_view msg, Fields fields = {}) const { Log(Level::kWarn, msg, fields); }
  void Error(std::string_view msg, Fields fields = {}) const { Log(Level::kError, msg, fields); }
  void Log(Level level, std::string_view msg, Fields fields) const {
    Log(level, msg, fields, nullptr);
  }
  // Same with `context` (may be null) bound to the line; see Context.
  void Log(Level level, std::string_view msg, Fields fields, const Context* context) const;

  const std::string& component() const { return component_; }

 private:
  std::string component_;
};

// A Logger with a Context bound: call sites cannot forget the context's fields. Cheap to build
// per use; holds a reference to `logger`, which must outlive it. Thread-compatible (the Logger
// itself is thread-safe).
class ContextLogger {
 public:
  ContextLogger(const Logger& logger, Context context)
      : logger_(logger), context_(std::move(context)) {}

  void Debug(std::string_view msg, Fields fields = {}) const { Log(Level::kDebug, msg, fields); }
  void Info(std::string_view msg, Fields fields = {}) const { Log(Level::kInfo, msg, fields); }
  void Warn(std::string_view msg, Fields fields = {}) const { Log(Level::kWarn, msg, fields); }
  void Error(std::string_view msg, Fields fields = {}) const { Log(Level::kError, msg, fields); }
  void Log(Level level, std::string_view msg, Fields fields) const {
    logger_.Log(level, msg, fields, &context_);
  }

  const Context& context() const { return context_; }

 private:
  const Logger& logger_;
  Context context_;
};

}  // namespace hg::log
