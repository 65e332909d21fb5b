// What `evolve run` and `evolve serve` share: the checks of a new run's
// config against the data.
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_RUN_SUPPORT_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_RUN_SUPPORT_H_

#include <optional>
#include <string>
#include <vector>

#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/json.h"
#include "evolve/service/args.h"
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

// How DataProblems names the data in its messages: the CLI names the data
// directory; a service, whose callers may not be trusted with its paths,
// says "the data directory".
struct DataNames {
  std::string source;        // "DIR" in "unknown symbol 'X': DIR has A, B"
  std::string columns_hint;  // what lists the feature columns
};

// What is wrong with `config` given the data and the built-in engines,
// everything a run will need checked before it is accepted: an unknown
// symbol or reference symbol, a seed feature that is not a column, an
// algorithm, hyperparameters, data options (unknown keys too) or a
// target_col the built-in trainer does not take, a regime column the
// simulator does not have, a timeframe given (`timeframe_given`) that
// contradicts the bars, too few
// bars for the warm-up, training window and split (saying how many are
// needed and why). Each problem names its field ("symbol",
// "reference_symbols[1]", "seed_features[0]", "regime_configs[0]",
// "timeframe", "data_options.train_window").
std::vector<FieldError> DataProblems(const EvolutionConfig& config, const std::vector<std::string>& symbols,
                                     engines::BarSource& bars, const DataNames& names,
                                     bool timeframe_given);

// Records in `config` what its bars are: the source (bars.describe()) and
// the rows dropped from the symbol's and reference symbols' data
// (BarFormat::drop_bad_rows). Errors: the bars' when they cannot be read.
Status RecordBarsOfRun(EvolutionConfig& config, engines::BarSource& bars);

// The timeframe of the bars of the run's symbol (engines::TimeframeLabel
// of their spacing: "1m", "5m", "1h", "1d", "1w", ...): the timeframe of a
// run whose request named none.
Result<std::string> TimeframeOfData(const std::string& symbol, engines::BarSource& bars);

int DefaultWorkers();  // the number of cores, at least 1

// --training: where models are trained (EngineOptions::training_on_queue).
// "workers": on the queue, by the workers (this process's and evolve-worker
// processes on the store); "inline": by this process. Default: "workers"
// when this process runs `workers` > 0 in-process workers, which train
// too; else "inline" (nothing would train: evolve-worker processes that
// reach an `evolve serve` over HTTP simulate only). Errors: kInvalidArgument
// naming --training.
Result<bool> TrainingOnQueue(const std::optional<std::string>& training, int workers);

// The option's entry in --help.
service::OptionSpec TrainingOption();

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_RUN_SUPPORT_H_
