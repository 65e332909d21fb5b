// Embedding the engine with your OWN engines: a FeatureSource, a Trainer and
// a Simulator written here, in ~150 lines, next to the real SQLite store and
// the real worker loop. Nothing comes from evolve::testing or
// evolve::engines: this is what a user with their own model code writes.
//
// The toy market ("TOY", 3000 daily bars, fixed seed): nine feature columns
// of standard normals, of which only `signal` predicts the next bar's return
// (r[t+1] = 0.12 * sigma * signal[t] + sigma * noise). The engines are honest
// about it:
//   ToyTrainer    fits a linear model (per-feature least squares) on the first
//                 half of the bars and measures each feature's importance out
//                 of sample, on the second half, as the rise in squared error
//                 when the feature is dropped (<= 0 for a useless feature).
//   ToySimulator  trades the second half: long/short one bar whenever
//                 |prediction| > threshold, net of fees and slippage, and
//                 reports SQN, profit factor, trade count, weekly consistency.
// Generation 0 fits all nine columns and fails the criteria (the noise
// coefficients blur the signal); the default pruning ("importance <= 0")
// drops the noise columns that do not help out of sample (six of the eight;
// two help by chance and stay), and generation 1 passes and is promoted.
//
//   build/examples/own_engines [DB_PATH]    (default: a temporary file, removed at the end)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "evolve/evolution.h"
#include "evolve/feature_source.h"
#include "evolve/log.h"
#include "evolve/simulator.h"
#include "evolve/sqlite/sqlite_store.h"
#include "evolve/trainer.h"
#include "evolve/worker_pool.h"

namespace {

constexpr size_t kBars = 3000;
constexpr double kSigma = 0.01;  // daily volatility of the toy returns
constexpr double kSignal = 0.12;  // signal[t] moves r[t+1] by this many sigmas

// The data every toy engine reads: feature columns and next-bar returns.
struct ToyMarket {
  std::vector<std::string> names = {"signal", "noise_a", "noise_b", "noise_c", "noise_d",
                                    "noise_e", "noise_f", "noise_g", "noise_h"};
  std::map<std::string, std::vector<double>> columns;
  std::vector<double> next_return;  // next_return[t]: log return from bar t to bar t + 1

  ToyMarket() {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> normal;
    for (const auto& n : names) {
      auto& c = columns[n];
      for (size_t t = 0; t < kBars; ++t) c.push_back(normal(rng));
    }
    for (size_t t = 0; t < kBars; ++t) {
      next_return.push_back(kSignal * kSigma * columns["signal"][t] + kSigma * normal(rng));
    }
  }
};

class ToyFeatureSource final : public evolve::FeatureSource {
 public:
  explicit ToyFeatureSource(const ToyMarket& market) : market_(market) {}
  evolve::Result<std::vector<std::string>> ListSymbols() override { return std::vector<std::string>{"TOY"}; }
  evolve::Result<std::vector<std::string>> ListFeatures(const std::string& symbol) override {
    if (symbol != "TOY") return evolve::NotFoundError("unknown symbol " + symbol);
    return market_.names;
  }

 private:
  const ToyMarket& market_;
};

// A trained toy model: one coefficient per feature.
struct ToyModel {
  evolve::ModelSpec spec;
  std::map<std::string, double> beta;
};

class ToyTrainer final : public evolve::Trainer {
 public:
  explicit ToyTrainer(const ToyMarket& market) : market_(market) {}

  evolve::Result<evolve::TrainedModel> Train(const evolve::ModelSpec& spec) override {
    ToyModel model{spec, {}};
    for (const auto& f : spec.features) {
      auto it = market_.columns.find(f);
      if (it == market_.columns.end()) return evolve::InvalidArgumentError("unknown feature " + f);
      double xy = 0, xx = 0;  // least squares on the training half (the columns are independent)
      for (size_t t = 0; t < kBars / 2; ++t) {
        xy += it->second[t] * market_.next_return[t];
        xx += it->second[t] * it->second[t];
      }
      model.beta[f] = xy / xx;
    }
    std::lock_guard<std::mutex> lock(mu_);
    const std::string id = "toy_" + std::to_string(models_.size() + 1);
    models_[id] = model;
    return evolve::TrainedModel{id, {{"mse_oos", SquaredError(model, "")}}};
  }

  evolve::Result<evolve::ImportanceReport> Importance(const std::string& model_id) override {
    EVOLVE_ASSIGN_OR_RETURN(ToyModel model, Get(model_id));
    evolve::ImportanceReport report{model_id, "drop_column_oos", {}};
    const double full = SquaredError(model, "");
    for (const auto& f : model.spec.features) report.importances.push_back({f, (SquaredError(model, f) - full) * 1e6});
    return report;
  }

  evolve::Result<evolve::ModelSpec> DescribeModel(const std::string& model_id) override {
    EVOLVE_ASSIGN_OR_RETURN(ToyModel model, Get(model_id));
    return model.spec;
  }

  evolve::Result<ToyModel> Get(const std::string& model_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(model_id);
    if (it == models_.end()) return evolve::NotFoundError("no toy model " + model_id);
    return it->second;
  }

  // The model's prediction at bar t, optionally without feature `drop`.
  double Predict(const ToyModel& model, size_t t, const std::string& drop) const {
    double p = 0;
    for (const auto& [f, b] : model.beta) p += f == drop ? 0.0 : b * market_.columns.at(f)[t];
    return p;
  }

 private:
  // Mean squared error on the test half (bars the model never saw).
  double SquaredError(const ToyModel& model, const std::string& drop) const {
    double sum = 0;
    for (size_t t = kBars / 2; t < kBars; ++t) sum += std::pow(market_.next_return[t] - Predict(model, t, drop), 2);
    return sum / static_cast<double>(kBars - kBars / 2);
  }

  const ToyMarket& market_;
  std::mutex mu_;
  std::map<std::string, ToyModel> models_;  // guarded by mu_
};

class ToySimulator final : public evolve::Simulator {
 public:
  ToySimulator(const ToyMarket& market, ToyTrainer& trainer) : market_(market), trainer_(trainer) {}

  evolve::Result<evolve::SimulationResult> Simulate(const evolve::SimulationParams& p) override {
    if (!p.regime.empty()) return evolve::InvalidArgumentError("the toy market has no regime columns");
    EVOLVE_ASSIGN_OR_RETURN(ToyModel model, trainer_.Get(p.model_id));
    const double cost = 2 * (p.fee_bps + p.slippage_bps) / 1e4;  // a round trip, both sides
    std::vector<double> trades;
    std::map<size_t, int> per_week;  // 5 bars a week
    for (size_t t = kBars / 2; t + 1 < kBars; ++t) {
      const double pred = trainer_.Predict(model, t, "");
      if (std::fabs(pred) <= p.threshold) continue;
      trades.push_back((pred > 0 ? 1 : -1) * market_.next_return[t] - cost);
      ++per_week[t / 5];
    }
    evolve::SimulationResult r;
    r.trade_count = r.total_trades = static_cast<int64_t>(trades.size());
    if (trades.size() >= 2) {
      double mean = 0, var = 0;
      for (double x : trades) mean += x / static_cast<double>(trades.size());
      for (double x : trades) var += (x - mean) * (x - mean) / static_cast<double>(trades.size() - 1);
      r.sqn = std::sqrt(static_cast<double>(trades.size())) * mean / std::sqrt(var);
      r.expectancy = mean;
    }
    for (double x : trades) (x > 0 ? r.gross_profit : r.gross_loss) += std::fabs(x);
    if (r.gross_loss > 0) r.profit_factor = r.gross_profit / r.gross_loss;
    if (!trades.empty()) {
      double mean = 0, var = 0;
      const double weeks = static_cast<double>((kBars - kBars / 2) / 5);
      for (size_t w = (kBars / 2) / 5; w < kBars / 5; ++w) mean += per_week[w] / weeks;
      for (size_t w = (kBars / 2) / 5; w < kBars / 5; ++w) var += std::pow(per_week[w] - mean, 2) / weeks;
      r.weekly_consistency = std::sqrt(var) / mean;
      r.trades_per_week = mean;
      r.weeks_traded = static_cast<int64_t>(weeks);
    }
    return r;
  }

 private:
  const ToyMarket& market_;
  ToyTrainer& trainer_;
};

class Printer final : public evolve::EngineObserver {
 public:
  void OnGenerationEvaluated(const evolve::Run&, const evolve::Generation& g) override {
    std::printf("gen %d  model %-7s features %zu (pruned %zu)  jobs %d/%d  best SQN %5.2f  PF %4.2f  trades %lld\n",
                g.generation, g.model_id.c_str(), g.features.size(), g.pruned_features.size(), g.jobs_completed,
                g.jobs_total, g.best_sqn.value_or(0.0), g.best_profit_factor.value_or(0.0),
                static_cast<long long>(g.best_trade_count));
    std::printf("       %s\n", g.verdict.c_str());
  }
};

}  // namespace

int main(int argc, char** argv) {
  evolve::SetLogLevel(evolve::LogLevel::kWarning);
  const bool temporary = argc < 2;
  const std::string db = temporary ? (std::filesystem::temp_directory_path() /
                                      ("own_engines_" + evolve::NewId("") + ".db"))
                                         .string()
                                   : argv[1];
  auto store = evolve::sqlite::OpenSqliteStore(db);
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.status().ToString().c_str());
    return 1;
  }

  ToyMarket market;
  ToyFeatureSource features(market);
  ToyTrainer trainer(market);
  ToySimulator simulator(market, trainer);
  Printer printer;
  evolve::EngineOptions engine_options;
  engine_options.poll_interval = std::chrono::milliseconds(50);
  evolve::EvolutionEngine engine({features, trainer, **store, nullptr, &printer}, engine_options);

  evolve::EvolutionConfig config;
  config.symbol = "TOY";
  config.algorithm = "toy_linear";  // passed to the trainer in the ModelSpec; ours ignores it
  config.timeframe = "1d";
  config.thresholds = {0.0002, 0.0005, 0.001};
  // Criteria for one-bar trades of a weak signal (the seed's defaults suit
  // multi-bar trades): every field of POST /evolve is here.
  config.profit_factor_min = 1.2;
  config.sqn_max = 10;
  config.weekly_consistency_max = 1.0;
  // The toy simulator always scores the second half of its bars: it knows no
  // holdout or selection span, so the run has none (docs/validity.md says
  // what a simulator must do for a run to hold bars out).
  config.split = evolve::DataSplit{};
  auto run = engine.CreateRun(config);
  if (!run.ok()) {
    std::fprintf(stderr, "error: %s\n", run.status().ToString().c_str());
    return 1;
  }
  std::printf("run %s on TOY (%zu bars, features %zu) in %s\n", run->id.c_str(), kBars, market.names.size(),
              temporary ? "a temporary SQLite file" : db.c_str());

  // Two workers drain the queue with our simulator, as evolve-worker would.
  evolve::WorkerPoolOptions pool_options;
  pool_options.size = 2;
  pool_options.worker.worker_id = "toy-worker";
  pool_options.worker.poll_interval = std::chrono::milliseconds(50);
  evolve::WorkerPool pool(**store, simulator, pool_options);
  if (evolve::Status s = pool.Start(); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 1;
  }
  auto done = engine.RunToEnd(run->id);
  pool.Stop();
  int exit_code = 0;
  if (!done.ok()) {
    std::fprintf(stderr, "error: %s\n", done.status().ToString().c_str());
    exit_code = 1;
  } else {
    std::printf("run ended %s (%s)\n", evolve::RunStatusName(done->status), done->stop_reason.c_str());
    if (done->promoted) {
      auto p = (*store)->GetPromotion(done->promotion_id);
      std::printf("promoted %s: SQN %.2f, PF %.2f, %lld trades at threshold %g, features [", p->model_id.c_str(),
                  p->sqn, p->profit_factor.value_or(0.0), static_cast<long long>(p->trade_count), p->threshold);
      for (size_t i = 0; i < p->spec.features.size(); ++i) {
        std::printf("%s%s", i ? ", " : "", p->spec.features[i].c_str());
      }
      std::printf("]\n");
    }
    // Ending FAILED would mean one of our engines returned errors.
    exit_code = done->status == evolve::RunStatus::kFailed ? 1 : 0;
  }
  store->reset();
  if (temporary) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  }
  return exit_code;
}
