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
};

}  // namespace evolve

#endif  // EVOLVE_TRAINER_H_
