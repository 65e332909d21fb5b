// Research validity of the built-in engines under the evolution engine
// (docs/validity.md): pruning never sees the scored bars, a model's
// fingerprint knows its data, and a regime label never sees a reference bar
// that was not complete yet.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <thread>

#include "engines/scratch_dir.h"
#include "evolve/engines/backtest.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/synthetic.h"
#include "evolve/evolution.h"
#include "evolve/json.h"
#include "evolve/selection_stats.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker.h"

namespace evolve::engines {
namespace {

namespace fs = std::filesystem;

Bars Noise(const std::string& symbol, size_t n, uint64_t seed) {
  SyntheticOptions o;
  o.symbols = {symbol};
  o.bars = n;
  o.seed = seed;
  return GenerateSyntheticBars(o).at(symbol);
}

// A small, fast evolution config on daily bars: one cell (threshold 0, no
// regime filter), criteria nothing meets, and pruning that always prunes,
// so every run has exactly `generations` generations.
EvolutionConfig OneCellConfig(const std::string& symbol, int generations) {
  EvolutionConfig c;
  c.symbol = symbol;
  c.timeframe = "1d";
  c.max_generations = generations;
  c.hyperparameters = R"({"n_estimators": 30, "max_depth": 5, "min_samples_leaf": 20, "random_state": 3})";
  c.data_options = R"({"train_window": 400, "test_window": 100})";
  c.thresholds = {0.0};
  c.regime_configs = {RegimeFilter{}};
  c.pruning.strategy = "keep_top_fraction";
  c.pruning.fraction = 0.7;
  c.sqn_min = 1000;  // never met: no finalist, no look at the holdout
  c.sqn_max = 2000;
  c.trade_count_min = 0;
  return c;
}

// Runs `config` to its end on the built-in engines over `data_dir`, with an
// in-process worker, and returns the run.
Run Evolve(testing::FakeStore& store, const fs::path& data_dir, const EvolutionConfig& config) {
  BuiltinOptions options;
  options.data_dir = data_dir.string();
  options.threads = 1;
  auto engines = NewBuiltinEngines(store, options);
  REQUIRE(engines.ok());
  EngineOptions engine_options;
  engine_options.poll_interval = std::chrono::milliseconds(5);
  EvolutionEngine engine({*engines->features, *engines->trainer, store, nullptr, nullptr}, engine_options);
  auto run = engine.CreateRun(config);
  REQUIRE(run.ok());
  WorkerOptions o;
  o.worker_id = "validity-worker";
  o.poll_interval = std::chrono::milliseconds(5);
  Worker worker(store, &store, *engines->simulator, *RealClock(), o);
  std::thread thread([&worker] { CHECK(worker.Run().ok()); });
  auto done = engine.RunToEnd(run->id);
  worker.RequestStop();
  thread.join();
  REQUIRE(done.ok());
  return *done;
}

// The fixed cell's research SQN of each generation of `run` (0 when undefined).
std::vector<double> CellSqnByGeneration(testing::FakeStore& store, const Run& run) {
  std::vector<double> out;
  for (const Generation& g : *store.ListGenerations(run.id)) {
    JobFilter filter;
    filter.batch_id = g.batch_id;
    auto jobs = store.ListJobs(filter);
    REQUIRE(jobs.ok());
    REQUIRE(jobs->size() == 1);
    const Job& job = jobs->front();
    REQUIRE(job.result.has_value());
    out.push_back(job.result->sqn.value_or(0.0));
  }
  return out;
}

struct Drift {
  double mean_first = 0, mean_last = 0, standard_error = 0;  // of last - first, paired
};

// Evolves `series` noise series of 2,500 daily bars for four generations and
// compares the fixed cell's SQN of generation 3 with generation 0's.
Drift CellDriftOnNoise(int series, double selection_fraction) {
  std::vector<double> first, last;
  for (int s = 0; s < series; ++s) {
    TempDir dir;
    WriteBars(dir.path, Noise("NOISE", 2500, 1000 + static_cast<uint64_t>(s)));
    testing::FakeStore store(*RealClock());
    EvolutionConfig config = OneCellConfig("NOISE", 4);
    config.split.selection_fraction = selection_fraction;
    const Run run = Evolve(store, dir.path, config);
    INFO(ToJson(run));
    REQUIRE(run.status == RunStatus::kCompleted);
    const std::vector<double> sqn = CellSqnByGeneration(store, run);
    REQUIRE(sqn.size() == 4);
    first.push_back(sqn.front());
    last.push_back(sqn.back());
  }
  Drift d;
  const double n = static_cast<double>(series);
  double mean_diff = 0, ss = 0;
  for (int s = 0; s < series; ++s) {
    d.mean_first += first[s] / n;
    d.mean_last += last[s] / n;
    mean_diff += (last[s] - first[s]) / n;
  }
  for (int s = 0; s < series; ++s) {
    const double e = last[s] - first[s] - mean_diff;
    ss += e * e;
  }
  d.standard_error = std::sqrt(ss / (n - 1) / n);
  return d;
}

// What it catches: pruning that keeps the features whose permutation
// importance looked good on the very bars the backtest scores makes a fixed
// cell's SQN on pure noise climb with each generation (the next test measures
// that leak: +0.47 with importance on the scored bars). With the selection
// span, generation 3's mean stays within two standard errors of generation
// 0's. 40 seeded series; the margin (2 SE of the paired
// difference) is what the issue asks for, and the series are fixed.
TEST_CASE("validity: on noise a fixed cell's SQN does not rise with the generation") {
  const Drift d = CellDriftOnNoise(40, 0.3);
  MESSAGE("selection span: generation 0 mean SQN " << d.mean_first << ", generation 3 " << d.mean_last
                                                   << ", standard error of the difference "
                                                   << d.standard_error);
  CHECK(d.mean_last - d.mean_first <= 2 * d.standard_error);
}

// The same measurement with importance on the scored bars (selection_fraction
// 0, the scheme before the selection span): the leak the test above rules
// out is there, so the test above could fail.
TEST_CASE("validity: with importance on the scored bars, a fixed cell's SQN on noise does rise") {
  const Drift d = CellDriftOnNoise(40, 0.0);
  MESSAGE("importance on the scored bars: generation 0 mean SQN "
          << d.mean_first << ", generation 3 " << d.mean_last << ", standard error of the difference "
          << d.standard_error);
  CHECK(d.mean_last - d.mean_first > 2 * d.standard_error);
}

TEST_CASE("validity: appending bars to a CSV trains a new model on the next run") {
  TempDir dir;
  const Bars all = Noise("GROW", 2600, 77);
  Bars head = all;
  for (auto* v : {&head.open, &head.high, &head.low, &head.close, &head.volume}) v->resize(2000);
  head.time.resize(2000);
  WriteBars(dir.path, head);
  testing::FakeStore store(*RealClock());
  const EvolutionConfig config = OneCellConfig("GROW", 1);
  const Run first = Evolve(store, dir.path, config);
  const Run again = Evolve(store, dir.path, config);
  // Same bars: the model is reused.
  CHECK(store.GetGeneration(again.id, 0)->reused_model);
  CHECK(again.seed_model_id == first.seed_model_id);

  WriteBars(dir.path, all);  // 600 more bars
  const Run grown = Evolve(store, dir.path, config);
  const Generation g = *store.GetGeneration(grown.id, 0);
  CHECK_FALSE(g.reused_model);
  CHECK(grown.seed_model_id != first.seed_model_id);
  // Its backtest ends where the new data's research span ends, later than before.
  JobFilter filter;
  filter.batch_id = g.batch_id;
  const std::string grown_end = store.ListJobs(filter)->front().result->end_date;
  filter.batch_id = store.GetGeneration(first.id, 0)->batch_id;
  const std::string first_end = store.ListJobs(filter)->front().result->end_date;
  CHECK(grown_end > first_end);
}

// Minute bars of one symbol with a daily reference whose bars are stamped at
// 00:00 of their date: the daily close is known only at the end of the day,
// so no minute bar of that day may see it.
TEST_CASE(
    "validity: a minute bar's regime label does not change when its own day's daily reference close does") {
  SyntheticOptions minutes;
  minutes.symbols = {"MIN"};
  minutes.bars = 390 * 60;
  minutes.intraday = true;
  minutes.seed = 5;
  const Bars minute_bars = GenerateSyntheticBars(minutes).at("MIN");
  SyntheticOptions days;
  days.symbols = {"DAY"};
  days.bars = 60;
  days.seed = 6;
  const Bars daily = GenerateSyntheticBars(days).at("DAY");
  REQUIRE(daily.time.front() == minute_bars.time.front() - (minute_bars.time.front() % 86400));

  // After the first prediction: the reference's 20-day features hold every
  // model's predictions back to day 21, then one train_window (5 days).
  const size_t changed_day = 40;
  // Turn the day's move around (an up day closes 30% down, a down day 30%
  // up), so the trend label of the following day's minutes flips.
  Bars edited = daily;
  const double previous = daily.close[changed_day - 1];
  edited.close[changed_day] = previous * (daily.close[changed_day] > previous ? 0.7 : 1.3);
  edited.high[changed_day] = std::max(edited.high[changed_day], edited.close[changed_day]);
  edited.low[changed_day] = std::min(edited.low[changed_day], edited.close[changed_day]);

  auto labels = [&](const Bars& reference) {
    TempDir dir;
    WriteBars(dir.path, minute_bars);
    WriteBars(dir.path, reference);
    testing::FakeStore store(*RealClock());
    BuiltinOptions options;
    auto trainer = NewBuiltinTrainer(std::make_shared<BarSource>(dir.path.string()), store, options);
    ModelSpec spec;
    spec.symbol = "MIN";
    spec.timeframe = "1m";
    spec.features = {"rsi_14", "ibs", "return_1", "return_z_score_20"};
    spec.reference_symbols = {"DAY"};
    spec.hyperparameters = R"({"n_estimators": 10, "max_depth": 4, "random_state": 3})";
    spec.data_options = R"({"train_window": 1950, "test_window": 390})";
    auto model = trainer->Train(spec);
    REQUIRE(model.ok());
    auto bars = LoadModelBacktestBars(store, model->model_id, kSpanAll);
    REQUIRE(bars.ok());
    return *bars;
  };
  const BacktestBars before = labels(daily);
  const BacktestBars after = labels(edited);
  REQUIRE(before.time == after.time);
  const int64_t day_end = daily.time[changed_day] + 86400;  // the changed close is known from here on
  bool later_changed = false;
  for (const auto& [column, values] : before.regimes) {
    const std::vector<int8_t>& other = after.regimes.at(column);
    for (size_t i = 0; i < before.time.size(); ++i) {
      if (before.time[i] < day_end) {
        INFO(column << " at bar " << i << " (" << FormatBarTime(before.time[i], true) << ")");
        CHECK(values[i] == other[i]);
      } else if (values[i] != other[i]) {
        later_changed = true;
      }
    }
  }
  // The edit does reach the labels once the day is complete: the check above
  // could fail.
  CHECK(later_changed);
}

}  // namespace
}  // namespace evolve::engines

namespace evolve::engines {
namespace {

// A threshold given as a quantile trades the same share of the research
// span's predictions on any scale, is taken of the research span only (so a
// holdout look trades the very threshold the research span chose), and the
// result says what it came to.
TEST_CASE("validity: a threshold quantile is a quantile of the research span's predictions, on every span") {
  TempDir dir;
  WriteBars(dir.path, Noise("QNT", 2500, 9));
  testing::FakeStore store(*RealClock());
  BuiltinOptions options;
  options.data_dir = dir.path.string();
  auto engines = NewBuiltinEngines(store, options);
  REQUIRE(engines.ok());
  ModelSpec spec;
  spec.symbol = "QNT";
  spec.timeframe = "1d";
  spec.features = {"rsi_14", "ibs", "return_1", "return_z_score_20"};
  spec.hyperparameters = R"({"n_estimators": 20, "max_depth": 4, "random_state": 3})";
  spec.data_options = R"({"train_window": 400, "test_window": 100})";
  spec.split = DataSplit{0.2, "", 0.3};
  auto model = engines->trainer->Train(spec);
  REQUIRE(model.ok());

  // The research span's |predictions|, by hand.
  auto all = LoadModelBacktestBars(store, model->model_id, kSpanAll);
  auto holdout = LoadModelBacktestBars(store, model->model_id, kSpanHoldout);
  REQUIRE(all.ok());
  REQUIRE(holdout.ok());
  std::vector<double> magnitudes;
  for (size_t i = 0; i + holdout->time.size() < all->time.size(); ++i) {
    if (std::isfinite(all->prediction[i])) magnitudes.push_back(std::fabs(all->prediction[i]));
  }
  std::sort(magnitudes.begin(), magnitudes.end());
  REQUIRE(magnitudes.size() > 100);
  const double h = 0.9 * static_cast<double>(magnitudes.size() - 1);
  const auto lo = static_cast<size_t>(h);
  const double q90 = magnitudes[lo] + (h - static_cast<double>(lo)) * (magnitudes[lo + 1] - magnitudes[lo]);

  SimulationParams p;
  p.model_id = model->model_id;
  p.ticker = "QNT";
  p.threshold_quantile = 0.9;
  for (const char* span : {kSpanResearch, kSpanHoldout}) {
    p.span = span;
    auto by_quantile = engines->simulator->Simulate(p);
    REQUIRE(by_quantile.ok());
    REQUIRE(by_quantile->threshold.has_value());
    CHECK(*by_quantile->threshold == doctest::Approx(q90).epsilon(1e-12));
    CHECK(by_quantile->span == span);
    // The same as asking for that threshold in return units.
    SimulationParams fixed = p;
    fixed.threshold_quantile.reset();
    fixed.threshold = *by_quantile->threshold;
    auto by_value = engines->simulator->Simulate(fixed);
    REQUIRE(by_value.ok());
    CHECK(by_value->trade_count == by_quantile->trade_count);
    CHECK(by_value->total_return_pct == by_quantile->total_return_pct);
  }
  p.threshold_quantile = 1.5;
  auto bad = engines->simulator->Simulate(p);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("threshold_quantile") != std::string::npos);
}

}  // namespace
}  // namespace evolve::engines

namespace evolve::engines {
namespace {

// The figures the selection statistics and the holdout test read, by hand on
// a span of 32 bars and three trades. What it catches: the drift left in the
// excess SQN (a long trade on a rising market is not skill), the excess
// return not matched to the exposure, a trade counted in the wrong block.
TEST_CASE("validity: excess return, excess SQN and trade blocks of a backtest, by hand") {
  BacktestBars span;
  for (int i = 0; i < 32; ++i) {
    span.time.push_back(946857600 + 86400 * i);
    span.open.push_back(100.0 * std::exp(0.001 * i));
    span.close.push_back(100.0 * std::exp(0.001 * (i + 1)));
  }
  span.prediction.assign(32, 0.0);
  std::vector<BacktestTrade> trades(3);
  trades[0] = {2, 6, false, 1, 0, 0, 0.010};     // held 4 bars, exit in block 3
  trades[1] = {10, 12, false, 1, 0, 0, -0.002};  // held 2 bars, block 6
  trades[2] = {20, 31, true, 1, 0, 0, 0.030};    // held to the last close: 12 bars, block 15
  SimulationResult r;
  r.total_return_pct = 20.0;
  r.benchmark_return_pct = 50.0;
  r.exposure = 0.25;
  AddSelectionFigures(span, trades, &r);

  REQUIRE(r.excess_return_pct.has_value());
  CHECK(*r.excess_return_pct == doctest::Approx(100 * (std::exp(std::log(1.2) - 0.25 * std::log(1.5)) - 1)));

  const double drift = std::log(span.close[31] / span.open[0]) / 32;  // 0.001 per bar
  CHECK(drift == doctest::Approx(0.001));
  const double x[3] = {std::log1p(0.010) - 4 * drift, std::log1p(-0.002) - 2 * drift,
                       std::log1p(0.030) - 12 * drift};
  const double mean = (x[0] + x[1] + x[2]) / 3;
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  REQUIRE(r.excess_sqn.has_value());
  CHECK(*r.excess_sqn == doctest::Approx(std::sqrt(3.0) * mean / std::sqrt(ss / 2)));

  REQUIRE(r.trade_blocks.size() == static_cast<size_t>(kCscvBlocks));
  int64_t total = 0;
  for (size_t b = 0; b < r.trade_blocks.size(); ++b) {
    total += r.trade_blocks[b].n;
    const bool has = b == 3 || b == 6 || b == 15;
    CHECK(r.trade_blocks[b].n == (has ? 1 : 0));
  }
  CHECK(total == 3);
  CHECK(r.trade_blocks[15].sum == doctest::Approx(0.030));
  CHECK(r.trade_blocks[15].sum4 == doctest::Approx(std::pow(0.030, 4)));
}

}  // namespace
}  // namespace evolve::engines
