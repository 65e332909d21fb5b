// The equity replay (EquityCurve, backtest.h): rebuilt from a backtest's
// trades, it ends at the backtest's total return, bit for bit, and its
// marks are the backtester's own (its maximum drawdown is the backtest's),
// for long and short trade sequences; a hand-computed short mark; trades
// that are not a backtest's are refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "evolve/engines/backtest.h"

namespace evolve::engines {
namespace {

// n daily bars of a random walk with signals that change every few bars.
BacktestBars Walk(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0.0, 0.02);
  BacktestBars b;
  double price = 100;
  double signal = 0;
  for (size_t i = 0; i < n; ++i) {
    b.time.push_back(1609718400 + static_cast<int64_t>(i) * 86400);
    b.open.push_back(price);
    price *= std::exp(step(rng));
    b.close.push_back(price);
    if (rng() % 4 == 0) signal = static_cast<double>(static_cast<int>(rng() % 3) - 1);  // -1, 0, +1
    b.prediction.push_back(signal);
    price *= std::exp(step(rng) / 4);  // the gap to the next open
  }
  return b;
}

// The maximum drawdown of a curve that starts from `initial` (peak-to-trough).
double MaxDrawdown(double initial, const std::vector<double>& equity) {
  double peak = initial, mdd = 0;
  for (double e : equity) {
    if (e > peak) {
      peak = e;
    } else {
      mdd = std::max(mdd, 1.0 - e / peak);
    }
  }
  return mdd;
}

void CheckReplay(const BacktestBars& bars, const BacktestOptions& options, int expected_side) {
  std::vector<BacktestTrade> trades;
  auto result = Backtest(bars, BacktestCell{0.5, "", {}}, options, &trades);
  REQUIRE(result.ok());
  REQUIRE(trades.size() >= 5);
  for (const BacktestTrade& t : trades) CHECK((expected_side == 0 || t.side == expected_side));
  auto equity = EquityCurve(bars, trades, options);
  REQUIRE(equity.ok());
  REQUIRE(equity->size() == bars.time.size());
  // The same compounding as the backtester's: the same bits.
  CHECK((equity->back() / options.initial_cash - 1.0) * 100.0 == result->total_return_pct);
  CHECK(result->max_drawdown_pct / 100.0 ==
        doctest::Approx(MaxDrawdown(options.initial_cash, *equity)).epsilon(1e-12));
  // Flat bars hold the equity of the last exit.
  for (size_t i = 0; i < trades.front().entry_bar; ++i) CHECK((*equity)[i] == options.initial_cash);
}

TEST_CASE("equity: the replay of long trades ends at the backtest's total return") {
  BacktestOptions options;
  options.fee_bps = 2;
  options.slippage_bps = 3;
  for (uint64_t seed : {1, 2, 3}) {
    BacktestBars bars = Walk(400, seed);
    for (double& p : bars.prediction) p = std::max(p, 0.0);
    CheckReplay(bars, options, 1);
  }
}

TEST_CASE("equity: the replay of short trades ends at the backtest's total return") {
  BacktestOptions options;
  options.fee_bps = 2;
  options.slippage_bps = 3;
  options.allow_short = true;
  for (uint64_t seed : {4, 5, 6}) {
    BacktestBars bars = Walk(400, seed);
    for (double& p : bars.prediction) p = std::min(p, 0.0);
    CheckReplay(bars, options, -1);
  }
  // Longs, shorts and reversals between them, one position open at the end.
  BacktestBars mixed = Walk(500, 7);
  mixed.prediction[mixed.prediction.size() - 2] = 1;
  CheckReplay(mixed, options, 0);
}

TEST_CASE("equity: a short is marked at units * max(0, entry (2 - c) - close)") {
  BacktestBars b;
  b.time = {0, 86400, 172800, 259200};
  b.open = {100, 100, 90, 95};
  b.close = {100, 95, 250, 96};
  b.prediction = {-1, 0, 0, 0};  // short from the open of bar 1 to the open of bar 2
  BacktestOptions options;
  options.fee_bps = 5;
  options.slippage_bps = 5;
  options.allow_short = true;
  std::vector<BacktestTrade> trades;
  auto result = Backtest(b, BacktestCell{0.5, "", {}}, options, &trades);
  REQUIRE(result.ok());
  REQUIRE(trades.size() == 1);
  auto equity = EquityCurve(b, trades, options);
  REQUIRE(equity.ok());
  const double c = 0.001;
  CHECK((*equity)[0] == 10000);
  CHECK((*equity)[1] == doctest::Approx(10000 / 100.0 * (100 * (2 - c) - 95)));
  const double after = 10000 * (1 + ((1 - c) - 90.0 / 100 * (1 + c)));
  CHECK((*equity)[2] == doctest::Approx(after));
  CHECK((*equity)[3] == (*equity)[2]);
}

TEST_CASE("equity: trades that are not the backtest's are refused") {
  const BacktestBars bars = Walk(50, 9);
  const BacktestOptions options;
  auto trade = [](size_t entry, size_t exit, bool at_close) {
    return BacktestTrade{entry, exit, at_close, 1, 100.0, 101.0, 0.01};
  };
  CHECK(EquityCurve(bars, {trade(3, 5, false), trade(5, 9, false)}, options).ok());  // a reversal's bars
  CHECK(EquityCurve(bars, {trade(49, 49, true)}, options).ok());
  CHECK_FALSE(EquityCurve(bars, {trade(3, 5, false), trade(4, 9, false)}, options).ok());  // overlapping
  CHECK_FALSE(EquityCurve(bars, {trade(6, 5, false)}, options).ok());
  CHECK_FALSE(EquityCurve(bars, {trade(6, 50, false)}, options).ok());
  CHECK_FALSE(EquityCurve(bars, {trade(6, 6, false)}, options).ok());
  CHECK_FALSE(EquityCurve(bars, {trade(6, 9, true)}, options).ok());  // at the close of a bar but the last
  BacktestTrade bad_side = trade(1, 2, false);
  bad_side.side = 0;
  auto refused = EquityCurve(bars, {trade(0, 1, false), bad_side}, options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("trades[1]") != std::string::npos);
  CHECK_FALSE(EquityCurve(BacktestBars{}, {}, options).ok());
  auto flat = EquityCurve(bars, {}, options);
  REQUIRE(flat.ok());
  CHECK(*flat == std::vector<double>(50, options.initial_cash));
}

}  // namespace
}  // namespace evolve::engines
