// Reading a model's hyperparameters JSON object (hyperparameters.h).
#include "hyperparameters.h"

#include <rapidjson/error/en.h>

#include <cmath>

namespace evolve::engines {

Status ForEachHyperparameter(
    std::string_view json_object,
    const std::function<Status(const std::string& key, const rapidjson::Value& value)>& read) {
  rapidjson::Document doc;
  doc.Parse(json_object.data(), json_object.size());
  if (doc.HasParseError()) {
    return InvalidArgumentError(std::string("hyperparameters: invalid JSON: ") +
                                rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return InvalidArgumentError("hyperparameters: must be a JSON object");
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const std::string key(it->name.GetString(), it->name.GetStringLength());
    EVOLVE_RETURN_IF_ERROR(read(key, it->value));
  }
  return Status::Ok();
}

bool HasHyperparameter(std::string_view json_object, const char* key) {
  rapidjson::Document doc;
  doc.Parse(json_object.data(), json_object.size());
  return doc.IsObject() && doc.HasMember(key);
}

Status HyperparameterError(const std::string& key, const std::string& problem) {
  return InvalidArgumentError("hyperparameters." + key + ": " + problem);
}

Status UnknownHyperparameter(const std::string& key, const std::string& algorithm) {
  return InvalidArgumentError("hyperparameters: unknown key \"" + key + "\" for " + algorithm);
}

Status ReadIntHyperparameter(const rapidjson::Value& v, const std::string& key, int64_t lo, int64_t hi,
                             int* out) {
  if (!v.IsNumber()) return HyperparameterError(key, "must be an integer");
  double d = v.GetDouble();
  if (v.IsInt64()) d = static_cast<double>(v.GetInt64());
  if (!std::isfinite(d) || std::floor(d) != d) return HyperparameterError(key, "must be an integer");
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    return HyperparameterError(key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  *out = static_cast<int>(d);
  return Status::Ok();
}

Status ReadFractionHyperparameter(const rapidjson::Value& v, const std::string& key, double* out) {
  if (!v.IsNumber()) return HyperparameterError(key, "must be a number in (0, 1]");
  const double d = v.GetDouble();
  if (!(d > 0.0 && d <= 1.0)) return HyperparameterError(key, "must be a number in (0, 1]");
  *out = d;
  return Status::Ok();
}

Status ReadNumberHyperparameter(const rapidjson::Value& v, const std::string& key, const char* what,
                                double* out) {
  if (!v.IsNumber()) return HyperparameterError(key, std::string("must be ") + what);
  *out = v.GetDouble();
  return Status::Ok();
}

}  // namespace evolve::engines
