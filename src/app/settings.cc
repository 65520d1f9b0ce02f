#include "app/settings.h"

#include <cstdlib>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "model/secrets.h"
#include "yaml-cpp/yaml.h"

namespace hg::app {

std::string Settings::EnvName(const std::string& key) {
  return absl::StrCat("HOURGLASS_", absl::AsciiStrToUpper(absl::StrReplaceAll(key, {{"-", "_"}})));
}

void Settings::Add(std::string key, std::string default_value, std::string help,
                   std::string* target) {
  *target = default_value;
  settings_.push_back(Setting{.key = std::move(key),
                              .default_value = std::move(default_value),
                              .help = std::move(help),
                              .target = target});
}

void Settings::AddBool(std::string key, bool default_value, std::string help, std::string* target) {
  Add(std::move(key), default_value ? "true" : "false", std::move(help), target);
  settings_.back().boolean = true;
}

void Settings::AddList(std::string key, std::string default_value, std::string help,
                       std::string* target) {
  Add(std::move(key), std::move(default_value), std::move(help), target);
  settings_.back().list = true;
}

void Settings::Register(CLI::App& cmd) {
  cmd.add_option("--config", config_path_,
                 "YAML file with any of these settings (keys as the flag names); env "
                 "HOURGLASS_CONFIG");
  for (Setting& s : settings_) {
    std::string help =
        absl::StrCat(s.help, " [env ", EnvName(s.key), "; default \"", s.default_value, "\"]");
    s.option = cmd.add_option("--" + s.key, s.flag_value, help);
    // A true/false setting may be given as a bare flag: --insecure-no-auth = "true".
    if (s.boolean) s.option->expected(0, 1);
    if (s.list) s.option->delimiter(',')->multi_option_policy(CLI::MultiOptionPolicy::Join);
  }
}

absl::Status Settings::Resolve() {
  if (config_path_.empty()) {
    if (const char* env = std::getenv("HOURGLASS_CONFIG")) config_path_ = env;  // NOLINT
  }
  std::map<std::string, std::string> from_yaml;
  if (!config_path_.empty()) {
    try {
      YAML::Node root = YAML::LoadFile(config_path_);
      if (!root.IsMap() && !root.IsNull()) {
        return absl::InvalidArgumentError(
            absl::StrCat("config ", config_path_, ": top level must be a mapping of settings"));
      }
      for (const auto& entry : root) {
        const std::string key = entry.first.as<std::string>();
        bool known = false;
        for (const Setting& s : settings_) known |= s.key == key;
        if (!known) {
          return absl::InvalidArgumentError(
              absl::StrCat("config ", config_path_, ": unknown setting \"", key, "\""));
        }
        if (entry.second.IsSequence()) {
          std::string joined;
          for (const auto& item : entry.second) {
            absl::StrAppend(&joined, joined.empty() ? "" : ",", item.as<std::string>());
          }
          from_yaml[key] = joined;
        } else if (entry.second.IsMap()) {
          std::string joined;
          for (const auto& item : entry.second) {
            absl::StrAppend(&joined, joined.empty() ? "" : ",", item.first.as<std::string>(), "=",
                            item.second.as<std::string>());
          }
          from_yaml[key] = joined;
        } else {
          from_yaml[key] = entry.second.as<std::string>();
        }
      }
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("config ", config_path_, ": ", e.what()));
    }
  }
  for (Setting& s : settings_) {
    if (auto it = from_yaml.find(s.key); it != from_yaml.end()) *s.target = it->second;
    if (const char* env = std::getenv(EnvName(s.key).c_str())) *s.target = env;  // NOLINT
    if (s.option != nullptr && s.option->count() > 0) {
      *s.target = s.boolean && s.flag_value.empty() ? "true" : s.flag_value;
    }
  }
  return absl::OkStatus();
}

void AddSecretHeadersSetting(Settings& s, std::string* target) {
  s.Add("secret-headers", absl::StrJoin(model::DefaultSecretHeaders(), ","),
        "HTTP header names whose values are secret in every job (comma-separated): replaced by "
        "[REDACTED] in run output, errors and logs; jobs add their own in "
        "executor.secret_headers",
        target);
}

absl::StatusOr<std::vector<std::string>> ParseSecretHeaders(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) continue;
    for (char c : part) {
      // RFC 9110 token characters.
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
          std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("--secret-headers: \"", part, "\" is not an HTTP header name"));
      }
    }
    out.emplace_back(part);
  }
  return out;
}

}  // namespace hg::app
