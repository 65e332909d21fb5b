// The artifact format of the built-in engines: the contract between the
// built-in trainer, which writes it, and the built-in simulator (and
// LoadModelPredictions / LoadModelBacktestBars), which read it. Internal:
// nothing outside libevolve/engines reads these bytes.
//
// Two artifacts, each one envelope of serialize.h (magic, version, length,
// payload, FNV-1a checksum):
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
// Decoding checks the envelope (ReadEnvelope: magic, a version this build
// reads, length, checksum; its messages name the artifact, "built-in model:
// ..." or "simulation data: ..."), then that every field is present ("truncated:
// ..."), that no byte is left over ("corrupt: ... trailing bytes"), that the
// columns of the simulation data have one length and that first_prediction <=
// scored_start <= holdout_start <= bars ("model artifact: corrupt prediction
// span"). Every failure is kInvalidArgument; nothing reads out of bounds.
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

std::string EncodeSimData(const SimData& data);
Result<SimData> DecodeSimData(std::string_view bytes);

std::string EncodeModel(const BuiltinModel& model);
Result<BuiltinModel> DecodeModel(std::string_view bytes);

// The artifact key of a model: "model/<model id>".
std::string ModelKey(const std::string& model_id);

// Reads and decodes model `model_id` from `artifacts`, with its id in
// importance.model_id. Errors: kNotFound ("... is not a model of the
// built-in trainer") when there is no such artifact; a decoding error with
// the model named.
Result<BuiltinModel> LoadModel(ArtifactStore& artifacts, const std::string& model_id);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_MODEL_ARTIFACT_H_
