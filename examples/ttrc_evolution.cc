// A real evolution on real data: the bundled daily bars of TTRC (1985-2006),
// the built-in engines (features, walk-forward random forest, permutation
// importance, backtester), two workers on threads, an in-memory store
// (evolve::testing::FakeStore): the library wired by hand. `evolve run` is
// the same with a SQLite store, progress and resume.
//
//   ttrc_evolution [DATA_DIR] [GENERATIONS]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "evolve/engines/builtin.h"
#include "evolve/evolution.h"
#include "evolve/log.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker_pool.h"

#ifndef EVOLVE_EXAMPLES_DATA_DIR
#define EVOLVE_EXAMPLES_DATA_DIR "examples/data"
#endif

namespace {

class Printer final : public evolve::EngineObserver {
 public:
  void OnGenerationEvaluated(const evolve::Run&, const evolve::Generation& g) override {
    std::printf(
        "gen %d  %-30s  features %2zu  pruned %2zu  jobs %d/%d  best SQN %6.2f  PF %5.2f  trades %4lld\n",
        g.generation, g.model_id.c_str(), g.features.size(), g.pruned_features.size(), g.jobs_completed,
        g.jobs_total, g.best_sqn.value_or(0.0), g.best_profit_factor.value_or(0.0),
        static_cast<long long>(g.best_trade_count));
    std::printf("       verdict: %s\n", g.verdict.c_str());
    std::fflush(stdout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  evolve::LogLevel level = evolve::LogLevel::kWarning;
  if (const char* env = std::getenv("LOG_LEVEL")) evolve::ParseLogLevel(env, &level);
  evolve::SetLogLevel(level);
  const std::string data_dir = argc > 1 ? argv[1] : EVOLVE_EXAMPLES_DATA_DIR;
  const int generations = argc > 2 ? std::atoi(argv[2]) : 4;

  evolve::Clock& clock = *evolve::RealClock();
  evolve::testing::FakeStore store(clock);
  evolve::engines::BuiltinOptions options;
  options.data_dir = data_dir;
  auto engines = evolve::engines::NewBuiltinEngines(store, options);
  if (!engines.ok()) {
    std::fprintf(stderr, "error: %s\n", engines.status().ToString().c_str());
    return 1;
  }

  Printer printer;
  evolve::EngineOptions engine_options;
  engine_options.poll_interval = std::chrono::milliseconds(50);
  evolve::EvolutionEngine engine({*engines->features, *engines->trainer, store, nullptr, &printer},
                                 engine_options);
  evolve::EvolutionConfig config;
  config.symbol = "TTRC";
  config.timeframe = "1d";
  config.max_generations = generations;
  config.regime_configs = {{}, {"regime_gmm", {0}}, {"regime_vix", {2, 3}}};
  auto run = engine.CreateRun(config);
  if (!run.ok()) {
    std::fprintf(stderr, "error: %s\n", run.status().ToString().c_str());
    return 1;
  }
  std::printf("run %s: TTRC daily bars, up to %d generations, %zu thresholds x %zu regime filters\n",
              run->id.c_str(), generations, config.thresholds.size(), config.regime_configs.size());

  evolve::WorkerPoolOptions pool_options;
  pool_options.size = 2;
  pool_options.worker.worker_id = "demo-worker";
  pool_options.worker.max_jobs_per_claim = 9;  // a model's grid in one claim: one pass over the bars
  pool_options.worker.poll_interval = std::chrono::milliseconds(50);
  evolve::WorkerPool pool(store, &store, *engines->simulator, clock, pool_options);
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
  std::printf("run ended %s (%s)%s%s\n", evolve::RunStatusName(done->status), done->stop_reason.c_str(),
              done->error.empty() ? "" : ": ", done->error.c_str());
  if (done->promoted) {
    auto p = store.GetPromotion(done->promotion_id);
    std::printf("promoted model %s: SQN %.2f, threshold %g, %zu features\n", p->model_id.c_str(), p->sqn,
                p->threshold, p->spec.features.size());
  } else {
    std::printf(
        "no model met the criteria (SQN %g-%g, PF %g-%g, trades %lld-%lld, weekly consistency < %g); "
        "each generation's verdict above says which failed\n",
        config.sqn_min, config.sqn_max, config.profit_factor_min, config.profit_factor_max,
        static_cast<long long>(config.trade_count_min), static_cast<long long>(config.trade_count_max),
        config.weekly_consistency_max);
  }
  return done->status == evolve::RunStatus::kFailed ? 1 : 0;
}
