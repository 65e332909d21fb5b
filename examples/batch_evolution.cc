// Batch evolution: several symbols evolved at once, as `evolve serve` does it.
// One EvolutionEngine, one RunScheduler stepping every run on 2 threads (a run
// waiting for its simulations holds no thread, and each run is held under the
// store's run lock while it is scheduled), a WorkerPool of 2 workers draining
// the one shared queue, one SQLite store.
//
// The symbols are synthetic daily bars (evolve/engines/synthetic.h) written as
// CSV to a temporary directory: AAA (calm, with a planted mean-reversion
// signal in `ibs`), BBB (calm with stressed spells) and CCC (volatile). Each
// run gets its own criteria from its symbol's realised volatility, the seed
// README's "Dynamic Holy Grail Criteria": sqn_min 3.0 when the daily
// volatility is below 2%, else 2.5 (a noisier market gets a lower bar).
//
//   build/examples/batch_evolution [WORK_DIR]
//     WORK_DIR: where the bars and the SQLite file go (default: a temporary
//     directory, removed at the end)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/synthetic.h"
#include "evolve/evolution.h"
#include "evolve/log.h"
#include "evolve/scheduler.h"
#include "evolve/sqlite/sqlite_store.h"
#include "evolve/worker_pool.h"

namespace fs = std::filesystem;

namespace {

struct SymbolSpec {
  const char* symbol;
  double vol_calm, vol_stressed, signal_strength;
  uint64_t seed;
};

const SymbolSpec kSymbols[] = {
    {"AAA", 0.008, 0.012, 0.35, 11},
    {"BBB", 0.010, 0.030, 0.0, 12},
    {"CCC", 0.025, 0.045, 0.0, 13},
};

// Standard deviation of daily log returns.
double RealisedVolatility(const evolve::engines::Bars& bars) {
  double mean = 0, var = 0;
  const size_t n = bars.size() - 1;
  for (size_t i = 1; i <= n; ++i) mean += std::log(bars.close[i] / bars.close[i - 1]) / static_cast<double>(n);
  for (size_t i = 1; i <= n; ++i) {
    var += std::pow(std::log(bars.close[i] / bars.close[i - 1]) - mean, 2) / static_cast<double>(n - 1);
  }
  return std::sqrt(var);
}

class Printer final : public evolve::EngineObserver {
 public:
  // Called on the scheduler's step threads, so lines of the runs interleave.
  void OnGenerationEvaluated(const evolve::Run& run, const evolve::Generation& g) override {
    std::printf("  %s gen %d: %2zu features (pruned %2zu), jobs %d/%d, best SQN %5.2f\n",
                run.config.symbol.c_str(), g.generation, g.features.size(), g.pruned_features.size(),
                g.jobs_completed, g.jobs_total, g.best_sqn.value_or(0.0));
    std::printf("         %s\n", g.verdict.c_str());
    std::fflush(stdout);
  }
};

int Main(const fs::path& work_dir) {
  // 1. The data: one CSV per symbol, and each symbol's criteria.
  const fs::path data_dir = work_dir / "bars";
  fs::create_directories(data_dir);
  std::vector<evolve::EvolutionConfig> configs;
  for (const SymbolSpec& s : kSymbols) {
    evolve::engines::SyntheticOptions o;
    o.symbols = {s.symbol};
    o.bars = 2500;
    o.vol_calm = s.vol_calm;
    o.vol_stressed = s.vol_stressed;
    o.signal_strength = s.signal_strength;
    o.seed = s.seed;
    const evolve::engines::Bars bars = evolve::engines::GenerateSyntheticBars(o).at(s.symbol);
    if (auto st = evolve::engines::WriteBarsCsv(bars, (data_dir / (std::string(s.symbol) + ".csv")).string());
        !st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
      return 1;
    }
    const double vol = RealisedVolatility(bars);
    evolve::EvolutionConfig c;
    c.symbol = s.symbol;
    c.timeframe = "1d";
    c.max_generations = 3;
    c.sqn_min = vol < 0.02 ? 3.0 : 2.5;  // the seed's rule: higher volatility, lower SQN bar
    c.profit_factor_min = 2.0;
    c.trade_count_min = 200;
    std::printf("%s: %zu bars, daily volatility %.4f -> sqn_min %.1f\n", s.symbol, bars.size(), vol, c.sqn_min);
    configs.push_back(c);
  }

  // 2. The store, the built-in engines over the bars, one engine for all runs.
  auto store = evolve::sqlite::OpenSqliteStore((work_dir / "evolve.db").string());
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.status().ToString().c_str());
    return 1;
  }
  evolve::engines::BuiltinOptions builtin;
  builtin.data_dir = data_dir.string();
  builtin.threads = 1;  // the scheduler's 2 threads train 2 models at once
  auto engines = evolve::engines::NewBuiltinEngines(**store, builtin);
  if (!engines.ok()) {
    std::fprintf(stderr, "error: %s\n", engines.status().ToString().c_str());
    return 1;
  }
  Printer printer;
  evolve::EvolutionEngine engine({*engines->features, *engines->trainer, **store, nullptr, &printer});

  // 3. The runs, all created first, then handed to the scheduler.
  std::vector<std::string> run_ids;
  for (const auto& c : configs) {
    auto run = engine.CreateRun(c);
    if (!run.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", c.symbol.c_str(), run.status().ToString().c_str());
      return 1;
    }
    run_ids.push_back(run->id);
  }
  evolve::SchedulerOptions so;
  so.threads = 2;
  so.poll_interval = std::chrono::milliseconds(100);
  evolve::RunScheduler scheduler(engine, **store, so);
  if (auto st = scheduler.Start(); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
    return 1;
  }
  for (const auto& id : run_ids) (void)scheduler.Submit(id);  // Start() adopted them already; harmless

  evolve::WorkerPoolOptions pool_options;
  pool_options.size = 2;
  pool_options.worker.worker_id = "batch-worker";
  pool_options.worker.max_jobs_per_claim = 3;  // a model's grid in one claim
  pool_options.worker.poll_interval = std::chrono::milliseconds(50);
  evolve::WorkerPool pool(**store, *engines->simulator, pool_options);
  if (auto st = pool.Start(); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
    return 1;
  }

  // 4. Wait until every run is final (a service would just keep serving).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  bool all_final = false;
  while (!all_final && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    all_final = true;
    for (const auto& id : run_ids) {
      auto r = (*store)->GetRun(id);
      all_final = all_final && r.ok() && evolve::IsFinal(r->status);
    }
  }
  const evolve::SchedulerStats stats = scheduler.stats();
  scheduler.Shutdown();
  pool.Stop();

  std::printf("\n%d scheduler steps, %lld step errors\n", static_cast<int>(stats.steps),
              static_cast<long long>(stats.step_errors));
  int failed = 0;
  for (const auto& id : run_ids) {
    auto r = (*store)->GetRun(id);
    std::printf("%s  %-9s %-16s best SQN %5.2f (sqn_min %.1f)%s%s\n", r->config.symbol.c_str(),
                evolve::RunStatusName(r->status), r->stop_reason.c_str(), r->best_sqn.value_or(0.0),
                r->config.sqn_min, r->promoted ? "  promoted " : "", r->promoted ? r->best_model_id.c_str() : "");
    failed += r->status == evolve::RunStatus::kFailed || !evolve::IsFinal(r->status) ? 1 : 0;
  }
  for (const auto& w : *(*store)->ListWorkers()) {
    std::printf("%s completed %lld jobs\n", w.id.c_str(), static_cast<long long>(w.jobs_completed));
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  evolve::LogLevel level = evolve::LogLevel::kWarning;
  if (const char* env = std::getenv("LOG_LEVEL")) evolve::ParseLogLevel(env, &level);
  evolve::SetLogLevel(level);
  const bool temporary = argc < 2;
  const fs::path work_dir = temporary ? fs::temp_directory_path() / ("batch_evolution_" + evolve::NewId("")) : argv[1];
  const int exit_code = Main(work_dir);
  if (temporary) {
    std::error_code ec;
    fs::remove_all(work_dir, ec);
  }
  return exit_code;
}
