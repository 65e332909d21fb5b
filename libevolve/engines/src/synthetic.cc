#include "evolve/engines/synthetic.h"

#include <algorithm>
#include <cmath>

#include "random.h"

namespace evolve::engines {
namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr int kMinutesPerSession = 390;
constexpr int64_t kSessionOpenSeconds = 14 * 3600 + 30 * 60;  // 14:30 UTC
constexpr double kPriceTick = 1e-4;
constexpr double kTicksPerUnit = 1e4;

// k / 10000 (a correctly rounded division) is the double nearest the decimal,
// so prices print as short decimals and round-trip through CSV exactly.
double RoundPrice(double p) { return std::max(kPriceTick, std::round(p * kTicksPerUnit) / kTicksPerUnit); }

// Weekday (0 = Monday) of a day number since 1970-01-01 (a Thursday).
int Weekday(int64_t day) { return static_cast<int>(((day % 7) + 7 + 3) % 7); }

int64_t NextWeekday(int64_t day) {
  while (Weekday(day) >= 5) ++day;
  return day;
}

struct Generated {
  std::map<std::string, Bars> bars;
  std::vector<int> regimes;
};

Generated Generate(const SyntheticOptions& options) {
  Generated out;
  std::vector<std::string> symbols;
  for (const std::string& s : options.symbols) {
    if (std::find(symbols.begin(), symbols.end(), s) == symbols.end()) symbols.push_back(s);
  }
  const size_t n = options.bars;
  const size_t k_count = symbols.size();
  const double corr = std::clamp(options.correlation, 0.0, 1.0);
  const double w_common = std::sqrt(corr), w_own = std::sqrt(1.0 - corr);
  const double persistence = std::clamp(options.regime_persistence, 0.0, 1.0);
  const double scale = options.intraday ? 1.0 / std::sqrt(static_cast<double>(kMinutesPerSession)) : 1.0;
  const double vol[2] = {options.vol_calm * scale, options.vol_stressed * scale};
  const double base_volume = options.intraday ? 1e6 / kMinutesPerSession : 1e6;

  std::vector<Bars*> series;
  for (size_t k = 0; k < k_count; ++k) {
    Bars& b = out.bars[symbols[k]];
    b.symbol = symbols[k];
    b.intraday = options.intraday;
    b.bar_seconds = options.intraday ? 60 : kSecondsPerDay;
    b.time.reserve(n);
    for (auto* v : {&b.open, &b.high, &b.low, &b.close, &b.volume}) v->reserve(n);
    series.push_back(&b);
  }
  out.regimes.reserve(n);

  Rng rng(options.seed);
  PolarNormal normal;
  std::vector<double> prev_close(k_count);
  for (size_t k = 0; k < k_count; ++k) {
    prev_close[k] = RoundPrice(options.start_price * (1.0 + 0.1 * static_cast<double>(k)));
  }
  int64_t day =
      NextWeekday(options.start_time >= 0 ? options.start_time / kSecondsPerDay
                                          : -((-options.start_time + kSecondsPerDay - 1) / kSecondsPerDay));
  int minute = 0;
  int regime = 0;
  double signal_mean = 0.0;  // m_{0,t}, planted by bar t-1

  for (size_t t = 0; t < n; ++t) {
    if (t > 0) {
      if (rng.Uniform() >= persistence) regime = 1 - regime;
      if (options.intraday) {
        if (++minute == kMinutesPerSession) {
          minute = 0;
          day = NextWeekday(day + 1);
        }
      } else {
        day = NextWeekday(day + 1);
      }
    }
    const int64_t time =
        day * kSecondsPerDay + (options.intraday ? kSessionOpenSeconds + int64_t{60} * minute : 0);
    out.regimes.push_back(regime);
    const double sigma = vol[regime];
    const double common = normal(rng);
    for (size_t k = 0; k < k_count; ++k) {
      const double shock = w_common * common + w_own * normal(rng);
      const double g = normal(rng), w1 = normal(rng), w2 = normal(rng), v = normal(rng);
      const double r = (k == 0 ? signal_mean : 0.0) + sigma * shock;
      const double open = t == 0 ? prev_close[k] : RoundPrice(prev_close[k] * std::exp(0.25 * sigma * g));
      const double close = RoundPrice(prev_close[k] * std::exp(r));
      // max/min are on the price grid and the factors are >= 1 / <= 1, so the
      // rounded high/low still bracket open and close.
      const double high = RoundPrice(std::max(open, close) * std::exp(0.5 * sigma * std::fabs(w1)));
      const double low = RoundPrice(std::min(open, close) * std::exp(-0.5 * sigma * std::fabs(w2)));
      const double stress = vol[0] > 0 ? sigma / vol[0] : 1.0;
      const double volume =
          std::max(1.0, std::round(base_volume * stress * std::exp(0.3 * v + 0.5 * std::fabs(shock))));
      Bars& b = *series[k];
      b.time.push_back(time);
      b.open.push_back(open);
      b.high.push_back(high);
      b.low.push_back(low);
      b.close.push_back(close);
      b.volume.push_back(volume);
      prev_close[k] = close;
      if (k == 0) {
        const double ibs = high > low ? (close - low) / (high - low) : 0.5;
        signal_mean = -options.signal_strength * sigma * (2.0 * ibs - 1.0);
      }
    }
  }
  return out;
}

}  // namespace

std::map<std::string, Bars> GenerateSyntheticBars(const SyntheticOptions& options) {
  return Generate(options).bars;
}

std::vector<int> SyntheticRegimes(const SyntheticOptions& options) { return Generate(options).regimes; }

}  // namespace evolve::engines
