// The built-in backtester (ARCHITECTURE.md section 4): trades out-of-sample
// predictions bar by bar and reports the metrics of evolve::SimulationResult.
//
// Trading rules (docs/simulation.md states them with every formula):
//   * The signal of bar i is +1 (long) when prediction[i] > threshold and
//     the regime filter allows bar i's label, -1 (short) when allow_short,
//     prediction[i] < -threshold and the filter allows it, else 0 (flat).
//     A NaN prediction is 0; a filtered cell never trades a label < 0.
//   * The position held during bar i+1 is the signal of bar i: it changes
//     at the OPEN of bar i+1, never on the signal bar. A trade runs from its
//     entry open to the open of the first bar whose previous signal differs
//     (a reversal exits and enters at the same open: two trades' fills).
//   * A position still open after the last bar is closed at the last bar's
//     close (it counts as a trade); the last bar's own signal is not traded.
//   * Costs: c = (fee_bps + slippage_bps) / 10^4 per side. Long net return
//     r = exit (1 - c) / (entry (1 + c)) - 1; short r = (1 - c) -
//     (exit / entry) (1 + c); r >= -1.
//   * Every trade invests the whole equity (compounding); equity is marked
//     to market at every close.
//
// Cost: BacktestGrid makes ONE pass over the bars for all cells, a chunk of
// bars at a time. Per bar, O(distinct thresholds + regime filters) vector
// work (AVX2 where the CPU has it) finds every cell's signal as a bit; per
// cell, work happens only at the bars where its position changes and the
// bars it holds. For long positions, the per-bar returns of the bars held
// after the entry bar are their close-to-close returns (summed per trade)
// and their drawdown is computed by a branch-free vector kernel that falls
// back to the exact rule where it cannot prove the same result. Short
// positions are marked every bar. docs/simulation.md section 6 has details.
//
// Thread-safety: pure functions, reentrant.
#ifndef EVOLVE_ENGINES_BACKTEST_H_
#define EVOLVE_ENGINES_BACKTEST_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "evolve/engines/calendar.h"  // IsoWeek, IsoWeekOf, UtcDate
#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve::engines {

// The bars of the simulated span (typically the out-of-sample span of a
// walk-forward model). All vectors have the same length n >= 1.
struct BacktestBars {
  std::vector<int64_t> time;        // Unix seconds UTC, strictly increasing
  std::vector<double> open, close;  // > 0 and finite
  // Made at the close of bar i from data <= i; NaN = none (flat).
  std::vector<double> prediction;
  // Regime label at bar i, known at its close; -1 = unknown (a cell that
  // filters on the column does not trade it).
  std::map<std::string, std::vector<int8_t>> regimes;
};

// One point of the grid.
struct BacktestCell {
  double threshold = 0;       // >= 0, finite
  std::string regime_column;  // empty = no filter
  std::vector<int> allowed;   // labels traded when regime_column is set
};

struct BacktestOptions {
  double fee_bps = 1;       // per side, >= 0
  double slippage_bps = 1;  // per side, >= 0
  bool allow_short = false;
  double initial_cash = 10000;  // > 0
  // For the Sharpe ratio. 0 = infer as (n - 1) / (span in years of 365.25
  // days) from the first and last time stamps (252 for US daily bars).
  double bars_per_year = 0;
};

// One round trip, for inspection and tests.
struct BacktestTrade {
  size_t entry_bar = 0;  // filled at open[entry_bar]
  // Filled at open[exit_bar], or at close[exit_bar] when at_close (the
  // position was still open after the last bar; exit_bar = n - 1).
  size_t exit_bar = 0;
  bool at_close = false;
  int side = 1;            // +1 long, -1 short
  double entry_price = 0;  // raw prices, before costs
  double exit_price = 0;
  double net_return = 0;  // r above, after costs (fraction)
};

// Simulates every cell over `bars` in one pass and returns one result per
// cell, in order. When `trades` is given it receives each cell's trades.
// Errors: kInvalidArgument for vectors of different lengths, no bars, a
// non-positive or non-finite price, time stamps not strictly increasing (the
// message names the bar), a negative or non-finite threshold, an unknown
// regime column (named), or options out of range.
Result<std::vector<SimulationResult>> BacktestGrid(const BacktestBars& bars,
                                                   const std::vector<BacktestCell>& cells,
                                                   const BacktestOptions& options,
                                                   std::vector<std::vector<BacktestTrade>>* trades = nullptr);

// One cell: BacktestGrid with a grid of one.
Result<SimulationResult> Backtest(const BacktestBars& bars, const BacktestCell& cell,
                                  const BacktestOptions& options,
                                  std::vector<BacktestTrade>* trades = nullptr);

// The equity at the close of every bar of `bars` (one value per bar) of a
// backtest with `options` whose trades are `trades`, in order, as Backtest
// or BacktestGrid returned them for these bars and options: flat, the
// equity; in a trade, the position marked to market at the close exactly as
// the backtester marks it for its drawdown (long: units * close, the
// exit's costs not yet paid; short: units * max(0, entry (2 - c) - close));
// from a trade's exit on, the equity times 1 + its net return. The last
// value is initial_cash * (1 + total_return_pct / 100) of that backtest.
// Errors: kInvalidArgument for no bars, columns of different lengths, or
// trades out of order or outside the bars (the message names the trade).
Result<std::vector<double>> EquityCurve(const BacktestBars& bars, const std::vector<BacktestTrade>& trades,
                                        const BacktestOptions& options);

// Adds to `result` (of a backtest over `span` whose trades are `trades`) what
// the core's selection statistics need (evolve/types.h): the exposure-matched
// excess return, 100 * (exp(ln(1 + R) - exposure * ln(1 + B)) - 1); the
// excess SQN, sqrt(N) * mean / sd of each trade's net log return less the
// span's drift per bar (ln(last close / first open) / bars) times the bars it
// held; and trade_blocks, the power sums of the net trade returns in
// kCscvBlocks equal runs of the span's bars, by exit bar.
void AddSelectionFigures(const BacktestBars& span, const std::vector<BacktestTrade>& trades,
                         SimulationResult* result);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_BACKTEST_H_
