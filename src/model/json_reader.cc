#include "model/json_reader.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace hg::model {

std::string_view JsonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a fractional number";
    default:
      return "an unsupported value";
  }
}

std::string Index(std::string_view path, size_t i) { return absl::StrCat(Av(path), "[", i, "]"); }

std::optional<int64_t> AsInt(const Json& value) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    const auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  return std::nullopt;
}

ObjectReader::ObjectReader(const Json& object, std::string path, std::vector<FieldError>* errors)
    : object_(object), path_(std::move(path)), errors_(errors) {}

std::string ObjectReader::Path(std::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", Av(key));
}

void ObjectReader::AddError(std::string field, std::string message) {
  errors_->push_back({std::move(field), std::move(message)});
}

void ObjectReader::TypeError(std::string_view key, std::string_view expected, const Json& got) {
  AddError(Path(key), absl::StrCat("must be ", Av(expected), ", got ", Av(JsonTypeName(got))));
}

const Json* ObjectReader::Member(std::string_view key) {
  seen_.emplace(key);
  auto it = object_.find(std::string(key));
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> ObjectReader::String(std::string_view key) {
  const Json* v = Member(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    TypeError(key, "a string", *v);
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<int64_t> ObjectReader::Int(std::string_view key) {
  const Json* v = Member(key);
  if (v == nullptr) return std::nullopt;
  auto i = AsInt(*v);
  if (!i) {
    if (v->is_number_unsigned()) {
      AddError(Path(key), "integer out of range");
    } else {
      TypeError(key, "an integer", *v);
    }
  }
  return i;
}

std::optional<bool> ObjectReader::Bool(std::string_view key) {
  const Json* v = Member(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    TypeError(key, "a boolean (true or false)", *v);
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<absl::Time> ObjectReader::Time(std::string_view key) {
  auto s = String(key);
  if (!s) return std::nullopt;
  auto t = ParseRfc3339(*s);
  if (!t.ok()) {
    AddError(Path(key), std::string(t.status().message()));
    return std::nullopt;
  }
  return *t;
}

std::optional<std::map<std::string, std::string>> ObjectReader::StringMap(std::string_view key) {
  const Json* v = Member(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    TypeError(key, "an object of strings", *v);
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& [name, value] : v->items()) {
    if (!value.is_string()) {
      AddError(absl::StrCat(Path(key), ".", name),
               absl::StrCat("must be a string, got ", Av(JsonTypeName(value))));
      ok = false;
      continue;
    }
    out[name] = value.get<std::string>();
  }
  if (!ok) return std::nullopt;
  return out;
}

const Json* ObjectReader::Object(std::string_view key) {
  const Json* v = Member(key);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    TypeError(key, "an object", *v);
    return nullptr;
  }
  return v;
}

const Json* ObjectReader::Array(std::string_view key) {
  const Json* v = Member(key);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    TypeError(key, "an array", *v);
    return nullptr;
  }
  return v;
}

void ObjectReader::Ignore(std::string_view key) { seen_.emplace(key); }

void ObjectReader::RejectUnknown() {
  for (const auto& [name, value] : object_.items()) {
    if (!seen_.contains(name)) AddError(Path(name), "unknown field");
  }
}

}  // namespace hg::model
