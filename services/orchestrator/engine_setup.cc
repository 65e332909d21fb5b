#include "engine_setup.h"

#include "evolve/service/bar_settings.h"

#include "evolve/service/engine_setup.h"
#include "run_support.h"

namespace evolve::cli {
namespace {

// The checks of a new run against a feature source that is not ours: the
// symbols it lists and the feature columns of the run's symbol.
Result<std::vector<FieldError>> RemoteProblems(FeatureSource& features, const EvolutionConfig& config) {
  EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> symbols, features.ListSymbols());
  EvolutionConfig checked = config;
  std::vector<std::string> columns;
  if (!config.seed_features.empty()) {
    auto listed = features.ListFeatures(config.symbol);
    if (listed.ok()) {
      columns = std::move(*listed);
    } else if (listed.status().code() == StatusCode::kNotFound) {
      checked.seed_features.clear();  // the unknown symbol is the problem to report
    } else {
      return listed.status();
    }
  }
  return SymbolAndFeatureProblems(checked, symbols, columns, "the feature service",
                                  "GET /api/features/columns?symbol=" + config.symbol);
}

}  // namespace

Result<EngineSet> OpenEngines(ArtifactStore& artifacts, const service::BarsSettings& bars,
                              size_t bars_cache_bytes) {
  EVOLVE_ASSIGN_OR_RETURN(http::ServiceEnginesOptions remote, service::RemoteEngineOptions());
  EngineSet set;
  if (!remote.training_url.empty()) {
    EVOLVE_ASSIGN_OR_RETURN(set.remote, http::NewServiceEngines(remote));
    set.kind = "http";
    set.features = set.remote.features.get();
    set.trainer = set.remote.trainer.get();
    set.simulator = set.remote.simulator.get();
    FeatureSource* features = set.features;
    set.prepare_config = [features](EvolutionConfig& config, bool) {
      return RemoteProblems(*features, config);
    };
    return set;
  }
  engines::BuiltinOptions options;
  EVOLVE_ASSIGN_OR_RETURN(options.bars, service::OpenBarSource(bars, bars_cache_bytes));
  EVOLVE_ASSIGN_OR_RETURN(engines::BuiltinEngines builtin, engines::NewBuiltinEngines(artifacts, options));
  set.builtin = std::move(builtin);
  set.kind = "builtin";
  set.features = set.builtin->features.get();
  set.trainer = set.builtin->trainer.get();
  set.simulator = set.builtin->simulator.get();
  set.prepare_config = [bars = set.builtin->bars](EvolutionConfig& config,
                                                  bool timeframe_given) -> Result<std::vector<FieldError>> {
    EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> symbols, bars->Symbols());
    // A service's replies do not name its paths.
    std::vector<FieldError> problems = DataProblems(
        config, symbols, *bars, {"the data directory", "GET /api/features/columns?symbol=" + config.symbol},
        timeframe_given);
    if (problems.empty() && !timeframe_given) {
      EVOLVE_ASSIGN_OR_RETURN(config.timeframe, TimeframeOfData(config.symbol, *bars));
    }
    if (problems.empty()) EVOLVE_RETURN_IF_ERROR(RecordBarsOfRun(config, *bars));
    return problems;
  };
  return set;
}

}  // namespace evolve::cli
