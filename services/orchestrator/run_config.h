// The run configuration of `evolve run`: a POST /evolve body assembled from
// --config FILE and the per-field options, validated by the same parser as
// the REST API.
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_RUN_CONFIG_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_RUN_CONFIG_H_

#include <functional>
#include <string>
#include <vector>

#include "evolve/service/args.h"
#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve::cli {

// One option per field of the POST /evolve body (plus --config).
const std::vector<service::OptionSpec>& RunConfigOptions();

// True for the options of RunConfigOptions().
bool IsRunConfigOption(const std::string& name);

// The option that sets `field` ("sqn_min" -> "sqn-min", "regime_configs[1]"
// -> "regimes", "data_options.x" -> "data-options"); "" for a field only
// --config sets.
std::string OptionForField(const std::string& field);

// The POST /evolve JSON body: --config's object with each given option
// replacing its field, and "symbol": default_symbol() when neither gives one
// (and default_symbol is set; its error is returned). Errors (kInvalidArgument, naming the option or the
// file): unreadable file, malformed JSON, a value of the wrong kind.
using DefaultSymbolFn = std::function<Result<std::string>()>;
Result<std::string> RunRequestJson(const service::Args& args, const DefaultSymbolFn& default_symbol);

// RunRequestJson parsed and validated (EvolutionConfigFromJson);
// `timeframe_given` (if not null) tells whether the body names a timeframe.
// Errors name the
// field and the option that sets it: "sqn_min (--sqn-min): must be <= ...".
Result<EvolutionConfig> RunConfigFromArgs(const service::Args& args, const DefaultSymbolFn& default_symbol,
                                          int default_max_generations, bool* timeframe_given = nullptr);

// DEFAULT_MAX_GENERATIONS, else EvolutionConfig{}.max_generations. Errors: kInvalidArgument for a value that
// is not a positive integer.
Result<int> DefaultMaxGenerations();

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_RUN_CONFIG_H_
