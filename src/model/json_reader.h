// ObjectReader: typed, error-collecting access to the members of one JSON object, used by the
// model decoders so that every problem of a document is reported at once, per field.
// Pure; not thread-safe (one reader per decode).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "model/field_errors.h"
#include "model/json.h"

namespace hg::model {

class ObjectReader {
 public:
  // `path` is the field path of `object` ("" for the document root). `object` must be a JSON
  // object and outlive the reader; errors are appended to `*errors`.
  ObjectReader(const Json& object, std::string path, std::vector<FieldError>* errors);

  // Every getter returns nullopt (and records nothing) when the member is absent or null, and
  // nullopt plus a field error when it has the wrong type.
  std::optional<std::string> String(std::string_view key);
  std::optional<int64_t> Int(std::string_view key);
  std::optional<bool> Bool(std::string_view key);
  std::optional<absl::Time> Time(std::string_view key);  // RFC 3339 string
  // An object whose values must all be strings; each bad value is its own error (`key.name`).
  std::optional<std::map<std::string, std::string>> StringMap(std::string_view key);
  // The member if it is an object / array (nullptr otherwise).
  const Json* Object(std::string_view key);
  const Json* Array(std::string_view key);

  // Marks `key` as known without reading it.
  void Ignore(std::string_view key);
  // Adds "unknown field" for every member not read or ignored so far.
  void RejectUnknown();

  // The field path of member `key`: "key" at the root, "path.key" below.
  std::string Path(std::string_view key) const;
  void AddError(std::string field, std::string message);

 private:
  const Json* Member(std::string_view key);  // marks it read; nullptr when absent or null
  void TypeError(std::string_view key, std::string_view expected, const Json& got);

  const Json& object_;
  std::string path_;
  std::vector<FieldError>* errors_;
  std::set<std::string, std::less<>> seen_;
};

// "a string", "a number", … as used in "must be …, got …" messages.
std::string_view JsonTypeName(const Json& value);

// Element path helper: Index("executor.expected_status", 2) == "executor.expected_status[2]".
std::string Index(std::string_view path, size_t i);

// Reads an integer from any JSON value; nullopt for non-integers (including 3.0) and values
// outside int64.
std::optional<int64_t> AsInt(const Json& value);

}  // namespace hg::model
