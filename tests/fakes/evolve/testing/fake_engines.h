// Fakes of FeatureSource, Trainer and Simulator: scripted answers, recorded
// calls, injected errors (faults(); method names are the interface's).
//
// Thread-safety: safe for concurrent use; scripts are called without the
// fake's lock held, so they may block or call back into the fake.
#ifndef EVOLVE_TESTING_FAKE_ENGINES_H_
#define EVOLVE_TESTING_FAKE_ENGINES_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "evolve/feature_source.h"
#include "evolve/simulator.h"
#include "evolve/testing/fault_injector.h"
#include "evolve/trainer.h"

namespace evolve::testing {

class FakeFeatureSource final : public FeatureSource {
 public:
  // Sets the feature columns of `symbol` (making it known).
  void SetFeatures(const std::string& symbol, std::vector<std::string> features);
  FaultInjector& faults() { return faults_; }

  Result<std::vector<std::string>> ListSymbols() override;
  Result<std::vector<std::string>> ListFeatures(const std::string& symbol) override;

 private:
  FaultInjector faults_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> features_;
};

// Trains "models" instantly, with ids "model-1", "model-2", ... in call order.
// Importance of a feature comes from the importance script (default: 1.0 for
// every feature, so nothing is pruned).
class FakeTrainer final : public Trainer {
 public:
  using ImportanceScript = std::function<double(const ModelSpec& model, const std::string& feature)>;

  void SetImportanceScript(ImportanceScript script);
  // Convenience: a fixed importance per feature name for every model;
  // features not in the map get `otherwise`.
  void SetImportances(std::map<std::string, double> importances, double otherwise = 1.0);
  // Makes `model_id` known as trained on `spec` (e.g. a seed model).
  void AddModel(const std::string& model_id, const ModelSpec& spec);

  FaultInjector& faults() { return faults_; }
  std::vector<ModelSpec> train_calls() const;
  int train_count() const;

  Result<TrainedModel> Train(const ModelSpec& spec) override;
  Result<ImportanceReport> Importance(const std::string& model_id) override;
  Result<ModelSpec> DescribeModel(const std::string& model_id) override;

 private:
  FaultInjector faults_;
  mutable std::mutex mu_;
  ImportanceScript script_;
  std::map<std::string, ModelSpec> models_;
  std::vector<ModelSpec> train_calls_;
  int next_id_ = 1;
};

// Answers each simulation from a script (default: a result with SQN 1, PF
// 1.5, 100 trades, weekly consistency 0.8: fails the default criteria).
class FakeSimulator final : public Simulator {
 public:
  using Script = std::function<Result<SimulationResult>(const SimulationParams& params)>;

  void SetScript(Script script);
  FaultInjector& faults() { return faults_; }
  std::vector<SimulationParams> calls() const;

  Result<SimulationResult> Simulate(const SimulationParams& params) override;
  // Records the batch size, then simulates each entry through Simulate.
  std::vector<Result<SimulationResult>> SimulateMany(const std::vector<SimulationParams>& params) override;
  // The size of every SimulateMany call, in order.
  std::vector<size_t> many_batch_sizes() const;

  // A result that passes the default criteria with the given SQN.
  static SimulationResult PassingResult(double sqn);
  // A result that fails the default criteria (SQN 1 unless given).
  static SimulationResult FailingResult(double sqn = 1.0);

 private:
  FaultInjector faults_;
  mutable std::mutex mu_;
  Script script_;
  std::vector<SimulationParams> calls_;
  std::vector<size_t> many_batch_sizes_;
};

}  // namespace evolve::testing

#endif  // EVOLVE_TESTING_FAKE_ENGINES_H_
