// The backtester's position rule: how many units an entry buys and what a
// position is worth at a price (docs/simulation.md, "Trading rules"). One
// definition, used by the simulation (backtest.cc) and by the equity
// replay (EquityCurve, equity.cc), so a replayed curve marks every bar
// exactly as the backtest that produced its trades did.
//
// With c = (fee_bps + slippage_bps) / 10^4 per side and equity E at entry:
//   long:  units = E / (entry (1 + c)); worth units * price: the entry's
//          costs are paid, the exit's not yet (the trade's net return pays
//          them when it exits).
//   short: units = E / entry; worth units * max(0, entry (2 - c) - price),
//          the collateral E (1 - c) left after the entry's costs plus the
//          short's gain units * (entry - price), floored at 0 (a short
//          cannot lose more than the equity).
//   flat:  the equity itself.
//
// Internal to the engines. Thread-safety: pure functions.
#ifndef EVOLVE_ENGINES_SRC_POSITION_H_
#define EVOLVE_ENGINES_SRC_POSITION_H_

#include <algorithm>

namespace evolve::engines::backtest_internal {

// Units a long entry at `price` buys with equity `cash` at cost `cost` per side.
inline double LongUnits(double cash, double price, double cost) { return cash / (price * (1.0 + cost)); }

// Units a short entry at `price` sells with equity `cash`.
inline double ShortUnits(double cash, double price) { return cash / price; }

// The price at which a short entered at `price` is worth nothing.
inline double ShortAnchor(double price, double cost) { return price * (2.0 - cost); }

// The equity at `price` of a position of `side` (+1 long, -1 short, 0 flat)
// with `units` (and `anchor` for a short); `cash` when flat.
inline double MarkToMarket(int side, double units, double anchor, double cash, double price) {
  if (side > 0) return units * price;
  if (side < 0) return units * std::max(0.0, anchor - price);
  return cash;
}

}  // namespace evolve::engines::backtest_internal

#endif  // EVOLVE_ENGINES_SRC_POSITION_H_
