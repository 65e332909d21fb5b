// Writing JSON text in the services (evolve serve's and evolve-engines'
// replies and bodies): a thin layer over RapidJSON's Writer that never
// writes NaN or Infinity (a non-finite number is written as null), embeds
// JSON text that is already serialised (the core's ToJson) and writes
// RapidJSON values (documents the services build or check with RapidJSON).
// The core's own value types have theirs in evolve/json.h.
#ifndef EVOLVE_SERVICE_JSON_TEXT_H_
#define EVOLVE_SERVICE_JSON_TEXT_H_

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace evolve::service {

class JsonOut {
 public:
  JsonOut() : writer_(buffer_) {}

  // Compact JSON text of a RapidJSON value.
  static std::string Text(const rapidjson::Value& v) {
    JsonOut out;
    out.Value(v);
    return out.str();
  }

  JsonOut& Key(const char* name) {
    writer_.Key(name);
    return *this;
  }
  JsonOut& Key(const std::string& name) {
    writer_.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    return *this;
  }
  void StartObject() { writer_.StartObject(); }
  void EndObject() { writer_.EndObject(); }
  void StartArray() { writer_.StartArray(); }
  void EndArray() { writer_.EndArray(); }

  void String(const std::string& s) { writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
  // null when empty.
  void StringOrNull(const std::string& s) {
    if (s.empty()) {
      writer_.Null();
    } else {
      String(s);
    }
  }
  void Int(int64_t v) { writer_.Int64(v); }
  void Bool(bool v) { writer_.Bool(v); }
  void Null() { writer_.Null(); }
  // null when not finite.
  void Number(double v) {
    if (std::isfinite(v)) {
      writer_.Double(v);
    } else {
      writer_.Null();
    }
  }
  void Number(const std::optional<double>& v) {
    if (v.has_value()) {
      Number(*v);
    } else {
      writer_.Null();
    }
  }
  // JSON text, written as is. REQUIRES: `json` is one valid JSON value.
  void Raw(const std::string& json) {
    writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }
  // A RapidJSON value, as RapidJSON writes it.
  void Value(const rapidjson::Value& v) { v.Accept(writer_); }
  void StringArray(const std::vector<std::string>& v) {
    StartArray();
    for (const std::string& s : v) String(s);
    EndArray();
  }
  void NumberMap(const std::map<std::string, double>& m) {
    StartObject();
    for (const auto& [k, v] : m) {
      Key(k);
      Number(v);
    }
    EndObject();
  }

  std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace evolve::service

#endif  // EVOLVE_SERVICE_JSON_TEXT_H_
