#include "evolve/testing/fake_engines.h"

#include <algorithm>

#include "evolve/testing/samples.h"

namespace evolve::testing {

// ---- FakeFeatureSource ----

void FakeFeatureSource::SetFeatures(const std::string& symbol, std::vector<std::string> features) {
  std::lock_guard<std::mutex> lock(mu_);
  features_[symbol] = std::move(features);
}

Result<std::vector<std::string>> FakeFeatureSource::ListSymbols() {
  EVOLVE_RETURN_IF_ERROR(faults_.Enter("ListSymbols"));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> symbols;
  for (const auto& [symbol, features] : features_) symbols.push_back(symbol);
  return symbols;
}

Result<std::vector<std::string>> FakeFeatureSource::ListFeatures(const std::string& symbol) {
  EVOLVE_RETURN_IF_ERROR(faults_.Enter("ListFeatures"));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = features_.find(symbol);
  if (it == features_.end()) return NotFoundError("unknown symbol '" + symbol + "'");
  return it->second;
}

// ---- FakeTrainer ----

void FakeTrainer::SetImportanceScript(ImportanceScript script) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(script);
}

void FakeTrainer::SetImportances(std::map<std::string, double> importances, double otherwise) {
  SetImportanceScript(
      [importances = std::move(importances), otherwise](const ModelSpec&, const std::string& f) {
        auto it = importances.find(f);
        return it == importances.end() ? otherwise : it->second;
      });
}

void FakeTrainer::AddModel(const std::string& model_id, const ModelSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  models_[model_id] = spec;
}

std::vector<ModelSpec> FakeTrainer::train_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return train_calls_;
}

int FakeTrainer::train_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(train_calls_.size());
}

Result<TrainedModel> FakeTrainer::Train(const ModelSpec& spec) {
  EVOLVE_RETURN_IF_ERROR(faults_.Enter("Train", true));
  std::lock_guard<std::mutex> lock(mu_);
  train_calls_.push_back(spec);
  TrainedModel model;
  model.model_id = "model-" + std::to_string(next_id_++);
  model.metrics["features"] = static_cast<double>(spec.features.size());
  models_[model.model_id] = spec;
  return model;
}

Result<ImportanceReport> FakeTrainer::Importance(const std::string& model_id) {
  EVOLVE_RETURN_IF_ERROR(faults_.Enter("Importance"));
  ModelSpec spec;
  ImportanceScript script;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(model_id);
    if (it == models_.end()) return NotFoundError("unknown model '" + model_id + "'");
    spec = it->second;
    script = script_;
  }
  ImportanceReport report;
  report.model_id = model_id;
  report.importance_type = "fake";
  for (const auto& feature : spec.features) {
    report.importances.push_back({feature, script ? script(spec, feature) : 1.0});
  }
  return report;
}

Result<ModelSpec> FakeTrainer::DescribeModel(const std::string& model_id) {
  EVOLVE_RETURN_IF_ERROR(faults_.Enter("DescribeModel"));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model_id);
  if (it == models_.end()) return NotFoundError("unknown model '" + model_id + "'");
  return it->second;
}

// ---- FakeSimulator ----

void FakeSimulator::SetScript(Script script) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(script);
}

std::vector<SimulationParams> FakeSimulator::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

Result<SimulationResult> FakeSimulator::Simulate(const SimulationParams& params) {
  Script script;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(params);
    script = script_;
  }
  EVOLVE_RETURN_IF_ERROR(faults_.Enter("Simulate"));
  Result<SimulationResult> result = script ? script(params) : FailingResult();
  // Scores the span it is asked for, as a simulator must (types.h), unless
  // the script says otherwise.
  if (result.ok() && result->span.empty()) result->span = params.span.empty() ? kSpanAll : params.span;
  return result;
}

std::vector<Result<SimulationResult>> FakeSimulator::SimulateMany(
    const std::vector<SimulationParams>& params) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    many_batch_sizes_.push_back(params.size());
  }
  return Simulator::SimulateMany(params);
}

std::vector<size_t> FakeSimulator::many_batch_sizes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return many_batch_sizes_;
}

SimulationResult FakeSimulator::PassingResult(double sqn) {
  SimulationResult r = SampleResult(sqn);
  r.excess_return_pct = 40.0;  // passes the default holdout test too
  r.excess_sqn = sqn;
  return r;
}

SimulationResult FakeSimulator::FailingResult(double sqn) {
  SimulationResult r = PassingResult(sqn);
  r.profit_factor = 1.5;
  r.trade_count = 100;
  r.total_trades = 200;
  r.weekly_consistency = 0.8;
  return r;
}

}  // namespace evolve::testing
