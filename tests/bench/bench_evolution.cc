// Benchmark: the wall time of a whole evolution (issue 4), the default demo
// (TTRC daily bars) or the same run on generated one-minute bars.
//
//   bench_evolution --generate-bars N --out-dir DIR [--symbol S] [--seed K]
//       writes N one-minute synthetic bars of S (default SYN) to DIR/S.csv,
//       with the planted mean-reversion signal of the engine tests.
//   bench_evolution --data-dir DIR --symbol S [--timeframe 1d] [--generations 4]
//                   [--threads 2] [--workers 2]
//       runs the demo evolution on DIR/S.csv as `evolve run` does with its
//       defaults (the POST /evolve defaults: 3 thresholds, no regime filter;
//       in-process workers taking ceil(grid / workers) jobs per claim), but on
//       an in-memory FakeStore and with per-phase timers, so that the engines'
//       own cost is seen apart from the store's.
// Both may be given: the bars are generated first (the peak RSS then includes
// the generator's; run.sh generates in a separate process).
//
// Prints key=value lines, the first the headline:
//   evolution_seconds     wall time from opening the data directory to the end of the run
//   <phase>_seconds       engine time per phase (evolve/engines/phase_timing.h), summed over
//                         threads: features, fit, predict, importance, simdata, model_store,
//                         sim_load, backtest
//   train_seconds, importance_call_seconds, simulate_seconds
//                         time inside Trainer::Train, Trainer::Importance and
//                         Simulator::SimulateMany (the last summed over workers)
//   generations, trained_models, status, stop_reason, promoted
//   results_sha256        digest of every generation's features, pruning, best result and its
//                         model's predictions, importances and metrics: equal digests mean an
//                         optimisation changed no result
//   cpu_seconds           user + system CPU time of the process (steadier than wall time on
//                         a shared machine)
//   peak_rss_mb           getrusage ru_maxrss of the process
#include <sys/resource.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/synthetic.h"
#include "evolve/evolution.h"
#include "evolve/fingerprint.h"
#include "evolve/log.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker.h"
#include "phase_timing.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Adds the time of every call to *total (a mutex: workers call concurrently).
class Stopwatch {
 public:
  void Add(Clock::duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    total_ += d;
    ++calls_;
  }
  double seconds() const {
    std::lock_guard<std::mutex> lock(mu_);
    return Seconds(total_);
  }
  int64_t calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  Clock::duration total_{};
  int64_t calls_ = 0;
};

// Times the built-in trainer's calls; forwards everything unchanged.
class TimedTrainer final : public evolve::Trainer {
 public:
  explicit TimedTrainer(evolve::Trainer& inner) : inner_(inner) {}
  evolve::Result<evolve::TrainedModel> Train(const evolve::ModelSpec& spec) override {
    const auto start = Clock::now();
    auto r = inner_.Train(spec);
    train_.Add(Clock::now() - start);
    return r;
  }
  evolve::Result<evolve::ImportanceReport> Importance(const std::string& model_id) override {
    const auto start = Clock::now();
    auto r = inner_.Importance(model_id);
    importance_.Add(Clock::now() - start);
    return r;
  }
  evolve::Result<evolve::ModelSpec> DescribeModel(const std::string& model_id) override {
    return inner_.DescribeModel(model_id);
  }
  const Stopwatch& train() const { return train_; }
  const Stopwatch& importance() const { return importance_; }

 private:
  evolve::Trainer& inner_;
  Stopwatch train_, importance_;
};

class TimedSimulator final : public evolve::Simulator {
 public:
  explicit TimedSimulator(evolve::Simulator& inner) : inner_(inner) {}
  evolve::Result<evolve::SimulationResult> Simulate(const evolve::SimulationParams& params) override {
    const auto start = Clock::now();
    auto r = inner_.Simulate(params);
    sim_.Add(Clock::now() - start);
    return r;
  }
  std::vector<evolve::Result<evolve::SimulationResult>> SimulateMany(
      const std::vector<evolve::SimulationParams>& params) override {
    const auto start = Clock::now();
    auto r = inner_.SimulateMany(params);
    sim_.Add(Clock::now() - start);
    return r;
  }
  const Stopwatch& sim() const { return sim_; }

 private:
  evolve::Simulator& inner_;
  Stopwatch sim_;
};

struct Flags {
  size_t generate_bars = 0;
  std::string out_dir;
  std::string data_dir;
  std::string symbol;
  std::string timeframe = "1d";
  int generations = 4;
  int threads = 2;
  int workers = 2;
  uint64_t seed = 20240601;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (flag == "--generate-bars") {
      f->generate_bars = std::strtoull(v, nullptr, 10);
    } else if (flag == "--out-dir") {
      f->out_dir = v;
    } else if (flag == "--data-dir") {
      f->data_dir = v;
    } else if (flag == "--symbol") {
      f->symbol = v;
    } else if (flag == "--timeframe") {
      f->timeframe = v;
    } else if (flag == "--generations") {
      f->generations = std::atoi(v);
    } else if (flag == "--threads") {
      f->threads = std::atoi(v);
    } else if (flag == "--workers") {
      f->workers = std::atoi(v);
    } else if (flag == "--seed") {
      f->seed = std::strtoull(v, nullptr, 10);
    } else {
      return false;
    }
  }
  return f->generate_bars > 0 ? !f->out_dir.empty() : !f->data_dir.empty();
}

int Generate(const Flags& f, const std::string& symbol) {
  evolve::engines::SyntheticOptions options;
  options.symbols = {symbol};
  options.bars = f.generate_bars;
  options.intraday = true;
  options.seed = f.seed;
  // The strength the engine tests plant: a signal the forest finds, so
  // pruning and the backtests see a realistic model, not pure noise.
  options.signal_strength = 0.3;
  const auto start = Clock::now();
  const auto bars = evolve::engines::GenerateSyntheticBars(options).at(symbol);
  std::error_code ec;
  std::filesystem::create_directories(f.out_dir, ec);
  const std::string path = f.out_dir + "/" + symbol + ".csv";
  if (auto s = evolve::engines::WriteBarsCsv(bars, path); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("generate_seconds=%.3f\ngenerated_bars=%zu\ngenerated_file=%s\n", Seconds(Clock::now() - start),
              bars.size(), path.c_str());
  return 0;
}

// Appends the bytes of `v` to *out.
template <typename T>
void AppendBytes(const std::vector<T>& v, std::string* out) {
  out->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

int RunEvolution(const Flags& f, const std::string& symbol) {
  evolve::engines::ResetEnginePhaseTimes();
  const auto start = Clock::now();
  evolve::Clock& clock = *evolve::RealClock();
  evolve::testing::FakeStore store(clock);
  evolve::engines::BuiltinOptions options;
  options.data_dir = f.data_dir;
  options.threads = f.threads;
  auto engines = evolve::engines::NewBuiltinEngines(store, options);
  if (!engines.ok()) {
    std::fprintf(stderr, "error: %s\n", engines.status().ToString().c_str());
    return 1;
  }
  TimedTrainer trainer(*engines->trainer);
  TimedSimulator simulator(*engines->simulator);

  evolve::EngineOptions engine_options;
  engine_options.poll_interval = std::chrono::milliseconds(50);
  evolve::EvolutionEngine engine({*engines->features, trainer, store, nullptr, nullptr}, engine_options);
  evolve::EvolutionConfig config;
  config.symbol = symbol;
  config.timeframe = f.timeframe;
  config.max_generations = f.generations;
  auto run = engine.CreateRun(config);
  if (!run.ok()) {
    std::fprintf(stderr, "error: %s\n", run.status().ToString().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<evolve::Worker>> workers;
  std::vector<std::thread> threads;
  for (int i = 0; i < f.workers; ++i) {
    evolve::WorkerOptions o;
    o.worker_id = "bench-worker-" + std::to_string(i + 1);
    const int grid = static_cast<int>(config.thresholds.size() * config.regime_configs.size());
    o.max_jobs_per_claim = (grid + f.workers - 1) / f.workers;
    o.poll_interval = std::chrono::milliseconds(50);
    workers.push_back(std::make_unique<evolve::Worker>(store, &store, simulator, clock, o));
    threads.emplace_back([w = workers.back().get()] { (void)w->Run(); });
  }
  auto done = engine.RunToEnd(run->id);
  for (auto& w : workers) w->RequestStop();
  for (auto& t : threads) t.join();
  const double wall = Seconds(Clock::now() - start);
  if (!done.ok()) {
    std::fprintf(stderr, "error: %s\n", done.status().ToString().c_str());
    return 1;
  }

  // Everything a result-preserving optimisation must leave as it was.
  std::string digest;
  auto generations = store.ListGenerations(run->id);
  int count = 0;
  if (generations.ok()) {
    for (const auto& g : *generations) {
      ++count;
      char line[256];
      std::snprintf(line, sizeof(line),
                    "gen %d reused %d jobs %d/%d passing %d sqn %.17g pf %.17g trades %lld|", g.generation,
                    g.reused_model ? 1 : 0, g.jobs_completed, g.jobs_total, g.jobs_passing,
                    g.best_sqn.value_or(0.0), g.best_profit_factor.value_or(0.0),
                    static_cast<long long>(g.best_trade_count));
      digest += line;
      for (const auto& name : g.features) digest += name + ",";
      digest += "|";
      for (const auto& name : g.pruned_features) digest += name + ",";
      digest += "|" + g.verdict + "|";
      if (auto p = evolve::engines::LoadModelPredictions(store, g.model_id); p.ok()) {
        AppendBytes(p->time, &digest);
        AppendBytes(p->prediction, &digest);
      }
      if (auto imp = engines->trainer->Importance(g.model_id); imp.ok()) {
        for (const auto& fi : imp->importances) {
          digest += fi.feature;
          digest.append(reinterpret_cast<const char*>(&fi.importance), sizeof(double));
        }
      }
    }
  }

  std::printf("evolution_seconds=%.3f\n", wall);
  const auto phases = evolve::engines::GetEnginePhaseTimes();
  for (int i = 0; i < evolve::engines::kEnginePhaseCount; ++i) {
    std::printf("%s_seconds=%.3f\n",
                evolve::engines::EnginePhaseName(static_cast<evolve::engines::EnginePhase>(i)),
                phases.seconds[i]);
  }
  std::printf("train_seconds=%.3f\ntrain_calls=%" PRId64 "\n", trainer.train().seconds(),
              trainer.train().calls());
  std::printf("importance_call_seconds=%.3f\n", trainer.importance().seconds());
  std::printf("simulate_seconds=%.3f\nsimulate_calls=%" PRId64 "\n", simulator.sim().seconds(),
              simulator.sim().calls());
  std::printf("generations=%d\nstatus=%s\nstop_reason=%s\npromoted=%d\n", count,
              evolve::RunStatusName(done->status), done->stop_reason.c_str(), done->promoted ? 1 : 0);
  if (!done->error.empty()) std::printf("error=%s\n", done->error.c_str());
  std::printf("results_sha256=%s\n", evolve::Sha256Hex(digest).c_str());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("cpu_seconds=%.3f\n",
              static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6);
  std::printf("peak_rss_mb=%.1f\n", static_cast<double>(usage.ru_maxrss) / 1024.0);  // ru_maxrss is in KiB
  return done->status == evolve::RunStatus::kFailed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(
        stderr,
        "usage: %s [--generate-bars N --out-dir DIR] [--data-dir DIR] [--symbol S] [--timeframe 1d]\n"
        "          [--generations 4] [--threads 2] [--workers 2] [--seed K]\n",
        argv[0]);
    return 2;
  }
  evolve::SetLogLevel(evolve::LogLevel::kWarning);
  const std::string symbol = flags.symbol.empty() ? "SYN" : flags.symbol;
  if (flags.generate_bars > 0) {
    if (int rc = Generate(flags, symbol); rc != 0) return rc;
  }
  if (flags.data_dir.empty()) return 0;
  return RunEvolution(flags, symbol);
}
