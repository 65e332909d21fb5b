// The built-in engines behind the core interfaces, end to end: walk-forward
// training, artifacts, grid simulation, and a whole evolution on the bundled
// TTRC bars.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <mutex>
#include <map>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "engines/scratch_dir.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/synthetic.h"
#include "evolve/evolution.h"
#include "evolve/json.h"
#include "evolve/testing/fake_store.h"
#include "evolve/validation.h"
#include "evolve/worker.h"

namespace evolve::engines {
namespace {

namespace fs = std::filesystem;

ModelSpec Spec(const std::string& symbol, std::vector<std::string> features) {
  ModelSpec spec;
  spec.symbol = symbol;
  spec.timeframe = "1d";
  spec.features = std::move(features);
  spec.hyperparameters = R"({"n_estimators": 30, "max_depth": 5, "min_samples_leaf": 20, "random_state": 3})";
  spec.data_options = R"({"train_window": 500, "test_window": 100})";
  return spec;
}

const std::vector<std::string> kSomeFeatures = {
    "rsi_14", "ibs", "return_1", "return_z_score_20", "vol_z_score_20", "day_of_week", "atr_14"};

std::map<std::string, Bars> Synthetic(size_t n, double signal) {
  SyntheticOptions o;
  o.symbols = {"SYN", "MKT"};
  o.bars = n;
  o.signal_strength = signal;
  o.seed = 11;
  return GenerateSyntheticBars(o);
}

TEST_CASE("builtin: appending bars never changes past predictions or regimes") {
  auto bars = Synthetic(2600, 0.0);
  TempDir short_dir, long_dir;
  WriteBars(short_dir.path, bars["SYN"], 2000);
  WriteBars(short_dir.path, bars["MKT"], 2000);
  WriteBars(long_dir.path, bars["SYN"]);
  WriteBars(long_dir.path, bars["MKT"]);
  testing::FakeStore store(*RealClock());
  BuiltinOptions options;
  auto short_trainer =
      NewBuiltinTrainer(std::make_shared<BarSource>(short_dir.path.string()), store, options);
  auto long_trainer =
      NewBuiltinTrainer(std::make_shared<BarSource>(long_dir.path.string()), store, options);
  ModelSpec spec = Spec("SYN", kSomeFeatures);
  spec.reference_symbols = {"MKT"};
  auto a = short_trainer->Train(spec);
  auto b = long_trainer->Train(spec);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  auto pa = LoadModelPredictions(store, a->model_id);
  auto pb = LoadModelPredictions(store, b->model_id);
  REQUIRE(pa.ok());
  REQUIRE(pb.ok());
  REQUIRE(pa->prediction.size() == 2000);
  REQUIRE(pb->prediction.size() == 2600);
  size_t predicted = 0;
  for (size_t i = 0; i < 2000; ++i) {
    CHECK(pa->time[i] == pb->time[i]);
    if (std::isnan(pa->prediction[i])) {
      CHECK(std::isnan(pb->prediction[i]));
    } else {
      ++predicted;
      CHECK(pa->prediction[i] == pb->prediction[i]);
    }
  }
  CHECK(predicted > 1000);
  // The simulator agrees: the same regime filter over the shared span.
  SimulationParams p;
  p.model_id = a->model_id;
  p.ticker = "SYN";
  p.threshold = 0.0;
  p.regime = {"regime_gmm", {0}};
  auto simulator = NewBuiltinSimulator(store, options);
  auto ra = simulator->Simulate(p);
  REQUIRE(ra.ok());
  CHECK(ra->trade_count > 0);
}

// Counts the reads of each artifact and makes each take a while, so that
// concurrent readers overlap.
class SlowCountingArtifacts final : public ArtifactStore {
 public:
  explicit SlowCountingArtifacts(ArtifactStore& target) : target_(target) {}
  Status PutArtifact(const std::string& key, const std::string& bytes) override {
    return target_.PutArtifact(key, bytes);
  }
  Result<std::string> GetArtifact(const std::string& key) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++reads_[key.substr(0, key.find('/'))];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    return target_.GetArtifact(key);
  }
  int reads(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mu_);
    return reads_[prefix];
  }

 private:
  ArtifactStore& target_;
  std::mutex mu_;
  std::map<std::string, int> reads_;  // by key prefix ("model", "simdata")
};

TEST_CASE("builtin: threads simulating one model load its inputs once, together") {
  // Would catch every thread of a worker pool loading (and holding) its own
  // copy of a model's simulation inputs when they start at once: for a
  // long series, gigabytes each.
  auto bars = Synthetic(1500, 0.0);
  TempDir dir;
  WriteBars(dir.path, bars["SYN"]);
  testing::FakeStore store(*RealClock());
  BuiltinOptions options;
  auto trainer = NewBuiltinTrainer(std::make_shared<BarSource>(dir.path.string()), store, options);
  auto model = trainer->Train(Spec("SYN", kSomeFeatures));
  REQUIRE(model.ok());
  SlowCountingArtifacts counted(store);
  auto simulator = NewBuiltinSimulator(counted, options);
  std::vector<Result<SimulationResult>> results(4, Result<SimulationResult>(InternalError("unset")));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      SimulationParams p;
      p.model_id = model->model_id;
      p.ticker = "SYN";
      p.threshold = 0.0001 * static_cast<double>(t);
      results[t] = simulator->Simulate(p);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) CHECK_MESSAGE(r.ok(), r.status().ToString());
  CHECK(counted.reads("simdata") == 1);
  CHECK(counted.reads("model") == 1);

  // A load that fails lets the waiters try for themselves, and fail too.
  SimulationParams missing;
  missing.model_id = "mdl_missing";
  missing.ticker = "SYN";
  std::vector<Status> failures(3);
  threads.clear();
  for (size_t t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&, t] { failures[t] = simulator->Simulate(missing).status(); });
  }
  for (auto& th : threads) th.join();
  for (const Status& f : failures) CHECK(f.code() == StatusCode::kNotFound);
}

TEST_CASE("builtin: training is deterministic for a seed and every prediction is out of sample") {
  auto bars = Synthetic(1500, 0.0);
  TempDir dir;
  WriteBars(dir.path, bars["SYN"]);
  testing::FakeStore store(*RealClock());
  BuiltinOptions options;
  auto trainer = NewBuiltinTrainer(std::make_shared<BarSource>(dir.path.string()), store, options);
  auto a = trainer->Train(Spec("SYN", kSomeFeatures));
  auto b = trainer->Train(Spec("SYN", kSomeFeatures));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->model_id != b->model_id);
  auto pa = *LoadModelPredictions(store, a->model_id);
  auto pb = *LoadModelPredictions(store, b->model_id);
  for (size_t i = 0; i < pa.prediction.size(); ++i) {
    CHECK((pa.prediction[i] == pb.prediction[i] ||
           (std::isnan(pa.prediction[i]) && std::isnan(pb.prediction[i]))));
  }
  // Nothing is predicted inside the warm-up and the first training window.
  const size_t warmup = static_cast<size_t>(a->metrics.at("warmup_bars"));
  for (size_t i = 0; i < warmup + 500 && i < pa.prediction.size(); ++i) CHECK(std::isnan(pa.prediction[i]));
  // refit_every defaults to ceil(W / T) = 5 windows: spans of 500 bars.
  const double spans = std::ceil((1500.0 - static_cast<double>(warmup) - 500.0) / 500.0);
  CHECK(a->metrics.at("refits") == spans);
  auto described = trainer->DescribeModel(a->model_id);
  REQUIRE(described.ok());
  CHECK(described->features == kSomeFeatures);
}

TEST_CASE("builtin: a model does not depend on the number of training threads") {
  // Spans of 200 bars: 1 and 4 threads train each span's model in turn (4
  // within each model), 2 and 3 train the spans in parallel.
  auto bars = Synthetic(1500, 0.3);
  TempDir dir;
  WriteBars(dir.path, bars["SYN"]);
  testing::FakeStore store(*RealClock());
  for (const char* algorithm : {"RandomForest", "elasticnet_regression"}) {
    CAPTURE(algorithm);
    ModelSpec spec = Spec("SYN", kSomeFeatures);
    spec.algorithm = algorithm;
    if (spec.algorithm != "RandomForest") spec.hyperparameters = "{}";
    spec.data_options = R"({"train_window": 200, "test_window": 50})";
    std::vector<ModelPredictions> predictions;
    std::vector<ImportanceReport> importances;
    std::vector<std::map<std::string, double>> metrics;
    for (int threads : {1, 2, 3, 4}) {
      BuiltinOptions options;
      options.threads = threads;
      auto trainer = NewBuiltinTrainer(std::make_shared<BarSource>(dir.path.string()), store, options);
      auto trained = trainer->Train(spec);
      REQUIRE(trained.ok());
      CHECK(trained->metrics.at("refits") >= 6);
      predictions.push_back(*LoadModelPredictions(store, trained->model_id));
      importances.push_back(*trainer->Importance(trained->model_id));
      metrics.push_back(trained->metrics);
    }
    for (size_t k = 1; k < predictions.size(); ++k) {
      CAPTURE(k);
      REQUIRE(predictions[k].prediction.size() == predictions[0].prediction.size());
      for (size_t i = 0; i < predictions[0].prediction.size(); ++i) {
        const double a = predictions[0].prediction[i], b = predictions[k].prediction[i];
        CHECK((a == b || (std::isnan(a) && std::isnan(b))));
      }
      REQUIRE(importances[k].importances.size() == importances[0].importances.size());
      for (size_t j = 0; j < importances[0].importances.size(); ++j) {
        CHECK(importances[k].importances[j].importance == importances[0].importances[j].importance);
      }
      CHECK(metrics[k] == metrics[0]);
    }
  }
}

TEST_CASE("builtin: a planted signal is learned and its feature ranks first") {
  auto bars = Synthetic(4000, 1.0);
  TempDir dir;
  WriteBars(dir.path, bars["SYN"]);
  testing::FakeStore store(*RealClock());
  auto trainer =
      NewBuiltinTrainer(std::make_shared<BarSource>(dir.path.string()), store, BuiltinOptions{});
  auto model = trainer->Train(Spec("SYN", kSomeFeatures));
  REQUIRE(model.ok());
  CHECK(model->metrics.at("oos_r2") > 0.0);
  auto report = trainer->Importance(model->model_id);
  REQUIRE(report.ok());
  CHECK(report->importance_type == "permutation");
  REQUIRE(report->importances.size() == kSomeFeatures.size());
  const FeatureImportance* best = &report->importances[0];
  for (const auto& fi : report->importances) {
    if (fi.importance > best->importance) best = &fi;
  }
  CHECK(best->feature == "ibs");
  CHECK(best->importance > 0.0);
}

TEST_CASE("builtin: bad specs and jobs fail with errors that name the problem") {
  auto bars = Synthetic(1200, 0.0);
  TempDir dir;
  WriteBars(dir.path, bars["SYN"]);
  testing::FakeStore store(*RealClock());
  BuiltinOptions options;
  auto trainer = NewBuiltinTrainer(std::make_shared<BarSource>(dir.path.string()), store, options);
  auto simulator = NewBuiltinSimulator(store, options);

  auto unknown_feature = trainer->Train(Spec("SYN", {"rsi_14", "tea_leaves"}));
  CHECK(unknown_feature.status().code() == StatusCode::kInvalidArgument);
  CHECK(unknown_feature.status().message() == "features: unknown feature 'tea_leaves' for SYN");
  ModelSpec spec = Spec("SYN", kSomeFeatures);
  spec.algorithm = "XGBoost";
  CHECK(trainer->Train(spec).status().message().find("algorithm: unknown algorithm 'XGBoost'") == 0);
  spec = Spec("SYN", kSomeFeatures);
  spec.data_options = R"({"train_window": 5000})";
  CHECK(trainer->Train(spec).status().message().find("data_options.train_window") == 0);
  spec.data_options = R"({"test_window": 0})";
  CHECK(trainer->Train(spec).status().message() == "data_options.test_window: must be an integer >= 1");
  CHECK(trainer->Train(Spec("NOPE", kSomeFeatures)).status().code() == StatusCode::kNotFound);
  CHECK(trainer->Importance("mdl_missing").status().code() == StatusCode::kNotFound);

  auto model = trainer->Train(Spec("SYN", kSomeFeatures));
  REQUIRE(model.ok());
  SimulationParams p;
  p.model_id = model->model_id;
  p.ticker = "SYN";
  p.regime = {"regime_moon", {1}};
  auto r = simulator->Simulate(p);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("regime_moon") != std::string::npos);
  p.regime = {};
  p.ticker = "OTHER";
  CHECK(simulator->Simulate(p).status().message() ==
        "ticker: model " + model->model_id + " was trained on SYN, not OTHER");
  p.ticker = "syn";  // symbols are case-insensitive
  CHECK(simulator->Simulate(p).ok());
  p.model_id = "mdl_missing";
  CHECK(simulator->Simulate(p).status().code() == StatusCode::kNotFound);
}

TEST_CASE("builtin: a grid in one call equals its cells one by one, from any process with the store") {
  auto bars = Synthetic(1500, 0.5);
  TempDir dir;
  WriteBars(dir.path, bars["SYN"]);
  testing::FakeStore store(*RealClock());
  BuiltinOptions options;
  auto trainer = NewBuiltinTrainer(std::make_shared<BarSource>(dir.path.string()), store, options);
  auto model = trainer->Train(Spec("SYN", kSomeFeatures));
  REQUIRE(model.ok());
  std::vector<SimulationParams> grid;
  for (double threshold : {0.0, 0.0005, 0.002}) {
    for (RegimeFilter regime :
         {RegimeFilter{}, RegimeFilter{"regime_gmm", {0}}, RegimeFilter{"regime_vix", {2, 3}}}) {
      SimulationParams p;
      p.model_id = model->model_id;
      p.ticker = "SYN";
      p.threshold = threshold;
      p.regime = regime;
      grid.push_back(p);
    }
  }
  // A second simulator stands for a worker elsewhere: it has the store only.
  auto here = NewBuiltinSimulator(store, options);
  auto elsewhere = NewBuiltinSimulator(store, options);
  auto together = here->SimulateMany(grid);
  REQUIRE(together.size() == grid.size());
  for (size_t i = 0; i < grid.size(); ++i) {
    REQUIRE(together[i].ok());
    auto alone = elsewhere->Simulate(grid[i]);
    REQUIRE(alone.ok());
    CHECK(*alone == *together[i]);
    const std::string json = ToJson(*alone);
    CHECK(json.find("nan") == std::string::npos);
    CHECK(json.find("inf") == std::string::npos);
    // What the worker protocol would refuse, the built-in simulator never
    // reports.
    CHECK(SimulationResultErrors(*alone).empty());
  }
  // Higher thresholds trade no more often than lower ones.
  CHECK(together[0]->trade_count >= together[3]->trade_count);
  CHECK(together[3]->trade_count >= together[6]->trade_count);
}

TEST_CASE("builtin: an evolution on the bundled TTRC bars runs four generations end to end") {
  testing::FakeStore store(*RealClock());
  BuiltinOptions options;
  options.data_dir = EVOLVE_EXAMPLES_DATA_DIR;
  auto engines = NewBuiltinEngines(store, options);
  REQUIRE(engines.ok());
  CHECK(*engines->features->ListSymbols() == std::vector<std::string>{"TTRC"});

  EngineOptions engine_options;
  engine_options.poll_interval = std::chrono::milliseconds(20);
  EvolutionEngine engine({*engines->features, *engines->trainer, store, nullptr, nullptr}, engine_options);
  EvolutionConfig config;
  config.symbol = "TTRC";
  config.timeframe = "1d";
  config.max_generations = 4;
  config.hyperparameters = R"({"n_estimators": 40, "max_depth": 6, "random_state": 7})";
  config.pruning.strategy = "keep_top_fraction";  // always prunes, so all four generations run
  config.pruning.fraction = 0.7;
  config.regime_configs = {RegimeFilter{}, RegimeFilter{"regime_gmm", {0}}, RegimeFilter{"regime_vix", {3}}};
  config.trade_count_min = 20;  // so every generation has a best result to rank
  auto run = engine.CreateRun(config);
  REQUIRE(run.ok());

  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    WorkerOptions o;
    o.worker_id = "ttrc-worker-" + std::to_string(i);
    o.max_jobs_per_claim = 9;
    o.poll_interval = std::chrono::milliseconds(20);
    workers.push_back(std::make_unique<Worker>(store, &store, *engines->simulator, *RealClock(), o));
    threads.emplace_back([w = workers.back().get()] { CHECK(w->Run().ok()); });
  }
  auto done = engine.RunToEnd(run->id);
  for (auto& w : workers) w->RequestStop();
  for (auto& t : threads) t.join();
  REQUIRE(done.ok());
  INFO(ToJson(*done));
  auto generations = *store.ListGenerations(run->id);
  if (done->status == RunStatus::kPromoted) {
    MESSAGE("TTRC promoted a model in generation " << generations.size() - 1);
  } else {
    CHECK(done->status == RunStatus::kCompleted);
    CHECK(done->stop_reason == kStopMaxGenerations);
    REQUIRE(generations.size() == 4);
  }
  for (size_t g = 0; g < generations.size(); ++g) {
    CHECK(generations[g].jobs_completed == 9);
    CHECK(generations[g].best_sqn.has_value());
    if (g > 0) CHECK(generations[g].features.size() < generations[g - 1].features.size());
  }
  CHECK(store.ListLineage(run->id)->size() == generations.size());
  for (const Job& job : *store.ListJobs({})) {
    REQUIRE(job.result.has_value());
    CHECK(job.result->start_date >= "1989-01-01");  // after warm-up and the first training window
    CHECK(ToJson(*job.result).find("nan") == std::string::npos);
  }
}

}  // namespace
}  // namespace evolve::engines

namespace evolve::engines {
namespace {

TEST_CASE("builtin: ElasticNet and linear models train walk-forward too") {
  auto bars = Synthetic(1500, 1.0);
  TempDir dir;
  WriteBars(dir.path, bars["SYN"]);
  testing::FakeStore store(*RealClock());
  auto trainer =
      NewBuiltinTrainer(std::make_shared<BarSource>(dir.path.string()), store, BuiltinOptions{});
  for (const char* algorithm : {"ElasticNet", "linear_regression"}) {
    CAPTURE(algorithm);
    ModelSpec spec = Spec("SYN", kSomeFeatures);
    spec.algorithm = algorithm;
    spec.hyperparameters = "{}";
    auto model = trainer->Train(spec);
    REQUIRE(model.ok());
    auto report = trainer->Importance(model->model_id);
    REQUIRE(report.ok());
    // The default penalty leaves the planted feature in the model.
    double ibs = 0;
    for (const auto& fi : report->importances) {
      if (fi.feature == "ibs") ibs = fi.importance;
    }
    CHECK(ibs > 0.0);
  }
}

}  // namespace
}  // namespace evolve::engines
