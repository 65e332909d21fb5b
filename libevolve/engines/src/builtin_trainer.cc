// The built-in walk-forward Trainer (builtin.h; docs/engines.md): trains a
// model in one call (Train) or in parts on the queue (PlanTraining,
// TrainPart, AssembleModel), both with training_spans.h's pieces, and
// stores the model and its simulation data as artifacts (model_artifact.h).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "bars_artifacts.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/features.h"
#include "evolve/engines/regimes.h"
#include "evolve/evolution.h"
#include "evolve/fingerprint.h"
#include "evolve/log.h"
#include "model_artifact.h"
#include "phase_timing.h"
#include "training_spans.h"
#include "walk_forward.h"

namespace evolve::engines {
namespace {

const double kNaN = std::nan("");

// The close of `market` known at each bar of `bars`: the close of its last
// bar complete by the bar's own completion (CompleteAt), as the features
// align references. A daily market bar is known only at the end of its date,
// so a minute bar sees the previous day's close, never its own day's. NaN
// before the market's first complete bar.
std::vector<double> AlignClose(const Bars& market, const Bars& bars) {
  std::vector<double> out(bars.size(), kNaN);
  size_t k = 0;
  for (size_t i = 0; i < bars.size(); ++i) {
    const int64_t now = CompleteAt(bars, i);
    while (k < market.size() && CompleteAt(market, k) <= now) ++k;
    if (k > 0) out[i] = market.close[k - 1];
  }
  return out;
}

// The regime columns SimData carries (StoreSimData below).
constexpr const char* kRegimeColumns[] = {"regime_gmm", "regime_vix"};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// A model's bars: its symbol's and its references', in the spec's order.
struct ModelBars {
  std::shared_ptr<const Bars> bars;
  std::vector<std::shared_ptr<const Bars>> references;
};

// What a plan tells every part besides the spec (TrainingPlan::inputs), as
// JSON: {"bars": "bars/<sha256>", "references": ["bars/<sha256>", ...],
// "importance_repeats": 5}. The repeats are the planning trainer's, so the
// parts train exactly what its Train would, whichever worker runs them.
struct PlanInputs {
  std::string bars;
  std::vector<std::string> references;
  int importance_repeats = 5;
};

std::string EncodePlanInputs(const PlanInputs& in) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("bars");
  w.String(in.bars.c_str(), static_cast<rapidjson::SizeType>(in.bars.size()));
  w.Key("references");
  w.StartArray();
  for (const auto& key : in.references) w.String(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
  w.EndArray();
  w.Key("importance_repeats");
  w.Int(in.importance_repeats);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<PlanInputs> ParsePlanInputs(const std::string& json) {
  auto refuse = [](const std::string& why) {
    return InvalidArgumentError("training inputs: not the built-in trainer's plan (" + why + ")");
  };
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return refuse("not a JSON object");
  PlanInputs in;
  std::set<std::string> seen;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const std::string name(it->name.GetString(), it->name.GetStringLength());
    const rapidjson::Value& v = it->value;
    if (!seen.insert(name).second) return refuse("\"" + name + "\" repeated");
    if (name == "bars" && v.IsString()) {
      in.bars.assign(v.GetString(), v.GetStringLength());
    } else if (name == "references" && v.IsArray()) {
      for (const auto& key : v.GetArray()) {
        if (!key.IsString()) return refuse("references: a key is not a string");
        in.references.emplace_back(key.GetString(), key.GetStringLength());
      }
    } else if (name == "importance_repeats" && v.IsInt() && v.GetInt() >= 1) {
      in.importance_repeats = v.GetInt();
    } else {
      return refuse("unexpected or malformed \"" + name + "\"");
    }
  }
  if (seen.size() != 3) return refuse("bars, references and importance_repeats are required");
  return in;
}

Status NoDataDirectory(const std::string& method) {
  return FailedPreconditionError("the built-in trainer of a worker has no data directory: " + method +
                                 " needs one; a worker runs the parts of a training the engine queued "
                                 "(TrainPart, AssembleModel)");
}

class BuiltinTrainer final : public Trainer {
 public:
  // `bars` is null for a worker's trainer (NewBuiltinWorkerTrainer).
  BuiltinTrainer(std::shared_ptr<BarSource> bars, ArtifactStore& artifacts, BuiltinOptions options)
      : bars_(std::move(bars)),
        artifacts_(artifacts),
        options_(std::move(options)),
        stored_bars_(artifacts, options_.bars_cache_bytes) {}

  // Every span in one part, on this process's threads: the same pieces as
  // the parts of a plan, without the artifacts between them.
  Result<TrainedModel> Train(const ModelSpec& spec) override {
    if (!bars_) return NoDataDirectory("Train");
    EVOLVE_ASSIGN_OR_RETURN(TrainingSetup setup, SetUpTraining(spec, options_));
    EVOLVE_ASSIGN_OR_RETURN(ModelBars input, LoadFromDirectory(spec));
    EVOLVE_ASSIGN_OR_RETURN(TrainingLayout layout,
                            LayOutTraining(spec, setup, *input.bars, input.references));
    std::vector<TrainingPart> parts(1);
    EVOLVE_ASSIGN_OR_RETURN(
        parts[0], TrainSpanRange(spec, setup, *input.bars, input.references, layout, 0, layout.spans.size(),
                                 options_.importance_repeats, options_.feature_memory_bytes));
    return StoreModel(spec, setup, input, parts);
  }

  // Cheap: the bars are loaded (and stored once per file version), no
  // feature is computed and nothing is fitted.
  Result<TrainingPlan> PlanTraining(const ModelSpec& spec) override {
    if (!bars_) return NoDataDirectory("PlanTraining");
    EVOLVE_RETURN_IF_ERROR(SetUpTraining(spec, options_).status());
    EVOLVE_ASSIGN_OR_RETURN(ModelBars input, LoadFromDirectory(spec));
    EVOLVE_RETURN_IF_ERROR(CheckFeatureNames(spec, input.references));
    PlanInputs inputs;
    inputs.importance_repeats = options_.importance_repeats;
    EVOLVE_ASSIGN_OR_RETURN(inputs.bars, stored_bars_.Store(input.bars));
    for (const auto& ref : input.references) {
      EVOLVE_ASSIGN_OR_RETURN(std::string key, stored_bars_.Store(ref));
      inputs.references.push_back(std::move(key));
    }
    return TrainingPlan{std::max(1, options_.training_parts), EncodePlanInputs(inputs)};
  }

  Result<std::string> TrainPart(const TrainingTask& task) override {
    if (task.parts < 1 || task.part < 0 || task.part >= task.parts) {
      return InvalidArgumentError("training part " + std::to_string(task.part) + " of " +
                                  std::to_string(task.parts) + ": no such part");
    }
    EVOLVE_ASSIGN_OR_RETURN(TrainingSetup setup, SetUpTraining(task.spec, options_));
    EVOLVE_ASSIGN_OR_RETURN(PlanInputs inputs, ParsePlanInputs(task.inputs));
    EVOLVE_ASSIGN_OR_RETURN(ModelBars input, LoadFromArtifacts(task.spec, inputs));
    EVOLVE_ASSIGN_OR_RETURN(TrainingLayout layout,
                            LayOutTraining(task.spec, setup, *input.bars, input.references));
    const auto [first, last] =
        PartSpanRange(layout.spans.size(), static_cast<size_t>(task.parts), static_cast<size_t>(task.part));
    EVOLVE_ASSIGN_OR_RETURN(TrainingPart part,
                            TrainSpanRange(task.spec, setup, *input.bars, input.references, layout, first,
                                           last, inputs.importance_repeats, options_.feature_memory_bytes));
    part.plan = TrainingPlanDigest(task);
    part.parts = static_cast<size_t>(task.parts);
    part.part = static_cast<size_t>(task.part);
    const std::string key = TrainingPartKey(part.plan, part.part);
    // Idempotent: a part run again writes the same bytes under the same key.
    EVOLVE_RETURN_IF_ERROR(artifacts_.PutArtifact(key, EncodeTrainingPart(part)));
    Log(LogLevel::kInfo, "training part trained",
        {{"symbol", task.spec.symbol},
         {"part", std::to_string(task.part) + "/" + std::to_string(task.parts)},
         {"spans",
          std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(layout.spans.size())},
         {"key", key}});
    return key;
  }

  Result<TrainedModel> AssembleModel(const TrainingTask& task) override {
    if (task.parts < 1 || task.part_outputs.size() != static_cast<size_t>(task.parts)) {
      return InvalidArgumentError("assembling a model: the plan has " + std::to_string(task.parts) +
                                  " parts, the task " + std::to_string(task.part_outputs.size()) +
                                  " outputs");
    }
    EVOLVE_ASSIGN_OR_RETURN(TrainingSetup setup, SetUpTraining(task.spec, options_));
    EVOLVE_ASSIGN_OR_RETURN(PlanInputs inputs, ParsePlanInputs(task.inputs));
    EVOLVE_ASSIGN_OR_RETURN(ModelBars input, LoadFromArtifacts(task.spec, inputs));
    const std::string plan = TrainingPlanDigest(task);
    std::vector<TrainingPart> parts;
    for (size_t k = 0; k < task.part_outputs.size(); ++k) {
      EVOLVE_ASSIGN_OR_RETURN(TrainingPart part, LoadPart(task, plan, k));
      parts.push_back(std::move(part));
    }
    return StoreModel(task.spec, setup, input, parts);
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
  Result<ModelBars> LoadFromDirectory(const ModelSpec& spec) {
    ModelBars m;
    EVOLVE_ASSIGN_OR_RETURN(m.bars, bars_->Load(spec.symbol));
    for (const auto& symbol : spec.reference_symbols) {
      auto ref = bars_->Load(symbol);
      if (!ref.ok()) return ref.status().WithContext("reference symbol " + symbol);
      m.references.push_back(*ref);
    }
    return m;
  }

  // The bars a plan's inputs name, checked against the spec's symbols.
  Result<ModelBars> LoadFromArtifacts(const ModelSpec& spec, const PlanInputs& inputs) {
    if (inputs.references.size() != spec.reference_symbols.size()) {
      return InvalidArgumentError("training inputs: " + std::to_string(inputs.references.size()) +
                                  " reference bars for " + std::to_string(spec.reference_symbols.size()) +
                                  " reference symbols");
    }
    ModelBars m;
    auto load = [this](const std::string& key,
                       const std::string& symbol) -> Result<std::shared_ptr<const Bars>> {
      auto bars = stored_bars_.Load(key);
      if (!bars.ok()) return bars.status().WithContext("training inputs");
      if (Upper((*bars)->symbol) != Upper(symbol)) {
        return InvalidArgumentError("training inputs: " + key + " holds the bars of " + (*bars)->symbol +
                                    ", not " + symbol);
      }
      return bars;
    };
    EVOLVE_ASSIGN_OR_RETURN(m.bars, load(inputs.bars, spec.symbol));
    for (size_t k = 0; k < inputs.references.size(); ++k) {
      EVOLVE_ASSIGN_OR_RETURN(std::shared_ptr<const Bars> ref,
                              load(inputs.references[k], spec.reference_symbols[k]));
      m.references.push_back(std::move(ref));
    }
    return m;
  }

  // Part `k`'s output of `task`, read and checked: it must be the key of
  // part k of this plan, in the store, and hold that part.
  Result<TrainingPart> LoadPart(const TrainingTask& task, const std::string& plan, size_t k) {
    const std::string& output = task.part_outputs[k];
    const std::string key = TrainingPartKey(plan, k);
    const std::string what = "assembling a model: part " + std::to_string(k) + "'s output";
    if (output != key) {
      return InvalidArgumentError(what + " '" + output + "' is not part " + std::to_string(k) +
                                  " of this plan (" + key + ")");
    }
    auto bytes = artifacts_.GetArtifact(key);
    if (!bytes.ok()) {
      if (bytes.status().code() != StatusCode::kNotFound) return bytes.status().WithContext(what);
      return InvalidArgumentError(what + " " + key + " is not in the store");
    }
    auto part = DecodeTrainingPart(*bytes);
    if (!part.ok()) return InvalidArgumentError(what + " " + key + ": " + part.status().message());
    if (part->plan != plan || part->parts != static_cast<size_t>(task.parts) || part->part != k) {
      return InvalidArgumentError(what + " " + key + " holds part " + std::to_string(part->part) + " of " +
                                  std::to_string(part->parts) +
                                  (part->plan != plan ? " of another plan" : "") + ", not part " +
                                  std::to_string(k) + " of this plan");
    }
    return part;
  }

  // Reduces `parts` into the model, stores its simulation data and the
  // model, and returns it.
  Result<TrainedModel> StoreModel(const ModelSpec& spec, const TrainingSetup& setup, const ModelBars& input,
                                  const std::vector<TrainingPart>& parts) {
    EVOLVE_ASSIGN_OR_RETURN(BuiltinModel model, ReduceTrainingParts(spec, setup, *input.bars, parts));
    std::optional<ScopedEnginePhase> phase(EnginePhase::kSimData);
    EVOLVE_ASSIGN_OR_RETURN(model.simdata_key, StoreSimData(*input.bars, input.references, setup.scheme));
    phase.emplace(EnginePhase::kModelStore);
    const std::string model_id = NewId("mdl_");
    EVOLVE_RETURN_IF_ERROR(artifacts_.PutArtifact(ModelKey(model_id), EncodeModel(model)));
    phase.reset();
    Log(LogLevel::kInfo, "model trained",
        {{"model_id", model_id},
         {"symbol", spec.symbol},
         {"features", std::to_string(spec.features.size())},
         {"parts", std::to_string(parts.front().parts)},
         {"refits", std::to_string(static_cast<size_t>(model.metrics.at("refits")))},
         {"oos_rows", std::to_string(static_cast<size_t>(model.metrics.at("oos_rows")))}});
    return TrainedModel{model_id, model.metrics};
  }

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
    // The digest of these bytes, streamed: a copy of the columns would be
    // 32 bytes a bar.
    Sha256Stream digest;
    digest.Update(market.symbol + "|" + bars.symbol + "|" + std::to_string(scheme.train_window) + "|" +
                  std::to_string(scheme.test_window) + "|" + std::to_string(scheme.refit_every) + "|");
    auto append = [&digest](const auto& v) {
      digest.Update(std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0])));
    };
    append(bars.time);
    append(bars.open);
    append(bars.close);
    append(market_close);
    const std::string key = "simdata/" + digest.HexDigest();
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

  std::shared_ptr<BarSource> bars_;  // null in a worker's trainer
  ArtifactStore& artifacts_;
  const BuiltinOptions options_;
  BarsArtifacts stored_bars_;  // the bars of plans, stored and fetched
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
      prefix.bar_seconds = bars.bar_seconds;
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

std::unique_ptr<Trainer> NewBuiltinTrainer(std::shared_ptr<BarSource> bars, ArtifactStore& artifacts,
                                           const BuiltinOptions& options) {
  return std::make_unique<BuiltinTrainer>(std::move(bars), artifacts, options);
}

std::unique_ptr<Trainer> NewBuiltinWorkerTrainer(ArtifactStore& artifacts, const BuiltinOptions& options) {
  return std::make_unique<BuiltinTrainer>(nullptr, artifacts, options);
}

}  // namespace evolve::engines
