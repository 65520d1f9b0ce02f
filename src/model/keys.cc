#include "model/keys.h"

namespace hg::model {
namespace {

// The rest of `key` after `prefix`, or nullopt when `key` does not start with it.
std::optional<std::string_view> After(std::string_view key, std::string_view prefix) {
  if (key.size() < prefix.size() || key.substr(0, prefix.size()) != prefix) return std::nullopt;
  return key.substr(prefix.size());
}

std::optional<JobName> NameAfter(std::string_view key, const std::string& prefix) {
  auto rest = After(key, prefix);
  if (!rest) return std::nullopt;
  auto name = JobName::Parse(*rest);
  if (!name.ok()) return std::nullopt;
  return *std::move(name);
}

}  // namespace

Keys::Keys(std::string_view prefix) : prefix_(prefix.empty() ? kDefaultPrefix : prefix) {
  if (prefix_.back() != '/') prefix_ += '/';
}

std::optional<JobName> Keys::JobFromKey(std::string_view key) const {
  return NameAfter(key, JobsPrefix());
}

std::optional<JobName> Keys::CursorFromKey(std::string_view key) const {
  return NameAfter(key, CursorPrefix());
}

std::optional<ExecutionId> Keys::ExecFromKey(std::string_view key) const {
  auto rest = After(key, ExecRoot());
  if (!rest) return std::nullopt;
  const size_t slash = rest->find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto name = JobName::Parse(rest->substr(0, slash));
  if (!name.ok()) return std::nullopt;
  auto id = ExecutionId::FromSuffix(*name, rest->substr(slash + 1));
  if (!id.ok()) return std::nullopt;
  return *std::move(id);
}

std::optional<ExecutionId> Keys::KillFromKey(std::string_view key) const {
  return IdFromKey(key, KillPrefix());
}

std::optional<ExecutionId> Keys::IdFromKey(std::string_view key, std::string_view prefix) const {
  auto rest = After(key, prefix);
  if (!rest) return std::nullopt;
  auto id = ExecutionId::Parse(*rest);
  if (!id.ok()) return std::nullopt;
  return *std::move(id);
}

}  // namespace hg::model
