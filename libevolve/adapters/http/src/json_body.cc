#include "evolve/http/json_body.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <set>

#include "evolve/json.h"     // JsonDepthProblem
#include "service_client.h"  // internal::Serialize

namespace evolve::http {

using internal::Serialize;

struct JsonBody::Doc {
  rapidjson::Document doc;
  bool is_object = false;
};

namespace {

// Full precision, so a double reads back bit for bit; invalid UTF-8 refused
// (it would be stored, and echoed in replies that must be UTF-8);
// iterative, so a body of 200,000 '[' cannot overflow the stack while it
// is parsed. NaN and Infinity literals stay refused (kParseNanAndInfFlag is
// not set).
constexpr unsigned kParseFlags = rapidjson::kParseFullPrecisionFlag | rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseIterativeFlag;

std::string TypeName(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an array";
  return "an object";
}

// The member `name` of `doc`, or null (missing or JSON null). Reports a
// missing required field.
const rapidjson::Value* Member(const rapidjson::Document& doc, bool is_object, const char* name,
                               bool required, std::vector<FieldError>& errors) {
  if (!is_object) return nullptr;
  auto it = doc.FindMember(name);
  if (it == doc.MemberEnd() || it->value.IsNull()) {
    if (required) errors.push_back({name, "is required"});
    return nullptr;
  }
  return &it->value;
}

}  // namespace

JsonBody::JsonBody(const std::string& body, std::vector<std::string> allowed)
    : doc_(std::make_unique<Doc>()) {
  if (body.empty()) {
    errors_.push_back({"", "the request body must be a JSON object (it is empty)"});
    return;
  }
  // Serialising a value (Raw, Array) recurses: a document deeper than the
  // limit is refused before it is parsed.
  if (std::optional<FieldError> deep = JsonDepthProblem(body)) {
    errors_.push_back(*deep);
    return;
  }
  doc_->doc.Parse<kParseFlags>(body.data(), body.size());
  if (doc_->doc.HasParseError()) {
    errors_.push_back({"", std::string("malformed JSON at offset ") +
                               std::to_string(doc_->doc.GetErrorOffset()) + ": " +
                               rapidjson::GetParseError_En(doc_->doc.GetParseError())});
    return;
  }
  if (!doc_->doc.IsObject()) {
    errors_.push_back({"", "the request body must be a JSON object, not " + TypeName(doc_->doc)});
    return;
  }
  doc_->is_object = true;
  // RFC 8259 §4: with duplicate names "the behavior of software ... is
  // unpredictable"; a reader here and one behind it (a proxy, a log
  // reader) must not see different values, so a duplicate is refused.
  std::set<std::string> seen;
  for (auto it = doc_->doc.MemberBegin(); it != doc_->doc.MemberEnd(); ++it) {
    const std::string name(it->name.GetString(), it->name.GetStringLength());
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      errors_.push_back({name, "unknown field"});
    } else if (!seen.insert(name).second) {
      errors_.push_back({name, "appears more than once"});
    }
  }
}

JsonBody::~JsonBody() = default;

void JsonBody::AddError(const std::string& field, const std::string& message) {
  errors_.push_back({field, message});
}

void JsonBody::AddNested(const std::string& prefix, const std::vector<FieldError>& errors) {
  for (const FieldError& e : errors) {
    std::string field = prefix;
    if (!e.field.empty()) field += (e.field[0] == '[' ? "" : ".") + e.field;
    AddError(field, e.message);
  }
}

Status JsonBody::status() const {
  if (errors_.empty()) return Status::Ok();
  std::string message;
  for (const FieldError& e : errors_) {
    if (!message.empty()) message += "; ";
    message += e.field.empty() ? e.message : e.field + ": " + e.message;
  }
  return InvalidArgumentError(message);
}

bool JsonBody::SendErrors(Response& res) const {
  if (errors_.empty()) return false;
  SendStatus(res, status(), errors_);
  return true;
}

bool JsonBody::EmptyOrObject(const std::string& body, Response& res) {
  if (body.empty()) return true;
  return !JsonBody(body, {}).SendErrors(res);
}

std::optional<std::string> JsonBody::String(const char* name, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsString()) {
    errors_.push_back({name, "must be a string, not " + TypeName(*v)});
    return std::nullopt;
  }
  return std::string(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> JsonBody::Int(const char* name, int64_t min, int64_t max, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsInt64()) {
    errors_.push_back({name, "must be an integer, not " + (v->IsNumber() ? Serialize(*v) : TypeName(*v))});
    return std::nullopt;
  }
  const int64_t n = v->GetInt64();
  if (n < min || n > max) {
    errors_.push_back({name, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                                 std::to_string(n)});
    return std::nullopt;
  }
  return n;
}

std::optional<double> JsonBody::Number(const char* name, double min, double max, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsNumber()) {
    errors_.push_back({name, "must be a number, not " + TypeName(*v)});
    return std::nullopt;
  }
  const double d = v->GetDouble();
  if (!(d >= min && d <= max)) {
    errors_.push_back({name, "must be in [" + Serialize(rapidjson::Value(min)) + ", " +
                                 Serialize(rapidjson::Value(max)) + "], got " + Serialize(*v)});
    return std::nullopt;
  }
  return d;
}

std::optional<bool> JsonBody::Bool(const char* name, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsBool()) {
    errors_.push_back({name, "must be true or false, not " + TypeName(*v)});
    return std::nullopt;
  }
  return v->GetBool();
}

std::optional<std::string> JsonBody::Raw(const char* name, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  return Serialize(*v);
}

std::optional<std::vector<std::string>> JsonBody::Array(const char* name, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsArray()) {
    errors_.push_back({name, "must be an array, not " + TypeName(*v)});
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const rapidjson::Value& e : v->GetArray()) out.push_back(Serialize(e));
  return out;
}

}  // namespace evolve::http
