// A user-defined PruningStrategy: prune the features whose importance is
// below a fraction of the most important one, instead of the seed's
// "importance <= 0". Hand it to the engine through EngineDeps::pruning.
//
// The engine runs here over the in-memory fakes (evolve::testing), so the
// example is self-contained; with real engines only the deps change.
#include <algorithm>
#include <cstdio>

#include "evolve/evolution.h"
#include "evolve/log.h"
#include "evolve/pruning.h"
#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fake_store.h"

namespace {

class RelativeToBestPruning final : public evolve::PruningStrategy {
 public:
  explicit RelativeToBestPruning(double fraction) : fraction_(fraction) {}

  std::string Name() const override { return "relative_to_best"; }

  evolve::Result<evolve::PruneDecision> Prune(
      const std::vector<std::string>& features,
      const std::vector<evolve::FeatureImportance>& importances) const override {
    double best = 0.0;
    for (const auto& fi : importances) best = std::max(best, fi.importance);
    if (best <= 0.0) return evolve::InvalidArgumentError("no feature has positive importance");
    evolve::PruneDecision d;
    for (const auto& f : features) {
      auto it = std::find_if(importances.begin(), importances.end(),
                             [&](const evolve::FeatureImportance& fi) { return fi.feature == f; });
      const double importance = it == importances.end() ? 0.0 : it->importance;  // unreported: worthless
      (importance < fraction_ * best ? d.pruned : d.kept).push_back(f);
    }
    d.reason = "importance<" + std::to_string(fraction_) + "*max";
    return d;
  }

 private:
  double fraction_;
};

}  // namespace

int main() {
  evolve::SetLogLevel(evolve::LogLevel::kWarning);
  evolve::testing::FakeFeatureSource features;
  features.SetFeatures("TTRC", {"sma_20", "rsi_14", "macd_line", "atr_14", "ibs", "day_of_week"});
  evolve::testing::FakeTrainer trainer;
  trainer.SetImportances({{"sma_20", 0.9},
                          {"rsi_14", 0.5},
                          {"macd_line", 0.05},
                          {"atr_14", 0.3},
                          {"ibs", 0.02},
                          {"day_of_week", 0.01}});
  evolve::testing::FakeStore store(*evolve::RealClock());
  RelativeToBestPruning pruning(0.1);  // keep features with >= 10% of the best importance

  evolve::EvolutionEngine engine({features, trainer, store, &pruning, nullptr});
  evolve::EvolutionConfig config;
  config.symbol = "TTRC";
  config.max_generations = 3;
  config.thresholds = {0.0005};
  auto run = engine.CreateRun(config);
  if (!run.ok()) {
    std::fprintf(stderr, "%s\n", run.status().ToString().c_str());
    return 1;
  }
  // Step the run by hand, simulating each queued job in place of a worker.
  evolve::testing::FakeSimulator simulator;
  for (int steps = 0; steps < 100; ++steps) {
    auto outcome = engine.Step(run->id);
    if (!outcome.ok()) {
      std::fprintf(stderr, "%s\n", outcome.status().ToString().c_str());
      return 1;
    }
    if (*outcome == evolve::StepOutcome::kFinished) break;
    auto jobs = store.ClaimJobs("example-worker", 100, std::chrono::minutes(1));
    for (const auto& job : *jobs) {
      auto result = simulator.Simulate(job.params);
      if (!store.CompleteJob(job.id, "example-worker", *result).ok()) return 1;
    }
  }
  auto final_run = store.GetRun(run->id);
  auto lineage = store.ListLineage(run->id);
  for (const auto& edge : *lineage) {
    std::printf("generation %d: model %s, kept %zu, pruned %zu (%s)\n", edge.generation,
                edge.child_model_id.c_str(), edge.remaining_features.size(), edge.pruned_features.size(),
                edge.pruning_reason.c_str());
  }
  std::printf("run %s: %s (%s)\n", final_run->id.c_str(), evolve::RunStatusName(final_run->status),
              final_run->stop_reason.c_str());
  // Generation 1 prunes macd_line, ibs and day_of_week; generation 2 has
  // nothing left to prune, so the run completes with "no_pruning".
  return final_run->stop_reason == evolve::kStopNoPruning && lineage->size() == 2 ? 0 : 1;
}
