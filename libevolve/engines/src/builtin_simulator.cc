// The built-in grid Simulator (builtin.h; docs/engines.md): groups a
// claim's simulations by model and costs, and runs each group as one
// BacktestGrid pass over the model's stored span, with an LRU of loaded
// spans.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "evolve/engines/backtest.h"
#include "evolve/engines/builtin.h"
#include "model_inputs.h"
#include "phase_timing.h"

namespace evolve::engines {
namespace {

// The q-quantile of ascending `sorted` by linear interpolation between order
// statistics (Hyndman and Fan 1996, definition 7, R's default).
double Quantile(const std::vector<double>& sorted, double q) {
  const double h = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

class BuiltinSimulator final : public Simulator {
 public:
  BuiltinSimulator(ArtifactStore& artifacts, BuiltinOptions options)
      : artifacts_(artifacts), options_(std::move(options)) {}

  Result<SimulationResult> Simulate(const SimulationParams& params) override {
    return std::move(SimulateMany({params})[0]);
  }

  std::vector<Result<SimulationResult>> SimulateMany(const std::vector<SimulationParams>& params) override {
    std::vector<Result<SimulationResult>> results(params.size(),
                                                  Result<SimulationResult>(InternalError("unset")));
    // Entries that share a model and costs are one grid: one pass.
    std::map<std::tuple<std::string, std::string, double, double, double>, std::vector<size_t>> groups;
    for (size_t i = 0; i < params.size(); ++i) {
      const SimulationParams& p = params[i];
      groups[{p.model_id, p.span, p.fee_bps, p.slippage_bps, p.initial_cash}].push_back(i);
    }
    for (const auto& [key, members] : groups) {
      auto group = SimulateGroup(params, members);
      for (size_t k = 0; k < members.size(); ++k) {
        results[members[k]] =
            group.ok() ? Result<SimulationResult>((*group)[k]) : Result<SimulationResult>(group.status());
      }
    }
    return results;
  }

 private:
  Result<std::vector<SimulationResult>> SimulateGroup(const std::vector<SimulationParams>& params,
                                                      const std::vector<size_t>& members) {
    const SimulationParams& first = params[members[0]];
    EVOLVE_ASSIGN_OR_RETURN(std::shared_ptr<const SpanInput> loaded, Load(first.model_id, first.span));
    std::vector<BacktestCell> cells;
    for (size_t i : members) {
      const SimulationParams& p = params[i];
      if (p.use_bot || p.enable_z_score_check || p.volatility_normalization) {
        return InvalidArgumentError(
            "use_bot, enable_z_score_check and volatility_normalization are not supported by the built-in "
            "simulator");
      }
      if (!EqualsIgnoreCase(p.ticker, loaded->symbol)) {
        return InvalidArgumentError("ticker: model " + p.model_id + " was trained on " + loaded->symbol +
                                    ", not " + p.ticker);
      }
      if (!std::isfinite(p.threshold)) return InvalidArgumentError("threshold: must be a finite number");
      double threshold = p.threshold;
      if (p.threshold_quantile) {
        const double q = *p.threshold_quantile;
        if (!(q >= 0 && q < 1)) return InvalidArgumentError("threshold_quantile: must be in [0, 1)");
        if (loaded->research_magnitudes.empty()) {
          return InvalidArgumentError("threshold_quantile: model " + p.model_id +
                                      " has no prediction in its research span");
        }
        threshold = Quantile(loaded->research_magnitudes, q);
      }
      cells.push_back(BacktestCell{threshold, p.regime.column, p.regime.allowed});
    }
    BacktestOptions options;
    options.fee_bps = first.fee_bps;
    options.slippage_bps = first.slippage_bps;
    options.initial_cash = first.initial_cash;
    ScopedEnginePhase phase(EnginePhase::kBacktest);
    std::vector<std::vector<BacktestTrade>> trades;
    EVOLVE_ASSIGN_OR_RETURN(std::vector<SimulationResult> results,
                            BacktestGrid(loaded->bars, cells, options, &trades));
    for (size_t k = 0; k < results.size(); ++k) {
      results[k].span = loaded->span;
      results[k].threshold = cells[k].threshold;
      AddSelectionFigures(loaded->bars, trades[k], &results[k]);
    }
    return results;
  }

  static bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  }

  // A span of the model's backtest input, from the LRU cache or the artifact
  // store. One thread loads a span while the others that want it wait for
  // it: two copies of a long series' inputs in flight would double the
  // memory, for nothing.
  Result<std::shared_ptr<const SpanInput>> Load(const std::string& model_id, const std::string& span) {
    const std::string key = model_id + "\n" + span;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (true) {
        auto it = index_.find(key);
        if (it != index_.end()) {
          lru_.splice(lru_.begin(), lru_, it->second);
          return it->second->second;
        }
        if (loading_.count(key) == 0) break;
        loaded_.wait(lock);
      }
      loading_.insert(key);
    }
    // Whatever happens below (an error, an exception), the key stops
    // loading and the waiters look again.
    struct Done {
      BuiltinSimulator* self;
      const std::string& key;
      ~Done() {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->loading_.erase(key);
        self->loaded_.notify_all();
      }
    } done{this, key};
    ScopedEnginePhase phase(EnginePhase::kSimLoad);
    EVOLVE_ASSIGN_OR_RETURN(SpanInput input, LoadBacktestInput(artifacts_, model_id, span));
    auto loaded = std::make_shared<SpanInput>(std::move(input));

    std::lock_guard<std::mutex> lock(mu_);
    lru_.emplace_front(key, loaded);
    index_[key] = lru_.begin();
    while (lru_.size() > std::max<size_t>(1, options_.simulator_cache)) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    return std::shared_ptr<const SpanInput>(loaded);
  }

  ArtifactStore& artifacts_;
  const BuiltinOptions options_;
  std::mutex mu_;
  using Entry = std::pair<std::string, std::shared_ptr<const SpanInput>>;
  std::list<Entry> lru_;                                     // most recent first; guarded by mu_
  std::map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  std::set<std::string> loading_;                            // keys being loaded; guarded by mu_
  std::condition_variable loaded_;                           // a key stopped loading
};

}  // namespace

std::unique_ptr<Simulator> NewBuiltinSimulator(ArtifactStore& artifacts, const BuiltinOptions& options) {
  return std::make_unique<BuiltinSimulator>(artifacts, options);
}

}  // namespace evolve::engines
