#include "model_table.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "evolve/enum_name.h"
#include "evolve/evolution.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "evolve/service/json_text.h"

namespace evolve::engines_service {

using service::JsonOut;

namespace {

constexpr char kLogPrefix[] = "engines/models/";
// A slot lost to another process is retried this many times.
constexpr int kAppendAttempts = 64;

bool ParseState(const std::string& name, ModelState* out) {
  for (ModelState s : {ModelState::kPending, ModelState::kTraining, ModelState::kCompleted, ModelState::kFailed}) {
    if (name == ModelStateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

bool IsLive(ModelState s) { return s != ModelState::kFailed; }

}  // namespace

const char* ModelStateName(ModelState state) {
  static constexpr const char* kNames[] = {"pending", "training", "completed", "failed"};
  return EnumName<ModelState::kFailed>(state, kNames, "failed");
}

std::string RecordToLogJson(const ModelRecord& r) {
  JsonOut out;
  out.StartObject();
  out.Key("id").String(r.id);
  out.Key("engine_model_id").String(r.engine_model_id);
  out.Key("status").String(ModelStateName(r.state));
  out.Key("error_message").String(r.error_message);
  out.Key("spec").Raw(ToJson(r.spec));
  out.Key("p_value_threshold").Number(r.p_value_threshold);
  out.Key("fingerprint").String(r.fingerprint);
  out.Key("metrics").NumberMap(r.metrics);
  out.Key("created_at").String(FormatTime(r.created_at));
  out.Key("started_at").String(r.started_at ? FormatTime(*r.started_at) : "");
  out.Key("completed_at").String(r.completed_at ? FormatTime(*r.completed_at) : "");
  out.EndObject();
  return out.str();
}

Result<ModelRecord> RecordFromLogJson(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return InternalError("not a JSON object");
  auto str = [&doc](const char* name, std::string* out) {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsString()) return false;
    *out = std::string(it->value.GetString(), it->value.GetStringLength());
    return true;
  };
  auto time = [&str](const char* name, std::optional<TimePoint>* out) {
    std::string text;
    if (!str(name, &text)) return false;
    if (text.empty()) return true;
    TimePoint t;
    if (!ParseTime(text, &t)) return false;
    *out = t;
    return true;
  };
  ModelRecord r;
  std::string state, created;
  std::optional<TimePoint> created_at;
  if (!str("id", &r.id) || r.id.empty() || !str("engine_model_id", &r.engine_model_id) ||
      !str("status", &state) || !ParseState(state, &r.state) || !str("error_message", &r.error_message) ||
      !str("fingerprint", &r.fingerprint) || !time("created_at", &created_at) || !created_at ||
      !time("started_at", &r.started_at) || !time("completed_at", &r.completed_at)) {
    return InternalError("a field is missing or malformed");
  }
  r.created_at = *created_at;
  auto p = doc.FindMember("p_value_threshold");
  if (p == doc.MemberEnd() || !p->value.IsNumber()) return InternalError("p_value_threshold: missing");
  r.p_value_threshold = p->value.GetDouble();
  auto spec = doc.FindMember("spec");
  if (spec == doc.MemberEnd()) return InternalError("spec: missing");
  EVOLVE_ASSIGN_OR_RETURN(r.spec, ModelSpecFromJson(JsonOut::Text(spec->value)));
  auto metrics = doc.FindMember("metrics");
  if (metrics == doc.MemberEnd() || !metrics->value.IsObject()) return InternalError("metrics: missing");
  for (auto it = metrics->value.MemberBegin(); it != metrics->value.MemberEnd(); ++it) {
    if (it->value.IsNumber()) r.metrics[it->name.GetString()] = it->value.GetDouble();
  }
  return r;
}

Result<std::unique_ptr<ModelTable>> ModelTable::Open(ArtifactStore& artifacts, Clock& clock) {
  std::unique_ptr<ModelTable> table(new ModelTable(artifacts, clock));
  for (int64_t slot = 0;; ++slot) {
    const std::string key = kLogPrefix + std::to_string(slot);
    auto bytes = artifacts.GetArtifact(key);
    if (!bytes.ok()) {
      if (bytes.status().code() != StatusCode::kNotFound) return bytes.status().WithContext("reading " + key);
      table->next_slot_ = slot;
      break;
    }
    auto record = RecordFromLogJson(*bytes);
    if (!record.ok()) return InternalError("model log entry " + key + ": " + record.status().message());
    std::lock_guard<std::mutex> lock(table->mu_);
    // A record logged twice (a failure, then a retry that completed under
    // the same id) keeps its last entry.
    table->IndexLocked(*record);
  }
  return table;
}

void ModelTable::IndexLocked(const ModelRecord& record) {
  auto existing = records_.find(record.id);
  if (existing == records_.end()) {
    order_.push_back(record.id);
  } else if (by_fingerprint_.count(existing->second.fingerprint) != 0 &&
             by_fingerprint_[existing->second.fingerprint] == record.id) {
    by_fingerprint_.erase(existing->second.fingerprint);
  }
  records_[record.id] = record;
  if (IsLive(record.state)) by_fingerprint_[record.fingerprint] = record.id;
  if (!record.engine_model_id.empty()) by_engine_model_id_[record.engine_model_id] = record.id;
}

ModelTable::Admission ModelTable::Admit(const ModelSpec& spec, const std::string& fingerprint,
                                        double p_value_threshold) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_fingerprint_.find(fingerprint);
  if (it != by_fingerprint_.end()) return Admission{true, records_.at(it->second)};
  ModelRecord record;
  record.id = NewId("model_");
  record.spec = spec;
  record.fingerprint = fingerprint;
  record.p_value_threshold = p_value_threshold;
  record.created_at = clock_.Now();
  IndexLocked(record);
  return Admission{false, record};
}

void ModelTable::Withdraw(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return;
  if (by_fingerprint_.count(it->second.fingerprint) != 0 && by_fingerprint_[it->second.fingerprint] == id) {
    by_fingerprint_.erase(it->second.fingerprint);
  }
  records_.erase(it);
  order_.erase(std::remove(order_.begin(), order_.end(), id), order_.end());
}

bool ModelTable::MarkTraining(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end() || it->second.state != ModelState::kPending) return false;
  it->second.state = ModelState::kTraining;
  it->second.started_at = clock_.Now();
  return true;
}

Status ModelTable::Complete(const std::string& id, const TrainedModel& model) {
  ModelRecord record;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return NotFoundError("model " + id);
    record = it->second;
  }
  record.state = ModelState::kCompleted;
  record.engine_model_id = model.model_id;
  record.metrics = model.metrics;
  record.completed_at = clock_.Now();
  Status logged = Append(record);
  if (!logged.ok()) {
    Fail(id, "the trained model could not be recorded: " + logged.message());
    return logged;
  }
  std::lock_guard<std::mutex> lock(mu_);
  IndexLocked(record);
  return Status::Ok();
}

void ModelTable::Fail(const std::string& id, const std::string& error) {
  ModelRecord record;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(id);
    if (it == records_.end()) return;
    it->second.state = ModelState::kFailed;
    it->second.error_message = error;
    it->second.completed_at = clock_.Now();
    record = it->second;
    IndexLocked(record);
  }
  Status logged = Append(record);
  if (!logged.ok()) {
    Log(LogLevel::kWarning, "could not log a failed training", {{"model_id", id}, {"error", logged.ToString()}});
  }
}

Status ModelTable::Append(const ModelRecord& record) {
  const std::string bytes = RecordToLogJson(record);
  std::lock_guard<std::mutex> lock(log_mu_);
  for (int attempt = 0; attempt < kAppendAttempts; ++attempt) {
    const std::string key = kLogPrefix + std::to_string(next_slot_++);
    EVOLVE_RETURN_IF_ERROR(artifacts_.PutArtifact(key, bytes));
    EVOLVE_ASSIGN_OR_RETURN(std::string stored, artifacts_.GetArtifact(key));
    if (stored == bytes) return Status::Ok();
  }
  return UnavailableError("the model log is contended: no free slot after " + std::to_string(kAppendAttempts) +
                          " attempts");
}

std::optional<ModelRecord> ModelTable::Find(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = records_.find(id);
  if (it != records_.end()) return it->second;
  auto engine = by_engine_model_id_.find(id);
  if (engine != by_engine_model_id_.end()) return records_.at(engine->second);
  return std::nullopt;
}

std::vector<ModelRecord> ModelTable::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ModelRecord> out;
  out.reserve(order_.size());
  for (const std::string& id : order_) out.push_back(records_.at(id));
  return out;
}

ModelTable::Counts ModelTable::CountByState() const {
  std::lock_guard<std::mutex> lock(mu_);
  Counts c;
  for (const auto& [id, r] : records_) {
    switch (r.state) {
      case ModelState::kPending:
        ++c.pending;
        break;
      case ModelState::kTraining:
        ++c.training;
        break;
      case ModelState::kCompleted:
        ++c.completed;
        break;
      case ModelState::kFailed:
        ++c.failed;
        break;
    }
  }
  return c;
}

}  // namespace evolve::engines_service
