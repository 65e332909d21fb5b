// The engines of `evolve run` and `evolve serve` (ARCHITECTURE.md section
// 5): the built-in ones over a data directory and the store's artifacts, or
// the original feature, training and simulation services over HTTP
// (evolve::http) when FEATURE_URL, TRAINING_URL and SIMULATION_URL are set
// (evolve/service/engine_setup.h), with the checks of a new run's config
// against their data.
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_ENGINE_SETUP_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_ENGINE_SETUP_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evolve/engines/builtin.h"
#include "evolve/feature_source.h"
#include "evolve/http/service_engines.h"
#include "evolve/json.h"
#include "evolve/service/bar_settings.h"
#include "evolve/simulator.h"
#include "evolve/store.h"
#include "evolve/trainer.h"

namespace evolve::cli {

struct EngineSet {
  std::string kind;  // "builtin" or "http"
  FeatureSource* features = nullptr;
  Trainer* trainer = nullptr;
  Simulator* simulator = nullptr;
  // Checks a new run's config against the engines' data (symbols, seed
  // features, what the built-in trainer accepts) and fills what the data
  // decides (the timeframe of a request that names none). Returns the
  // problems, each naming its field; an error status when the data cannot
  // be read (e.g. kUnavailable: the feature service is down).
  std::function<Result<std::vector<FieldError>>(EvolutionConfig& config, bool timeframe_given)>
      prepare_config;

  // Owners of the above.
  std::optional<engines::BuiltinEngines> builtin;
  http::ServiceEngines remote;
};

// The engines of `evolve serve`: the HTTP adapters when the three URLs are
// set, else the built-in engines over the bars of `bars` (opened here, with
// a cache of `bars_cache_bytes`) and `artifacts`.
Result<EngineSet> OpenEngines(ArtifactStore& artifacts, const service::BarsSettings& bars,
                              size_t bars_cache_bytes = engines::BarSource::kDefaultCacheBytes);

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_ENGINE_SETUP_H_
