#include "evolve/http/http_trainer.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <utility>

#include "evolve/fingerprint.h"
#include "http_url.h"
#include "service_client.h"

namespace evolve::http {

using internal::Serialize;
using internal::ServiceClient;

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// `text` ("" meaning {}) parsed as a JSON object into `doc`.
bool ParseObject(const std::string& text, rapidjson::Document* doc) {
  const std::string& json = text.empty() ? std::string("{}") : text;
  doc->Parse(json.data(), json.size());
  return !doc->HasParseError() && doc->IsObject();
}

std::string StringMember(const rapidjson::Value& obj, const char* key, const std::string& fallback = "") {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return fallback;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// A list of strings given as a JSON array, or as a string holding one (as a
// database column may hold it). False when it is neither.
bool StringList(const rapidjson::Value& v, std::vector<std::string>* out) {
  rapidjson::Document parsed;
  const rapidjson::Value* list = &v;
  if (v.IsString()) {
    parsed.Parse(v.GetString(), v.GetStringLength());
    if (parsed.HasParseError()) return false;
    list = &parsed;
  }
  if (!list->IsArray()) return false;
  out->clear();
  for (const rapidjson::Value& e : list->GetArray()) {
    if (!e.IsString()) return false;
    out->emplace_back(e.GetString(), e.GetStringLength());
  }
  return true;
}

// A JSON object given as an object or as a string holding one ("" and null
// meaning {}), written compactly. False when it is neither.
bool ObjectText(const rapidjson::Value& v, std::string* out) {
  if (v.IsNull()) {
    *out = "{}";
    return true;
  }
  if (v.IsObject()) {
    *out = Serialize(v);
    return true;
  }
  if (!v.IsString()) return false;
  rapidjson::Document doc;
  if (!ParseObject(std::string(v.GetString(), v.GetStringLength()), &doc)) return false;
  *out = Serialize(doc);
  return true;
}

// The numeric, finite entries of a reply's "metrics" (an object, or a string
// holding one).
std::map<std::string, double> MetricsOf(const rapidjson::Value& model) {
  std::map<std::string, double> metrics;
  auto it = model.FindMember("metrics");
  if (it == model.MemberEnd()) return metrics;
  rapidjson::Document parsed;
  const rapidjson::Value* obj = &it->value;
  if (it->value.IsString()) {
    parsed.Parse<rapidjson::kParseNanAndInfFlag>(it->value.GetString(), it->value.GetStringLength());
    if (parsed.HasParseError()) return metrics;
    obj = &parsed;
  }
  if (!obj->IsObject()) return metrics;
  for (const auto& m : obj->GetObject()) {
    if (m.value.IsNumber() && std::isfinite(m.value.GetDouble())) {
      metrics[std::string(m.name.GetString(), m.name.GetStringLength())] = m.value.GetDouble();
    }
  }
  return metrics;
}

// The features of a model record: "features" (or "feature_whitelist",
// "feature_names"), as a list or a string holding one.
bool FeaturesOf(const rapidjson::Value& model, std::vector<std::string>* out) {
  for (const char* key : {"features", "feature_whitelist", "feature_names"}) {
    auto it = model.FindMember(key);
    if (it != model.MemberEnd() && !it->value.IsNull()) return StringList(it->value, out);
  }
  return false;
}

}  // namespace

class HttpTrainer::Impl {
 public:
  Impl(std::unique_ptr<ServiceClient> client, HttpTrainerOptions options)
      : client_(std::move(client)), options_(std::move(options)) {}

  ServiceClient& client() { return *client_; }
  const HttpTrainerOptions& options() const { return options_; }

  // Polls GET /models/{id} until the model is completed or failed, or the
  // training timeout has passed.
  Result<TrainedModel> WaitFor(const std::string& model_id) {
    Clock& clock = client_->clock();
    const std::string target = "/models/" + PercentEncode(model_id);
    const TimePoint start = clock.Now();
    const TimePoint deadline = start + std::chrono::duration_cast<Duration>(options_.training_timeout);
    for (int polls = 1;; ++polls) {
      rapidjson::Document doc;
      Status s = client_->CallJson("GET", target, "", &doc);
      if (s.code() == StatusCode::kNotFound) {
        return InternalError("model " + model_id +
                             " vanished from the training service while it trained: " + s.message());
      }
      if (!s.ok()) return s.WithContext("waiting for model " + model_id);
      if (!doc.IsObject())
        return InternalError(client_->Where("GET", target) + ": the reply is not a JSON object");
      auto status_it = doc.FindMember("status");
      if (status_it == doc.MemberEnd() || !status_it->value.IsString()) {
        return InternalError(client_->Where("GET", target) + ": the reply has no \"status\" string");
      }
      const std::string status = Lower(status_it->value.GetString());
      if (status == "completed") return TrainedModel{model_id, MetricsOf(doc)};
      if (status == "failed" || status == "error") {
        std::string error = StringMember(doc, "error_message");
        if (error.empty()) error = StringMember(doc, "error", "(no error_message)");
        return InternalError("training of model " + model_id + " failed: " + error);
      }
      const TimePoint now = clock.Now();
      if (now >= deadline) {
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
        return DeadlineExceededError("model " + model_id + " is still '" + status + "' after " +
                                     std::to_string(waited) + " ms (" + std::to_string(polls) +
                                     " polls); the training timeout is " +
                                     std::to_string(options_.training_timeout.count()) + " ms");
      }
      clock.SleepFor(
          std::min<Duration>(std::chrono::duration_cast<Duration>(options_.poll_interval), deadline - now));
    }
  }

 private:
  std::unique_ptr<ServiceClient> client_;
  const HttpTrainerOptions options_;
};

Result<std::unique_ptr<HttpTrainer>> HttpTrainer::Create(const HttpTrainerOptions& options) {
  EVOLVE_ASSIGN_OR_RETURN(auto client, ServiceClient::Create("training service", options.http));
  if (options.poll_interval.count() <= 0 || options.training_timeout.count() <= 0) {
    return InvalidArgumentError("training service: poll_interval and training_timeout must be positive");
  }
  if (!(options.p_value_threshold >= 0.0 && options.p_value_threshold <= 1.0)) {
    return InvalidArgumentError("training service: p_value_threshold must be in [0, 1]");
  }
  return std::unique_ptr<HttpTrainer>(new HttpTrainer(std::make_unique<Impl>(std::move(client), options)));
}

Result<std::unique_ptr<Trainer>> NewHttpTrainer(const HttpTrainerOptions& options) {
  EVOLVE_ASSIGN_OR_RETURN(auto trainer, HttpTrainer::Create(options));
  return std::unique_ptr<Trainer>(std::move(trainer));
}

HttpTrainer::HttpTrainer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpTrainer::~HttpTrainer() = default;

const std::string& HttpTrainer::url() const { return impl_->client().url(); }

Result<std::string> HttpTrainer::TrainRequestBody(const ModelSpec& spec) const {
  if (spec.symbol.empty()) return InvalidArgumentError("Train: the spec has no symbol");
  rapidjson::Document hyperparameters;
  if (!ParseObject(spec.hyperparameters, &hyperparameters)) {
    return InvalidArgumentError("Train: hyperparameters must be a JSON object: " + spec.hyperparameters);
  }
  rapidjson::Document data_options;
  if (!ParseObject(spec.data_options, &data_options)) {
    return InvalidArgumentError("Train: data_options must be a JSON object: " + spec.data_options);
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&w](const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  w.StartObject();
  w.Key("symbol");
  str(spec.symbol);
  w.Key("algorithm");
  str(CanonicalAlgorithm(spec.algorithm));
  w.Key("target_col");
  str(spec.target_col);
  w.Key("hyperparameters");
  hyperparameters.Accept(w);
  w.Key("target_transform");
  str(spec.target_transform);
  w.Key("data_options");
  str(Serialize(data_options));  // a JSON string holding the object, as the service expects
  w.Key("timeframe");
  str(spec.timeframe);
  w.Key("parent_model_id");
  str(spec.parent_model_id);
  w.Key("feature_whitelist");
  w.StartArray();
  for (const std::string& f : spec.features) str(f);
  w.EndArray();
  w.Key("p_value_threshold");
  w.Double(impl_->options().p_value_threshold);
  if (!spec.reference_symbols.empty()) {
    w.Key("reference_symbols");
    w.StartArray();
    for (const std::string& s : spec.reference_symbols) str(s);
    w.EndArray();
  }
  // The split (types.h), for a service that honours it (evolve-engines);
  // none is not sent, so requests to the original service stay as they were.
  if (!spec.split.none()) {
    w.Key("holdout_fraction");
    w.Double(spec.split.holdout_fraction);
    w.Key("holdout_start");
    str(spec.split.holdout_start);
    w.Key("selection_fraction");
    w.Double(spec.split.selection_fraction);
  }
  if (!spec.data_digest.empty()) {
    w.Key("data_digest");
    str(spec.data_digest);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<TrainedModel> HttpTrainer::Train(const ModelSpec& spec) {
  EVOLVE_ASSIGN_OR_RETURN(std::string body, TrainRequestBody(spec));
  ServiceClient& client = impl_->client();
  rapidjson::Document doc;
  Status s = client.CallJson("POST", "/train", body, &doc);
  if (!s.ok()) return s;
  if (!doc.IsObject())
    return InternalError(client.Where("POST", "/train") + ": the reply is not a JSON object");
  const std::string status = Lower(StringMember(doc, "status"));
  std::string id = StringMember(doc, "id");
  if (status == "duplicate") {
    auto existing = doc.FindMember("existing_model");
    if (existing == doc.MemberEnd() || !existing->value.IsObject()) {
      return FailedPreconditionError(
          client.Where("POST", "/train") +
          ": a 'duplicate' reply without existing_model: cannot check that the existing "
          "model has the " +
          std::to_string(spec.features.size()) + " requested features");
    }
    const rapidjson::Value& model = existing->value;
    const std::string existing_id = StringMember(model, "id", StringMember(model, "model_id", id));
    std::vector<std::string> features;
    if (!FeaturesOf(model, &features)) {
      return FailedPreconditionError("training service: duplicate of model " + existing_id +
                                     " whose features are not given: cannot check them against the " +
                                     std::to_string(spec.features.size()) + " requested features");
    }
    const std::set<std::string> want(spec.features.begin(), spec.features.end());
    const std::set<std::string> have(features.begin(), features.end());
    if (want != have) {
      return FailedPreconditionError(
          "training service: it called the request a duplicate of model " + existing_id + ", which has " +
          std::to_string(have.size()) + " features, but " + std::to_string(want.size()) +
          " different ones were requested (the service's de-duplication ignores the feature list)");
    }
    if (existing_id.empty()) {
      return InternalError(client.Where("POST", "/train") + ": the 'duplicate' reply names no model id");
    }
    const std::string existing_status = Lower(StringMember(model, "status"));
    if (existing_status == "completed") return TrainedModel{existing_id, MetricsOf(model)};
    return impl_->WaitFor(existing_id);
  }
  if (status != "started" && status != "pending" && status != "completed") {
    return InternalError(client.Where("POST", "/train") + ": unexpected reply " + Serialize(doc));
  }
  if (id.empty()) id = StringMember(doc, "model_id");
  if (id.empty()) return InternalError(client.Where("POST", "/train") + ": the reply has no model \"id\"");
  return impl_->WaitFor(id);
}

Result<ImportanceReport> HttpTrainer::Importance(const std::string& model_id) {
  if (model_id.empty()) return InvalidArgumentError("Importance: the model id must not be empty");
  ServiceClient& client = impl_->client();
  const std::string target = "/api/model/" + PercentEncode(model_id) + "/importance";
  rapidjson::Document doc;
  EVOLVE_RETURN_IF_ERROR(client.CallJson("GET", target, "", &doc));
  if (!doc.IsObject()) return InternalError(client.Where("GET", target) + ": the reply is not a JSON object");
  auto importance = doc.FindMember("importance");
  if (importance == doc.MemberEnd() || !importance->value.IsObject()) {
    return InternalError(client.Where("GET", target) + ": the reply has no \"importance\" object");
  }
  ImportanceReport report;
  report.model_id = StringMember(doc, "model_id", model_id);
  report.importance_type = StringMember(doc, "importance_type");
  for (const auto& m : importance->value.GetObject()) {
    std::string feature(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsNumber() || !std::isfinite(m.value.GetDouble())) {
      return InternalError(client.Where("GET", target) + ": the importance of " + feature +
                           " is not a finite number: " + Serialize(m.value));
    }
    report.importances.push_back(FeatureImportance{std::move(feature), m.value.GetDouble()});
  }
  return report;
}

Result<ModelSpec> HttpTrainer::DescribeModel(const std::string& model_id) {
  if (model_id.empty()) return InvalidArgumentError("DescribeModel: the model id must not be empty");
  ServiceClient& client = impl_->client();
  const std::string target = "/api/model/" + PercentEncode(model_id) + "/config";
  rapidjson::Document doc;
  EVOLVE_RETURN_IF_ERROR(client.CallJson("GET", target, "", &doc));
  const std::string where = client.Where("GET", target);
  if (!doc.IsObject()) return InternalError(where + ": the reply is not a JSON object");
  ModelSpec spec;
  if (!FeaturesOf(doc, &spec.features)) return InternalError(where + ": the reply has no \"features\" list");
  spec.symbol = StringMember(doc, "symbol");
  if (spec.symbol.empty()) return InternalError(where + ": the reply has no \"symbol\"");
  spec.algorithm = StringMember(doc, "algorithm", spec.algorithm);
  spec.target_col = StringMember(doc, "target_col", spec.target_col);
  spec.target_transform = StringMember(doc, "target_transform", spec.target_transform);
  spec.timeframe = StringMember(doc, "timeframe", spec.timeframe);
  for (const char* key : {"hyperparameters", "data_options"}) {
    auto it = doc.FindMember(key);
    std::string text = "{}";
    if (it != doc.MemberEnd() && !ObjectText(it->value, &text)) {
      return InternalError(where + ": \"" + key + "\" is not a JSON object (or a string holding one)");
    }
    (std::string(key) == "hyperparameters" ? spec.hyperparameters : spec.data_options) = text;
  }
  auto refs = doc.FindMember("reference_symbols");
  if (refs != doc.MemberEnd() && !refs->value.IsNull() && !StringList(refs->value, &spec.reference_symbols)) {
    return InternalError(where + ": \"reference_symbols\" is not a list of strings");
  }
  spec.parent_model_id = StringMember(doc, "parent_model_id");
  return spec;
}

}  // namespace evolve::http
