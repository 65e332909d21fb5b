// The built-in walk-forward Trainer (builtin.h; docs/engines.md): computes
// a symbol's features, fits one model per walk-forward span, predicts the
// span out of sample, measures permutation importance on the selection
// span, and stores the model and its simulation data as artifacts
// (model_artifact.h).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dataset.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/features.h"
#include "evolve/engines/regimes.h"
#include "evolve/evolution.h"
#include "evolve/fingerprint.h"
#include "evolve/log.h"
#include "model_artifact.h"
#include "phase_timing.h"
#include "regressor.h"
#include "walk_forward.h"

namespace evolve::engines {
namespace {

const double kNaN = std::nan("");

// ---------------------------------------------------------------- targets

enum class Target { kLogReturn, kPctChange, kLog, kNone };

Result<Target> ParseTarget(const std::string& name) {
  if (name == "log_return") return Target::kLogReturn;
  if (name == "pct_change") return Target::kPctChange;
  if (name == "log") return Target::kLog;
  if (name == "none") return Target::kNone;
  return InvalidArgumentError("target_transform: unknown transform '" + name +
                              "' (expected log_return, pct_change, log or none)");
}

// The training target of bar i: the next bar's close, transformed as the
// original training service defines the transforms.
double TargetValue(Target t, double close, double next_close) {
  switch (t) {
    case Target::kLogReturn:
      return std::log(next_close / close);
    case Target::kPctChange:
      return next_close / close - 1.0;
    case Target::kLog:
      return std::log(next_close);
    case Target::kNone:
      return next_close;
  }
  return kNaN;
}

// A prediction as an expected next-bar return, the unit of the simulator's
// thresholds, whatever the target.
double PredictedReturn(Target t, double prediction, double close) {
  switch (t) {
    case Target::kLogReturn:
    case Target::kPctChange:
      return prediction;
    case Target::kLog:
      return prediction - std::log(close);
    case Target::kNone:
      return prediction / close - 1.0;
  }
  return kNaN;
}

// ----------------------------------------------------------------- training

// `column` of `frame` on the bars of `rows`, as a column-major matrix.
Matrix Gather(const std::vector<const std::vector<double>*>& columns, const std::vector<size_t>& rows) {
  Matrix m;
  m.rows = rows.size();
  m.cols = columns.size();
  m.data.resize(m.rows * m.cols);
  for (size_t j = 0; j < m.cols; ++j) {
    const std::vector<double>& c = *columns[j];
    double* out = m.data.data() + j * m.rows;
    for (size_t i = 0; i < rows.size(); ++i) out[i] = c[rows[i]];
  }
  return m;
}

// The close of `market` known at each bar of `bars`: the close of its last
// bar complete by the bar's own completion (CompleteAt), as the features
// align references. A daily market bar is known only at the end of its date,
// so a minute bar sees the previous day's close, never its own day's. NaN
// before the market's first complete bar.
std::vector<double> AlignClose(const Bars& market, const Bars& bars) {
  std::vector<double> out(bars.size(), kNaN);
  size_t k = 0;
  for (size_t i = 0; i < bars.size(); ++i) {
    const int64_t now = CompleteAt(bars.time[i], bars.intraday);
    while (k < market.size() && CompleteAt(market.time[k], market.intraday) <= now) ++k;
    if (k > 0) out[i] = market.close[k - 1];
  }
  return out;
}

// The first bar from which every column of `frame` that is ever defined is
// defined (a column defined nowhere, e.g. a volume feature of bars without
// volume, does not hold everything back: a model naming it fails to train).
size_t FrameWarmup(const FeatureFrame& frame) {
  size_t warmup = 0;
  for (const auto& column : frame.columns) {
    size_t i = 0;
    while (i < column.size() && !std::isfinite(column[i])) ++i;
    if (i < column.size()) warmup = std::max(warmup, i);
  }
  return warmup;
}

Status CheckTargetColumn(const ModelSpec& spec) {
  if (spec.target_col == "close") return Status::Ok();
  return InvalidArgumentError("target_col: the built-in trainer predicts 'close', not '" + spec.target_col +
                              "'");
}

// Training needs the features' warm-up, a training window and at least two
// bars after them: one to predict and the next close that scores it.
Status CheckBarCount(const std::string& symbol, size_t bars, size_t warmup, const WalkForward& scheme) {
  const size_t needed = warmup + scheme.train_window + 2;
  if (bars >= needed) return Status::Ok();
  return InvalidArgumentError(
      "data_options.train_window: " + symbol + " has " + std::to_string(bars) +
      " bars; a run needs at least " + std::to_string(needed) + ": " + std::to_string(warmup) +
      " of feature warm-up (the longest indicator look-back), " + std::to_string(scheme.train_window) +
      " to train on (data_options.train_window) and 2 to predict and score the first "
      "prediction");
}

// The regime columns SimData carries (SimDataFor below).
constexpr const char* kRegimeColumns[] = {"regime_gmm", "regime_vix"};

// What one walk-forward span leaves for the sequential sums after all spans.
struct SpanResult {
  Status status;
  std::vector<double> importance;  // per feature; empty when fewer than 2 test rows have a target
  size_t importance_rows = 0;
  std::unique_ptr<Regressor> fitted;  // the last span's model only
};

// Fits the model of the span [start, end) on [start - W, start - 1) (the row
// start - 1 is purged: its target is the close of the first test bar),
// writes its raw predictions for the span's defined rows to (*raw)[i], and
// its permutation importance (`repeats`, seed `index`: the span's 1-based
// position) on the rows before `importance_end` (the end of the selection
// span: never a bar a backtest scores) with a realised target to *out.
Status TrainSpan(std::pair<size_t, size_t> span, size_t index, const WalkForward& scheme, const FitFn& fit,
                 int threads, int repeats, const std::vector<const std::vector<double>*>& columns,
                 const std::vector<char>& defined, const std::vector<double>& y, size_t importance_end,
                 std::vector<double>* raw, SpanResult* out, bool keep_model) {
  const auto [start, end] = span;
  std::optional<ScopedEnginePhase> phase(EnginePhase::kFit);
  std::vector<size_t> train_rows;
  for (size_t i = start - scheme.train_window; i + 1 < start; ++i) {
    if (defined[i] && std::isfinite(y[i])) train_rows.push_back(i);
  }
  if (train_rows.size() < 2) {
    return InvalidArgumentError("data_options.train_window: too few defined rows to fit before bar " +
                                std::to_string(start));
  }
  std::vector<double> y_train;
  y_train.reserve(train_rows.size());
  for (size_t i : train_rows) y_train.push_back(y[i]);
  auto fitted = fit(Gather(columns, train_rows), y_train, threads);
  if (!fitted.ok()) return fitted.status().WithContext("fitting for bars from " + std::to_string(start));

  // Test rows that measure importance (a realised target, in the selection
  // span) and the rest.
  std::vector<size_t> scored, unscored;
  for (size_t i = start; i < end; ++i) {
    if (!defined[i]) continue;
    (i < importance_end && std::isfinite(y[i]) ? scored : unscored).push_back(i);
  }
  if (scored.size() >= 2) {
    // Importance predicts the scored rows as its baseline, bit for bit what
    // predicting them does: that is their prediction, not a second pass.
    phase.emplace(EnginePhase::kImportance);
    std::vector<double> y_test;
    y_test.reserve(scored.size());
    for (size_t i : scored) y_test.push_back(y[i]);
    PermutationOptions permutation;
    permutation.repeats = repeats;
    permutation.seed = index;
    permutation.threads = threads;
    EVOLVE_ASSIGN_OR_RETURN(PermutationImportance imp,
                            (*fitted)->Permutation(Gather(columns, scored), y_test, permutation));
    for (size_t k = 0; k < scored.size(); ++k) (*raw)[scored[k]] = imp.baseline[k];
    out->importance = std::move(imp.mean);
    out->importance_rows = scored.size();
  } else {
    unscored.insert(unscored.end(), scored.begin(), scored.end());
    std::sort(unscored.begin(), unscored.end());
  }
  if (!unscored.empty()) {
    phase.emplace(EnginePhase::kPredict);
    std::vector<double> p;
    EVOLVE_RETURN_IF_ERROR((*fitted)->Predict(Gather(columns, unscored), &p));
    for (size_t k = 0; k < unscored.size(); ++k) (*raw)[unscored[k]] = p[k];
  }
  if (keep_model) out->fitted = std::move(*fitted);
  return Status::Ok();
}

class BuiltinTrainer final : public Trainer {
 public:
  BuiltinTrainer(std::shared_ptr<BarDirectory> bars, ArtifactStore& artifacts, BuiltinOptions options)
      : bars_(std::move(bars)), artifacts_(artifacts), options_(std::move(options)) {}

  Result<TrainedModel> Train(const ModelSpec& spec) override {
    EVOLVE_ASSIGN_OR_RETURN(Fitter fitter, MakeFitter(spec, options_));
    EVOLVE_ASSIGN_OR_RETURN(Target target, ParseTarget(spec.target_transform));
    EVOLVE_ASSIGN_OR_RETURN(WalkForward scheme, WalkForwardFrom(spec.data_options));
    if (spec.features.empty()) return InvalidArgumentError("features: must not be empty");
    EVOLVE_RETURN_IF_ERROR(CheckTargetColumn(spec));
    EVOLVE_ASSIGN_OR_RETURN(std::shared_ptr<const Bars> bars, bars_->Load(spec.symbol));
    std::vector<std::shared_ptr<const Bars>> references;
    for (const auto& symbol : spec.reference_symbols) {
      auto ref = bars_->Load(symbol);
      if (!ref.ok()) return ref.status().WithContext("reference symbol " + symbol);
      references.push_back(*ref);
    }
    std::optional<ScopedEnginePhase> phase(EnginePhase::kFeatures);
    EVOLVE_ASSIGN_OR_RETURN(FeatureFrame frame, ComputeFeatures(*bars, references));
    phase.reset();

    std::vector<const std::vector<double>*> columns;
    for (const auto& name : spec.features) {
      int j = frame.Index(name);
      if (j < 0) return InvalidArgumentError("features: unknown feature '" + name + "' for " + spec.symbol);
      columns.push_back(&frame.columns[static_cast<size_t>(j)]);
    }
    const size_t n = bars->size();
    // A bar can be predicted when every feature is defined; it can be
    // trained on when its target (the next close) is defined too.
    std::vector<char> defined(n, 1);
    for (size_t i = 0; i < n; ++i) {
      for (const auto* c : columns) {
        if (!std::isfinite((*c)[i])) {
          defined[i] = 0;
          break;
        }
      }
    }
    std::vector<double> y(n, kNaN);
    for (size_t i = 0; i + 1 < n; ++i) y[i] = TargetValue(target, bars->close[i], bars->close[i + 1]);

    // The warm-up of every feature column the symbol has (not only this
    // model's): every model of the symbol then predicts, and is scored, from
    // the same bar, whatever its features.
    const size_t warmup = FrameWarmup(frame);
    EVOLVE_RETURN_IF_ERROR(CheckBarCount(spec.symbol, n, warmup, scheme));
    const size_t first_test = warmup + scheme.train_window;
    EVOLVE_ASSIGN_OR_RETURN(SplitBars split, ResolveSplit(spec.split, bars->time, first_test));
    // Importance is measured on the selection span only; without one, on the
    // research span (the scored bars: pruning then sees them).
    const size_t importance_end = split.scored_start > first_test ? split.scored_start : split.holdout_start;

    BuiltinModel model;
    model.spec = spec;
    model.scheme = scheme;
    model.first_prediction = first_test;
    model.scored_start = split.scored_start;
    model.holdout_start = split.holdout_start;
    model.prediction.assign(n, kNaN);

    // The spans are independent (each fits on its own window, with the
    // importance seed its 1-based position): they run in parallel, each
    // writing its raw predictions to its own rows of `raw` and its importance
    // to its own slot. Everything order-dependent (the sums of squares and of
    // importances) is then summed sequentially in span and row order, exactly
    // as one span after the other would, so the result does not depend on the
    // number of threads.
    const std::vector<std::pair<size_t, size_t>> spans = WalkForwardSpans(first_test, n, scheme);
    const int total_threads = ResolveThreads(fitter.threads, std::numeric_limits<size_t>::max());
    // Few spans (a long train_window on short data): threads within each model
    // instead; many: a whole span per thread, which also spares every fit,
    // prediction and importance the cost of starting its own threads.
    const int span_workers = spans.size() >= 2 * static_cast<size_t>(total_threads) ? total_threads : 1;
    const int model_threads = std::max(1, total_threads / span_workers);
    std::vector<double> raw(n, kNaN);  // model outputs, before PredictedReturn
    std::vector<SpanResult> results(spans.size());
    std::atomic<size_t> first_error{spans.size()};
    ParallelFor(spans.size(), span_workers, [&](size_t k, int) {
      if (first_error.load(std::memory_order_relaxed) < k) return;  // an earlier span failed: no use
      results[k].status =
          TrainSpan(spans[k], k + 1, scheme, fitter.fit, model_threads, options_.importance_repeats, columns,
                    defined, y, importance_end, &raw, &results[k], k + 1 == spans.size());
      if (!results[k].status.ok()) {
        size_t seen = first_error.load();
        while (k < seen && !first_error.compare_exchange_weak(seen, k)) {
        }
      }
    });
    if (first_error.load() < spans.size()) return results[first_error.load()].status;

    std::vector<double> importance_sum(columns.size(), 0.0);
    size_t importance_rows = 0;
    const size_t refits = spans.size();
    double sse = 0, sst = 0, oos_sum = 0;
    size_t oos_rows = 0;
    for (size_t k = 0; k < spans.size(); ++k) {
      for (size_t i = spans[k].first; i < spans[k].second; ++i) {
        if (!defined[i]) continue;
        model.prediction[i] = PredictedReturn(target, raw[i], bars->close[i]);
        if (std::isfinite(y[i])) {
          sse += (y[i] - raw[i]) * (y[i] - raw[i]);
          oos_sum += y[i];
          ++oos_rows;
        }
      }
      const SpanResult& r = results[k];
      for (size_t j = 0; j < r.importance.size(); ++j)
        importance_sum[j] += r.importance[j] * static_cast<double>(r.importance_rows);
      importance_rows += r.importance_rows;
    }
    const std::unique_ptr<Regressor>& last = results.back().fitted;
    const double oos_mean = oos_rows ? oos_sum / static_cast<double>(oos_rows) : 0.0;
    for (size_t i = first_test; i < n; ++i) {
      if (defined[i] && std::isfinite(y[i])) sst += (y[i] - oos_mean) * (y[i] - oos_mean);
    }

    if (importance_rows < 2) {
      return InvalidArgumentError(
          "selection_fraction: the selection span (bars " + std::to_string(first_test) + " to " +
          std::to_string(importance_end) + ") has " + std::to_string(importance_rows) +
          " rows to measure importance on; it needs at least 2 (a larger selection_fraction or more bars)");
    }
    model.importance.importance_type = "permutation";
    for (size_t j = 0; j < columns.size(); ++j) {
      double v = importance_rows ? importance_sum[j] / static_cast<double>(importance_rows) : 0.0;
      model.importance.importances.push_back({spec.features[j], v});
    }
    model.metrics["refits"] = static_cast<double>(refits);
    model.metrics["oos_rows"] = static_cast<double>(oos_rows);
    model.metrics["warmup_bars"] = static_cast<double>(warmup);
    model.metrics["importance_rows"] = static_cast<double>(importance_rows);
    model.metrics["scored_start_bar"] = static_cast<double>(split.scored_start);
    model.metrics["holdout_start_bar"] = static_cast<double>(split.holdout_start);
    if (sst > 0) model.metrics["oos_r2"] = 1.0 - sse / sst;
    if (oos_rows) model.metrics["oos_mse"] = sse / static_cast<double>(oos_rows);
    phase.emplace(EnginePhase::kSimData);
    EVOLVE_ASSIGN_OR_RETURN(model.simdata_key, StoreSimData(*bars, references, scheme));
    phase.emplace(EnginePhase::kModelStore);
    EVOLVE_RETURN_IF_ERROR(last->Serialize(&model.final_model));
    const std::string model_id = NewId("mdl_");
    EVOLVE_RETURN_IF_ERROR(artifacts_.PutArtifact(ModelKey(model_id), EncodeModel(model)));
    phase.reset();
    Log(LogLevel::kInfo, "model trained",
        {{"model_id", model_id},
         {"symbol", spec.symbol},
         {"features", std::to_string(spec.features.size())},
         {"refits", std::to_string(refits)},
         {"oos_rows", std::to_string(oos_rows)}});
    return TrainedModel{model_id, model.metrics};
  }

  Result<ImportanceReport> Importance(const std::string& model_id) override {
    EVOLVE_ASSIGN_OR_RETURN(BuiltinModel model, LoadModel(artifacts_, model_id));
    return model.importance;
  }

  Result<ModelSpec> DescribeModel(const std::string& model_id) override {
    EVOLVE_ASSIGN_OR_RETURN(BuiltinModel model, LoadModel(artifacts_, model_id));
    return model.spec;
  }

 private:
  // Writes the bars and regimes the simulator needs, once per symbol, market
  // and scheme (the key is a digest of all of them), and returns the key.
  //
  // The regime model is refitted on the same walk-forward scheme as the
  // models, counted from the first bar (not from a feature set's warm-up),
  // so every model of a symbol and scheme shares the same labels: the GMM for
  // a span is fitted on the train_window bars before it and labels the span.
  Result<std::string> StoreSimData(const Bars& bars,
                                   const std::vector<std::shared_ptr<const Bars>>& references,
                                   const WalkForward& scheme) {
    // The market for regimes: the first reference symbol, else the symbol.
    const Bars& market = references.empty() ? bars : *references[0];
    std::vector<double> market_close = AlignClose(market, bars);
    std::string digest_input = market.symbol + "|" + bars.symbol + "|" + std::to_string(scheme.train_window) +
                               "|" + std::to_string(scheme.test_window) + "|" +
                               std::to_string(scheme.refit_every) + "|";
    auto append = [&digest_input](const auto& v) {
      digest_input.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0]));
    };
    append(bars.time);
    append(bars.open);
    append(bars.close);
    append(market_close);
    const std::string key = "simdata/" + Sha256Hex(digest_input);
    {
      // Written by this trainer already: every later generation of a run
      // lands here, without reading the blob back from the store.
      std::lock_guard<std::mutex> lock(simdata_mu_);
      if (simdata_written_.count(key) != 0) return key;
    }

    SimData data;
    data.time = bars.time;
    data.open = bars.open;
    data.close = bars.close;
    std::vector<RegimeSegment> segments;
    for (const auto& [start, end] : WalkForwardSpans(scheme.train_window, bars.size(), scheme)) {
      segments.push_back(RegimeSegment{start - scheme.train_window, start, start, end});
    }
    EVOLVE_ASSIGN_OR_RETURN(data.regimes[kRegimeColumns[0]], RegimeGmm(market_close, segments));
    data.regimes[kRegimeColumns[1]] = RegimeVix(market_close);
    // Idempotent: another process may have written the same key first.
    EVOLVE_RETURN_IF_ERROR(artifacts_.PutArtifact(key, EncodeSimData(data)));
    std::lock_guard<std::mutex> lock(simdata_mu_);
    simdata_written_.insert(key);
    return key;
  }

  std::shared_ptr<BarDirectory> bars_;
  ArtifactStore& artifacts_;
  const BuiltinOptions options_;
  std::mutex simdata_mu_;
  std::set<std::string> simdata_written_;  // simdata keys this trainer stored; guarded by simdata_mu_
};

}  // namespace

Status ValidateBuiltinSpec(const ModelSpec& spec) {
  EVOLVE_RETURN_IF_ERROR(MakeFitter(spec, BuiltinOptions{}).status());
  EVOLVE_RETURN_IF_ERROR(CheckTargetColumn(spec));
  return WalkForwardFrom(spec.data_options).status();
}

std::vector<std::string> BuiltinRegimeColumns() {
  return std::vector<std::string>(std::begin(kRegimeColumns), std::end(kRegimeColumns));
}

Status ValidateBuiltinBars(const ModelSpec& spec, const Bars& bars,
                           const std::vector<std::shared_ptr<const Bars>>& references) {
  EVOLVE_ASSIGN_OR_RETURN(WalkForward scheme, WalkForwardFrom(spec.data_options));
  // Features are causal (no bar's value depends on a later bar), so the
  // warm-up of a prefix is the series': a prefix keeps the check quick on
  // a long series. A column still undefined at the prefix's end only makes
  // the check lenient; training checks again on the whole series.
  constexpr size_t kWarmupProbe = 20000;
  size_t warmup = 0;
  {
    Bars prefix;
    const Bars* probe = &bars;
    if (bars.size() > kWarmupProbe) {
      prefix.symbol = bars.symbol;
      prefix.intraday = bars.intraday;
      auto head = [](const auto& v) {
        return std::decay_t<decltype(v)>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(kWarmupProbe));
      };
      prefix.time = head(bars.time);
      prefix.open = head(bars.open);
      prefix.high = head(bars.high);
      prefix.low = head(bars.low);
      prefix.close = head(bars.close);
      prefix.volume = head(bars.volume);
      probe = &prefix;
    }
    EVOLVE_ASSIGN_OR_RETURN(FeatureFrame frame, ComputeFeatures(*probe, references));
    warmup = FrameWarmup(frame);
  }
  EVOLVE_RETURN_IF_ERROR(CheckBarCount(spec.symbol, bars.size(), warmup, scheme));
  return ResolveSplit(spec.split, bars.time, warmup + scheme.train_window).status();
}

std::unique_ptr<Trainer> NewBuiltinTrainer(std::shared_ptr<BarDirectory> bars, ArtifactStore& artifacts,
                                           const BuiltinOptions& options) {
  return std::make_unique<BuiltinTrainer>(std::move(bars), artifacts, options);
}

}  // namespace evolve::engines
