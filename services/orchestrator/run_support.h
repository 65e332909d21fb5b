// What `evolve run` and `evolve serve` share: the checks of a new run's
// config against the data.
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_RUN_SUPPORT_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_RUN_SUPPORT_H_

#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/json.h"
#include "evolve/status.h"

namespace evolve::cli {

// "A, B, C".
std::string JoinSymbols(const std::vector<std::string>& symbols);

// The symbol, reference symbols and seed features of `config` against the
// `symbols` (any case) and feature `columns` a data source has: each
// problem names its field ("symbol", "reference_symbols[1]",
// "seed_features[0]"); `source` names the data in the message ("DIR has
// A, B"), `columns_hint` says what lists the columns.
std::vector<FieldError> SymbolAndFeatureProblems(const EvolutionConfig& config,
                                                 const std::vector<std::string>& symbols,
                                                 const std::vector<std::string>& columns,
                                                 const std::string& source, const std::string& columns_hint);

// What is wrong with `config` given the data and the built-in engines: an
// unknown symbol or reference symbol, a seed feature that is not a column,
// an algorithm, hyperparameters or data options the built-in trainer does
// not take. Each problem names its field ("symbol", "reference_symbols[1]",
// "seed_features[0]", "hyperparameters", "data_options.train_window").
std::vector<FieldError> DataProblems(const EvolutionConfig& config, const std::vector<std::string>& symbols,
                                     const std::string& data_dir);

// "1m" for intraday bars of the run's symbol, else "1d": the timeframe of a
// run whose request named none.
Result<std::string> TimeframeOfData(const std::string& symbol, engines::BarDirectory& bars);

int DefaultWorkers();  // the number of cores, at least 1

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_RUN_SUPPORT_H_
