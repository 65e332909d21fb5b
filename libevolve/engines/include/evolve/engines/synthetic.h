// A seeded generator of synthetic multi-symbol OHLCV bars, for tests, scale
// runs and reference symbols: correlated symbols, volatility regimes shared by
// all symbols, and an optional planted, predictable signal.
//
// The model (docs/features.md gives it in full):
//   * Regime s_t in {calm, stressed}: a two-state Markov chain, shared by all
//     symbols, starting calm, staying put with probability regime_persistence.
//     sigma_t = vol_calm or vol_stressed; for intraday bars both are divided
//     by sqrt(390), so that a 390-minute session has the daily variance.
//   * Shocks: e_{k,t} = sqrt(c) * z_t + sqrt(1 - c) * u_{k,t} with z, u
//     independent standard normals and c = correlation (clamped to [0, 1]),
//     so any two symbols' shocks have correlation c.
//   * Close-to-close log return of symbol k:
//       r_{k,t} = m_{k,t} + sigma_t * e_{k,t}
//     with the planted signal only on the FIRST symbol (k = 0):
//       m_{0,t+1} = -signal_strength * sigma_t * (2 * ibs_{0,t} - 1)
//     and m = 0 otherwise. ibs_t = (close_t - low_t) / (high_t - low_t) of the
//     bar as written (after rounding), 0.5 when high == low. So a bar that
//     closes at its high (ibs 1) is followed by an expected return of
//     -signal_strength * sigma_t: mean reversion, with `ibs` the one feature
//     that carries it. signal_strength = 0 plants nothing.
//   * Bar shape: open = previous close * exp(0.25 * sigma_t * g), g a standard
//     normal (the first open equals the first close's start price);
//     high = max(open, close) * exp(0.5 * sigma_t * |w1|),
//     low = min(open, close) * exp(-0.5 * sigma_t * |w2|). Prices are rounded
//     to 4 decimals (never below 0.0001), so low <= open, close <= high holds
//     exactly. Volume = round(base * (sigma_t / sigma_calm) * exp(0.3 * v +
//     0.5 * |e|)), at least 1 (base 1e6 daily, 1e6 / 390 intraday).
//   * Calendar: weekdays only, from the first weekday on or after start_time's
//     UTC date. Daily bars are at 00:00:00 UTC; intraday bars are one minute
//     apart, 390 per day from 14:30 UTC (09:30 New York standard time).
//
// Determinism: the same options give the same bars on every platform with
// IEEE doubles and a correctly rounded log (glibc): the generator is
// xoshiro256** seeded by splitmix64, normals by the Marsaglia polar method.
//
// Thread-safety: reentrant.
#ifndef EVOLVE_ENGINES_SYNTHETIC_H_
#define EVOLVE_ENGINES_SYNTHETIC_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"

namespace evolve::engines {

struct SyntheticOptions {
  // Distinct names; the first carries the planted signal. Repeats are ignored.
  std::vector<std::string> symbols = {"SYN"};
  size_t bars = 5000;  // per symbol
  // One-minute bars in 390-minute weekday sessions instead of daily weekday bars.
  bool intraday = false;
  int64_t start_time = 946684800;  // 2000-01-01 (a Saturday: the first bar is Monday 3 January)
  double correlation = 0.6;        // between any two symbols' return shocks, in [0, 1]
  // Per-bar standard deviation of log returns in each regime (daily scale;
  // divided by sqrt(390) for intraday bars).
  double vol_calm = 0.01, vol_stressed = 0.03;
  double regime_persistence = 0.99;  // P(regime_{t+1} == regime_t), in [0, 1]
  double signal_strength = 0.0;      // see the planted signal above
  uint64_t seed = 1;
  // Starting price of every symbol (the k-th symbol starts at start_price * (1 + 0.1 k)).
  double start_price = 100.0;
};

// Bars per symbol, each `options.bars` long with the same times.
std::map<std::string, Bars> GenerateSyntheticBars(const SyntheticOptions& options);

// The regime path (0 calm, 1 stressed) GenerateSyntheticBars uses for
// `options`, one per bar: the ground truth for regime tests.
std::vector<int> SyntheticRegimes(const SyntheticOptions& options);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SYNTHETIC_H_
