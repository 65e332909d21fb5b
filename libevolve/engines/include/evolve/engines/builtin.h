// The built-in engines behind the core interfaces: a FeatureSource over a
// directory of bars, a walk-forward Trainer (random forest or ElasticNet)
// and a grid Simulator, all in-process.
//
// Trained models and the simulation inputs they need (bar times and prices
// of the out-of-sample span, regime labels) are artifacts in the Store's
// ArtifactStore, so a worker that reaches the store can simulate any model
// without the data directory.
//
// Walk-forward (docs/engines.md has the details):
//   rows with every selected feature defined start at bar w (warm-up);
//   the out-of-sample part starts at s0 = w + W and runs to the last bar, in
//   spans of refit_every x T bars; each span gets one model, fitted on the
//   rows [s - W, s - 1) before its start s: the row s - 1, whose target is
//   the close of bar s, is purged. Every prediction the simulator trades
//   therefore comes from a model fitted on bars strictly before it, and the
//   schedule depends only on the scheme, so appending bars never changes a
//   past prediction.
//   W = data_options.train_window (default 1000 bars), T = test_window
//   (default 250), refit_every (in test windows; default ceil(W / T), i.e.
//   one refit per train_window bars, so the total training work is about one
//   pass over the data however small the windows: the seed's 30/5 refits
//   every 30 bars, not every 5).
//
// Thread-safety: every object here is safe for concurrent use.
#ifndef EVOLVE_ENGINES_BUILTIN_H_
#define EVOLVE_ENGINES_BUILTIN_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "evolve/engines/backtest.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/feature_source.h"
#include "evolve/simulator.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/trainer.h"

namespace evolve::engines {

class BarSource;

// The walk-forward scheme of a model, from its data_options.
struct WalkForward {
  size_t train_window = 1000;  // W, bars
  size_t test_window = 250;    // T, bars
  size_t refit_every = 4;      // test windows per fitted model

  size_t span() const { return refit_every * test_window; }
};

// Reads train_window, test_window and refit_every from a data_options JSON
// object (other keys are ignored: they belong to other engines).
// Errors: kInvalidArgument naming the key for a non-integer or a value < 1
// (train_window < 2).
Result<WalkForward> WalkForwardFrom(const std::string& data_options_json);

// Where a built-in model's split (ModelSpec::split, docs/validity.md) falls
// in its symbol's bars, as bar indices:
//   [0, first_prediction)               warm-up and the first training window
//   [first_prediction, scored_start)    the selection span: importance only
//   [scored_start, holdout_start)       the scored (research) span
//   [holdout_start, bars)               the holdout
// first_prediction is the same for every model of a symbol, its references
// and scheme (the warm-up of every feature column, then train_window), so all
// models of a run score the same bars.
struct SplitBars {
  size_t first_prediction = 0;
  size_t scored_start = 0;
  size_t holdout_start = 0;
  size_t bars = 0;
};

// Resolves `split` on bars with time stamps `time` (Unix seconds UTC) whose
// predictions start at first_prediction.
// Errors: kInvalidArgument naming the option when the holdout_start date is
// malformed or past the last bar, or a span would hold fewer than 2 bars.
Result<SplitBars> ResolveSplit(const DataSplit& split, const std::vector<int64_t>& time,
                               size_t first_prediction);

struct BuiltinOptions {
  // The bars: `bars` when set (a directory's or a table's, with its
  // BarFormat), else the files of `data_dir` read with the default format.
  std::shared_ptr<BarSource> bars;
  std::string data_dir;
  // Training threads (0: all cores; a random forest's n_jobs overrides it).
  // With at least twice as many walk-forward spans as threads, the spans are
  // trained in parallel, one thread each; otherwise each span's model uses
  // them all. Results never depend on it.
  int threads = 0;
  // Permutation importance repeats.
  int importance_repeats = 5;
  // Models and simulation inputs the simulator keeps in memory.
  size_t simulator_cache = 8;
  // Parsed bars kept in memory, in bytes (BarSource): a service that has
  // seen many symbols keeps only the most recently used ones. A worker's
  // trainer keeps the bars it fetched from the store within the same budget.
  size_t bars_cache_bytes = BarSource::kDefaultCacheBytes;
  // Training on the queue (Trainer::PlanTraining): the parts a model's
  // walk-forward spans are split into, each a job a worker runs. Results
  // never depend on it.
  int training_parts = 4;
  // The most memory the feature values of one training pass take, in
  // bytes: a walk-forward (or a part of one) whose spans' rows need more is
  // trained in passes over consecutive spans, each computing the features
  // again and keeping only its rows and the model's columns. Memory then
  // stays flat in the series' length (a 50M-bar series trains in about
  // this much for its features); results never depend on it.
  size_t feature_memory_bytes = size_t{1} << 30;
};

// Symbols and feature columns of the bars in `bars`. ListFeatures gives a
// symbol's own columns; reference-symbol columns ("spy_return_1") are
// usable by naming them in seed_features (docs/engines.md).
std::unique_ptr<FeatureSource> NewBuiltinFeatureSource(std::shared_ptr<BarSource> bars);

// Trains walk-forward models on `bars`, writes each model to `artifacts`
// ("model/<id>") with the simulation inputs it needs ("simdata/<digest>").
// Algorithms: random_forest_regressor (the seed's "RandomForest"),
// elasticnet_regression, linear_regression. `artifacts` must outlive it.
// Checks, without training, that the built-in trainer can train `spec`: a
// known algorithm, hyperparameters that algorithm accepts, data options it
// understands (no unknown key) and target_col "close". Errors: kInvalidArgument naming the field
// ("algorithm: ...", "hyperparameters: ...", "data_options.train_window: ...").
Status ValidateBuiltinSpec(const ModelSpec& spec);

// The regime columns the built-in simulator can filter on (regime_gmm,
// regime_vix; docs/engines.md).
std::vector<std::string> BuiltinRegimeColumns();

// Checks, before a run is accepted, that `bars` (with its `references`)
// are enough for `spec`: the features' warm-up, data_options.train_window
// and 2 bars to predict and score, then the split (ResolveSplit from the
// first prediction). Errors: kInvalidArgument naming the field, with how
// many bars are needed and why ("data_options.train_window: SYM has 300
// bars; a run needs at least 562: 60 of feature warm-up ..."); as
// WalkForwardFrom and ResolveSplit.
Status ValidateBuiltinBars(const ModelSpec& spec, const Bars& bars,
                           const std::vector<std::shared_ptr<const Bars>>& references);

// Trains on the bars of a data directory. For training on the queue its
// PlanTraining stores the bars of the symbol and its references in
// `artifacts` ("bars/<sha256>", content-addressed) and splits the
// walk-forward spans into options.training_parts parts; TrainPart and
// AssembleModel read the bars back from `artifacts` only, so any worker
// that reaches the store can run them (NewBuiltinWorkerTrainer).
std::unique_ptr<Trainer> NewBuiltinTrainer(std::shared_ptr<BarSource> bars, ArtifactStore& artifacts,
                                           const BuiltinOptions& options);

// The built-in trainer of a worker with no data directory: it runs the
// training parts and assembles the models the engine queues
// (Trainer::TrainPart, AssembleModel), with the bars fetched from
// `artifacts` and kept within options.bars_cache_bytes; Importance and
// DescribeModel read models from `artifacts`. Train and PlanTraining fail
// with kFailedPrecondition (no data directory).
std::unique_ptr<Trainer> NewBuiltinWorkerTrainer(ArtifactStore& artifacts, const BuiltinOptions& options);

// Backtests models trained by the built-in trainer, reading them from
// `artifacts`; SimulateMany runs a model's whole grid in one pass.
std::unique_ptr<Simulator> NewBuiltinSimulator(ArtifactStore& artifacts, const BuiltinOptions& options);

// The out-of-sample predictions of a built-in model: for each bar of its
// symbol, the expected next-bar return predicted at that bar's close, NaN
// where there is none (warm-up, training window, undefined features).
struct ModelPredictions {
  std::vector<int64_t> time;  // Unix seconds UTC, one per bar
  std::vector<double> prediction;
};
// Errors: kNotFound when `model_id` is not a built-in model in `artifacts`.
Result<ModelPredictions> LoadModelPredictions(ArtifactStore& artifacts, const std::string& model_id);

// One span of a built-in model exactly as its simulator trades it (times,
// opens, closes, predictions and regime labels of the span's bars): the
// input of a replay with Backtest(), e.g. for an equity curve. `span` is
// kSpanResearch, kSpanHoldout or kSpanAll (from the first out-of-sample bar
// on). Errors: kNotFound as LoadModelPredictions; kInvalidArgument for an
// unknown span or one the model does not have.
Result<BacktestBars> LoadModelBacktestBars(ArtifactStore& artifacts, const std::string& model_id,
                                           const std::string& span = kSpanAll);

// The three together, over one data directory and one store.
struct BuiltinEngines {
  std::shared_ptr<BarSource> bars;
  std::unique_ptr<FeatureSource> features;
  std::unique_ptr<Trainer> trainer;
  std::unique_ptr<Simulator> simulator;
};
// Errors: kNotFound when data_dir does not exist or holds no SYMBOL.csv.
Result<BuiltinEngines> NewBuiltinEngines(ArtifactStore& artifacts, const BuiltinOptions& options);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_BUILTIN_H_
