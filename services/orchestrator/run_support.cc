#include "run_support.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include "evolve/engines/builtin.h"
#include "evolve/engines/features.h"
#include "evolve/evolution.h"
#include "evolve/log.h"

namespace evolve::cli {
namespace {

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string JoinSymbols(const std::vector<std::string>& symbols) {
  std::string list;
  for (const std::string& s : symbols) list += (list.empty() ? "" : ", ") + s;
  return list;
}

std::vector<FieldError> SymbolAndFeatureProblems(const EvolutionConfig& config,
                                                 const std::vector<std::string>& symbols,
                                                 const std::vector<std::string>& columns,
                                                 const std::string& source, const std::string& columns_hint) {
  std::vector<FieldError> problems;
  auto has = [&symbols](const std::string& s) {
    const std::string upper = Upper(s);
    return std::any_of(symbols.begin(), symbols.end(),
                       [&upper](const std::string& k) { return Upper(k) == upper; });
  };
  const std::string list = JoinSymbols(symbols);
  if (!has(config.symbol)) {
    problems.push_back({"symbol", "unknown symbol '" + config.symbol + "': " + source + " has " + list});
  }
  for (size_t i = 0; i < config.reference_symbols.size(); ++i) {
    const std::string& r = config.reference_symbols[i];
    if (!has(r)) {
      problems.push_back({"reference_symbols[" + std::to_string(i) + "]",
                          "unknown symbol '" + r + "': " + source + " has " + list});
    }
  }
  for (size_t i = 0; i < config.seed_features.size(); ++i) {
    const std::string& f = config.seed_features[i];
    if (std::find(columns.begin(), columns.end(), f) == columns.end()) {
      problems.push_back({"seed_features[" + std::to_string(i) + "]",
                          "unknown feature '" + f + "' (" + columns_hint + " shows the columns)"});
    }
  }
  return problems;
}

std::vector<FieldError> DataProblems(const EvolutionConfig& config, const std::vector<std::string>& symbols,
                                     engines::BarSource& bars, const DataNames& names, bool timeframe_given) {
  std::vector<FieldError> problems = SymbolAndFeatureProblems(
      config, symbols, engines::FeatureNames(config.reference_symbols), names.source, names.columns_hint);
  // An unknown symbol whose file is there in a form not read says so.
  const std::vector<std::string> unread_files = bars.reader().Unread();
  auto unread = [&unread_files](const std::string& symbol) {
    std::string out;
    for (const std::string& line : unread_files) {
      if (Upper(line).rfind(Upper(symbol) + ".", 0) == 0) out += " (" + line + ")";
    }
    return out;
  };
  for (FieldError& p : problems) {
    const std::string references = "reference_symbols[";
    if (p.field == "symbol") {
      p.message += unread(config.symbol);
    } else if (p.field.rfind(references, 0) == 0) {
      p.message += unread(config.reference_symbols[std::stoul(p.field.substr(references.size()))]);
    }
  }
  // What the built-in engines would refuse: "field: message".
  auto refused = [&problems](const Status& status) {
    if (status.ok()) return;
    const std::string& m = status.message();
    const size_t colon = m.find(": ");
    if (colon == std::string::npos) {
      problems.push_back({"algorithm", m});
    } else {
      problems.push_back({m.substr(0, colon), m.substr(colon + 2)});
    }
  };
  const ModelSpec spec = SpecFor(config, config.seed_features);
  refused(engines::ValidateBuiltinSpec(spec));
  const std::vector<std::string> regimes = engines::BuiltinRegimeColumns();
  for (size_t i = 0; i < config.regime_configs.size(); ++i) {
    const RegimeFilter& f = config.regime_configs[i];
    if (f.empty() || std::find(regimes.begin(), regimes.end(), f.column) != regimes.end()) continue;
    problems.push_back(
        {"regime_configs[" + std::to_string(i) + "]",
         "unknown regime column '" + f.column + "': the built-in simulator has " + JoinSymbols(regimes)});
  }
  // What needs the bars: only once the symbols and the scheme are known good.
  if (!problems.empty()) return problems;
  auto own = bars.Load(config.symbol);
  if (!own.ok()) {
    problems.push_back(
        {"symbol", "the bars of " + config.symbol + " cannot be read: " + own.status().message()});
    return problems;
  }
  const std::string data_timeframe = engines::TimeframeLabel((*own)->bar_seconds);
  if (timeframe_given && !data_timeframe.empty() &&
      engines::TimeframeSeconds(config.timeframe) != (*own)->bar_seconds) {
    problems.push_back({"timeframe", "'" + config.timeframe + "' names bars " +
                                         std::to_string(engines::TimeframeSeconds(config.timeframe)) +
                                         " s apart, but the bars of " + config.symbol + " are " +
                                         data_timeframe + " bars (most are " +
                                         std::to_string((*own)->bar_seconds) +
                                         " s apart); leave timeframe out to take the data's"});
  }
  std::vector<std::shared_ptr<const engines::Bars>> references;
  for (const std::string& r : config.reference_symbols) {
    auto loaded = bars.Load(r);
    if (!loaded.ok()) {
      problems.push_back(
          {"reference_symbols", "the bars of " + r + " cannot be read: " + loaded.status().message()});
      return problems;
    }
    references.push_back(*loaded);
  }
  refused(engines::ValidateBuiltinBars(spec, **own, references));
  return problems;
}

Status RecordBarsOfRun(EvolutionConfig& config, engines::BarSource& bars) {
  config.bars_source = bars.describe();
  config.dropped_rows = 0;
  std::vector<std::string> symbols = config.reference_symbols;
  symbols.insert(symbols.begin(), config.symbol);
  for (const std::string& symbol : symbols) {
    EVOLVE_ASSIGN_OR_RETURN(std::shared_ptr<const engines::Bars> b, bars.Load(symbol));
    config.dropped_rows += static_cast<int64_t>(b->dropped_rows);
  }
  return Status::Ok();
}

Result<std::string> TimeframeOfData(const std::string& symbol, engines::BarSource& bars) {
  EVOLVE_ASSIGN_OR_RETURN(std::shared_ptr<const engines::Bars> b, bars.Load(symbol));
  // A single bar has no spacing: labelled by its stamp alone.
  if (b->bar_seconds <= 0) return std::string(b->intraday ? "1m" : "1d");
  return engines::TimeframeLabel(b->bar_seconds);
}

int DefaultWorkers() { return std::max(1u, std::thread::hardware_concurrency()); }

Result<bool> TrainingOnQueue(const std::optional<std::string>& training, int workers) {
  if (!training) return workers > 0;
  if (*training == "workers") return true;
  if (*training == "inline") return false;
  return InvalidArgumentError("--training: must be 'workers' or 'inline', got '" + *training + "'");
}

service::OptionSpec TrainingOption() {
  return {"training", "WHERE",
          "where models are trained: 'workers' (jobs on the queue, run by in-process workers and by "
          "evolve-worker processes on the store) or 'inline' (default: workers when this process runs "
          "workers, else inline)"};
}

}  // namespace evolve::cli
