// FeatureSource: which symbols exist and which feature columns a symbol has.
//
// Implementations: the built-in engines (bars on disk), the HTTP adapter for
// the original feature service (port 8100), fakes in evolve/testing.
//
// Thread-safety: implementations must be safe for concurrent calls.
#ifndef EVOLVE_FEATURE_SOURCE_H_
#define EVOLVE_FEATURE_SOURCE_H_

#include <string>
#include <vector>

#include "evolve/status.h"

namespace evolve {

class FeatureSource {
 public:
  FeatureSource() = default;
  FeatureSource(const FeatureSource&) = delete;
  FeatureSource& operator=(const FeatureSource&) = delete;
  virtual ~FeatureSource() = default;

  // The symbols that have data, sorted.
  // Errors: kUnavailable when the source cannot be reached.
  virtual Result<std::vector<std::string>> ListSymbols() = 0;

  // The feature columns of `symbol` (never price/volume/timestamp columns),
  // in the source's order.
  // Errors: kNotFound for an unknown symbol; kUnavailable.
  virtual Result<std::vector<std::string>> ListFeatures(const std::string& symbol) = 0;

  // A digest of the bars a model of `symbol` with `references` (in this
  // order) is trained on: any text that changes whenever those bars change.
  // It goes into the model fingerprint (ModelSpec::data_digest), so a run on
  // grown or edited data trains a new model instead of reusing one fitted on
  // the old bars. The default, "", tells the engine the source cannot say:
  // models are then reused whatever the data (the original feature service).
  // Errors: kNotFound for an unknown symbol; kUnavailable.
  virtual Result<std::string> DataDigest(const std::string& symbol,
                                         const std::vector<std::string>& references) {
    (void)symbol;
    (void)references;
    return std::string();
  }
};

}  // namespace evolve

#endif  // EVOLVE_FEATURE_SOURCE_H_
