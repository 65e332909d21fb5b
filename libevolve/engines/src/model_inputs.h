// What a stored built-in model gives a backtest: one span of its
// predictions with the bars, prices and regime labels of its simulation
// data (model_artifact.h), cut to the span a job scores. The simulator and
// LoadModelBacktestBars (builtin.h) read models through it.
//
// Thread-safety: pure functions over the store (ArtifactStore is
// thread-safe).
#ifndef EVOLVE_ENGINES_SRC_MODEL_INPUTS_H_
#define EVOLVE_ENGINES_SRC_MODEL_INPUTS_H_

#include <string>
#include <vector>

#include "evolve/engines/backtest.h"
#include "evolve/status.h"
#include "evolve/store.h"

namespace evolve::engines {

// A model ready to simulate: one span of its predictions as backtest input.
struct SpanInput {
  std::string symbol;
  std::string span;  // kSpanResearch, kSpanHoldout or kSpanAll
  BacktestBars bars;
  // |prediction| over the research span (every predicted bar before the
  // holdout), ascending: what threshold quantiles are taken of, whatever
  // span is simulated, so a holdout look trades the research threshold.
  std::vector<double> research_magnitudes;
};

// Reads built-in model `model_id` and its simulation data from `artifacts`,
// cut to `span` (kSpanResearch, kSpanHoldout, kSpanAll or empty for all).
// Errors: kNotFound when there is no such model; kInvalidArgument for an
// unknown span or one the model does not have; the store's or decoder's
// error, naming the model.
Result<SpanInput> LoadBacktestInput(ArtifactStore& artifacts, const std::string& model_id,
                                    const std::string& span);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_MODEL_INPUTS_H_
