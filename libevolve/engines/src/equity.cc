// The equity replay of a backtest (EquityCurve, backtest.h): the curve the
// backtester marks, rebuilt from its trades with its own position rule
// (position.h), for an equity chart.
#include <cmath>
#include <string>
#include <vector>

#include "evolve/engines/backtest.h"
#include "position.h"

namespace evolve::engines {

Result<std::vector<double>> EquityCurve(const BacktestBars& bars, const std::vector<BacktestTrade>& trades,
                                        const BacktestOptions& options) {
  const size_t n = bars.time.size();
  if (n == 0) return InvalidArgumentError("bars: no bars to replay");
  if (bars.open.size() != n || bars.close.size() != n) {
    return InvalidArgumentError("bars: time, open and close must have the same length");
  }
  const double cost = (options.fee_bps + options.slippage_bps) / 1e4;
  std::vector<double> equity(n);
  double cash = options.initial_cash;
  size_t next = 0;  // the first bar whose close is not yet marked
  for (size_t k = 0; k < trades.size(); ++k) {
    const BacktestTrade& t = trades[k];
    const std::string name = "trades[" + std::to_string(k) + "]";
    // A reversal enters at the open its previous trade exits at.
    if (t.entry_bar < next || t.exit_bar < t.entry_bar || t.exit_bar >= n ||
        (t.exit_bar == t.entry_bar && !t.at_close) || (t.at_close && t.exit_bar != n - 1)) {
      return InvalidArgumentError(name + ": bars " + std::to_string(t.entry_bar) + " to " +
                                  std::to_string(t.exit_bar) + " are out of order or outside the " +
                                  std::to_string(n) + " bars");
    }
    if ((t.side != 1 && t.side != -1) || !(t.entry_price > 0) || !(t.net_return >= -1.0)) {
      return InvalidArgumentError(name + ": not a trade of the backtester (side, entry price or net return)");
    }
    for (; next < t.entry_bar; ++next) equity[next] = cash;
    // Entered at the open of entry_bar: the closes of entry_bar ..
    // exit_bar - 1 are marked with the position; it exits at the open of
    // exit_bar, or at its close when it was still open after the last bar.
    const double units = t.side > 0 ? backtest_internal::LongUnits(cash, t.entry_price, cost)
                                    : backtest_internal::ShortUnits(cash, t.entry_price);
    const double anchor = backtest_internal::ShortAnchor(t.entry_price, cost);
    for (; next < t.exit_bar; ++next) {
      equity[next] = backtest_internal::MarkToMarket(t.side, units, anchor, cash, bars.close[next]);
    }
    cash *= 1.0 + t.net_return;
    if (t.at_close) equity[next++] = cash;
  }
  for (; next < n; ++next) equity[next] = cash;
  return equity;
}

}  // namespace evolve::engines
