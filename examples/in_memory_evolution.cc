// A whole evolution run through the real engine and the real worker loop,
// with everything else in memory: the store is evolve::testing::FakeStore and
// the trainer/simulator are scripted fakes whose "market" rewards models that
// drop the noise features. It shows the moving parts (generations, pruning,
// fingerprints, the priority queue, two workers, promotion) without data or
// services; `evolve run` with the built-in engines and real bars is the main
// job once those land.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "evolve/evolution.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker_pool.h"

namespace {

const std::set<std::string> kNoise = {"day_of_week", "ibs", "vol_z_score_20", "parkinson_vol_20"};

// Prints generations as the engine evaluates them.
class Printer final : public evolve::EngineObserver {
 public:
  void OnGenerationEvaluated(const evolve::Run&, const evolve::Generation& g) override {
    std::printf(
        "  gen %d  model %-8s features %2zu  pruned %2zu  reused %-3s  jobs %d/%d  best SQN %5.2f  %s\n",
        g.generation, g.model_id.c_str(), g.features.size(), g.pruned_features.size(),
        g.reused_model ? "yes" : "no", g.jobs_completed, g.jobs_total, g.best_sqn.value_or(0.0),
        g.verdict.c_str());
  }
};

}  // namespace

int main() {
  // Progress is printed below; log lines only for problems unless LOG_LEVEL says otherwise.
  evolve::LogLevel level = evolve::LogLevel::kWarning;
  if (const char* env = std::getenv("LOG_LEVEL")) evolve::ParseLogLevel(env, &level);
  evolve::SetLogLevel(level);

  evolve::Clock& clock = *evolve::RealClock();
  evolve::testing::FakeStore store(clock);
  evolve::testing::FakeFeatureSource features;
  features.SetFeatures("TTRC", {"sma_20", "rsi_14", "macd_line", "macd_hist", "atr_14", "return_z_score_20",
                                "day_of_week", "ibs", "vol_z_score_20", "parkinson_vol_20"});

  // Noise features have negative permutation importance; the rest positive.
  evolve::testing::FakeTrainer trainer;
  trainer.SetImportanceScript(
      [](const evolve::ModelSpec&, const std::string& f) { return kNoise.count(f) ? -0.01 : 0.2; });

  // The scripted market: SQN grows as noise leaves the model and with the
  // threshold; every metric passes the default criteria once the noise is gone.
  evolve::testing::FakeSimulator simulator;
  simulator.SetScript(
      [&trainer](const evolve::SimulationParams& p) -> evolve::Result<evolve::SimulationResult> {
        EVOLVE_ASSIGN_OR_RETURN(evolve::ModelSpec spec, trainer.DescribeModel(p.model_id));
        int noise = 0;
        for (const auto& f : spec.features) noise += kNoise.count(f) ? 1 : 0;
        double sqn = 3.6 - 0.6 * noise + 1000.0 * p.threshold;
        return noise == 0 ? evolve::testing::FakeSimulator::PassingResult(sqn)
                          : evolve::testing::FakeSimulator::FailingResult(sqn);
      });

  Printer printer;
  evolve::EvolutionEngine engine({features, trainer, store, nullptr, &printer});
  evolve::EvolutionConfig config;
  config.symbol = "TTRC";
  config.regime_configs = {{}, {"regime_gmm", {1}}, {"regime_vix", {2, 3}}};
  auto run = engine.CreateRun(config);
  if (!run.ok()) {
    std::fprintf(stderr, "error: %s\n", run.status().ToString().c_str());
    return 1;
  }
  std::printf("run %s on %s: %zu thresholds x %zu regime filters per generation\n", run->id.c_str(),
              config.symbol.c_str(), config.thresholds.size(), config.regime_configs.size());

  evolve::WorkerPoolOptions pool_options;
  pool_options.size = 2;
  pool_options.worker.worker_id = "demo-worker";
  pool_options.worker.poll_interval = std::chrono::milliseconds(200);
  evolve::WorkerPool pool(store, &store, simulator, clock, pool_options);
  if (evolve::Status s = pool.Start(); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 1;
  }
  auto done = engine.RunToEnd(run->id);
  pool.Stop();
  if (!done.ok()) {
    std::fprintf(stderr, "error: %s\n", done.status().ToString().c_str());
    return 1;
  }

  std::printf("run %s ended %s (%s)\n", done->id.c_str(), evolve::RunStatusName(done->status),
              done->stop_reason.c_str());
  for (const auto& w : *store.ListWorkers()) {
    std::printf("  %s completed %lld jobs\n", w.id.c_str(), static_cast<long long>(w.jobs_completed));
  }
  if (!done->promoted) return 1;
  auto promotion = store.GetPromotion(done->promotion_id);
  std::printf("promoted: model %s, SQN %.2f at threshold %g, regime filter %s, %zu features\n",
              promotion->model_id.c_str(), promotion->sqn, promotion->threshold,
              promotion->regime.empty() ? "none" : evolve::ToJson(promotion->regime).c_str(),
              promotion->spec.features.size());
  for (const auto& edge : *store.Ancestry(promotion->model_id)) {
    std::printf("  lineage: gen %d %s <- %s pruned [%zu] %s\n", edge.generation, edge.child_model_id.c_str(),
                edge.parent_model_id.empty() ? "(seed)" : edge.parent_model_id.c_str(),
                edge.pruned_features.size(), edge.pruning_reason.c_str());
  }
  return 0;
}
