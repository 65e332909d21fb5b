// The training service (8200): POST /train, GET /models, GET /models/{id},
// GET /api/model/{id}/importance, GET /api/model/{id}/config, GET /health.
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "engines_api.h"
#include "evolve/engines/features.h"
#include "evolve/fingerprint.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "evolve/service/json_text.h"

namespace evolve::engines_service {

using service::JsonOut;

// ---------------------------------------------------------------------------
// TrainingPool

TrainingPool::TrainingPool(ModelTable& table, Trainer& trainer, int threads, size_t max_queued)
    : table_(table), trainer_(trainer), max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

TrainingPool::~TrainingPool() { Stop(); }

Status TrainingPool::Submit(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return UnavailableError("the training service is stopping");
  if (queue_.size() >= max_queued_) {
    return UnavailableError("the training queue is full (" + std::to_string(max_queued_) +
                            " trainings waiting); try again later");
  }
  queue_.push_back(id);
  cv_.notify_one();
  return Status::Ok();
}

void TrainingPool::Stop() {
  std::deque<std::string> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    dropped.swap(queue_);
    cv_.notify_all();
  }
  for (const std::string& id : dropped) table_.Withdraw(id);
  if (!dropped.empty()) {
    Log(LogLevel::kWarning, "dropped queued trainings at shutdown", {{"count", std::to_string(dropped.size())}});
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

size_t TrainingPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void TrainingPool::Loop() {
  while (true) {
    std::string id;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = queue_.front();
      queue_.pop_front();
    }
    if (!table_.MarkTraining(id)) continue;
    std::optional<ModelRecord> record = table_.Find(id);
    if (!record) continue;
    Log(LogLevel::kInfo, "training",
        {{"model_id", id}, {"symbol", record->spec.symbol}, {"features", std::to_string(record->spec.features.size())}});
    Result<TrainedModel> trained = InternalError("not trained");
    try {
      trained = trainer_.Train(record->spec);
    } catch (const std::exception& e) {
      trained = InternalError(std::string("training threw: ") + e.what());
    }
    if (!trained.ok()) {
      Log(LogLevel::kWarning, "training failed", {{"model_id", id}, {"error", trained.status().ToString()}});
      table_.Fail(id, trained.status().message());
      continue;
    }
    Status recorded = table_.Complete(id, *trained);
    if (!recorded.ok()) {
      Log(LogLevel::kWarning, "trained model not recorded", {{"model_id", id}, {"error", recorded.ToString()}});
    } else {
      Log(LogLevel::kInfo, "model trained", {{"model_id", id}, {"engine_model_id", trained->model_id}});
    }
  }
}

// ---------------------------------------------------------------------------
// Replies

namespace {

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// The model document of GET /models/{id}, also `existing_model` of a
// duplicate and the elements of GET /models.
void WriteModel(JsonOut& out, const ModelRecord& r) {
  out.StartObject();
  out.Key("id").String(r.id);
  out.Key("status").String(ModelStateName(r.state));
  out.Key("error_message").StringOrNull(r.error_message);
  out.Key("symbol").String(r.spec.symbol);
  out.Key("algorithm").String(r.spec.algorithm);
  out.Key("target_col").String(r.spec.target_col);
  out.Key("target_transform").String(r.spec.target_transform);
  out.Key("timeframe").String(r.spec.timeframe);
  out.Key("features").StringArray(r.spec.features);
  out.Key("feature_count").Int(static_cast<int64_t>(r.spec.features.size()));
  out.Key("hyperparameters").Raw(r.spec.hyperparameters);
  out.Key("data_options").String(r.spec.data_options);
  out.Key("reference_symbols").StringArray(r.spec.reference_symbols);
  out.Key("parent_model_id").StringOrNull(r.spec.parent_model_id);
  out.Key("p_value_threshold").Number(r.p_value_threshold);
  out.Key("fingerprint").StringOrNull(r.fingerprint);
  out.Key("engine_model_id").StringOrNull(r.engine_model_id);
  out.Key("metrics").NumberMap(r.metrics);
  out.Key("created_at").StringOrNull(r.created_at == TimePoint{} ? "" : FormatTime(r.created_at));
  out.Key("started_at").StringOrNull(r.started_at ? FormatTime(*r.started_at) : "");
  out.Key("completed_at").StringOrNull(r.completed_at ? FormatTime(*r.completed_at) : "");
  out.EndObject();
}

std::string ModelJson(const ModelRecord& r) {
  JsonOut out;
  WriteModel(out, r);
  return out.str();
}

// "field: message" -> {field, message}; anything else names no field.
FieldError ToFieldError(const Status& status, const std::string& fallback_field) {
  const std::string& m = status.message();
  const size_t colon = m.find(": ");
  if (colon != std::string::npos && colon > 0 &&
      std::all_of(m.begin(), m.begin() + static_cast<long>(colon),
                  [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; })) {
    return {m.substr(0, colon), m.substr(colon + 2)};
  }
  return {fallback_field, m};
}

// A JSON object given as an object, or as a string holding one (the
// original's data_options). Empty string or absent: "{}".
std::optional<std::string> ObjectOrString(JsonBody& body, const char* name) {
  std::optional<std::string> raw = body.Raw(name);
  if (!raw) return std::string("{}");
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(raw->c_str());
  if (doc.IsObject()) return raw;
  if (doc.IsString()) {
    const std::string text(doc.GetString(), doc.GetStringLength());
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) return std::string("{}");
    rapidjson::Document inner;
    inner.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str());
    if (inner.HasParseError() || !inner.IsObject()) {
      body.AddError(name, "must be a JSON object, or a string holding one; this string is not a JSON object");
      return std::nullopt;
    }
    return JsonOut::Text(inner);
  }
  body.AddError(name, "must be a JSON object, or a string holding one");
  return std::nullopt;
}

// A list of strings: each non-empty, none repeated.
std::optional<std::vector<std::string>> StringList(JsonBody& body, const char* name) {
  std::optional<std::vector<std::string>> items = body.Array(name);
  if (!items) return std::nullopt;
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < items->size(); ++i) {
    const std::string field = std::string(name) + "[" + std::to_string(i) + "]";
    rapidjson::Document doc;
    doc.Parse((*items)[i].c_str());
    if (!doc.IsString() || doc.GetStringLength() == 0) {
      body.AddError(field, "must be a non-empty string");
      continue;
    }
    std::string s(doc.GetString(), doc.GetStringLength());
    if (!seen.insert(s).second) {
      body.AddError(field, "'" + s + "' is listed twice");
      continue;
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The record for `id`: the table's, else a model of the built-in trainer in
// the store that this service did not train (e.g. by `evolve run` on the
// same database), presented as completed. Errors: kNotFound.
Result<ModelRecord> ResolveModel(EnginesContext& ctx, const std::string& id) {
  if (std::optional<ModelRecord> r = ctx.models.Find(id)) return *r;
  auto spec = ctx.engines.trainer->DescribeModel(id);
  if (!spec.ok()) {
    if (spec.status().code() == StatusCode::kNotFound) return NotFoundError("model " + id + " not found");
    return spec.status();
  }
  ModelRecord r;
  r.id = id;
  r.engine_model_id = id;
  r.state = ModelState::kCompleted;
  r.spec = *spec;
  if (auto fp = Fingerprint(*spec); fp.ok()) r.fingerprint = *fp;
  return r;
}

// The record for `id` when it is completed; else replies (404, 409) and
// returns nothing.
std::optional<ModelRecord> CompletedModel(EnginesContext& ctx, const std::string& id, Response& res) {
  auto r = ResolveModel(ctx, id);
  if (!r.ok()) {
    SendStatus(res, r.status());
    return std::nullopt;
  }
  if (r->state != ModelState::kCompleted) {
    SendError(res, 409, "failed_precondition",
              "model " + id + " is " + ModelStateName(r->state) +
                  (r->error_message.empty() ? "" : " (" + r->error_message + ")") + ", not completed");
    return std::nullopt;
  }
  return *r;
}

void PostTrain(EnginesContext& ctx, const Request& req, Response& res) {
  JsonBody body(req.body, {"symbol", "algorithm", "target_col", "hyperparameters", "target_transform",
                           "data_options", "timeframe", "parent_model_id", "feature_whitelist", "p_value_threshold",
                           "reference_symbols", "holdout_fraction", "holdout_start", "selection_fraction",
                           "data_digest"});
  ModelSpec spec;
  std::optional<std::string> symbol = body.String("symbol", /*required=*/true);
  if (symbol && symbol->empty()) body.AddError("symbol", "must not be empty");
  // Validated under the name given (so errors quote it); stored under its
  // canonical name (the seed's "RandomForest" is random_forest_regressor).
  spec.algorithm = body.String("algorithm").value_or("random_forest_regressor");
  spec.target_col = body.String("target_col").value_or("close");
  spec.target_transform = body.String("target_transform").value_or("log_return");
  spec.timeframe = body.String("timeframe").value_or("1m");
  if (spec.timeframe.empty()) body.AddError("timeframe", "must not be empty");
  spec.parent_model_id = body.String("parent_model_id").value_or("");
  if (std::optional<std::string> h = body.Raw("hyperparameters")) {
    if (h->empty() || h->front() != '{') {
      body.AddError("hyperparameters", "must be a JSON object");
    } else {
      spec.hyperparameters = *h;
    }
  }
  std::optional<std::string> data_options = ObjectOrString(body, "data_options");
  if (data_options) spec.data_options = *data_options;
  const double p_value = body.Number("p_value_threshold", 0.0, 1.0).value_or(0.05);
  // The split (types.h): none unless given, as for the original service.
  spec.split.holdout_fraction = body.Number("holdout_fraction", 0.0, 0.9).value_or(0.0);
  spec.split.holdout_start = body.String("holdout_start").value_or("");
  spec.split.selection_fraction = body.Number("selection_fraction", 0.0, 0.9).value_or(0.0);
  spec.data_digest = body.String("data_digest").value_or("");
  std::optional<std::vector<std::string>> whitelist = StringList(body, "feature_whitelist");
  std::optional<std::vector<std::string>> references = StringList(body, "reference_symbols");
  if (!body.ok()) {
    body.SendErrors(res);
    return;
  }

  // What the request names must exist: the symbol, the references, the
  // features (of the symbol and its references).
  auto symbols = ctx.bars->Symbols();
  if (!symbols.ok()) {
    SendStatus(res, symbols.status());
    return;
  }
  auto known = [&](const std::string& s) { return std::binary_search(symbols->begin(), symbols->end(), Upper(s)); };
  spec.symbol = Upper(*symbol);
  if (!known(spec.symbol)) body.AddError("symbol", "unknown symbol '" + *symbol + "' (GET /symbols on the feature service lists them)");
  if (references) {
    for (size_t i = 0; i < references->size(); ++i) {
      const std::string field = "reference_symbols[" + std::to_string(i) + "]";
      const std::string ref = Upper((*references)[i]);
      if (!known(ref)) {
        body.AddError(field, "unknown symbol '" + (*references)[i] + "'");
      } else if (ref == spec.symbol) {
        body.AddError(field, "is the symbol itself");
      } else {
        spec.reference_symbols.push_back(ref);
      }
    }
  }
  const std::vector<std::string> columns = engines::FeatureNames(spec.reference_symbols);
  if (whitelist && !whitelist->empty()) {
    for (size_t i = 0; i < whitelist->size(); ++i) {
      if (std::find(columns.begin(), columns.end(), (*whitelist)[i]) == columns.end()) {
        body.AddError("feature_whitelist[" + std::to_string(i) + "]", "unknown feature '" + (*whitelist)[i] + "'");
      }
    }
    spec.features = *whitelist;
  } else {
    // No whitelist: every column of the symbol itself, as the original.
    spec.features = engines::OwnFeatureNames();
  }
  if (spec.target_col != "close") {
    body.AddError("target_col", "the built-in trainer predicts 'close', not '" + spec.target_col + "'");
  }
  static const std::set<std::string> kTransforms = {"none", "log_return", "log", "pct_change"};
  if (kTransforms.count(spec.target_transform) == 0) {
    body.AddError("target_transform",
                  "unknown transform '" + spec.target_transform + "' (none, log_return, log or pct_change)");
  }
  if (Status valid = engines::ValidateBuiltinSpec(spec); !valid.ok()) {
    const FieldError e = ToFieldError(valid, "algorithm");
    body.AddError(e.field, e.message);
  }
  if (!body.ok()) {
    body.SendErrors(res);
    return;
  }
  spec.algorithm = CanonicalAlgorithm(spec.algorithm);
  auto fingerprint = Fingerprint(spec);
  if (!fingerprint.ok()) {
    SendStatus(res, fingerprint.status());
    return;
  }

  ModelTable::Admission admission = ctx.models.Admit(spec, *fingerprint, p_value);
  JsonOut out;
  out.StartObject();
  if (admission.duplicate) {
    out.Key("id").String(admission.record.id);
    out.Key("status").String("duplicate");
    out.Key("message").String("an identical model (same fingerprint, features included) is already " +
                              std::string(ModelStateName(admission.record.state)) + ": " + admission.record.id);
    out.Key("existing_model");
    WriteModel(out, admission.record);
    out.EndObject();
    SendJson(res, 200, out.str());
    return;
  }
  if (Status queued = ctx.training.Submit(admission.record.id); !queued.ok()) {
    ctx.models.Withdraw(admission.record.id);
    SendStatus(res, queued);
    return;
  }
  out.Key("id").String(admission.record.id);
  out.Key("status").String("started");
  out.Key("fingerprint").String(*fingerprint);
  out.EndObject();
  SendJson(res, 200, out.str());
}

void GetModels(EnginesContext& ctx, const Request& req, Response& res) {
  std::optional<ModelState> filter;
  if (req.HasParam("status")) {
    const std::string s = req.Param("status");
    for (ModelState state : {ModelState::kPending, ModelState::kTraining, ModelState::kCompleted, ModelState::kFailed}) {
      if (s == ModelStateName(state)) filter = state;
    }
    if (!filter) {
      SendError(res, 400, "invalid_argument", "status: must be pending, training, completed or failed, got '" + s + "'",
                {{"status", "unknown status '" + s + "'"}});
      return;
    }
  }
  JsonOut out;
  out.StartArray();
  for (const ModelRecord& r : ctx.models.List()) {
    if (!filter || r.state == *filter) WriteModel(out, r);
  }
  out.EndArray();
  SendJson(res, 200, out.str());
}

void GetModel(EnginesContext& ctx, const Request& req, Response& res) {
  const std::string& id = req.matches[1];
  auto r = ResolveModel(ctx, id);
  if (!r.ok()) {
    SendStatus(res, r.status());
    return;
  }
  SendJson(res, 200, ModelJson(*r));
}

void GetImportance(EnginesContext& ctx, const Request& req, Response& res) {
  const std::string& id = req.matches[1];
  std::optional<ModelRecord> r = CompletedModel(ctx, id, res);
  if (!r) return;
  auto report = ctx.engines.trainer->Importance(r->engine_model_id);
  if (!report.ok()) {
    SendStatus(res, report.status());
    return;
  }
  JsonOut out;
  out.StartObject();
  out.Key("model_id").String(id);
  out.Key("importance");
  out.StartObject();
  for (const FeatureImportance& f : report->importances) {
    out.Key(f.feature);
    out.Number(f.importance);
  }
  out.EndObject();
  out.Key("importance_type").String(report->importance_type);
  out.Key("feature_count").Int(static_cast<int64_t>(report->importances.size()));
  out.EndObject();
  SendJson(res, 200, out.str());
}

void GetConfig(EnginesContext& ctx, const Request& req, Response& res) {
  const std::string& id = req.matches[1];
  auto r = ResolveModel(ctx, id);
  if (!r.ok()) {
    SendStatus(res, r.status());
    return;
  }
  const ModelSpec& s = r->spec;
  JsonOut out;
  out.StartObject();
  out.Key("model_id").String(id);
  out.Key("features").StringArray(s.features);
  out.Key("hyperparameters").Raw(s.hyperparameters);
  out.Key("target_transform").String(s.target_transform);
  out.Key("symbol").String(s.symbol);
  out.Key("target_col").String(s.target_col);
  out.Key("algorithm").String(s.algorithm);
  out.Key("data_options").String(s.data_options);
  out.Key("timeframe").String(s.timeframe);
  out.Key("reference_symbols").StringArray(s.reference_symbols);
  out.Key("parent_model_id").StringOrNull(s.parent_model_id);
  out.Key("p_value_threshold").Number(r->p_value_threshold);
  out.Key("status").String(ModelStateName(r->state));
  out.EndObject();
  SendJson(res, 200, out.str());
}

void GetHealth(EnginesContext& ctx, const Request&, Response& res) {
  const ModelTable::Counts c = ctx.models.CountByState();
  JsonOut out;
  out.StartObject();
  out.Key("status").String("healthy");
  out.Key("service").String("training");
  out.Key("engine").String("builtin");
  out.Key("models");
  out.StartObject();
  out.Key("pending").Int(c.pending);
  out.Key("training").Int(c.training);
  out.Key("completed").Int(c.completed);
  out.Key("failed").Int(c.failed);
  out.EndObject();
  out.Key("queued").Int(static_cast<int64_t>(ctx.training.queued()));
  out.EndObject();
  SendJson(res, 200, out.str());
}

}  // namespace

void RegisterTrainingRoutes(http::HttpServer& server, EnginesContext& ctx) {
  server.Add(ctx, {{Method::kPost, "/train", Access::kPublic, &PostTrain},
                   {Method::kGet, "/models", Access::kPublic, &GetModels},
                   {Method::kGet, R"(/models/([^/]+))", Access::kPublic, &GetModel},
                   {Method::kGet, R"(/api/model/([^/]+)/importance)", Access::kPublic, &GetImportance},
                   {Method::kGet, R"(/api/model/([^/]+)/config)", Access::kPublic, &GetConfig},
                   {Method::kGet, "/health", Access::kPublic, &GetHealth}});
}

}  // namespace evolve::engines_service
