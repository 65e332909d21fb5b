// Trainer: trains models and reports what their features are worth.
//
// Implementations: the built-in random forest, the HTTP adapter for the
// original training service (port 8200), fakes in evolve/testing.
//
// Thread-safety: implementations must be safe for concurrent calls.
#ifndef EVOLVE_TRAINER_H_
#define EVOLVE_TRAINER_H_

#include <map>
#include <string>
#include <vector>

#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve {

struct TrainedModel {
  std::string model_id;
  // Whatever the trainer reports (e.g. "r2_oos", "mse"); may be empty.
  std::map<std::string, double> metrics;
};

struct FeatureImportance {
  std::string feature;
  double importance = 0.0;  // signed: permutation importance can be <= 0
};

struct ImportanceReport {
  std::string model_id;
  std::string importance_type;  // "permutation", "tree", "coefficient", ...
  std::vector<FeatureImportance> importances;
};

// Trainer::PlanTraining's answer.
struct TrainingPlan {
  int parts = 1;       // >= 1
  std::string inputs;  // what every part needs to find its data; opaque to the engine
};

class Trainer {
 public:
  Trainer() = default;
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;
  virtual ~Trainer() = default;

  // Trains `spec` to completion (blocking) and returns the new model's id.
  // Errors: kInvalidArgument for a spec the trainer cannot train (unknown
  // algorithm, unknown feature); kUnavailable when the trainer is down (the
  // call may be retried); kDeadlineExceeded when training took too long;
  // kInternal when training itself failed (message says why).
  virtual Result<TrainedModel> Train(const ModelSpec& spec) = 0;

  // The importance of every feature of a trained model.
  // Errors: kNotFound for an unknown model; kUnavailable.
  virtual Result<ImportanceReport> Importance(const std::string& model_id) = 0;

  // What a trained model was trained on (features, hyperparameters, ...).
  // Errors: kNotFound for an unknown model; kUnavailable.
  virtual Result<ModelSpec> DescribeModel(const std::string& model_id) = 0;

  // Training as jobs on the queue (EngineOptions::training_on_queue;
  // docs/architecture.md, "Training on the queue"). Where the run is
  // stepped, the engine asks for a plan; it queues one JobKind::kTrain job
  // per part (TrainingTask with `part` set), and when every part is done one
  // kAssemble job with their outputs; workers, on any host, run them with
  // their own Trainer. The contract:
  //  - TrainPart is deterministic: one spec, plan and part give one output,
  //    whichever worker runs it and however often (a killed worker's part
  //    runs again);
  //  - AssembleModel trains exactly the model Train(spec) would (the same
  //    predictions, importances and metrics), whatever the number of parts;
  //  - both reach only what every worker reaches (the store's artifacts,
  //    a service), never the stepping process's files: `inputs` carries
  //    what they need to find.
  // The defaults make any Trainer queueable as one part: PlanTraining says
  // one part, TrainPart trains the whole model with Train and outputs its
  // id, AssembleModel returns that id.

  // How training `spec` splits into parts, and what every part needs.
  // Errors: as Train for a spec that cannot be trained; kUnavailable.
  virtual Result<TrainingPlan> PlanTraining(const ModelSpec& spec);
  // Runs part `task.part` of `task.parts`; returns its output (opaque text
  // for AssembleModel, at most a few kilobytes: it travels in the queue).
  // Errors: as Train.
  virtual Result<std::string> TrainPart(const TrainingTask& task);
  // Assembles the model from `task.part_outputs` (one per part, in order).
  // Errors: as Train; kInvalidArgument when an output is not this
  // trainer's.
  virtual Result<TrainedModel> AssembleModel(const TrainingTask& task);
};

}  // namespace evolve

#endif  // EVOLVE_TRAINER_H_
