// The walk-forward training of a built-in model in the three pieces both
// ways of training share (docs/engines.md, "Training in parts"), so that
// Trainer::Train and the parts on the queue cannot drift apart:
//
//   PrepareTrainingRows   the features, targets and spans of a model's bars;
//   TrainSpans            fits, predicts and measures importance on a range
//                         of spans (Train: all of them; TrainPart: a part's);
//   ReduceTrainingParts   sums the ranges' outcomes, in span and row order,
//                         into the model.
//
// Every span is independent of the others (its own window and its own
// importance seed, its 1-based index), and everything order-dependent is
// summed by ReduceTrainingParts one row after the other, so the model does
// not depend on how the spans were split into parts, nor on the threads.
//
// Thread-safety: pure functions over values (TrainSpans uses threads of its
// own).
#ifndef EVOLVE_ENGINES_SRC_TRAINING_SPANS_H_
#define EVOLVE_ENGINES_SRC_TRAINING_SPANS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/features.h"
#include "evolve/status.h"
#include "evolve/types.h"
#include "model_artifact.h"
#include "regressor.h"

namespace evolve::engines {

// What the model predicts (ModelSpec::target_transform; docs/engines.md,
// "Targets").
enum class Target { kLogReturn, kPctChange, kLog, kNone };

// What a spec trains with, read and checked before any bar is.
struct TrainingSetup {
  Fitter fitter;
  Target target = Target::kLogReturn;
  WalkForward scheme;
};

// Checks what can be checked of `spec` without its bars: the algorithm and
// its hyperparameters, the target, the data options, features not empty.
// Errors: kInvalidArgument naming the field.
Result<TrainingSetup> SetUpTraining(const ModelSpec& spec, const BuiltinOptions& options);

// Checks that every feature of `spec` is a column the symbol has with
// these references (FeatureNames: no bar is read), and that no reference
// repeats. Errors: kInvalidArgument "features: unknown feature ...",
// "reference X given twice", as Train's.
Status CheckFeatureNames(const ModelSpec& spec, const std::vector<std::shared_ptr<const Bars>>& references);

Status CheckTargetColumn(const ModelSpec& spec);

// The first bar from which every column of `frame` that is ever defined is
// defined (FeatureFrame::first_defined: whatever columns it kept).
// REQUIRES: the frame's rows reach the series' last bar (first_row + rows()
// is the bars'), as LayOutTraining's and a whole frame's do: that is how it
// tells "never defined" from a bar.
size_t FrameWarmup(const FeatureFrame& frame);

// Training needs the features' warm-up, a training window and at least two
// bars after them. Errors: kInvalidArgument saying how many bars are needed.
Status CheckBarCount(const std::string& symbol, size_t bars, size_t warmup, const WalkForward& scheme);

// Where a model's walk-forward lies in its symbol's bars.
struct TrainingLayout {
  size_t bars = 0;
  size_t warmup = 0;                             // FrameWarmup of every column the symbol has
  SplitBars split;                               // split.first_prediction = warmup + train_window
  std::vector<std::pair<size_t, size_t>> spans;  // WalkForwardSpans from split.first_prediction
};

// The layout of `spec` on `bars` (with `references`): the features are
// computed for their warm-up, none is kept. Errors: kInvalidArgument for
// an unknown feature, too few bars (CheckBarCount) or a split that does
// not fit (ResolveSplit).
Result<TrainingLayout> LayOutTraining(const ModelSpec& spec, const TrainingSetup& setup, const Bars& bars,
                                      const std::vector<std::shared_ptr<const Bars>>& references);

// The rows spans [first, last) of a layout fit on and predict: bars
// [spans[first].first - train_window, spans[last - 1].second).
struct TrainingRows {
  size_t first_row = 0;                 // the bar of row 0
  FeatureFrame frame;                   // the rows, the spec's features kept (frame.first_row == first_row)
  std::vector<size_t> feature_columns;  // frame column of each of spec.features
  std::vector<char> defined;            // per row: every feature defined (the bar is predicted)
  std::vector<double> y;                // per row: the target, NaN for the series' last bar
};

// Computes the rows of spans [first, last) of `layout` (first < last <=
// layout.spans.size()). Errors: kInvalidArgument for an unknown feature.
Result<TrainingRows> PrepareTrainingRows(const ModelSpec& spec, const TrainingSetup& setup, const Bars& bars,
                                         const std::vector<std::shared_ptr<const Bars>>& references,
                                         const TrainingLayout& layout, size_t first, size_t last);

// Part `part` of `parts` covers spans [part * spans / parts, (part + 1) *
// spans / parts): contiguous, in order, possibly empty.
std::pair<size_t, size_t> PartSpanRange(size_t spans, size_t parts, size_t part);

// Trains spans [first, last) of `layout` on `rows` (PrepareTrainingRows of
// those spans): fits each span's model, predicts its bars, measures
// permutation importance (`importance_repeats`, seed: the span's 1-based
// index) on its selection rows, and keeps the final model when `last` is
// the last span. The spans run in parallel, one thread each, when there are
// at least twice as many as threads (setup.fitter's); otherwise each model
// uses every thread. The part's plan, parts and part are left to the
// caller. Errors: the first failing span's.
Result<TrainingPart> TrainSpans(const TrainingLayout& layout, const TrainingRows& rows,
                                const TrainingSetup& setup, size_t first, size_t last,
                                int importance_repeats);

// Spans [first, last) of `layout`, trained in passes over consecutive spans
// whose rows' feature values take at most `memory_bytes` each (at least one
// span a pass): PrepareTrainingRows and TrainSpans per pass, the outcomes
// concatenated. Bit for bit the part one pass gives, whatever the budget.
Result<TrainingPart> TrainSpanRange(const ModelSpec& spec, const TrainingSetup& setup, const Bars& bars,
                                    const std::vector<std::shared_ptr<const Bars>>& references,
                                    const TrainingLayout& layout, size_t first, size_t last,
                                    int importance_repeats, size_t memory_bytes);

// The model of `parts` (in order, together covering every span of the walk
// forward of `bars` once): predictions as next-bar returns, the importance
// averaged over spans weighted by rows, the metrics, the split and the
// final model; spec and scheme from the arguments. simdata_key is left
// empty. Errors: kInvalidArgument when the parts disagree or do not cover
// the spans of `bars` exactly ("training parts: ..."), or when fewer than
// 2 rows measured importance.
Result<BuiltinModel> ReduceTrainingParts(const ModelSpec& spec, const TrainingSetup& setup, const Bars& bars,
                                         const std::vector<TrainingPart>& parts);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_TRAINING_SPANS_H_
