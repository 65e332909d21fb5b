// The walk-forward training of a built-in model (training_spans.h): the
// rows, the spans' fits, predictions and importances, and their reduction.
#include "training_spans.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iterator>
#include <limits>
#include <optional>

#include "dataset.h"
#include "phase_timing.h"
#include "walk_forward.h"

namespace evolve::engines {
namespace {

const double kNaN = std::nan("");

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

// The target of every bar of `bars`; NaN for the last, which has no next close.
std::vector<double> Targets(Target t, const Bars& bars) {
  const size_t n = bars.size();
  std::vector<double> y(n, kNaN);
  for (size_t i = 0; i + 1 < n; ++i) y[i] = TargetValue(t, bars.close[i], bars.close[i + 1]);
  return y;
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

// Importance is measured on the selection span only; without one, on the
// research span (the scored bars: pruning then sees them).
size_t ImportanceEnd(const SplitBars& split) {
  return split.scored_start > split.first_prediction ? split.scored_start : split.holdout_start;
}

// The features of `rows` (indices into its rows, not bars), as a
// column-major matrix.
Matrix Gather(const TrainingRows& rows, const std::vector<size_t>& row_ids) {
  Matrix m;
  m.rows = row_ids.size();
  m.cols = rows.feature_columns.size();
  m.data.resize(m.rows * m.cols);
  for (size_t j = 0; j < m.cols; ++j) {
    const std::vector<double>& c = rows.frame.columns[rows.feature_columns[j]];
    double* out = m.data.data() + j * m.rows;
    for (size_t i = 0; i < row_ids.size(); ++i) out[i] = c[row_ids[i]];
  }
  return m;
}

// Fits the model of the span [start, end) on [start - W, start - 1) (the row
// start - 1 is purged: its target is the close of the first test bar),
// writes its raw predictions for the span's defined rows to out->raw, and
// its permutation importance (`repeats`, seed `index`: the span's 1-based
// position) on the rows before `importance_end` (the end of the selection
// span: never a bar a backtest scores) with a realised target to *out.
// Keeps the fitted model in *keep when `keep` is set. `rows` hold the bars
// from rows.first_row: bar i is row i - rows.first_row.
Status TrainSpan(std::pair<size_t, size_t> span, size_t index, const WalkForward& scheme, const FitFn& fit,
                 int threads, int repeats, const TrainingRows& rows, size_t importance_end, SpanOutcome* out,
                 std::unique_ptr<Regressor>* keep) {
  const auto [start, end] = span;
  const size_t base = rows.first_row;
  const std::vector<char>& defined = rows.defined;
  const std::vector<double>& y = rows.y;
  out->start = start;
  out->end = end;
  out->defined.assign(defined.begin() + static_cast<std::ptrdiff_t>(start - base),
                      defined.begin() + static_cast<std::ptrdiff_t>(end - base));
  out->raw.assign(end - start, kNaN);
  std::optional<ScopedEnginePhase> phase(EnginePhase::kFit);
  // Row ids (bar - base) throughout.
  std::vector<size_t> train_rows;
  for (size_t i = start - scheme.train_window - base; i + 1 < start - base; ++i) {
    if (defined[i] && std::isfinite(y[i])) train_rows.push_back(i);
  }
  if (train_rows.size() < 2) {
    return InvalidArgumentError("data_options.train_window: too few defined rows to fit before bar " +
                                std::to_string(start));
  }
  std::vector<double> y_train;
  y_train.reserve(train_rows.size());
  for (size_t i : train_rows) y_train.push_back(y[i]);
  auto fitted = fit(Gather(rows, train_rows), y_train, threads);
  if (!fitted.ok()) return fitted.status().WithContext("fitting for bars from " + std::to_string(start));

  // Test rows that measure importance (a realised target, in the selection
  // span) and the rest.
  std::vector<size_t> scored, unscored;
  for (size_t i = start - base; i < end - base; ++i) {
    if (!defined[i]) continue;
    (i + base < importance_end && std::isfinite(y[i]) ? scored : unscored).push_back(i);
  }
  const size_t first = start - base;
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
                            (*fitted)->Permutation(Gather(rows, scored), y_test, permutation));
    for (size_t k = 0; k < scored.size(); ++k) out->raw[scored[k] - first] = imp.baseline[k];
    out->importance = std::move(imp.mean);
    out->importance_rows = scored.size();
  } else {
    unscored.insert(unscored.end(), scored.begin(), scored.end());
    std::sort(unscored.begin(), unscored.end());
  }
  if (!unscored.empty()) {
    phase.emplace(EnginePhase::kPredict);
    std::vector<double> p;
    EVOLVE_RETURN_IF_ERROR((*fitted)->Predict(Gather(rows, unscored), &p));
    for (size_t k = 0; k < unscored.size(); ++k) out->raw[unscored[k] - first] = p[k];
  }
  if (keep != nullptr) *keep = std::move(*fitted);
  return Status::Ok();
}

// "training parts: <problem>", for parts that do not make one model.
Status PartsError(const std::string& problem) { return InvalidArgumentError("training parts: " + problem); }

// The walk-forward facts of `p`, to compare parts by.
std::vector<size_t> Facts(const TrainingPart& p) {
  return {p.bars, p.warmup, p.first_prediction, p.scored_start, p.holdout_start, p.spans};
}

}  // namespace

Status CheckTargetColumn(const ModelSpec& spec) {
  if (spec.target_col == "close") return Status::Ok();
  return InvalidArgumentError("target_col: the built-in trainer predicts 'close', not '" + spec.target_col +
                              "'");
}

Result<TrainingSetup> SetUpTraining(const ModelSpec& spec, const BuiltinOptions& options) {
  TrainingSetup setup;
  EVOLVE_ASSIGN_OR_RETURN(setup.fitter, MakeFitter(spec, options));
  EVOLVE_ASSIGN_OR_RETURN(setup.target, ParseTarget(spec.target_transform));
  EVOLVE_ASSIGN_OR_RETURN(setup.scheme, WalkForwardFrom(spec.data_options));
  if (spec.features.empty()) return InvalidArgumentError("features: must not be empty");
  EVOLVE_RETURN_IF_ERROR(CheckTargetColumn(spec));
  return setup;
}

namespace {

Status UnknownFeature(const ModelSpec& spec, const std::string& name) {
  return InvalidArgumentError("features: unknown feature '" + name + "' for " + spec.symbol);
}

}  // namespace

Status CheckFeatureNames(const ModelSpec& spec, const std::vector<std::shared_ptr<const Bars>>& references) {
  std::vector<std::string> symbols;
  for (const auto& ref : references) {
    // As ComputeFeatures says it (a directory's symbols are upper case).
    if (std::find(symbols.begin(), symbols.end(), ref->symbol) != symbols.end()) {
      return InvalidArgumentError("reference " + ref->symbol + " given twice");
    }
    symbols.push_back(ref->symbol);
  }
  const std::vector<std::string> names = FeatureNames(symbols);
  for (const auto& name : spec.features) {
    if (std::find(names.begin(), names.end(), name) == names.end()) return UnknownFeature(spec, name);
  }
  return Status::Ok();
}

// A column defined nowhere (e.g. a volume feature of bars without volume)
// does not hold everything back: a model naming it fails to train.
size_t FrameWarmup(const FeatureFrame& frame) {
  const size_t n = frame.first_row + frame.rows();
  size_t warmup = 0;
  for (size_t first : frame.first_defined) {
    if (first < n) warmup = std::max(warmup, first);
  }
  return warmup;
}

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

Result<TrainingLayout> LayOutTraining(const ModelSpec& spec, const TrainingSetup& setup, const Bars& bars,
                                      const std::vector<std::shared_ptr<const Bars>>& references) {
  EVOLVE_RETURN_IF_ERROR(CheckFeatureNames(spec, references));
  FeatureRequest request;
  request.begin = bars.size();  // no rows: first_defined only
  request.keep_none = true;
  FeatureFrame frame;
  {
    ScopedEnginePhase phase(EnginePhase::kFeatures);
    EVOLVE_ASSIGN_OR_RETURN(frame, ComputeFeatures(bars, references, request));
  }
  TrainingLayout layout;
  layout.bars = bars.size();
  // The warm-up of every feature column the symbol has (not only this
  // model's): every model of the symbol then predicts, and is scored, from
  // the same bar, whatever its features.
  layout.warmup = FrameWarmup(frame);
  EVOLVE_RETURN_IF_ERROR(CheckBarCount(spec.symbol, layout.bars, layout.warmup, setup.scheme));
  const size_t first_test = layout.warmup + setup.scheme.train_window;
  EVOLVE_ASSIGN_OR_RETURN(layout.split, ResolveSplit(spec.split, bars.time, first_test));
  layout.spans = WalkForwardSpans(first_test, layout.bars, setup.scheme);
  return layout;
}

namespace {

// The bars spans [first, last) of `layout` fit on and predict.
std::pair<size_t, size_t> SpanRows(const TrainingLayout& layout, const WalkForward& scheme, size_t first,
                                   size_t last) {
  return {layout.spans[first].first - scheme.train_window, layout.spans[last - 1].second};
}

}  // namespace

Result<TrainingRows> PrepareTrainingRows(const ModelSpec& spec, const TrainingSetup& setup, const Bars& bars,
                                         const std::vector<std::shared_ptr<const Bars>>& references,
                                         const TrainingLayout& layout, size_t first, size_t last) {
  if (first >= last || last > layout.spans.size() || layout.bars != bars.size()) {
    return InvalidArgumentError("training rows: spans " + std::to_string(first) + " to " +
                                std::to_string(last) + " are not spans of this walk-forward (" +
                                std::to_string(layout.spans.size()) + " spans)");
  }
  const auto [begin, end] = SpanRows(layout, setup.scheme, first, last);
  TrainingRows rows;
  rows.first_row = begin;
  FeatureRequest request;
  request.begin = begin;
  request.end = end;
  request.columns = spec.features;
  {
    ScopedEnginePhase phase(EnginePhase::kFeatures);
    EVOLVE_ASSIGN_OR_RETURN(rows.frame, ComputeFeatures(bars, references, request));
  }
  for (const auto& name : spec.features) {
    const int j = rows.frame.Index(name);
    if (j < 0) return UnknownFeature(spec, name);
    rows.feature_columns.push_back(static_cast<size_t>(j));
  }
  const size_t count = end - begin;
  // A bar can be predicted when every feature is defined; it can be
  // trained on when its target (the next close) is defined too.
  rows.defined.assign(count, 1);
  for (size_t r = 0; r < count; ++r) {
    for (size_t j : rows.feature_columns) {
      if (!std::isfinite(rows.frame.columns[j][r])) {
        rows.defined[r] = 0;
        break;
      }
    }
  }
  rows.y.assign(count, kNaN);
  for (size_t r = 0; r < count; ++r) {
    const size_t i = begin + r;
    if (i + 1 < bars.size()) rows.y[r] = TargetValue(setup.target, bars.close[i], bars.close[i + 1]);
  }
  return rows;
}

std::pair<size_t, size_t> PartSpanRange(size_t spans, size_t parts, size_t part) {
  return {part * spans / parts, (part + 1) * spans / parts};
}

Result<TrainingPart> TrainSpans(const TrainingLayout& layout, const TrainingRows& rows,
                                const TrainingSetup& setup, size_t first, size_t last,
                                int importance_repeats) {
  TrainingPart part;
  part.bars = layout.bars;
  part.warmup = layout.warmup;
  part.first_prediction = layout.split.first_prediction;
  part.scored_start = layout.split.scored_start;
  part.holdout_start = layout.split.holdout_start;
  part.spans = layout.spans.size();
  part.first_span = first;
  if (first >= last) return part;
  const auto [begin, end] = SpanRows(layout, setup.scheme, first, last);
  if (rows.first_row > begin || rows.first_row + rows.defined.size() < end ||
      rows.y.size() != rows.defined.size()) {
    return InvalidArgumentError("training rows: bars " + std::to_string(rows.first_row) + " to " +
                                std::to_string(rows.first_row + rows.defined.size()) + " do not hold spans " +
                                std::to_string(first) + " to " + std::to_string(last));
  }
  const size_t count = last - first;
  part.outcomes.resize(count);
  const size_t importance_end = ImportanceEnd(layout.split);

  // The spans are independent (each fits on its own window, with the
  // importance seed its 1-based position): they run in parallel, each
  // writing to its own outcome. Everything order-dependent is summed by
  // ReduceTrainingParts, so the result does not depend on the threads.
  const int total_threads = ResolveThreads(setup.fitter.threads, std::numeric_limits<size_t>::max());
  // Few spans (a long train_window on short data): threads within each model
  // instead; many: a whole span per thread, which also spares every fit,
  // prediction and importance the cost of starting its own threads.
  const int span_workers = count >= 2 * static_cast<size_t>(total_threads) ? total_threads : 1;
  const int model_threads = std::max(1, total_threads / span_workers);
  std::unique_ptr<Regressor> final_model;
  std::vector<Status> status(count);
  std::atomic<size_t> first_error{count};
  ParallelFor(count, span_workers, [&](size_t k, int) {
    if (first_error.load(std::memory_order_relaxed) < k) return;  // an earlier span failed: no use
    const size_t s = first + k;
    status[k] = TrainSpan(layout.spans[s], s + 1, setup.scheme, setup.fitter.fit, model_threads,
                          importance_repeats, rows, importance_end, &part.outcomes[k],
                          s + 1 == layout.spans.size() ? &final_model : nullptr);
    if (!status[k].ok()) {
      size_t seen = first_error.load();
      while (k < seen && !first_error.compare_exchange_weak(seen, k)) {
      }
    }
  });
  if (first_error.load() < count) return status[first_error.load()];
  if (final_model) {
    ScopedEnginePhase phase(EnginePhase::kModelStore);
    EVOLVE_RETURN_IF_ERROR(final_model->Serialize(&part.final_model));
  }
  return part;
}

Result<TrainingPart> TrainSpanRange(const ModelSpec& spec, const TrainingSetup& setup, const Bars& bars,
                                    const std::vector<std::shared_ptr<const Bars>>& references,
                                    const TrainingLayout& layout, size_t first, size_t last,
                                    int importance_repeats, size_t memory_bytes) {
  if (first >= last) return TrainSpans(layout, TrainingRows{}, setup, first, last, importance_repeats);
  const size_t row_bytes = std::max<size_t>(1, spec.features.size()) * sizeof(double);
  TrainingPart part;
  for (size_t a = first; a < last;) {
    // The longest run of spans from `a` whose rows fit the budget; one at least.
    size_t b = a + 1;
    while (b < last) {
      const auto [begin, end] = SpanRows(layout, setup.scheme, a, b + 1);
      if ((end - begin) * row_bytes > memory_bytes) break;
      ++b;
    }
    EVOLVE_ASSIGN_OR_RETURN(TrainingRows rows,
                            PrepareTrainingRows(spec, setup, bars, references, layout, a, b));
    EVOLVE_ASSIGN_OR_RETURN(TrainingPart pass, TrainSpans(layout, rows, setup, a, b, importance_repeats));
    if (a == first) {
      part = std::move(pass);
    } else {
      std::move(pass.outcomes.begin(), pass.outcomes.end(), std::back_inserter(part.outcomes));
      part.final_model = std::move(pass.final_model);
    }
    a = b;
  }
  return part;
}

Result<BuiltinModel> ReduceTrainingParts(const ModelSpec& spec, const TrainingSetup& setup, const Bars& bars,
                                         const std::vector<TrainingPart>& parts) {
  if (parts.empty()) return PartsError("none given");
  const TrainingPart& facts = parts.front();
  const size_t n = bars.size();
  if (facts.bars != n) {
    return PartsError("trained on " + std::to_string(facts.bars) + " bars, the inputs have " +
                      std::to_string(n));
  }
  const std::vector<std::pair<size_t, size_t>> spans =
      WalkForwardSpans(facts.first_prediction, n, setup.scheme);
  // The outcomes of every span, in order, and the final model's part.
  std::vector<const SpanOutcome*> outcomes;
  const TrainingPart* final_part = nullptr;
  for (size_t k = 0; k < parts.size(); ++k) {
    const TrainingPart& p = parts[k];
    const std::string part = "part " + std::to_string(k);
    if (Facts(p) != Facts(facts) || p.spans != spans.size()) {
      return PartsError(part + " was trained on another walk-forward than part 0 and the inputs");
    }
    if (p.first_span != outcomes.size()) {
      return PartsError(part + " starts at span " + std::to_string(p.first_span) + ", not " +
                        std::to_string(outcomes.size()));
    }
    for (const SpanOutcome& o : p.outcomes) {
      const size_t s = outcomes.size();
      if (s >= spans.size() || o.start != spans[s].first || o.end != spans[s].second ||
          o.defined.size() != o.end - o.start || o.raw.size() != o.defined.size() ||
          (!o.importance.empty() && o.importance.size() != spec.features.size())) {
        return PartsError(part + ": span " + std::to_string(s) + " is not the walk-forward's");
      }
      outcomes.push_back(&o);
    }
    if (!p.final_model.empty() && !p.outcomes.empty() && outcomes.size() == spans.size()) final_part = &p;
  }
  if (outcomes.size() != spans.size()) {
    return PartsError("they cover " + std::to_string(outcomes.size()) + " of the " +
                      std::to_string(spans.size()) + " spans");
  }
  if (final_part == nullptr) return PartsError("the part of the last span has no final model");

  const size_t first_test = facts.first_prediction;
  const std::vector<double> y = Targets(setup.target, bars);
  BuiltinModel model;
  model.spec = spec;
  model.scheme = setup.scheme;
  model.first_prediction = first_test;
  model.scored_start = facts.scored_start;
  model.holdout_start = facts.holdout_start;
  model.prediction.assign(n, kNaN);

  // The sums, sequentially in span and row order: the same whatever the
  // parts and threads that trained the spans.
  std::vector<double> importance_sum(spec.features.size(), 0.0);
  size_t importance_rows = 0;
  double sse = 0, sst = 0, oos_sum = 0;
  size_t oos_rows = 0;
  for (const SpanOutcome* o : outcomes) {
    for (size_t i = o->start; i < o->end; ++i) {
      if (!o->defined[i - o->start]) continue;
      const double raw = o->raw[i - o->start];
      model.prediction[i] = PredictedReturn(setup.target, raw, bars.close[i]);
      if (std::isfinite(y[i])) {
        sse += (y[i] - raw) * (y[i] - raw);
        oos_sum += y[i];
        ++oos_rows;
      }
    }
    for (size_t j = 0; j < o->importance.size(); ++j)
      importance_sum[j] += o->importance[j] * static_cast<double>(o->importance_rows);
    importance_rows += o->importance_rows;
  }
  const double oos_mean = oos_rows ? oos_sum / static_cast<double>(oos_rows) : 0.0;
  // The spans cover [first_test, n) in order: this is every bar from first_test on.
  for (const SpanOutcome* o : outcomes) {
    for (size_t i = o->start; i < o->end; ++i) {
      if (o->defined[i - o->start] && std::isfinite(y[i])) sst += (y[i] - oos_mean) * (y[i] - oos_mean);
    }
  }

  if (importance_rows < 2) {
    SplitBars split{first_test, facts.scored_start, facts.holdout_start, n};
    return InvalidArgumentError(
        "selection_fraction: the selection span (bars " + std::to_string(first_test) + " to " +
        std::to_string(ImportanceEnd(split)) + ") has " + std::to_string(importance_rows) +
        " rows to measure importance on; it needs at least 2 (a larger selection_fraction or more bars)");
  }
  model.importance.importance_type = "permutation";
  for (size_t j = 0; j < spec.features.size(); ++j) {
    const double v = importance_sum[j] / static_cast<double>(importance_rows);
    model.importance.importances.push_back({spec.features[j], v});
  }
  model.metrics["refits"] = static_cast<double>(spans.size());
  model.metrics["oos_rows"] = static_cast<double>(oos_rows);
  model.metrics["warmup_bars"] = static_cast<double>(facts.warmup);
  model.metrics["importance_rows"] = static_cast<double>(importance_rows);
  model.metrics["scored_start_bar"] = static_cast<double>(facts.scored_start);
  model.metrics["holdout_start_bar"] = static_cast<double>(facts.holdout_start);
  if (sst > 0) model.metrics["oos_r2"] = 1.0 - sse / sst;
  if (oos_rows) model.metrics["oos_mse"] = sse / static_cast<double>(oos_rows);
  model.final_model = final_part->final_model;
  return model;
}

}  // namespace evolve::engines
