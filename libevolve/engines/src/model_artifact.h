// The artifact format of the built-in engines: the contract between the
// built-in trainer, which writes it, and the built-in simulator (and
// LoadModelPredictions / LoadModelBacktestBars), which read it. Internal:
// nothing outside libevolve/engines reads these bytes.
//
// Four artifacts, each one envelope of serialize.h (magic, version, length,
// payload, FNV-1a checksum). The model and its simulation data are what a
// trained model is; the bars and the training parts exist for training on
// the queue (docs/engines.md, "Training in parts"):
//
//   "model/<model id>"   magic "EVMB", model format 2 (reads 1 and 2)
//     payload: spec (JSON string), train_window, test_window, refit_every
//     (u64 each), simdata key (string), first_prediction (u64), prediction
//     (f64 vector, one per bar of the simulation data), importance type
//     (string), importances (u64 count, then feature string + f64 each),
//     metrics (u64 count, then key string + f64 each), final model (string:
//     the last refit, itself an envelope of forest.h / linear.h), then,
//     from format 2 on, scored_start and holdout_start (u64 each).
//     A format 1 model (no split) reads as scoring every bar from its first
//     prediction: scored_start = first_prediction, holdout_start = bars.
//
//   "simdata/<sha256>"   magic "EVSD", simulation-data format 1
//     payload: time (u64 count, then i64 each), open, close (f64 vectors),
//     regimes (u64 count <= 64, then name string + labels as one byte
//     string each).
//
//   "bars/<sha256>"      magic "EVBR", bars format 1; the key is the SHA-256
//     of the whole envelope (content-addressed: the same bars, the same key)
//     payload: symbol (string), intraday (bool), time (u64 count, then i64
//     each), open, high, low, close, volume (f64 vectors, one per bar).
//
//   "trainpart/<sha256>" magic "EVTP", training-part format 1; the key is a
//     digest of the plan (the spec without parent_model_id, the plan's
//     inputs and part count: TrainingPartKey) and the part's index
//     payload: plan digest (string), parts, part (u64 each), bars,
//     warm-up, first_prediction, scored_start, holdout_start (u64 each: the
//     facts of the whole walk-forward), spans (u64: how many the walk-forward
//     has), first span (u64: the index of the part's first span), then the
//     part's spans (u64 count, then each: start, end (u64), defined (byte
//     string, one 0 or 1 per bar of the span), raw (f64 vector, one per bar
//     of the span: the model's output before it is made a return, NaN where
//     not defined), importance (f64 vector: one per feature, or empty when
//     fewer than 2 rows measured it), importance rows (u64)), and the final
//     model (string: the last span's fitted model, serialised, in the part
//     holding the last span; empty in every other).
//
// Decoding checks the envelope (ReadEnvelope: magic, a version this build
// reads, length, checksum; its messages name the artifact, "built-in model:
// ..." or "simulation data: ..."), then that every field is present ("truncated:
// ..."), that no byte is left over ("corrupt: ... trailing bytes"), that the
// columns of the simulation data and of the bars have one length and that
// first_prediction <= scored_start <= holdout_start <= bars ("model
// artifact: corrupt prediction span"); a training part's spans must follow
// each other inside its bars, each column as long as its span, and it holds
// a final model exactly when it holds the last span. Every failure is
// kInvalidArgument; nothing reads out of bounds.
//
// A change of layout takes a new format version, and the decoder keeps
// reading every earlier one: models in a store outlive the binary that
// trained them.
//
// Thread-safety: pure functions over values.
#ifndef EVOLVE_ENGINES_SRC_MODEL_ARTIFACT_H_
#define EVOLVE_ENGINES_SRC_MODEL_ARTIFACT_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "evolve/engines/builtin.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/trainer.h"
#include "evolve/types.h"

namespace evolve::engines {

// Envelope magics and the newest format versions this build writes.
inline constexpr char kModelMagic[] = "EVMB";  // evolve model, built-in
// Format 2 added the split (scored_start, holdout_start).
inline constexpr uint32_t kModelFormat = 2;
inline constexpr char kSimDataMagic[] = "EVSD";  // evolve simulation data
inline constexpr uint32_t kSimDataFormat = 1;
inline constexpr char kBarsMagic[] = "EVBR";  // evolve bars
inline constexpr uint32_t kBarsFormat = 1;
inline constexpr char kTrainingPartMagic[] = "EVTP";  // evolve training part
inline constexpr uint32_t kTrainingPartFormat = 1;

// The simulation inputs of one symbol under one walk-forward scheme.
struct SimData {
  std::vector<int64_t> time;
  std::vector<double> open;
  std::vector<double> close;
  std::map<std::string, std::vector<int8_t>> regimes;
};

// A trained walk-forward model.
struct BuiltinModel {
  ModelSpec spec;
  WalkForward scheme;
  std::string simdata_key;
  size_t first_prediction = 0;  // bar index of the first out-of-sample prediction
  size_t scored_start = 0;      // SplitBars, over the simdata's bars
  size_t holdout_start = 0;
  std::vector<double> prediction;  // per bar of the simdata: expected next-bar return, NaN = none
  ImportanceReport importance;     // importance.model_id is not stored (LoadModel sets it)
  std::map<std::string, double> metrics;
  std::string final_model;  // the last refit, serialised, for predicting new data
};

// What one walk-forward span's model left for the reduction
// (training_spans.h): its out-of-sample outputs and its importance.
struct SpanOutcome {
  size_t start = 0;  // the span's bars [start, end)
  size_t end = 0;
  std::vector<char> defined;       // per bar of the span: 1 when every feature is defined
  std::vector<double> raw;         // per bar of the span: the model's output, NaN where not defined
  std::vector<double> importance;  // per feature; empty when fewer than 2 rows measured it
  size_t importance_rows = 0;
};

// A contiguous range of a model's walk-forward spans, trained: one part of
// a plan (Trainer::TrainPart), or every span at once (Trainer::Train).
struct TrainingPart {
  std::string plan;  // the plan's digest (TrainingPlanDigest); empty for Train's own
  size_t parts = 1;
  size_t part = 0;
  // Facts of the whole walk-forward, the same in every part.
  size_t bars = 0;
  size_t warmup = 0;
  size_t first_prediction = 0;
  size_t scored_start = 0;
  size_t holdout_start = 0;
  size_t spans = 0;       // spans of the walk-forward
  size_t first_span = 0;  // the index of outcomes[0] among them
  std::vector<SpanOutcome> outcomes;
  std::string final_model;  // the last span's model, serialised, when this part holds it
};

std::string EncodeSimData(const SimData& data);
Result<SimData> DecodeSimData(std::string_view bytes);

std::string EncodeModel(const BuiltinModel& model);
Result<BuiltinModel> DecodeModel(std::string_view bytes);

std::string EncodeBars(const Bars& bars);
Result<Bars> DecodeBars(std::string_view bytes);
// The content-addressed key of encoded bars: "bars/<sha256 of `encoded`>".
std::string BarsKey(std::string_view encoded);

std::string EncodeTrainingPart(const TrainingPart& part);
Result<TrainingPart> DecodeTrainingPart(std::string_view bytes);
// The digest of a training plan: SHA-256 of the task's spec (as JSON,
// without parent_model_id, which is lineage only), inputs and part count.
std::string TrainingPlanDigest(const TrainingTask& task);
// The key of part `part` of that plan: "trainpart/<sha256>".
std::string TrainingPartKey(const std::string& plan_digest, size_t part);

// The artifact key of a model: "model/<model id>".
std::string ModelKey(const std::string& model_id);

// Reads and decodes model `model_id` from `artifacts`, with its id in
// importance.model_id. Errors: kNotFound ("... is not a model of the
// built-in trainer") when there is no such artifact; a decoding error with
// the model named.
Result<BuiltinModel> LoadModel(ArtifactStore& artifacts, const std::string& model_id);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_MODEL_ARTIFACT_H_
