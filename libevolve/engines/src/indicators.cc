#include "indicators.h"

#include <cmath>
#include <cstddef>

namespace evolve::engines {
namespace {

using indicators_internal::kNaN;

// out[i] = state.Push(x[i]) for every i.
template <typename State>
Series Run(State state, const Series& x) {
  Series out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = state.Push(x[i]);
  return out;
}

template <typename F>
Series Lag(const Series& x, int n, F f) {
  Series out(x.size(), kNaN);
  if (n < 1) return out;
  for (size_t i = static_cast<size_t>(n); i < x.size(); ++i) out[i] = f(x[i], x[i - static_cast<size_t>(n)]);
  return out;
}

}  // namespace

Series RollingSum(const Series& x, int n) { return Run(RollingSumState(n), x); }

Series Sma(const Series& x, int n) { return Run(SmaState(n), x); }

Series Ema(const Series& x, int n, bool wilder) { return Run(EmaState(n, wilder), x); }

Series WilderSum(const Series& x, int n) { return Run(WilderSumState(n), x); }

Series RollingStdev(const Series& x, int n, bool sample) {
  RollingMomentsState m(n, sample);
  Series out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = StdevOf(m.Push(x[i]));
  return out;
}

Series RollingZScore(const Series& x, int n, bool sample) {
  RollingMomentsState m(n, sample);
  Series out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const RollingMomentsState::Value v = m.Push(x[i]);
    out[i] = ZScoreOf(v.deviation, v.variance);
  }
  return out;
}

Series RollingMax(const Series& x, int n) { return Run(RollingMaxState(n), x); }

Series RollingMin(const Series& x, int n) { return Run(RollingMinState(n), x); }

Series Momentum(const Series& x, int n) {
  return Lag(x, n, [](double now, double then) { return now - then; });
}

Series Roc(const Series& x, int n) {
  return Lag(x, n, [](double now, double then) { return now / then - 1.0; });
}

Series LogReturn(const Series& x, int n) {
  return Lag(x, n, [](double now, double then) { return std::log(now / then); });
}

Series Rsi(const Series& close, int n) { return Run(RsiState(n), close); }

MacdSeries Macd(const Series& x, int fast, int slow, int signal) {
  MacdSeries m;
  EmaState fast_ema(fast), slow_ema(slow), signal_ema(signal);
  m.line.resize(x.size());
  m.signal.resize(x.size());
  m.hist.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double line = fast_ema.Push(x[i]) - slow_ema.Push(x[i]);
    const double sig = signal_ema.Push(line);
    m.line[i] = line;
    m.signal[i] = sig;
    m.hist[i] = line - sig;
  }
  return m;
}

BBandsSeries BBands(const Series& x, int n, double k) {
  BBandsSeries b;
  SmaState sma(n);
  RollingMomentsState moments(n, /*sample=*/false);
  const size_t size = x.size();
  b.lower.resize(size);
  b.middle.resize(size);
  b.upper.resize(size);
  b.pct_b.resize(size);
  for (size_t i = 0; i < size; ++i) {
    const double middle = sma.Push(x[i]);
    const double sd = StdevOf(moments.Push(x[i]));
    b.middle[i] = middle;
    b.lower[i] = middle - k * sd;
    b.upper[i] = middle + k * sd;
    const double width = b.upper[i] - b.lower[i];
    b.pct_b[i] = width > 0 ? (x[i] - b.lower[i]) / width : kNaN;
  }
  return b;
}

Series TrueRange(const Series& high, const Series& low, const Series& close) {
  TrueRangeState tr;
  Series out(close.size());
  for (size_t i = 0; i < close.size(); ++i) out[i] = tr.Push(high[i], low[i], close[i]);
  return out;
}

Series Atr(const Series& high, const Series& low, const Series& close, int n) {
  TrueRangeState tr;
  EmaState atr(n, /*wilder=*/true);
  Series out(close.size());
  for (size_t i = 0; i < close.size(); ++i) out[i] = atr.Push(tr.Push(high[i], low[i], close[i]));
  return out;
}

StochasticSeries Stochastic(const Series& high, const Series& low, const Series& close, int n_fast_k,
                            int n_fast_d, int n_slow_d) {
  StochasticSeries s;
  RollingMaxState hmax(n_fast_k);
  RollingMinState lmin(n_fast_k);
  SmaState fast_d(n_fast_d), slow_d(n_slow_d);
  const size_t size = close.size();
  s.fast_k.resize(size);
  s.fast_d.resize(size);
  s.slow_d.resize(size);
  for (size_t i = 0; i < size; ++i) {
    const double k = StochasticFastK(hmax.Push(high[i]), lmin.Push(low[i]), close[i]);
    const double d = fast_d.Push(k);
    s.fast_k[i] = k;
    s.fast_d[i] = d;
    s.slow_d[i] = slow_d.Push(d);
  }
  return s;
}

Series WilliamsR(const Series& high, const Series& low, const Series& close, int n) {
  RollingMaxState hmax(n);
  RollingMinState lmin(n);
  Series out(close.size());
  for (size_t i = 0; i < close.size(); ++i)
    out[i] = WilliamsRFraction(hmax.Push(high[i]), lmin.Push(low[i]), close[i]);
  return out;
}

Series Cci(const Series& high, const Series& low, const Series& close, int n, double c) {
  CciState cci(n, c);
  Series out(close.size());
  for (size_t i = 0; i < close.size(); ++i) out[i] = cci.Push(high[i], low[i], close[i]);
  return out;
}

AdxSeries Adx(const Series& high, const Series& low, const Series& close, int n) {
  AdxState adx(n);
  AdxSeries a;
  const size_t size = close.size();
  a.plus_di.resize(size);
  a.minus_di.resize(size);
  a.dx.resize(size);
  a.adx.resize(size);
  for (size_t i = 0; i < size; ++i) {
    const AdxState::Value v = adx.Push(high[i], low[i], close[i]);
    a.plus_di[i] = v.plus_di;
    a.minus_di[i] = v.minus_di;
    a.dx[i] = v.dx;
    a.adx[i] = v.adx;
  }
  return a;
}

Series Obv(const Series& close, const Series& volume) {
  ObvState obv;
  Series out(close.size());
  for (size_t i = 0; i < close.size(); ++i) out[i] = obv.Push(close[i], volume[i]);
  return out;
}

Series ParkinsonVolatility(const Series& high, const Series& low, int n, double periods_per_year) {
  RollingSumState sum(n);
  const double scale = periods_per_year / (4.0 * n * std::log(2.0));
  Series out(high.size());
  for (size_t i = 0; i < high.size(); ++i) {
    const double r = std::log(high[i] / low[i]);
    out[i] = std::sqrt(scale * sum.Push(r * r));
  }
  return out;
}

}  // namespace evolve::engines
