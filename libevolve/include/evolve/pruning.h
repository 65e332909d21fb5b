// PruningStrategy: decides which features survive into the next generation.
// This is the user's extension point: implement it and hand it to the
// engine (EngineDeps::pruning), as examples/custom_pruner.cc shows.
//
// Thread-safety: Prune must be safe for concurrent calls (the built-ins hold
// no mutable state).
#ifndef EVOLVE_PRUNING_H_
#define EVOLVE_PRUNING_H_

#include <memory>
#include <string>
#include <vector>

#include "evolve/status.h"
#include "evolve/trainer.h"
#include "evolve/types.h"

namespace evolve {

struct PruneDecision {
  std::vector<std::string> kept;    // in the order of the input features
  std::vector<std::string> pruned;  // in the order of the input features
  std::string reason;               // recorded in the lineage, e.g. "importance<=0"
};

class PruningStrategy {
 public:
  PruningStrategy() = default;
  PruningStrategy(const PruningStrategy&) = delete;
  PruningStrategy& operator=(const PruningStrategy&) = delete;
  virtual ~PruningStrategy() = default;

  // A short stable name, e.g. "non_positive".
  virtual std::string Name() const = 0;

  // Splits `features` into kept and pruned. `importances` has exactly one
  // finite entry per feature (the engine checks this before calling).
  // kept and pruned together are exactly `features`.
  // Errors: kInvalidArgument when the strategy cannot decide.
  virtual Result<PruneDecision> Prune(const std::vector<std::string>& features,
                                      const std::vector<FeatureImportance>& importances) const = 0;
};

// Prunes every feature whose importance is <= 0 (the seed's rule).
std::unique_ptr<PruningStrategy> NewNonPositivePruning();
// Keeps the ceil(fraction * n) most important features (ties keep input
// order); prunes the rest. REQUIRES: 0 < fraction < 1.
std::unique_ptr<PruningStrategy> NewKeepTopFractionPruning(double fraction);
// Prunes every feature whose importance is <= min_importance. Meant for
// permutation importance, where "<= a small epsilon" is noise.
std::unique_ptr<PruningStrategy> NewThresholdPruning(double min_importance);

// The built-in strategy a PruningConfig names.
// Errors: kInvalidArgument for an unknown name or an out-of-range parameter.
Result<std::unique_ptr<PruningStrategy>> NewPruningStrategy(const PruningConfig& config);

}  // namespace evolve

#endif  // EVOLVE_PRUNING_H_
