// Settings: one option = one YAML key, one HOURGLASS_* environment variable and one flag, with a
// documented default. Precedence: YAML file < environment < flags (DESIGN.md "Configuration").
//
//   Settings s("master");
//   s.Add("http", "127.0.0.1:8080", "HTTP listen address (API, UI, /metrics)", &http);
//   s.Register(*cmd);          // adds --http and --config to the CLI11 subcommand
//   ... after CLI parsing:
//   if (auto st = s.Resolve(); !st.ok()) ...   // reads --config / HOURGLASS_CONFIG YAML too
//
// A YAML key that no setting knows is an error (a typo must not be silently ignored).
#pragma once

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace hg::app {

class Settings {
 public:
  // Adds a setting whose value lands in `*target` (a string; callers parse and validate it).
  void Add(std::string key, std::string default_value, std::string help, std::string* target);
  // A "true"/"false" setting whose flag may also be given bare (--key means --key true).
  void AddBool(std::string key, bool default_value, std::string help, std::string* target);
  // The same for a comma-separated list whose flag may also be repeated
  // (--cors-origin a --cors-origin b,c gives "a,b,c"); YAML takes a list or a string.
  void AddList(std::string key, std::string default_value, std::string help, std::string* target);
  // Adds --<key> for every setting (help shows the env variable and default) and --config.
  void Register(CLI::App& cmd);
  // Applies YAML, then environment, then flags. InvalidArgument names the file/key/variable.
  absl::Status Resolve();

  static std::string EnvName(const std::string& key);  // "election-ttl" -> HOURGLASS_ELECTION_TTL

 private:
  struct Setting {
    std::string key;
    std::string default_value;
    std::string help;
    std::string* target;
    std::string flag_value;
    CLI::Option* option = nullptr;
    bool boolean = false;
    bool list = false;
  };
  std::vector<Setting> settings_;
  std::string config_path_;
};

// --secret-headers (worker, dev): header names whose values are secret in every HTTP job
// (model/secrets.h); default model::DefaultSecretHeaders(), comma-separated, "" for none.
void AddSecretHeadersSetting(Settings& s, std::string* target);
// InvalidArgument naming the entry when one is not an HTTP header name (RFC 9110 token).
absl::StatusOr<std::vector<std::string>> ParseSecretHeaders(const std::string& text);

}  // namespace hg::app
