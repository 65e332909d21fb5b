// The built-in engines assembled over one data directory and one store
// (NewBuiltinEngines, builtin.h). Each engine has its file:
// builtin_feature_source.cc, builtin_trainer.cc, builtin_simulator.cc; the
// artifacts between them are model_artifact.h's, the walk-forward scheme
// and split walk_forward.h's.
#include "evolve/engines/builtin.h"

#include <memory>
#include <string>
#include <vector>

#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"

namespace evolve::engines {

Result<BuiltinEngines> NewBuiltinEngines(ArtifactStore& artifacts, const BuiltinOptions& options) {
  BuiltinEngines engines;
  engines.bars =
      options.bars ? options.bars : std::make_shared<BarSource>(options.data_dir, options.bars_cache_bytes);
  EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> symbols, engines.bars->Symbols());
  if (symbols.empty()) return NotFoundError(engines.bars->describe() + " holds no bars (no symbol)");
  engines.features = NewBuiltinFeatureSource(engines.bars);
  engines.trainer = NewBuiltinTrainer(engines.bars, artifacts, options);
  engines.simulator = NewBuiltinSimulator(artifacts, options);
  return engines;
}

}  // namespace evolve::engines
