// Sample values of the library's types for tests that need "a plausible
// result" rather than particular numbers, so that every such test builds it
// the same way. A test that cares about a field sets it on the copy it gets.
#ifndef EVOLVE_TESTING_SAMPLES_H_
#define EVOLVE_TESTING_SAMPLES_H_

#include "evolve/types.h"

namespace evolve::testing {

// The result of one simulation with SQN `sqn` and the usual metrics set, and
// consistent with each other: 400 round trips over 100 weeks, profit factor
// 2.5, weekly consistency 0.3, which pass the default criteria of
// EvolutionConfig (but for the SQN bounds).
inline SimulationResult SampleResult(double sqn) {
  SimulationResult r;
  r.sqn = sqn;
  r.trade_count = 400;
  r.total_trades = 2 * r.trade_count;  // an entry and an exit each
  r.weeks_traded = 100;
  r.trades_per_week = static_cast<double>(r.trade_count) / static_cast<double>(r.weeks_traded);
  r.weekly_consistency = 0.3;
  r.win_rate = 0.55;
  r.gross_profit = 1.5;
  r.gross_loss = 0.6;
  r.profit_factor = r.gross_profit / r.gross_loss;
  r.expectancy = 0.002;
  r.total_return_pct = 90.0;
  return r;
}

}  // namespace evolve::testing

#endif  // EVOLVE_TESTING_SAMPLES_H_
