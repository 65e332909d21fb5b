// The "Holy Grail" criteria: when a simulation result is good enough to
// promote its model.
//
// SQN, profit factor and trade count must lie in [min, max] (inclusive);
// weekly consistency must be strictly below its maximum; when set, the
// exposure-matched excess return must reach its minimum and the drawdown stay
// within its maximum. An undefined metric (no SQN, no profit factor because
// there was no losing trade) fails its check. EvaluateHoldout is the separate
// confirmation test of a finalist on the holdout (docs/validity.md).
//
// Thread-safety: pure functions.
#ifndef EVOLVE_CRITERIA_H_
#define EVOLVE_CRITERIA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "evolve/types.h"

namespace evolve {

// The defaults are EvolutionConfig's (evolve/types.h), the one source of a
// run's defaults: Criteria{} == CriteriaFrom(EvolutionConfig{}).
struct Criteria {
  double sqn_min = EvolutionConfig{}.sqn_min;
  double sqn_max = EvolutionConfig{}.sqn_max;
  double profit_factor_min = EvolutionConfig{}.profit_factor_min;
  double profit_factor_max = EvolutionConfig{}.profit_factor_max;
  int64_t trade_count_min = EvolutionConfig{}.trade_count_min;
  int64_t trade_count_max = EvolutionConfig{}.trade_count_max;
  double weekly_consistency_max = EvolutionConfig{}.weekly_consistency_max;
  // Optional (none: not checked): exposure-matched excess return >= min,
  // max drawdown <= max, both in percent.
  std::optional<double> excess_return_min;
  std::optional<double> max_drawdown_max;
};

Criteria CriteriaFrom(const EvolutionConfig& config);

// The outcome of one metric's check.
struct CriterionCheck {
  // "sqn", "profit_factor", "trade_count", "weekly_consistency", then when
  // set "excess_return_pct", "max_drawdown_pct".
  std::string metric;
  std::optional<double> value;  // none when the metric is undefined
  bool passed = false;
  // Empty when passed, else e.g. "sqn 2.41 < min 3 (short by 0.59)" or
  // "profit_factor undefined (no losing trade)".
  std::string failure;
};

struct Verdict {
  bool passed = false;
  std::vector<CriterionCheck> checks;  // one per metric, in the order above

  // "PASS" or "FAIL: sqn 2.41 < min 3 (short by 0.59); trade_count 150 < min 200 (short by 50)".
  std::string Summary() const;
};

Verdict Evaluate(const Criteria& criteria, const SimulationResult& result);

// The confirmation test of a finalist on the holdout, declared in the run's
// config: SQN >= holdout_sqn_min and, unless each is none,
// excess_return_pct >= holdout_excess_return_min and excess_sqn >=
// holdout_excess_sqn_min. e.g. "FAIL: holdout sqn 0.41 < min 1.645
// (short by 1.235)".
Verdict EvaluateHoldout(const EvolutionConfig& config, const SimulationResult& result);

}  // namespace evolve

#endif  // EVOLVE_CRITERIA_H_
