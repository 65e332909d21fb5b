// Stored built-in models as backtest input (model_inputs.h), and the public
// readers of builtin.h over them: LoadModelPredictions, LoadModelBacktestBars.
#include "model_inputs.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "evolve/engines/builtin.h"
#include "model_artifact.h"

namespace evolve::engines {
namespace {

// The bars [from, to) a span of `model` scores (SplitBars in builtin.h).
Result<std::pair<size_t, size_t>> SpanBars(const BuiltinModel& model, const std::string& span,
                                           const std::string& model_id) {
  const size_t n = model.prediction.size();
  std::pair<size_t, size_t> range;
  if (span == kSpanResearch) {
    range = {model.scored_start, model.holdout_start};
  } else if (span == kSpanHoldout) {
    range = {model.holdout_start, n};
  } else if (span == kSpanAll || span.empty()) {
    range = {model.first_prediction, n};
  } else {
    return InvalidArgumentError("span: unknown span '" + span + "' (expected research, holdout or all)");
  }
  if (range.second - range.first < 1) {
    return InvalidArgumentError("span: model " + model_id + " has no " + span +
                                " span (it was trained with holdout_fraction 0 and no holdout_start)");
  }
  return range;
}

}  // namespace

Result<SpanInput> LoadBacktestInput(ArtifactStore& artifacts, const std::string& model_id,
                                    const std::string& span) {
  EVOLVE_ASSIGN_OR_RETURN(BuiltinModel model, LoadModel(artifacts, model_id));
  Result<SimData> data = InternalError("unread");
  {
    // The stored bytes go as soon as they are decoded: for a long series
    // they are gigabytes.
    auto bytes = artifacts.GetArtifact(model.simdata_key);
    if (!bytes.ok()) return bytes.status().WithContext("simulation data of model " + model_id);
    data = DecodeSimData(*bytes);
  }
  if (!data.ok()) return data.status().WithContext("simulation data of model " + model_id);
  if (data->time.size() != model.prediction.size()) {
    return InternalError("model " + model_id + ": predictions do not match its simulation data");
  }
  EVOLVE_ASSIGN_OR_RETURN(auto range, SpanBars(model, span, model_id));
  SpanInput loaded;
  loaded.symbol = model.spec.symbol;
  loaded.span = span.empty() ? kSpanAll : span;
  const auto from = static_cast<long>(range.first), to = static_cast<long>(range.second);
  auto cut = [from, to](const auto& v) {
    return std::decay_t<decltype(v)>(v.begin() + from, v.begin() + to);
  };
  loaded.bars.time = cut(data->time);
  loaded.bars.open = cut(data->open);
  loaded.bars.close = cut(data->close);
  loaded.bars.prediction = cut(model.prediction);
  for (const auto& [name, labels] : data->regimes) loaded.bars.regimes[name] = cut(labels);
  for (size_t i = model.first_prediction; i < model.holdout_start; ++i) {
    if (std::isfinite(model.prediction[i]))
      loaded.research_magnitudes.push_back(std::fabs(model.prediction[i]));
  }
  std::sort(loaded.research_magnitudes.begin(), loaded.research_magnitudes.end());
  return loaded;
}
Result<ModelPredictions> LoadModelPredictions(ArtifactStore& artifacts, const std::string& model_id) {
  EVOLVE_ASSIGN_OR_RETURN(BuiltinModel model, LoadModel(artifacts, model_id));
  auto bytes = artifacts.GetArtifact(model.simdata_key);
  if (!bytes.ok()) return bytes.status().WithContext("simulation data of model " + model_id);
  EVOLVE_ASSIGN_OR_RETURN(SimData data, DecodeSimData(*bytes));
  return ModelPredictions{std::move(data.time), std::move(model.prediction)};
}

Result<BacktestBars> LoadModelBacktestBars(ArtifactStore& artifacts, const std::string& model_id,
                                           const std::string& span) {
  EVOLVE_ASSIGN_OR_RETURN(SpanInput loaded, LoadBacktestInput(artifacts, model_id, span));
  return std::move(loaded.bars);
}

}  // namespace evolve::engines
