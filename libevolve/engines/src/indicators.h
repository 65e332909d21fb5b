// Technical indicators as pure functions of price series, defined as R's TTR
// package (0.24) defines them, and tested against values TTR computed
// (tests/engines/fixtures/ttr_reference.csv, to 1e-9 relative).
//
// Conventions shared by every function:
//   * Output has the length of the input; NaN where the value is undefined:
//     during warm-up (stated per function, for an input without NaN) and
//     where the definition divides 0 by 0.
//   * Leading NaNs in an input are skipped, as TTR skips leading NAs: the
//     warm-up starts at the first non-NaN value.
//   * A NaN later in an input: windowed functions (Sma, RollingStdev, the
//     rolling max/min based ones) give NaN while it is inside the window and
//     recover after; recursive ones (Ema and everything smoothed by it)
//     give NaN from there on.
//   * Every function is O(n), including the windowed ones (O(1) per bar
//     whatever the window), except Cci, which is O(n * window) as the mean
//     deviation around a moving centre needs the window.
//   * Value at i depends on inputs at 0..i only (no look-ahead), and is
//     bit-for-bit the same if more values are appended.
//   * Window lengths must be >= 1; a window longer than the series gives all
//     NaN (TTR raises an error instead).
//   * Standard deviations say whether they are population (divide by n) or
//     sample (divide by n - 1). TTR's BBands uses population; runSD and
//     volatility(calc = "close") use sample.
//
// Numerics: running sums are recomputed exactly from the window every 1024
// bars so that rounding cannot accumulate over millions of bars; running
// variances use Welford's add/remove updates on values shifted by a recent
// value (so a high price level costs no digits), with the same periodic
// exact recomputation; a window of identical values has exactly zero
// variance.
//
// Every function is built on an incremental state (end of this file) that
// takes one bar at a time: the same arithmetic serves the vector functions,
// ComputeFeatures' single fused pass over the bars, and live updates.
//
// Thread-safety: the functions are pure and reentrant; a state object is a
// value, to be used by one thread at a time.
#ifndef EVOLVE_ENGINES_SRC_INDICATORS_H_
#define EVOLVE_ENGINES_SRC_INDICATORS_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace evolve::engines {

using Series = std::vector<double>;

// Simple moving average of the last n values (TTR::SMA; the sum times 1/n,
// within an ulp of TTR's sum / n). First value at n-1.
Series Sma(const Series& x, int n);

// Rolling sum of the last n values (TTR::runSum). First value at n-1.
Series RollingSum(const Series& x, int n);

// Exponential moving average as TTR::EMA: the first value (at n-1) is the
// simple mean of the first n values, then
//   ema_i = ratio * x_i + (1 - ratio) * ema_{i-1},
// ratio = 2 / (n + 1), or 1 / n when `wilder` (Wilder's smoothing).
Series Ema(const Series& x, int n, bool wilder = false);

// Wilder's running sum as TTR's wilderSum (used by TTR::ADX): with S the
// plain sum of the first n-1 values, s_{n-1} = x_{n-1} + S * (n - 1) / n and
// then s_i = x_i + s_{i-1} * (n - 1) / n. First value at n-1.
Series WilderSum(const Series& x, int n);

// Rolling standard deviation of the last n values; `sample` divides by n-1
// (TTR::runSD(sample = TRUE), pandas' rolling.std()), otherwise by n
// (population, TTR::runSD(sample = FALSE), as in BBands). First value at n-1;
// n = 1 with `sample` is NaN.
Series RollingStdev(const Series& x, int n, bool sample);

// (x_i - mean) / stdev over the last n values, sample stdev when `sample`.
// NaN where the stdev is 0. First value at n-1.
Series RollingZScore(const Series& x, int n, bool sample = true);

// Rolling maximum / minimum of the last n values (TTR::runMax / runMin).
Series RollingMax(const Series& x, int n);
Series RollingMin(const Series& x, int n);

// x_i - x_{i-n} (TTR::momentum). First value at n.
Series Momentum(const Series& x, int n);

// x_i / x_{i-n} - 1 (TTR::ROC(type = "discrete")). First value at n.
Series Roc(const Series& x, int n);

// log(x_i / x_{i-n}) (TTR::ROC(type = "continuous")). First value at n.
Series LogReturn(const Series& x, int n);

// Relative strength index as TTR::RSI with its defaults: the up and down
// moves of close are smoothed by Ema(wilder = true);
//   rsi = 100 * up / (up + down).
// First value at n (the first move is at 1).
Series Rsi(const Series& close, int n = 14);

struct MacdSeries {
  Series line;    // Ema(x, fast) - Ema(x, slow); first value at slow-1
  Series signal;  // Ema(line, signal); first value at slow+signal-2
  Series hist;    // line - signal
};
// As TTR::MACD(x, fast, slow, signal, maType = "EMA", percent = FALSE);
// `hist` is not in TTR.
MacdSeries Macd(const Series& x, int fast = 12, int slow = 26, int signal = 9);

struct BBandsSeries {
  Series lower, middle, upper;
  Series pct_b;  // (x - lower) / (upper - lower); NaN when the bands touch
};
// Bollinger bands of x as TTR::BBands(x, n, sd = k) with a univariate x:
// middle = Sma(x, n), bands at middle -/+ k * population stdev. First value at n-1.
BBandsSeries BBands(const Series& x, int n = 20, double k = 2.0);

// max(high_i, close_{i-1}) - min(low_i, close_{i-1}) (TTR::ATR's "tr").
// NaN at 0.
Series TrueRange(const Series& high, const Series& low, const Series& close);

// Average true range as TTR::ATR: Ema(TrueRange, n, wilder = true). First value at n.
Series Atr(const Series& high, const Series& low, const Series& close, int n = 14);

struct StochasticSeries {
  // (close - min(low, n_k)) / (max(high, n_k) - min(low, n_k)); 0.5 when the
  // range is 0, where TTR gives NaN (0 / 0) and keeps fast_d/slow_d NaN for the
  // rest of the series; TTR's own WPR uses 0.5 there.
  Series fast_k;
  Series fast_d;  // Sma(fast_k, n_d)
  Series slow_d;  // Sma(fast_d, n_slow_d)
};
// As TTR::stoch(HLC, n_fast_k, n_fast_d, n_slow_d) (SMA, bounded, smooth = 1);
// values are fractions in [0, 1]. First values at n_k-1, +n_d-1, +n_slow_d-1.
StochasticSeries Stochastic(const Series& high, const Series& low, const Series& close, int n_fast_k = 14,
                            int n_fast_d = 3, int n_slow_d = 3);

// As TTR::WPR: (max(high, n) - close) / (max(high, n) - min(low, n)), a
// fraction in [0, 1], 0.5 when the range is 0. Conventional Williams %R is
// -100 times this. First value at n-1.
Series WilliamsR(const Series& high, const Series& low, const Series& close, int n = 14);

// Commodity channel index as TTR::CCI: with typical price tp = (h + l + c) / 3,
//   cci = (tp - Sma(tp, n)) / (c * mean_i |tp_j - Sma(tp, n)_i|), j in the window.
// First value at n-1; NaN when the mean deviation is 0.
Series Cci(const Series& high, const Series& low, const Series& close, int n = 20, double c = 0.015);

struct AdxSeries {
  Series plus_di;   // 100 * WilderSum(+DM, n) / WilderSum(TR, n); first value at n
  Series minus_di;  // 100 * WilderSum(-DM, n) / WilderSum(TR, n); first value at n
  Series dx;        // 100 * |+DI - -DI| / (+DI + -DI); first value at n
  Series adx;       // Ema(dx, n, wilder = true); first value at 2n-1
};
// Directional movement as TTR::ADX(HLC, n) with its defaults.
AdxSeries Adx(const Series& high, const Series& low, const Series& close, int n = 14);

// On-balance volume as TTR::OBV: obv_0 = volume_0, then +volume when close
// rose, -volume when it fell, 0 when |log change| < sqrt(DBL_EPSILON); summed.
Series Obv(const Series& close, const Series& volume);

// Parkinson's high-low volatility as TTR::volatility(calc = "parkinson",
// N = periods_per_year): sqrt(N / (4 n ln 2) * sum_{last n} ln(high / low)^2).
// periods_per_year = 1 gives the per-bar value. First value at n-1.
Series ParkinsonVolatility(const Series& high, const Series& low, int n, double periods_per_year = 1.0);

// ---------------------------------------------------------------------------
// Incremental states. Push(x) takes the next value and returns the
// indicator's value at it, bit for bit what the vector function gives at the
// same position. They are defined here, inline, so that a loop driving many
// of them (ComputeFeatures) compiles to one tight pass.

// The states' Push methods are the inner loop of ComputeFeatures: GCC and
// Clang are told to inline them (their cost models decline the bigger ones,
// which then cost a call and a serialised return per value); the rare slow
// paths are kept out of line.
#if defined(__GNUC__) || defined(__clang__)
#define EVOLVE_ENGINES_HOT inline __attribute__((always_inline))
#define EVOLVE_ENGINES_COLD __attribute__((noinline))
#else
#define EVOLVE_ENGINES_HOT inline
#define EVOLVE_ENGINES_COLD
#endif

namespace indicators_internal {
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kInf = std::numeric_limits<double>::infinity();
// Running sums and variances are recomputed exactly from their window every
// this many values (counted from the first non-NaN one, so appending never
// changes earlier outputs).
inline constexpr uint64_t kRecomputeEvery = 1024;
}  // namespace indicators_internal

// Rolling sum over the last n values; NaN while a NaN is in the window.
class RollingSumState {
 public:
  explicit RollingSumState(int n) : n_(n < 1 ? 0 : static_cast<uint64_t>(n)), ring_(n_ ? n_ : 1) {}

  EVOLVE_ENGINES_HOT double Push(double x) {
    using indicators_internal::kNaN;
    if (n_ == 0) return kNaN;
    const bool x_nan = std::isnan(x);
    if (count_ == 0 && x_nan) return kNaN;  // leading NaNs are skipped
    const double gone = ring_[pos_];
    const bool full = count_ >= n_;
    if (full && !x_nan && !std::isnan(gone)) {
      sum_ += x - gone;
    } else {
      if (!x_nan) sum_ += x;
      if (full && !std::isnan(gone)) sum_ -= gone;
    }
    ring_[pos_] = x;
    pos_ = pos_ + 1 == n_ ? 0 : pos_ + 1;
    if (x_nan) last_nan_ = count_ + 1;
    ++count_;
    if (count_ < n_) return kNaN;
    if (count_ % indicators_internal::kRecomputeEvery == 0) Recompute();
    if (last_nan_ != 0 && last_nan_ + n_ > count_) return kNaN;
    return sum_;
  }

 private:
  // Exact sum of the window, oldest first (pos_ is the oldest slot).
  EVOLVE_ENGINES_COLD void Recompute() {
    double sum = 0.0;
    for (uint64_t k = 0; k < n_; ++k) {
      const double v = ring_[(pos_ + k) % n_];
      if (!std::isnan(v)) sum += v;
    }
    sum_ = sum;
  }

  uint64_t n_;
  std::vector<double> ring_;  // the last n values; ring_[pos_] is the oldest
  uint64_t pos_ = 0;
  uint64_t count_ = 0;     // values pushed since the first non-NaN one
  uint64_t last_nan_ = 0;  // 1-based count at the last NaN, 0 if none
  double sum_ = 0.0;
};

// Simple moving average: the rolling sum times 1/n (a multiplication is
// several times cheaper than a division, and within an ulp of TTR's sum / n).
class SmaState {
 public:
  explicit SmaState(int n) : sum_(n), inv_n_(n < 1 ? indicators_internal::kNaN : 1.0 / n) {}

  EVOLVE_ENGINES_HOT double Push(double x) { return sum_.Push(x) * inv_n_; }

 private:
  RollingSumState sum_;
  double inv_n_;
};

// TTR's EMA (see Ema()).
class EmaState {
 public:
  explicit EmaState(int n, bool wilder = false)
      : n_(n < 1 ? 0 : n), ratio_(n < 1 ? 0.0 : (wilder ? 1.0 / n : 2.0 / (n + 1))), keep_(1.0 - ratio_) {}

  EVOLVE_ENGINES_HOT double Push(double x) {
    if (seeded_) {
      ema_ = x * ratio_ + ema_ * keep_;
      return ema_;
    }
    if (n_ == 0 || (count_ == 0 && std::isnan(x))) return indicators_internal::kNaN;
    sum_ += x;
    if (++count_ < n_) return indicators_internal::kNaN;
    ema_ = sum_ / n_;
    seeded_ = true;
    return ema_;
  }

 private:
  int n_;
  double ratio_, keep_;
  int count_ = 0;
  double sum_ = 0.0;
  double ema_ = 0.0;
  bool seeded_ = false;
};

// TTR's wilderSum (see WilderSum()).
class WilderSumState {
 public:
  explicit WilderSumState(int n) : n_(n < 1 ? 0 : n), keep_(n < 1 ? 0.0 : (n - 1.0) / n) {}

  EVOLVE_ENGINES_HOT double Push(double x) {
    using indicators_internal::kNaN;
    if (n_ == 0 || (count_ == 0 && std::isnan(x))) return kNaN;
    if (count_ < n_ - 1) {
      s_ += x;  // the raw sum of the first n-1 values
      ++count_;
      return kNaN;
    }
    count_ = n_;
    s_ = x + s_ * keep_;
    return s_;
  }

 private:
  int n_;
  double keep_;  // (n - 1) / n
  int count_ = 0;
  double s_ = 0.0;
};

// Rolling mean and variance of the last n values, by Welford's updates on
// values shifted by a recent value, recomputed exactly every kRecomputeEvery
// values; exactly 0 for a window of equal values. The square root and the
// z-score's division are left to StdevOf / ZScoreOf, so that a caller can
// take them for many values at once (two per SSE2 instruction).
class RollingMomentsState {
 public:
  struct Value {
    double deviation;  // x - mean of the window
    double variance;   // population or sample, as constructed; NaN if undefined
  };

  RollingMomentsState(int n, bool sample)
      : n_(n < 1 ? 0 : static_cast<uint64_t>(n)),
        n_full_(n < 1 ? -1.0 : static_cast<double>(n)),
        inv_n_(n < 1 ? 0.0 : 1.0 / n),
        inv_denom_(sample ? 1.0 / (n - 1.0) : 1.0 / n),
        ring_(n_ ? n_ : 1) {}

  EVOLVE_ENGINES_HOT Value Push(double x) {
    // The steady state, kept small enough to inline: a full window of n
    // non-NaN values (k_ == n) and a non-NaN x. Same arithmetic as Slow().
    if (k_ == n_full_ && count_ >= n_ && x == x) {
      const double vi = x - shift_, vg = ring_[pos_] - shift_;
      const double old_mean = mean_;
      const double delta = vi - vg;
      mean_ += delta * inv_n_;
      m2_ += delta * (vi - mean_ + vg - old_mean);
      same_run_ = x == last_ ? same_run_ + 1 : 1;
      last_ = x;
      ring_[pos_] = x;
      pos_ = pos_ + 1 == n_ ? 0 : pos_ + 1;
      ++count_;
      if (count_ % indicators_internal::kRecomputeEvery == 0) Recompute(x);
      return Output(x);
    }
    return Slow(x);
  }

 private:
  EVOLVE_ENGINES_HOT Value Output(double x) const {
    // n = 1 with the sample variance is 0 / 0: inv_denom_ is +Inf, 0 * Inf is NaN.
    if (same_run_ >= n_) return {0.0, 0.0 * inv_denom_};
    return {(x - shift_) - mean_, std::max(m2_, 0.0) * inv_denom_};
  }

  // Every other case: warm-up, NaNs entering or leaving the window.
  EVOLVE_ENGINES_COLD Value Slow(double x) {
    using indicators_internal::kNaN;
    if (n_ == 0) return {kNaN, kNaN};
    const bool x_nan = std::isnan(x);
    if (count_ == 0) {
      if (x_nan) return {kNaN, kNaN};
      shift_ = x;
    }
    const double gone = ring_[pos_];
    const bool full = count_ >= n_;
    if (full && !x_nan && !std::isnan(gone) && k_ == n_full_) {
      const double vi = x - shift_, vg = gone - shift_;
      const double old_mean = mean_;
      const double delta = vi - vg;
      mean_ += delta * inv_n_;
      m2_ += delta * (vi - mean_ + vg - old_mean);
    } else {
      if (!x_nan) Add(x - shift_);
      if (full && !std::isnan(gone)) Remove(gone - shift_);
    }
    same_run_ = (count_ > 0 && x == last_) ? same_run_ + 1 : 1;
    last_ = x;
    ring_[pos_] = x;
    pos_ = pos_ + 1 == n_ ? 0 : pos_ + 1;
    if (x_nan) last_nan_ = count_ + 1;
    ++count_;
    if (count_ < n_) return {kNaN, kNaN};
    if (count_ % indicators_internal::kRecomputeEvery == 0) Recompute(x);
    if (last_nan_ != 0 && last_nan_ + n_ > count_) return {kNaN, kNaN};
    return Output(x);
  }

  void Add(double v) {
    k_ += 1.0;
    const double d = v - mean_;
    mean_ += d / k_;
    m2_ += d * (v - mean_);
  }
  void Remove(double v) {
    if (k_ <= 1.0) {
      k_ = mean_ = m2_ = 0.0;
      return;
    }
    k_ -= 1.0;
    const double d = v - mean_;
    mean_ -= d / k_;
    m2_ -= d * (v - mean_);
  }
  // Two-pass over the window relative to the newest value (x - shift is then
  // exact for nearby x, by Sterbenz's lemma).
  EVOLVE_ENGINES_COLD void Recompute(double newest) {
    if (!std::isnan(newest)) shift_ = newest;
    double sum = 0.0, k = 0.0;
    for (double v : ring_) {
      if (!std::isnan(v)) {
        sum += v - shift_;
        k += 1.0;
      }
    }
    k_ = k;
    mean_ = k > 0 ? sum / k : 0.0;
    double m2 = 0.0;
    for (double v : ring_) {
      if (!std::isnan(v)) m2 += (v - shift_ - mean_) * (v - shift_ - mean_);
    }
    m2_ = m2;
  }

  uint64_t n_;
  double n_full_;  // n as a double; -1 when n < 1 so the steady state is never taken
  double inv_n_;
  double inv_denom_;  // 1 / n or 1 / (n - 1)
  std::vector<double> ring_;
  uint64_t pos_ = 0;
  uint64_t count_ = 0;
  uint64_t last_nan_ = 0;
  uint64_t same_run_ = 0;
  double last_ = 0.0;
  double shift_ = 0.0;
  double k_ = 0.0;  // non-NaN values in the window
  double mean_ = 0.0;
  double m2_ = 0.0;
};

// The standard deviation of a RollingMomentsState value.
EVOLVE_ENGINES_HOT double StdevOf(RollingMomentsState::Value v) { return std::sqrt(v.variance); }

// Its z-score, (x - mean) / stdev; NaN when the stdev is 0 or undefined.
// Written without branches (the division is harmless when unused) so that
// loops of it vectorise.
EVOLVE_ENGINES_HOT double ZScoreOf(double deviation, double variance) {
  const double sd = std::sqrt(variance);
  const double z = deviation / sd;
  return sd > 0 ? z : indicators_internal::kNaN;
}

// Rolling maximum (kMax) or minimum of the last n values, by van Herk /
// Gil-Werman: the suffix extremes of the previous block of n values and the
// prefix extreme of the current block give each window's extreme with three
// comparisons per value, whatever n.
template <bool kMax>
class RollingExtremeState {
 public:
  explicit RollingExtremeState(int n)
      : n_(n < 1 ? 0 : static_cast<uint64_t>(n)), block_(n_ ? n_ : 1), suffix_(n_ ? n_ : 1, kNone) {}

  EVOLVE_ENGINES_HOT double Push(double x) {
    using indicators_internal::kNaN;
    if (n_ == 0) return kNaN;
    const bool x_nan = std::isnan(x);
    if (count_ == 0 && x_nan) return kNaN;
    const double v = x_nan ? kNone : x;
    block_[t_] = v;
    prefix_ = Better(prefix_, v);
    const double out = t_ + 1 == n_ ? prefix_ : Better(suffix_[t_ + 1], prefix_);
    if (++t_ == n_) {
      double s = kNone;
      for (uint64_t k = n_; k-- > 0;) {
        s = Better(s, block_[k]);
        suffix_[k] = s;
      }
      t_ = 0;
      prefix_ = kNone;
    }
    if (x_nan) last_nan_ = count_ + 1;
    ++count_;
    if (count_ < n_ || (last_nan_ != 0 && last_nan_ + n_ > count_)) return kNaN;
    return out;
  }

 private:
  static constexpr double kNone = kMax ? -indicators_internal::kInf : indicators_internal::kInf;
  static double Better(double a, double b) { return kMax ? (a < b ? b : a) : (b < a ? b : a); }

  uint64_t n_;
  std::vector<double> block_, suffix_;
  uint64_t t_ = 0;
  double prefix_ = kNone;
  uint64_t count_ = 0;
  uint64_t last_nan_ = 0;
};
using RollingMaxState = RollingExtremeState<true>;
using RollingMinState = RollingExtremeState<false>;

// TTR's RSI (see Rsi()).
class RsiState {
 public:
  explicit RsiState(int n) : up_(n, true), down_(n, true) {}

  struct Averages {
    double up, down;  // Wilder averages of the up and down moves
  };

  EVOLVE_ENGINES_HOT double Push(double close) {
    const Averages a = PushAverages(close);
    return FromAverages(a.up, a.down);
  }

  // The smoothed moves alone; FromAverages turns them into the RSI.
  EVOLVE_ENGINES_HOT Averages PushAverages(double close) {
    if (!started_) {
      started_ = true;
      prev_ = close;
      return {indicators_internal::kNaN, indicators_internal::kNaN};
    }
    const double d = close - prev_;
    prev_ = close;
    // max(d, 0) keeps a NaN d: (d < 0) ? 0 : d.
    return {up_.Push(std::max(d, 0.0)), down_.Push(std::max(-d, 0.0))};
  }

  static EVOLVE_ENGINES_HOT double FromAverages(double up, double down) { return 100.0 * up / (up + down); }

 private:
  EmaState up_, down_;
  double prev_ = 0.0;
  bool started_ = false;
};

// TTR's true range (see TrueRange()).
class TrueRangeState {
 public:
  EVOLVE_ENGINES_HOT double Push(double high, double low, double close) {
    if (!started_) {
      started_ = true;
      prev_ = close;
      return indicators_internal::kNaN;
    }
    const double prev = prev_;
    prev_ = close;
    if (std::isnan(prev) || std::isnan(high) || std::isnan(low)) return indicators_internal::kNaN;
    return std::max(high, prev) - std::min(low, prev);
  }

 private:
  double prev_ = 0.0;
  bool started_ = false;
};

// TTR's stoch fastK from the window's high and low: 0.5 for a zero range
// (NaN if close is NaN). A NaN range (warm-up) gives NaN. Branch-free (the
// division is harmless when unused), so loops of it vectorise.
EVOLVE_ENGINES_HOT double StochasticFastK(double hmax, double lmin, double close) {
  const double range = hmax - lmin;
  const double k = (close - lmin) / range;
  return range != 0 ? k : 0.5 + (close - close);
}

// TTR's WPR from the window's high and low: 0.5 for a zero range (as TTR,
// whatever close is). A NaN range (warm-up) gives NaN. Branch-free.
EVOLVE_ENGINES_HOT double WilliamsRFraction(double hmax, double lmin, double close) {
  const double range = hmax - lmin;
  const double r = (hmax - close) / range;
  return range != 0 ? r : 0.5;
}

// TTR's CCI (see Cci()).
class CciState {
 public:
  CciState(int n, double c)
      : n_(n < 1 ? 0 : static_cast<uint64_t>(n)),
        c_(c),
        inv_n_(n < 1 ? 0.0 : 1.0 / n),
        sma_(n),
        ring_(2 * (n_ ? n_ : 1)) {}

  // The CCI's numerator and mean deviation; FromParts divides.
  struct Parts {
    double deviation;  // tp - Sma(tp)
    double mean_dev;   // mean |tp_j - Sma(tp)| over the window
  };

  EVOLVE_ENGINES_HOT double Push(double high, double low, double close) {
    return FromParts(PushParts(high, low, close));
  }

  EVOLVE_ENGINES_HOT double FromParts(Parts p) const {
    return p.mean_dev > 0 ? p.deviation / (c_ * p.mean_dev) : indicators_internal::kNaN;
  }

  EVOLVE_ENGINES_HOT Parts PushParts(double high, double low, double close) {
    using indicators_internal::kNaN;
    const double tp = (high + low + close) * (1.0 / 3.0);
    const double centre = sma_.Push(tp);
    if (n_ == 0) return {kNaN, kNaN};
    // Each value is stored twice, n apart, so the window is always the
    // contiguous ring_[pos_ + 1, pos_ + n].
    ring_[pos_] = tp;
    ring_[pos_ + n_] = tp;
    const double* w = &ring_[pos_ + 1];
    pos_ = pos_ + 1 == n_ ? 0 : pos_ + 1;
    if (std::isnan(centre)) return {kNaN, kNaN};
    // Four partial sums (w[4k], w[4k+1], w[4k+2], w[4k+3]) keep independent
    // additions in flight; with SSE2 they are two registers of two, which
    // adds in the same order, so both paths give the same bits.
    double acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
    const double* const end = w + n_;
#if defined(__SSE2__)
    {
      const __m128d centre2 = _mm_set1_pd(centre);
      const __m128d sign = _mm_set1_pd(-0.0);
      __m128d acc01 = _mm_setzero_pd(), acc23 = _mm_setzero_pd();
      for (; end - w >= 4; w += 4) {
        acc01 = _mm_add_pd(acc01, _mm_andnot_pd(sign, _mm_sub_pd(_mm_loadu_pd(w), centre2)));
        acc23 = _mm_add_pd(acc23, _mm_andnot_pd(sign, _mm_sub_pd(_mm_loadu_pd(w + 2), centre2)));
      }
      double lanes[4];
      _mm_storeu_pd(lanes, acc01);
      _mm_storeu_pd(lanes + 2, acc23);
      acc0 = lanes[0];
      acc1 = lanes[1];
      acc2 = lanes[2];
      acc3 = lanes[3];
    }
#else
    for (; end - w >= 4; w += 4) {
      acc0 += std::fabs(w[0] - centre);
      acc1 += std::fabs(w[1] - centre);
      acc2 += std::fabs(w[2] - centre);
      acc3 += std::fabs(w[3] - centre);
    }
#endif
    for (; w < end; ++w) acc0 += std::fabs(*w - centre);
    return {tp - centre, ((acc0 + acc1) + (acc2 + acc3)) * inv_n_};
  }

  double c() const { return c_; }

 private:
  uint64_t n_;
  double c_;
  double inv_n_;
  SmaState sma_;
  std::vector<double> ring_;
  uint64_t pos_ = 0;
};

// TTR's ADX (see Adx()).
class AdxState {
 public:
  struct Value {
    double plus_di, minus_di, dx, adx;
  };

  // The Wilder sums behind +DI and -DI, with DX and ADX; PlusDi/MinusDi
  // divide (a caller can do that for many bars at once).
  struct Parts {
    double plus_sum, minus_sum, tr_sum, dx, adx;
  };

  explicit AdxState(int n) : tr_sum_(n), plus_sum_(n), minus_sum_(n), adx_(n, true) {}

  EVOLVE_ENGINES_HOT Value Push(double high, double low, double close) {
    const Parts p = PushParts(high, low, close);
    return {Di(p.plus_sum, p.tr_sum), Di(p.minus_sum, p.tr_sum), p.dx, p.adx};
  }

  // 100 * directional sum / true-range sum.
  static EVOLVE_ENGINES_HOT double Di(double dm_sum, double tr_sum) { return 100.0 * dm_sum / tr_sum; }

  // DX = 100 |+DI - -DI| / (+DI + -DI), computed as 100 |+S - -S| / (+S + -S)
  // from the sums (the true-range sum cancels): one division instead of
  // three, within a few ulps of TTR's order of operations.
  EVOLVE_ENGINES_HOT Parts PushParts(double high, double low, double close) {
    using indicators_internal::kNaN;
    const double tr = tr_.Push(high, low, close);
    double plus_dm = kNaN, minus_dm = kNaN;
    if (started_) {
      const double up = high - prev_high_;
      const double down = prev_low_ - low;
      if (!std::isnan(up) && !std::isnan(down)) {
        // TTR: 0 when up == down or both are negative, else the larger move if
        // positive. As arithmetic, not branches: the sign of a move is a coin flip.
        plus_dm = std::max(up, 0.0) * static_cast<double>(up > down);
        minus_dm = std::max(down, 0.0) * static_cast<double>(down > up);
      }
    }
    started_ = true;
    prev_high_ = high;
    prev_low_ = low;
    Parts p;
    p.tr_sum = tr_sum_.Push(tr);
    p.plus_sum = plus_sum_.Push(plus_dm);
    p.minus_sum = minus_sum_.Push(minus_dm);
    // A NaN true-range sum (warm-up) makes DX NaN, as the DIs would.
    p.dx = 100.0 * (std::fabs(p.plus_sum - p.minus_sum) / (p.plus_sum + p.minus_sum)) + (p.tr_sum - p.tr_sum);
    p.adx = adx_.Push(p.dx);
    return p;
  }

 private:
  TrueRangeState tr_;
  WilderSumState tr_sum_, plus_sum_, minus_sum_;
  EmaState adx_;
  double prev_high_ = 0.0, prev_low_ = 0.0;
  bool started_ = false;
};

// TTR's OBV (see Obv()), summed with Neumaier's compensation.
class ObvState {
 public:
  EVOLVE_ENGINES_HOT double Push(double close, double volume) {
    if (!started_) {
      started_ = true;
      prev_ = close;
      sum_ = volume;
      return sum_;
    }
    const double q = close / prev_;
    prev_ = close;
    if (std::isnan(q) || std::isnan(volume)) {
      sum_ = indicators_internal::kNaN;
    } else {
      // Branch-free: whether the close rose is a coin flip.
      const double rose = static_cast<double>(q >= kHigh), fell = static_cast<double>(q <= kLow);
      const double step = volume * (rose - fell);
      const double t = sum_ + step;
      comp_ += std::fabs(sum_) >= std::fabs(step) ? (sum_ - t) + step : (step - t) + sum_;
      sum_ = t;
    }
    return sum_ + comp_;
  }

 private:
  // |log(q)| < sqrt(DBL_EPSILON) without a log per bar: exp(-/+1.4901161193847656e-08).
  static constexpr double kLow = 0.9999999850988389;
  static constexpr double kHigh = 1.0000000149011612;

  double prev_ = 0.0, sum_ = 0.0, comp_ = 0.0;
  bool started_ = false;
};

}  // namespace evolve::engines

#undef EVOLVE_ENGINES_HOT
#undef EVOLVE_ENGINES_COLD

#endif  // EVOLVE_ENGINES_SRC_INDICATORS_H_
